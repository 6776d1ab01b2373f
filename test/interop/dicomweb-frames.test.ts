// WADO-RS frames as stored (transfer-syntax=*) of multi-frame encapsulated instances (RLE, JPEG
// Lossless) read by their fragments' headers, not the whole file, and of a deflated instance
// (offsets in the inflated dataset): each frame equals what splitting the whole file gives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
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
    for (const f of [...MULTI, DEFLATED]) await importFile(pacs.server.archive.store, path.join(SAMPLES, f), { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
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
    });
  }
});
