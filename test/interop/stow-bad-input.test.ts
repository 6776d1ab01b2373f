// STOW-RS under bad input, over a real socket: a body announced too large is refused before it
// is read; a request that breaks off (no closing delimiter, too many parts) after some parts were
// stored answers what was stored; parts of a non-storage SOP class, an unknown transfer syntax,
// a File Meta that cannot be written again, or larger than server.max_dataset_mb are refused
// one by one with their Failure Reason, leaving no staged file or open descriptor; a request of
// metadata and bulk data (type="application/dicom+json") is 415; an untyped part is the
// request's type; a deflated part's Retrieve URL is read from its whole dataset.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import path from 'node:path';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { Connection } from '../helpers/http-connection.js';
import { encodeFileMetaInformation, parsePart10Prefix } from '../../src/dicom/part10.js';
import { elementText } from '../../src/dicom/charset.js';

type Json = Record<string, { vr: string; Value?: unknown[] }>;
const sample = (f: string): Buffer => fs.readFileSync(path.join(SAMPLES, f));
const CT = sample('pydicom__CT_small.dcm');
const MR = sample('pydicom__MR_small.dcm');
const RTDOSE = sample('pydicom__rtdose_1frame.dcm');
const DEFLATED = sample('pydicom__image_dfl.dcm');
const CT_CLASS = '1.2.840.10008.5.1.4.1.1.2';

function body(parts: { type?: string; bytes: Buffer }[], boundary: string, close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) chunks.push(Buffer.from(`--${boundary}\r\n${p.type === undefined ? '' : `Content-Type: ${p.type}\r\n`}\r\n`), p.bytes, Buffer.from('\r\n'));
  chunks.push(Buffer.from(close ? `--${boundary}--\r\n` : `--${boundary}`));
  return Buffer.concat(chunks);
}

/** A file of `source`'s dataset under a File Meta saying other things. */
function withMeta(source: Buffer, meta: { sopClassUID?: string; sopInstanceUID?: string; transferSyntaxUID?: string }): Buffer {
  const prefix = parsePart10Prefix(source, true)!;
  // The preamble and DICM come with the File Meta.
  return Buffer.concat([
    encodeFileMetaInformation({
      mediaStorageSOPClassUID: meta.sopClassUID ?? CT_CLASS,
      mediaStorageSOPInstanceUID: meta.sopInstanceUID ?? '1.2.826.0.1.3680043.8.498.4242',
      transferSyntaxUID: meta.transferSyntaxUID ?? prefix.transferSyntaxUID,
      implementationClassUID: '1.2.826.0.1.3680043.8.498.1',
      implementationVersionName: 'TEST',
    }),
    source.subarray(prefix.datasetOffset),
  ]);
}

