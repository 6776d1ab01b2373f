// WADO-RS frames as stored (transfer-syntax=*) of multi-frame encapsulated instances (RLE, JPEG
// Lossless) read by their fragments' headers, not the whole file, and of a deflated instance
// (offsets in the inflated dataset): each frame equals what splitting the whole file gives; the
// same frames asked for uncompressed (the default) are decoded, equal to DCMTK's.
// Native frames (and the bulk data) of a big-endian instance go little-endian as labelled; a syntax native frames
// cannot be is refused; and Accept is read past its first media range.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import fs from 'node:fs';
import os from 'node:os';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { importFile } from '../../src/services/import.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { parts } from '../helpers/multipart.js';
import { readFile, topLevel } from '../helpers/pixels.js';
import { encapsulatedFrames } from '../../src/dicom/encapsulated.js';
import { DECODERS, START_MARKER } from '../../src/codecs/syntaxes.js';
import { TS } from '../../src/dicom/transfer-syntax.js';
import { readPart10Header } from '../../src/dicom/part10.js';

const MULTI = ['octave-dicom__US-PAL-8-10x-echo.dcm', 'pydicom__SC_rgb_rle_2frame.dcm', 'jpeg-lossless-decoder-js__jpeg_lossless_sel1-8bit.dcm'];
const DEFLATED = 'pydicom__image_dfl.dcm';
const BIG_ENDIAN = 'pydicom__MR_small_bigendian.dcm';
const PIXEL = 0x7fe00010;

/** The frames of a file as the whole-file splitter cuts them (the reference). */
function expectedFrames(file: string, frames: number): Buffer[] {
  const { ts, dataset } = readFile(file);
  if (ts === TS.DeflatedExplicitVRLittleEndian) {
    const d = inflateRawSync(dataset);
    const px = [...topLevel(d)].find((e) => e.tag === PIXEL)!;
    return [d.subarray(px.start + 12, px.end)];
  }
  const px = [...topLevel(dataset)].find((e) => e.tag === PIXEL)!;
  const codec = DECODERS.get(ts);
  const marker = codec ? START_MARKER[codec] : undefined;
  return encapsulatedFrames(dataset, px.start + 12, { frames, ...(marker ? { startsFrame: marker } : {}) }).frames;
}

