// multipart/related both ways: what we write reads back, whatever the chunking of the body.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { boundaryOf, multipartStream, readMultipart, type InPartSink } from '../../../src/http/dicomweb/multipart.js';
import { dicomRendition, octetRendition, parseAccept } from '../../../src/http/dicomweb/accept.js';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function readAll(body: Buffer, boundary: string, chunkSize: number): Promise<{ headers: Record<string, string>; body: Buffer; aborted: boolean }[]> {
  const out: { headers: Record<string, string>; body: Buffer; aborted: boolean }[] = [];
  async function* chunks(): AsyncGenerator<Buffer> {
    for (let i = 0; i < body.length; i += chunkSize) yield body.subarray(i, i + chunkSize);
  }
  await readMultipart(chunks(), boundary, (headers): InPartSink => {
    const parts: Buffer[] = [];
    const entry = { headers, body: Buffer.alloc(0), aborted: false };
    out.push(entry);
    return { write: (c) => void parts.push(Buffer.from(c)), end: () => void (entry.body = Buffer.concat(parts)), abort: () => void (entry.aborted = true) };
  }, 1 << 30);
  return out;
}

test('what multipartStream writes, readMultipart reads back at every chunk size', async () => {
  const a = Buffer.from('first part\r\n--not-the-boundary\r\n');
  const b = Buffer.alloc(3000, 0x2d); // dashes: delimiter-like bytes everywhere
  async function* parts() {
    yield { contentType: 'application/dicom', body: a };
    yield { contentType: 'application/octet-stream', headers: { 'Content-Location': 'x' }, body: Readable.from([b.subarray(0, 1000), b.subarray(1000)]) };
  }
  const body = await collect(multipartStream('bnd', parts()));
  for (const size of [1, 2, 3, 7, 64, 1000, body.length]) {
    const got = await readAll(body, 'bnd', size);
    assert.equal(got.length, 2, `chunk size ${size}`);
    assert.ok(got[0]!.body.equals(a), `part 1 at chunk size ${size}`);
    assert.ok(got[1]!.body.equals(b), `part 2 at chunk size ${size}`);
    assert.equal(got[1]!.headers['content-location'], 'x');
  }
});

test('a body cut off inside a part aborts that part and fails', async () => {
  const body = Buffer.from('--q\r\nContent-Type: application/dicom\r\n\r\npartial data');
  const seen: boolean[] = [];
  await assert.rejects(
    readMultipart((async function* () { yield body; })(), 'q', () => ({ write: () => {}, end: () => void seen.push(false), abort: () => void seen.push(true) }), 1 << 20),
    /closing delimiter/,
  );
  assert.deepEqual(seen, [true]);
  await assert.rejects(readMultipart((async function* () { yield Buffer.alloc(100); })(), 'q', () => ({ write: () => {}, end: () => {}, abort: () => {} }), 10), /larger than/);
});

test('boundary and Accept parsing', () => {
  assert.equal(boundaryOf('multipart/related; type="application/dicom"; boundary="a b"'), 'a b');
  assert.equal(boundaryOf('multipart/related; boundary=xyz; type=application/dicom'), 'xyz');
  assert.equal(boundaryOf('application/dicom'), null);
  const ranges = parseAccept('application/json;q=0.5, multipart/related; type="application/dicom"; transfer-syntax=*');
  assert.equal(ranges[0]!.type, 'multipart/related');
  assert.deepEqual(dicomRendition(ranges, false), { multipart: true, transferSyntax: '*' });
  assert.deepEqual(dicomRendition(parseAccept(undefined), false), { multipart: true, transferSyntax: '1.2.840.10008.1.2.1' });
  // A weight that is no number counts as 1 (it refused the type); one above 1 as 1 (it went ahead of the rest).
  assert.deepEqual(parseAccept('application/dicom+json;q=abc').map((r) => [r.type, r.q]), [['application/dicom+json', 1]]);
  assert.deepEqual(parseAccept('application/dicom+json, application/dicom+xml;q=5').map((r) => r.type), ['application/dicom+json', 'application/dicom+xml']);
  assert.deepEqual(parseAccept('application/dicom+xml;q=0, application/json').map((r) => r.type), ['application/json']);
  assert.deepEqual(dicomRendition(parseAccept('application/dicom'), true), { multipart: false, transferSyntax: '1.2.840.10008.1.2.1' });
  assert.equal(dicomRendition(parseAccept('image/jpeg'), true), null);
  assert.deepEqual(octetRendition(parseAccept('multipart/related; type="application/octet-stream"; transfer-syntax=*')), { multipart: true, transferSyntax: '*' });
});