/** Explicit VR little endian element with a 16-bit length, its value as given (odd lengths too). */
function element(group: number, elem: number, vr: string, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.write(vr, 4, 'latin1');
  h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

const openDescriptors = (): number => fs.readdirSync('/proc/self/fd').length;

describe('STOW-RS bad input over a socket', () => {
  let pacs: TestPacs;
  let url: string;
  const stow = async (payload: Buffer, type = 'multipart/related; type="application/dicom"; boundary=b', headers: Record<string, string> = {}) => {
    const r = await fetch(`${url}/dicom-web/studies`, { method: 'POST', headers: { 'content-type': type, accept: 'application/dicom+json', ...headers }, body: payload });
    const text = await r.text();
    return { status: r.status, text, json: () => JSON.parse(text) as Json, headers: r.headers };
  };
  const referenced = (a: Json): Json[] => (a['00081199']?.Value ?? []) as Json[];
  const failed = (a: Json): Json[] => (a['00081198']?.Value ?? []) as Json[];
  const reason = (item: Json): number => Number(item['00081197']!.Value![0]);
  const staged = (): string[] => pacs.files().filter((f) => f.includes('.incoming'));
  const stored = async (uid: string): Promise<boolean> => (await pacs.server.archive.index.findInstance(uid)) !== null;
  const uidOf = (file: Buffer): string => {
    const prefix = parsePart10Prefix(file, true)!;
    return elementText(prefix.meta.get(0x00020003), null)!;
  };
  const reloadHttp = (http: Record<string, unknown>, server: Record<string, unknown> = {}) => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, http: { ...c.http, ...http }, server: { ...c.server, ...server } });
    return () => pacs.server.reload(c);
  };

  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    url = `http://127.0.0.1:${(pacs.server.httpServer!.server.address() as { port: number }).port}`;
  });
  after(() => pacs.stop());

  test('a body over http.max_upload_mb sent whole before the answer is read (chunked, or said by Content-Length): the answer comes, the connection lives on', { timeout: 30_000 }, async () => {
    const restore = reloadHttp({ max_upload_mb: 1 });
    const port = Number(new URL(url).port);
    const part = Buffer.concat([Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'), Buffer.alloc(32 * 1024 * 1024, 1)]);
    const head = (extra: string) => `POST /dicom-web/studies HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: multipart/related; type="application/dicom"; boundary=b\r\n${extra}\r\n`;
    const c = await Connection.open(port);
    try {
      // More than loopback's socket buffers hold: a server that stops reading stalls the sender.
      await c.write(head('Transfer-Encoding: chunked\r\n'));
      await c.writeChunked(part);
      const chunked = await c.answer();
      assert.equal(chunked.status, 413, chunked.body);
      assert.match(chunked.body, /max_upload_mb/);
      await c.write(head(`Content-Length: ${part.length}\r\n`));
      await c.write(part);
      assert.equal((await c.answer()).status, 413);
      await c.write(`GET /health/live HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
      assert.equal((await c.answer()).status, 200, 'the connection still serves');
    } finally {
      c.close();
      restore();
    }
  });

  test('a Content-Length above http.max_upload_mb: 413 before anything is read or stored', async () => {
    const restore = reloadHttp({ max_upload_mb: 1 });
    try {
      // The instance comes first: read as it arrived, it would be stored before the limit was passed.
      const payload = body([{ type: 'application/dicom', bytes: CT }, { type: 'application/dicom', bytes: Buffer.alloc(1024 * 1024) }], 'b');
      const r = await stow(payload);
      assert.equal(r.status, 413, r.text);
      assert.match(r.text, /max_upload_mb/);
      assert.equal(await stored(uidOf(CT)), false);
    } finally {
      restore();
    }
  });

  test('a body without its closing delimiter after two stored parts: 202, both referenced, the rest one failure', async () => {
    const r = await stow(body([{ type: 'application/dicom', bytes: CT }, { type: 'application/dicom', bytes: MR }], 'b', false));
    assert.equal(r.status, 202, r.text);
    assert.equal(referenced(r.json()).length, 2);
    const [rest] = failed(r.json());
    assert.equal(reason(rest!), 0xc000);
    assert.ok(await stored(uidOf(CT)));
    assert.ok(await stored(uidOf(MR)));
    assert.deepEqual(staged(), []);
  });

  test('more parts than http.max_upload_parts: what was stored is answered, the rest refused (0xA700)', async () => {
    const restore = reloadHttp({ max_upload_parts: 1 });
    try {
      const r = await stow(body([{ type: 'application/dicom', bytes: RTDOSE }, { type: 'application/dicom', bytes: DEFLATED }], 'b'));
      assert.equal(r.status, 202, r.text);
      assert.equal(referenced(r.json()).length, 1);
      const [rest] = failed(r.json());
      assert.equal(reason(rest!), 0xa700);
      assert.match(r.text, /max_upload_parts/);
      assert.equal(await stored(uidOf(DEFLATED)), false);
      // None stored at all: the request itself is refused.
      const none = await stow(body([{ type: 'application/dicom', bytes: Buffer.from('x') }, { type: 'application/dicom', bytes: CT }], 'b'));
      assert.equal(none.status, 413, none.text);
    } finally {
      restore();
    }
  });

  test('a non-storage SOP class is 0x0122, an unknown transfer syntax 0xC122, each refused alone', async () => {
    const verification = withMeta(sample('pydicom__CT_small.dcm'), {});
    // The dataset's SOP Class UID, as the archive reads it: rewritten in place (same length padded).
    const at = verification.indexOf(Buffer.from(CT_CLASS));
    const lastAt = verification.lastIndexOf(Buffer.from(CT_CLASS));
    assert.ok(lastAt > at, 'the class is in the File Meta and the dataset');
    Buffer.from('1.2.840.10008.1.1\0'.padEnd(CT_CLASS.length, '\0'), 'latin1').copy(verification, lastAt);
    const unknownSyntax = withMeta(RTDOSE, { transferSyntaxUID: '1.2.826.0.1.3680043.8.498.99.1' });
    const r = await stow(body([{ type: 'application/dicom', bytes: verification }, { type: 'application/dicom', bytes: unknownSyntax }], 'b'));
    assert.equal(r.status, 409, r.text);
    assert.deepEqual(failed(r.json()).map(reason), [0x0122, 0xc122]);
    assert.deepEqual(staged(), []);
  });

  test('a File Meta that cannot be written again (a UID of 65,535 bytes): 0xC000, no staged file, no descriptor left open', async () => {
    // Written by hand: our encoder refuses the UID. The dataset's own SOP Instance UID is too long
    // to be read from the part's head, so the File Meta's is the one the File Meta is made of again.
    const version = Buffer.from([0x02, 0x00, 0x01, 0x00, 0x4f, 0x42, 0, 0, 2, 0, 0, 0, 0, 1]); // (0002,0001) OB 00\01
    const group = Buffer.concat([
      version,
      element(0x0002, 0x0002, 'UI', Buffer.from(`${CT_CLASS}\0`)),
      element(0x0002, 0x0003, 'UI', Buffer.alloc(65_535, '1')),
      element(0x0002, 0x0010, 'UI', Buffer.from('1.2.840.10008.1.2.1\0')),
    ]);
    const groupLength = element(0x0002, 0x0000, 'UL', Buffer.alloc(4));
    groupLength.writeUInt32LE(group.length, 8);
    const dataset = Buffer.concat([element(0x0008, 0x0016, 'UI', Buffer.from(`${CT_CLASS}\0`)), element(0x0008, 0x0018, 'UI', Buffer.alloc(8_000, '2'))]);
    const file = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), groupLength, group, dataset]);
    const before = openDescriptors();
    for (let i = 0; i < 5; i++) {
      const r = await stow(body([{ type: 'application/dicom', bytes: file }], 'b'));
      assert.equal(r.status, 409, r.text);
      assert.equal(reason(failed(r.json())[0]!), 0xc000);
    }
    assert.deepEqual(staged(), []);
    assert.ok(openDescriptors() <= before + 2, `descriptors ${before} → ${openDescriptors()}`);
  });

  test('a part larger than server.max_dataset_mb is refused (0xA700); the other parts are stored', async () => {
    const restore = reloadHttp({}, { max_dataset_mb: 1 });
    try {
      const big = Buffer.concat([CT, Buffer.alloc(2 * 1024 * 1024)]);
      const r = await stow(body([{ type: 'application/dicom', bytes: big }, { type: 'application/dicom', bytes: DEFLATED }], 'b'));
      assert.equal(r.status, 202, r.text);
      assert.equal(reason(failed(r.json())[0]!), 0xa700);
      assert.match(r.text, /max_dataset_mb/);
      assert.deepEqual(staged(), []);
      // The deflated part's head holds no readable UIDs: its Retrieve URL comes from the whole dataset.
      const [item] = referenced(r.json());
      assert.match(String(item!['00081190']?.Value?.[0]), /\/studies\/[\d.]+\/series\/[\d.]+\/instances\/[\d.]+$/);
    } finally {
      restore();
    }
  });

  test('a deflated part that inflates past server.max_dataset_mb (a few KB sent, megabytes inflated) is refused; nothing staged', async () => {
    const prefix = parsePart10Prefix(DEFLATED, true)!;
    // The sample's dataset and a private element of 4 MB of zeros after it, deflated again.
    const extra = Buffer.concat([element(0x7fe1, 0x0010, 'LO', Buffer.from('BOMB')), Buffer.from([0xe1, 0x7f, 0x00, 0x10, 0x4f, 0x42, 0, 0]), Buffer.alloc(4), Buffer.alloc(4 * 1024 * 1024)]);
    extra.writeUInt32LE(4 * 1024 * 1024, extra.length - 4 * 1024 * 1024 - 4);
    const dataset = Buffer.concat([inflateRawSync(DEFLATED.subarray(prefix.datasetOffset)), extra]);
    const bomb = withMeta(Buffer.concat([DEFLATED.subarray(0, prefix.datasetOffset), deflateRawSync(dataset)]), { sopInstanceUID: '1.2.826.0.1.3680043.8.498.4343', transferSyntaxUID: prefix.transferSyntaxUID });
    assert.ok(bomb.length < 256 * 1024);
    const restore = reloadHttp({}, { max_dataset_mb: 1 });
    try {
      const r = await stow(body([{ type: 'application/dicom', bytes: bomb }], 'b'));
      assert.equal(r.status, 409, r.text);
      assert.match(r.text, /inflates to more than 1 MB/);
      assert.deepEqual(staged(), []);
      assert.equal(await stored('1.2.826.0.1.3680043.8.498.4343'), false);
    } finally {
      restore();
    }
  });

  test('the server failing to store (the index, a file system error): the reason names none of its paths, in STOW-RS or an upload', async () => {
    // Not stored before in this file: an identical resend is answered without the index.
    const CR = sample('pydicom-dicomdir__77654033_CR1_6154.dcm');
    const index = pacs.server.archive.index;
    const storeInstance = index.storeInstance.bind(index);
    index.storeInstance = () => Promise.reject(new Error(`SQLITE_IOERR: disk I/O error, '${pacs.storageDir}/secret/index.db'`));
    try {
      const r = await stow(body([{ type: 'application/dicom', bytes: CR }], 'b'));
      assert.equal(r.status, 409, r.text);
      assert.equal(reason(failed(r.json())[0]!), 0x0110);
      assert.match(r.text, /the server could not store it/);
      assert.doesNotMatch(r.text, /secret|SQLITE|\/tmp/);
      const up = await fetch(`${url}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: CR });
      const text = await up.text();
      assert.equal(up.status, 503, text);
      assert.doesNotMatch(text, /secret|SQLITE|\/tmp/);
    } finally {
      index.storeInstance = storeInstance;
    }
  });

  test('type="application/dicom+json" (metadata and bulk data) is 415; an untyped part is the request\'s type; the path\'s study is a UID', async () => {
    const json = await stow(body([{ type: 'application/dicom+json', bytes: Buffer.from('[]') }], 'b'), 'multipart/related; type="application/dicom+json"; boundary=b');
    assert.equal(json.status, 415, json.text);
    assert.match(json.text, /application\/dicom\+json/);
    const plus = await stow(body([{ type: 'application/dicom+json', bytes: Buffer.from('[]') }], 'b'));
    assert.equal(plus.status, 409, 'a +json part is not a DICOM file');
    const untyped = await stow(body([{ bytes: sample('pydicom__chrGreek.dcm') }], 'b'));
    assert.equal(untyped.status, 200, untyped.text);
    // The study of the path is one UID (it is echoed into Retrieve URLs).
    const notUid = await fetch(`${url}/dicom-web/studies/1.2.3%22%3E`, { method: 'POST', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }, body: body([{ bytes: CT }], 'b') });
    assert.equal(notUid.status, 400, await notUid.text());
  });
});