describe('WADO-RS frames read by their fragments', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    // As stored (storescu would propose each file's syntax only with a profile): imported.
    for (const f of [...MULTI, DEFLATED, BIG_ENDIAN]) await importFile(pacs.server.archive.store, path.join(SAMPLES, f), { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
  });
  after(() => pacs.stop());

  for (const name of [...MULTI, DEFLATED]) {
    test(`${name}: every frame, one by one and all at once, as splitting the whole file gives it`, async () => {
      const file = path.join(SAMPLES, name);
      const sop = (await readPart10Header(file)).sopInstanceUID!;
      const loc = (await pacs.server.archive.index.findInstance(sop))!;
      const url = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${sop}/frames`;
      const meta = JSON.parse((await pacs.server.archive.metadata.get(loc)).text) as Record<string, { Value?: unknown[] }>;
      const frames = Number(meta['00280008']?.Value?.[0] ?? 1);
      const expected = expectedFrames(file, frames);
      assert.equal(expected.length, frames);
      const accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*';
      for (let n = frames; n >= 1; n--) {
        const r = await web.inject({ method: 'GET', url: `${url}/${n}`, headers: { accept } });
        assert.equal(r.statusCode, 200, r.body);
        assert.ok(parts(r.rawPayload, String(r.headers['content-type']))[0]!.body.equals(expected[n - 1]!), `frame ${n}`);
      }
      const all = await web.inject({ method: 'GET', url: `${url}/${Array.from({ length: frames }, (_, i) => i + 1).join(',')}`, headers: { accept } });
      const got = parts(all.rawPayload, String(all.headers['content-type'])).map((p) => p.body);
      assert.deepEqual(got.map((b) => b.length), expected.map((b) => b.length));
      assert.ok(got.every((b, i) => b.equals(expected[i]!)));
      assert.equal((await web.inject({ method: 'GET', url: `${url}/${frames + 1}`, headers: { accept } })).statusCode, 404);
      // A frame list longer than the router's default parameter length (100 characters).
      const list = Array.from({ length: 60 }, (_, i) => (i % frames) + 1);
      const long = await web.inject({ method: 'GET', url: `${url}/${list.join(',')}`, headers: { accept } });
      assert.equal(long.statusCode, 200, long.body);
      assert.equal(parts(long.rawPayload, String(long.headers['content-type'])).length, 60);
      const tooMany = await web.inject({ method: 'GET', url: `${url}/${Array.from({ length: 1001 }, () => 1).join(',')}`, headers: { accept } });
      assert.equal(tooMany.statusCode, 400, 'at most 1,000 frames a request');
    });
  }

  const urlOf = async (name: string): Promise<string> => {
    const sop = (await readPart10Header(path.join(SAMPLES, name))).sopInstanceUID!;
    const loc = (await pacs.server.archive.index.findInstance(sop))!;
    return `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${sop}`;
  };

  // PS3.18 8.7.3.5.2: the default of application/octet-stream is Explicit VR LE; frames of a
  // compressed instance were 406 unless the client said transfer-syntax=*.
  for (const [name, tool] of [[MULTI[0]!, 'dcmdrle'], [MULTI[1]!, 'dcmdrle'], [MULTI[2]!, 'dcmdjpeg']] as const) {
    test(`${name}: frames asked for uncompressed (the default) are decoded, each equal to ${tool}'s`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-frames-'));
      try {
        const ref = path.join(dir, 'ref.dcm');
        assert.equal((await run(tool, [path.join(SAMPLES, name), ref])).code, 0);
        const d = readFile(ref).dataset;
        const px = [...topLevel(d)].find((e) => e.tag === PIXEL)!;
        const pixels = d.subarray(px.start + 12, px.end);
        const url = `${await urlOf(name)}/frames`;
        const meta = JSON.parse((await web.inject({ method: 'GET', url: `${await urlOf(name)}/metadata`, headers: { accept: 'application/dicom+json' } })).body) as Array<Record<string, { Value?: unknown[] }>>;
        const frames = Number(meta[0]!['00280008']?.Value?.[0] ?? 1);
        const size = Math.floor(pixels.length / frames);
        for (const accept of ['multipart/related; type="application/octet-stream"', `multipart/related; type="application/octet-stream"; transfer-syntax=${TS.ImplicitVRLittleEndian}`, 'application/octet-stream']) {
          const wanted = accept.startsWith('multipart') ? Array.from({ length: frames }, (_, i) => i + 1) : [frames];
          const r = await web.inject({ method: 'GET', url: `${url}/${wanted.join(',')}`, headers: { accept } });
          assert.equal(r.statusCode, 200, r.body);
          const got = accept.startsWith('multipart') ? parts(r.rawPayload, String(r.headers['content-type'])) : [{ headers: String(r.headers['content-type']), body: r.rawPayload }];
          assert.equal(got.length, wanted.length);
          for (const [i, n] of wanted.entries()) {
            assert.ok(got[i]!.body.equals(pixels.subarray((n - 1) * size, n * size)), `${accept}: frame ${n}`);
            if (accept.startsWith('multipart')) assert.match(got[i]!.headers, accept.includes('1.2.840.10008.1.2"') || accept.endsWith(TS.ImplicitVRLittleEndian) ? /transfer-syntax=1\.2\.840\.10008\.1\.2\b/ : /transfer-syntax=1\.2\.840\.10008\.1\.2\.1\b/);
          }
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  test('native frames of a big-endian instance go as little-endian samples, labelled so; another syntax is refused', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-be-'));
    try {
      const le = path.join(dir, 'le.dcm');
      assert.equal((await run('dcmconv', ['+te', path.join(SAMPLES, BIG_ENDIAN), le])).code, 0);
      const d = readFile(le).dataset;
      const px = [...topLevel(d)].find((e) => e.tag === PIXEL)!;
      const expected = d.subarray(px.start + 12, px.end);
      const url = `${await urlOf(BIG_ENDIAN)}/frames/1`;
      for (const accept of ['application/octet-stream', 'multipart/related; type="application/octet-stream"; transfer-syntax=*']) {
        const r = await web.inject({ method: 'GET', url, headers: { accept } });
        assert.equal(r.statusCode, 200, r.body);
        const body = accept.startsWith('multipart') ? parts(r.rawPayload, String(r.headers['content-type']))[0]!.body : r.rawPayload;
        assert.ok(body.equals(expected), `${accept}: the samples little-endian`);
        assert.match(accept.startsWith('multipart') ? parts(r.rawPayload, String(r.headers['content-type']))[0]!.headers : String(r.headers['content-type']), accept.startsWith('multipart') ? /transfer-syntax=1\.2\.840\.10008\.1\.2\.1\b/ : /octet-stream/);
      }
      const jpeg = await web.inject({ method: 'GET', url, headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.50' } });
      assert.equal(jpeg.statusCode, 406, 'native samples are not JPEG Baseline');
      // Its Pixel Data as bulk data: little endian too, as the frame (and InlineBinary) are; a range of those bytes.
      const bulk = `${await urlOf(BIG_ENDIAN)}/bulkdata/7FE00010`;
      const whole = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'application/octet-stream' } });
      assert.equal(whole.statusCode, 200);
      assert.ok(whole.rawPayload.equals(expected), 'the bulk data little-endian');
      const part = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'application/octet-stream', range: 'bytes=3-10' } });
      assert.equal(part.statusCode, 206);
      assert.ok(part.rawPayload.equals(expected.subarray(3, 11)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an instance too large to decompress goes in the next syntax Accept allows (as stored), or is 406 alone', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-huge-'));
    try {
      // The 10-frame RLE instance claiming 65535 × 65535 pixels a frame: 80 GB decompressed.
      const file = path.join(dir, 'huge.dcm');
      fs.copyFileSync(path.join(SAMPLES, MULTI[0]!), file);
      const sop = '1.2.826.0.1.3680043.10.999.77';
      assert.equal((await run('dcmodify', ['-nb', '-m', '(0028,0010)=65535', '-m', '(0028,0011)=65535', '-m', `(0008,0018)=${sop}`, file])).code, 0);
      await importFile(pacs.server.archive.store, file, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
      const loc = (await pacs.server.archive.index.findInstance(sop))!;
      const url = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${sop}`;
      const both = await web.inject({ method: 'GET', url, headers: { accept: 'multipart/related; type="application/dicom", multipart/related; type="application/dicom"; transfer-syntax=*;q=0.5' } });
      assert.equal(both.statusCode, 200);
      const got = parts(both.rawPayload, String(both.headers['content-type']));
      assert.equal(got.length, 1, 'not left out');
      assert.match(got[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.5/, 'as stored (RLE)');
      const alone = await web.inject({ method: 'GET', url, headers: { accept: 'application/dicom' } });
      assert.equal(alone.statusCode, 406, alone.body);
      const uri = await web.inject({ method: 'GET', url: `/wado?requestType=WADO&studyUID=${loc.StudyInstanceUID}&seriesUID=${loc.SeriesInstanceUID}&objectUID=${sop}&contentType=application/dicom` });
      assert.equal(uri.statusCode, 200, 'WADO-URI without transferSyntax: as stored');
      assert.ok(uri.rawPayload.equals(await pacs.server.archive.objects.readAll(loc.path)), 'the stored file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Accept read past its first range: frames and instances go in the first syntax they can be sent in', async () => {
    const rle = `${await urlOf(MULTI[1]!)}`;
    const frames = await web.inject({
      method: 'GET',
      url: `${rle}/frames/1`,
      headers: { accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.1, multipart/related; type="application/octet-stream"; transfer-syntax=*;q=0.9' },
    });
    assert.equal(frames.statusCode, 200, frames.body);
    assert.match(parts(frames.rawPayload, String(frames.headers['content-type']))[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1\b/, 'the first choice: the RLE frame decoded');
    const native = await urlOf(BIG_ENDIAN);
    const instance = await web.inject({
      method: 'GET',
      url: native,
      headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90, multipart/related; type="application/dicom"; transfer-syntax=*;q=0.5' },
    });
    assert.equal(instance.statusCode, 200, instance.body);
    assert.equal(instance.headers.warning, undefined, 'nothing left out');
    assert.match(parts(instance.rawPayload, String(instance.headers['content-type']))[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.2/);
  });
});
