// DICOMweb against files written by others: QIDO-RS with the C-FIND matching, WADO-RS
// instances byte-identical to what storescu sent, metadata equal to DCMTK's dcm2json, bulk
// data with Range, frames, STOW-RS with per-instance failures, WADO-URI. Through inject().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { parts } from '../helpers/multipart.js';
import { readPart10Header } from '../../src/dicom/part10.js';
import { readNativeXml, type XmlAttribute } from '../helpers/native-xml.js';
import { metadataBatch } from '../../src/http/dicomweb/wado.js';

const CT = 'pydicom__CT_small.dcm';
const FILES = [CT, 'pydicom__chrRuss.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm'];
const sample = (f: string): string => path.join(SAMPLES, f);

type Json = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

function multipartBody(files: { type: string; bytes: Buffer }[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const f of files) chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${f.type}\r\n\r\n`), f.bytes, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('DICOMweb', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const get = async (url: string, accept?: string) => web.inject({ method: 'GET', url, headers: accept ? { accept } : {} });
  before(async () => {
    // inject()'s peer is 127.0.0.1: a trusted proxy, for the forwarded URLs below, whose made-up
    // host names are allowed without credentials.
    // anonymous_role said: the requests "forwarded" by the proxy on this machine come from other machines.
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', trust_proxy: ['127.0.0.1'], allowed_hosts: ['*'], anonymous_role: 'admin' } });
    web = pacs.server.httpServer!;
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...FILES.map(sample)]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => pacs.stop());
  /** The archive's file of the study's one instance (byte-identity with what storescu sent is the store corpus test's job). */
  const storedFile = async (studyUID: string): Promise<Buffer> => {
    const [row] = await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: studyUID }, { keyword: 'SOPInstanceUID', value: '' }], relational: true });
    const loc = await pacs.server.archive.index.findInstance(String(row!.SOPInstanceUID));
    return pacs.server.archive.objects.readAll(loc!.path);
  };

  test('QIDO-RS studies: the C-FIND matching, computed attributes, RetrieveURL', async () => {
    const all = (await get('/dicom-web/studies')).json() as Json[];
    assert.equal(all.length, 5); // the two CT2 files share a study
    const res = await get('/dicom-web/studies?PatientID=1CT1');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /application\/dicom\+json/);
    const [study] = res.json() as Json[];
    assert.deepEqual(study!['00100010']!.Value, [{ Alphabetic: 'CompressedSamples^CT1' }]);
    assert.deepEqual(study!['00080061']!.Value, ['CT']);
    assert.deepEqual(study!['00201208']!.Value, [1]);
    assert.match(String(study!['00081190']!.Value![0]), /^http:\/\/.+\/dicom-web\/studies\/1\.3\.6\.1\.4\.1\.5962\.1\.2\.1\.20040119072730\.12322$/);
    const keys = Object.keys(study!);
    assert.deepEqual(keys, [...keys].sort(), 'attributes in tag order');
    // Behind a reverse proxy, the URLs are the ones the client reached (Forwarded, X-Forwarded-*).
    const viaProxy = async (headers: Record<string, string>): Promise<string> => {
      const r = await web.inject({ method: 'GET', url: '/dicom-web/studies?PatientID=1CT1', headers });
      return String((r.json() as Json[])[0]!['00081190']!.Value![0]);
    };
    assert.match(await viaProxy({ forwarded: 'for=10.0.0.1;proto=https;host="pacs.example.org", for=10.0.0.2' }), /^https:\/\/pacs\.example\.org\/dicom-web\/studies\/1\.3\./);
    assert.match(await viaProxy({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'web.example.org:8443', 'x-forwarded-prefix': '/pacs/' }), /^https:\/\/web\.example\.org:8443\/pacs\/dicom-web\/studies\//);
    assert.match(await viaProxy({ 'x-forwarded-proto': 'javascript', 'x-forwarded-host': 'evil/host' }), /^http:\/\/(localhost|127\.0\.0\.1)[^/]*\/dicom-web\//, 'nonsense is ignored');
    // Wildcards, case-insensitive names, date ranges, modalities, and tags instead of keywords.
    assert.equal(((await get('/dicom-web/studies?PatientName=compressedsamples%5Ect*')).json() as Json[]).length, 1);
    assert.equal(((await get('/dicom-web/studies?00100020=1CT1')).json() as Json[]).length, 1);
    assert.equal(((await get('/dicom-web/studies?StudyDate=20040101-20040131')).json() as Json[]).length, 1);
    assert.equal(((await get('/dicom-web/studies?ModalitiesInStudy=CR')).json() as Json[]).length, 1);
    const paged = (await get('/dicom-web/studies?limit=2&offset=1')).json() as Json[];
    assert.equal(paged.length, 2);
    assert.equal(paged[0]!['0020000D']!.Value![0], all[1]!['0020000D']!.Value![0]);
  });

  test('QIDO-RS series and instances at every level, includefield', async () => {
    const [study] = (await get('/dicom-web/studies?PatientID=1CT1')).json() as Json[];
    const uid = String(study!['0020000D']!.Value![0]);
    const series = (await get(`/dicom-web/studies/${uid}/series`)).json() as Json[];
    assert.equal(series.length, 1);
    assert.deepEqual(series[0]!['00080060']!.Value, ['CT']);
    const seriesUid = String(series[0]!['0020000E']!.Value![0]);
    const inst = (await get(`/dicom-web/studies/${uid}/series/${seriesUid}/instances?includefield=00200013,SliceLocation`)).json() as Json[];
    assert.equal(inst.length, 1);
    assert.deepEqual(inst[0]!['00280010']!.Value, [128]);
    assert.ok(inst[0]!['00201041'], 'SliceLocation returned through includefield');
    assert.equal(((await get('/dicom-web/series?Modality=CT')).json() as Json[]).length, 2);
    assert.equal(((await get(`/dicom-web/instances?SOPClassUID=1.2.840.10008.5.1.4.1.1.2`)).json() as Json[]).length, 3);
    const full = (await get('/dicom-web/studies?PatientID=1CT1&includefield=all')).json() as Json[];
    assert.ok(full[0]!['00081030'] && full[0]!['00100040']);
  });

  test('QIDO-RS bad queries are problems, unsupported keys a warning', async () => {
    const bad = await get('/dicom-web/studies?NoSuchAttribute=1');
    assert.equal(bad.statusCode, 400);
    assert.match(String(bad.headers['content-type']), /problem\+json/);
    assert.match(bad.json().detail, /NoSuchAttribute/);
    assert.equal((await get('/dicom-web/studies?StudyDate=2004-bad')).statusCode, 400);
    assert.equal((await get('/dicom-web/studies?limit=-1')).statusCode, 400);
    const huge = await get('/dicom-web/studies?offset=100000000000000000000');
    assert.equal(huge.statusCode, 400, huge.body);
    assert.match(huge.json().detail, /offset .* too large/);
    // A count beyond what IS holds: PostgreSQL refused it as a bigint parameter (a 500 there).
    const count = await get('/dicom-web/studies?NumberOfStudyRelatedInstances=99999999999999999999');
    assert.equal(count.statusCode, 400, count.body);
    assert.match(count.json().detail, /NumberOfStudyRelatedInstances.*out of range/);
    const warned = await get('/dicom-web/studies?ImageComments=x');
    assert.equal(warned.statusCode, 200);
    assert.match(String(warned.headers.warning), /^299 /);
  });

  test('WADO-RS retrieves instances byte-identical, as stored or converted', async () => {
    const [study] = (await get('/dicom-web/studies?PatientID=1CT1')).json() as Json[];
    const uid = String(study!['0020000D']!.Value![0]);
    const res = await get(`/dicom-web/studies/${uid}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    assert.equal(res.statusCode, 200);
    const ps = parts(res.rawPayload, String(res.headers['content-type']));
    assert.equal(ps.length, 1);
    assert.match(ps[0]!.headers, /application\/dicom; transfer-syntax=1\.2\.840\.10008\.1\.2\.1/);
    assert.ok(ps[0]!.body.equals(await storedFile(uid)), 'the stored file itself');
    // Implicit VR LE asked for: converted, and DCMTK reads the result.
    const implicit = await get(`/dicom-web/studies/${uid}`, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2');
    const [p] = parts(implicit.rawPayload, String(implicit.headers['content-type']));
    assert.match(p!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\r?$/m);
    const file = path.join(pacs.dir, 'implicit.dcm');
    fs.writeFileSync(file, p!.body);
    const dump = await run('dcmdump', ['+P', '0002,0010', '+P', 'PatientName', file]);
    assert.match(dump.stdout, /LittleEndianImplicit/);
    assert.match(dump.stdout, /CompressedSamples\^CT1/);
    assert.equal((await get(`/dicom-web/studies/${uid}`, 'image/png')).statusCode, 406);
    assert.equal((await get('/dicom-web/studies/1.2.3.4')).statusCode, 404);
  });

  test('WADO-RS metadata equals dcm2json, with bulk data retrievable by Range', async () => {
    const [inst] = (await get('/dicom-web/instances?PatientID=1CT1')).json() as Json[];
    const url = new URL(String(inst!['00081190']!.Value![0])).pathname;
    const first = await get(`${url}/metadata`);
    assert.equal(first.statusCode, 200);
    const [meta] = first.json() as Json[];
    const again = (await get(`${url}/metadata`)).json() as Json[]; // from the cache now
    assert.deepEqual(again[0], meta);
    const dcmtk = JSON.parse((await run('dcm2json', [sample(CT)])).stdout) as Json;
    for (const [tag, el] of Object.entries(dcmtk)) {
      if (['OB', 'OW', 'UN'].includes(el.vr) || tag === '00080005' || tag.startsWith('0002')) continue;
      assert.ok(meta![tag], `${tag} present`);
      const norm = (v: unknown[] | undefined) => JSON.stringify(v?.map((x) => (typeof x === 'number' ? Number(x.toPrecision(6)) : x)));
      assert.equal(norm(meta![tag]!.Value), norm(el.Value), `${tag} value`);
    }
    const pixel = meta!['7FE00010']!;
    assert.match(String(pixel.BulkDataURI), /\/bulkdata\/7FE00010$/);
    const bulkPath = new URL(String(pixel.BulkDataURI)).pathname;
    const whole = await get(bulkPath, 'application/octet-stream');
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.rawPayload.length, 128 * 128 * 2);
    const ranged = await web.inject({ method: 'GET', url: bulkPath, headers: { accept: 'application/octet-stream', range: 'bytes=10-19' } });
    assert.equal(ranged.statusCode, 206);
    assert.ok(ranged.rawPayload.equals(whole.rawPayload.subarray(10, 20)));
    const frame = await get(`${url}/frames/1`, 'multipart/related; type="application/octet-stream"; transfer-syntax=*');
    assert.equal(frame.statusCode, 200);
    assert.ok(parts(frame.rawPayload, String(frame.headers['content-type']))[0]!.body.equals(whole.rawPayload));
    assert.equal((await get(`${url}/frames/2`, 'application/octet-stream')).statusCode, 404);
    // Bulk data streams from the file: in a multipart too, and a file gone is an error status, not a cut-off 200.
    const inParts = await get(bulkPath, 'multipart/related; type="application/octet-stream"');
    assert.ok(parts(inParts.rawPayload, String(inParts.headers['content-type']))[0]!.body.equals(whole.rawPayload));
    const loc = (await pacs.server.archive.index.findInstance(url.split('/').at(-1)!))!;
    const file = path.join(pacs.storageDir, loc.path);
    fs.renameSync(file, `${file}.away`);
    try {
      const gone = await get(bulkPath, 'multipart/related; type="application/octet-stream"');
      assert.equal(gone.statusCode, 404, gone.body);
    } finally {
      fs.renameSync(`${file}.away`, file);
    }
  });

  test('XML when asked (Native DICOM Model): QIDO-RS and metadata as multipart documents, metadata equal to dcm2xml; else 406', async () => {
    const xmlParts = 'multipart/related; type="application/dicom+xml"';
    const json = (await get('/dicom-web/studies')).json() as Json[];
    const studies = await get('/dicom-web/studies', `text/html;q=0.9, ${xmlParts}`);
    assert.equal(studies.statusCode, 200, studies.body);
    assert.match(String(studies.headers['content-type']), /^multipart\/related; type="application\/dicom\+xml"; boundary=/);
    const docs = parts(studies.rawPayload, String(studies.headers['content-type']));
    assert.equal(docs.length, json.length, 'one document per study');
    assert.ok(docs.every((d) => /Content-Type: application\/dicom\+xml/i.test(d.headers)));
    const read = docs.map((d) => readNativeXml(d.body.toString('utf8')));
    assert.deepEqual(read.map((d) => d['0020000D']!.values[0]), json.map((s) => s['0020000D']!.Value![0]), 'the same studies in the same order');
    const ct = read.find((d) => d['00100020']!.values[0] === '1CT1')!;
    assert.deepEqual(ct['00100010'], { vr: 'PN', keyword: 'PatientName', values: ['CompressedSamples^CT1'] });
    assert.deepEqual(ct['00201208']!.values, ['1']);
    // The accept query parameter (PS3.18 8.3.3.1) wins over the header.
    const byParam = await get(`/dicom-web/studies?PatientID=1CT1&accept=${encodeURIComponent(xmlParts)}`, 'application/dicom+json');
    assert.equal(parts(byParam.rawPayload, String(byParam.headers['content-type'])).length, 1);
    for (const accept of ['application/json', 'application/*', '*/*', 'image/png, application/dicom+json']) assert.match(String((await get('/dicom-web/studies', accept)).headers['content-type']), /application\/dicom\+json/, accept);
    const none = await get('/dicom-web/studies?PatientID=NOBODY', xmlParts);
    assert.equal(none.statusCode, 204, 'no match: no multipart without a part');
    assert.equal(none.rawPayload.length, 0);
    const refused = await get('/dicom-web/studies', 'application/dicom+xml');
    assert.equal(refused.statusCode, 406, 'QIDO-RS XML comes as multipart only');
    assert.match(refused.json().detail, /application\/dicom\+json or as multipart\/related/);
    // Metadata: every value DCMTK's dcm2xml writes in its Native DICOM Model is ours too (in
    // UTF-8: a Cyrillic name from ISO_IR 144 as well).
    for (const file of [CT, 'pydicom__chrRuss.dcm']) {
    const loc = (await pacs.server.archive.index.findInstance((await readPart10Header(sample(file))).sopInstanceUID!))!;
    const url = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}`;
    const meta = await get(`${url}/metadata`, xmlParts);
    assert.equal(meta.statusCode, 200, meta.body);
    const [doc] = parts(meta.rawPayload, String(meta.headers['content-type']));
    const ours = readNativeXml(doc!.body.toString('utf8'));
    const dcmtk = readNativeXml((await run('dcm2xml', ['-nat', '+U8', sample(file)])).stdout);
    const numeric = new Set(['DS', 'IS', 'FL', 'FD', 'SL', 'SS', 'UL', 'US', 'SV', 'UV']);
    let compared = 0;
    for (const [key, el] of Object.entries(dcmtk)) {
      if (['OB', 'OW', 'UN'].includes(el.vr) || key === '00080005' || key.startsWith('0002') || key === 'FFFCFFFC') continue;
      assert.ok(ours[key], `${key} present`);
      assert.equal(ours[key]!.vr, el.vr, `${key} VR`);
      assert.equal(ours[key]!.keyword, el.keyword, `${key} keyword`);
      const norm = (vs: XmlAttribute['values']): string => JSON.stringify(vs.map((v) => (typeof v === 'string' && numeric.has(el.vr) ? Number(Number(v).toPrecision(6)) : v)));
      assert.equal(norm(ours[key]!.values), norm(el.values), `${key} values`);
      compared++;
    }
    assert.ok(compared > 20, `${file}: ${compared} attributes compared`);
    assert.match(String(ours['7FE00010']!.bulkDataURI), /\/bulkdata\/7FE00010$/);
    assert.equal((await get(`${url}/metadata`, 'text/html')).statusCode, 406);
    }
  });

  test('metadata of more instances than a batch is written as it is read, and is the same answer', async () => {
    const count = (j: Json): number => Number(j['00201208']?.Value?.[0] ?? 0);
    const [study] = ((await get('/dicom-web/studies?PatientID=77654033&includefield=00201208')).json() as Json[]).sort((a, b) => count(b) - count(a));
    const url = `/dicom-web/studies/${String(study!['0020000D']!.Value![0])}/metadata`;
    const xmlParts = 'multipart/related; type="application/dicom+xml"';
    const whole = await get(url);
    const xmlWhole = await get(url, xmlParts);
    const instances = (whole.json() as Json[]).length;
    assert.ok(instances >= 2, `${instances} instances`);
    const size = metadataBatch.size;
    metadataBatch.size = 1;
    try {
      const batched = await get(url);
      assert.equal(batched.statusCode, 200);
      assert.match(String(batched.headers['content-type']), /^application\/dicom\+json/);
      assert.equal(batched.headers['content-length'], undefined, 'streamed');
      assert.notEqual(whole.headers['content-length'], undefined, 'one batch: sent whole');
      assert.deepEqual(batched.json(), whole.json());
      const xml = await get(url, xmlParts);
      assert.equal(xml.statusCode, 200);
      assert.deepEqual(
        parts(xml.rawPayload, String(xml.headers['content-type'])).map((p) => p.body.toString()),
        parts(xmlWhole.rawPayload, String(xmlWhole.headers['content-type'])).map((p) => p.body.toString()),
      );
    } finally {
      metadataBatch.size = size;
    }
  });

  test('bulk data: a Range of several ranges, or backwards, is ignored (200, the whole value), one past the end is 416', async () => {
    const [inst] = (await get('/dicom-web/instances?PatientID=1CT1')).json() as Json[];
    const url = new URL(String(inst!['00081190']!.Value![0])).pathname;
    const bulk = `${url}/bulkdata/7FE00010`;
    const whole = await get(bulk, 'application/octet-stream');
    const several = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'application/octet-stream', range: 'bytes=0-1,5-6' } });
    assert.equal(several.statusCode, 200);
    assert.ok(several.rawPayload.equals(whole.rawPayload));
    const backwards = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'application/octet-stream', range: 'bytes=5-3' } });
    assert.equal(backwards.statusCode, 200, 'first > last is no valid range: ignored');
    const past = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'application/octet-stream', range: `bytes=${whole.rawPayload.length}-` } });
    assert.equal(past.statusCode, 416);
    assert.equal(past.headers['content-range'], `bytes */${whole.rawPayload.length}`);
    // Without Accept (*/*) a range is the bare bytes Content-Range counts (it was a multipart body in a 206).
    const bare = await web.inject({ method: 'GET', url: bulk, headers: { range: 'bytes=10-19' } });
    assert.equal(bare.statusCode, 206);
    assert.match(String(bare.headers['content-type']), /^application\/octet-stream/);
    assert.ok(bare.rawPayload.equals(whole.rawPayload.subarray(10, 20)));
    // A client that takes only multipart/related gets the whole value: its Range is ignored.
    const multi = await web.inject({ method: 'GET', url: bulk, headers: { accept: 'multipart/related; type="application/octet-stream"', range: 'bytes=10-19' } });
    assert.equal(multi.statusCode, 200);
    assert.equal(multi.headers['content-range'], undefined);
    assert.match(String(multi.headers['content-type']), /^multipart\/related/);
  });

  test('QIDO-RS keys it cannot match are said in a Warning: a lower level\'s attribute, and text that is not ASCII', async () => {
    const lower = await get('/dicom-web/studies?Modality=CT');
    assert.equal(lower.statusCode, 200);
    assert.match(String(lower.headers.warning), /Modality: an attribute of a lower level than study; the key was ignored/);
    const odd = await get(`/dicom-web/studies?includefield=${encodeURIComponent('x.字')}`);
    assert.equal(odd.statusCode, 200, odd.body);
    assert.match(String(odd.headers.warning), /includefield x\.\?: attributes inside sequences/);
  });

  test('QIDO-RS query parameters it does not support are ignored with a Warning (PS3.18 8.3), a misspelled attribute still refused', async () => {
    const all = await get('/dicom-web/studies');
    for (const q of ['emptyvaluematching=true', 'multiplevaluematching=false', '_=1700000000000']) {
      const r = await get(`/dicom-web/studies?${q}`);
      assert.equal(r.statusCode, 200, `${q}: ${r.body}`);
      assert.equal(r.body, all.body, `${q}: answered as without it`);
      assert.match(String(r.headers.warning), new RegExp(`^299 .*${q.split('=')[0]}: not`), q);
    }
    const misspelled = await get('/dicom-web/studies?PatientNme=X');
    assert.equal(misspelled.statusCode, 400);
    assert.match(misspelled.body, /unknown attribute \\"PatientNme\\"/);
  });

  test('QIDO-RS answers at most query.qido_max_results, saying so; limit and offset page below it', async () => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, query: { ...c.query, qido_max_results: 2 } });
    try {
      const cut = await get('/dicom-web/studies');
      assert.equal((cut.json() as Json[]).length, 2);
      assert.match(String(cut.headers.warning), /^299 pacs-server ".*cut at 2 results.*limit and offset/);
      const asked = await get('/dicom-web/studies?limit=100');
      assert.equal((asked.json() as Json[]).length, 2, 'a larger limit is cut too');
      const page = await get('/dicom-web/studies?limit=1&offset=4');
      assert.equal((page.json() as Json[]).length, 1);
      assert.equal(page.headers.warning, undefined, 'a page under the cap says nothing');
    } finally {
      pacs.server.reload(c);
    }
  });

  test('STOW-RS larger than http.max_upload_mb: 413 with the reason', async () => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, http: { ...c.http, max_upload_mb: 1 } });
    try {
      const big = Buffer.concat([Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'), Buffer.alloc(2 * 1024 * 1024), Buffer.from('\r\n--b--\r\n')]);
      const r = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' }, payload: big });
      assert.equal(r.statusCode, 413, r.body);
      assert.match(r.json().detail, /max_upload_mb/);
    } finally {
      pacs.server.reload(c);
    }
  });

  test('frames of an instance without Rows and Columns: a problem, not a 500', async () => {
    const file = path.join(pacs.dir, 'no-geometry.dcm');
    fs.copyFileSync(sample('pydicom__CT_small.dcm'), file);
    const uid = '1.2.826.0.1.3680043.2.1125.9999.1';
    assert.equal((await run('dcmodify', ['-nb', '-e', '(0028,0010)', '-e', '(0028,0011)', '-m', `(0008,0018)=${uid}`, file])).code, 0);
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), file])).code, 0);
    const rows = await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'SOPInstanceUID', value: uid }], relational: true });
    const r = await get(`/dicom-web/studies/${String(rows[0]!.StudyInstanceUID)}/series/${String(rows[0]!.SeriesInstanceUID)}/instances/${uid}/frames/1`, 'application/octet-stream');
    assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${r.statusCode}: ${r.body}`);
    assert.match(String(r.headers['content-type']), /problem\+json/);
    assert.match(r.json().detail, /frame geometry/);
  });

  test('STOW-RS stores through the same pipeline and reports each failure', async () => {
    const good = fs.readFileSync(sample('pydicom__rtdose_1frame.dcm'));
    const body = multipartBody(
      [
        { type: 'application/dicom', bytes: good },
        { type: 'application/dicom', bytes: Buffer.from('not DICOM at all, just text') },
        { type: 'application/dicom', bytes: fs.readFileSync(sample('octave-dicom__CT-MONO2-16-ankle.dcm')) },
      ],
      'b0undary',
    );
    const res = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b0undary' }, payload: body });
    assert.equal(res.statusCode, 202, res.body);
    const answer = res.json() as Json;
    assert.equal((answer['00081199']!.Value as Json[]).length, 2);
    const failed = answer['00081198']!.Value as Json[];
    assert.equal(failed.length, 1);
    assert.ok(Number(failed[0]!['00081197']!.Value![0]) >= 0xa700);
    assert.equal(((await get('/dicom-web/instances?Modality=RTDOSE')).json() as Json[]).length, 1);
    const files = pacs.files().filter((f) => f.includes('.incoming') && !f.endsWith('.spare'));
    assert.deepEqual(files.filter((f) => !/\.spare|spare-/.test(f)), [], 'no temporary file left');
    // A wrong study in the URL, and a body that is not multipart.
    const wrong = await web.inject({ method: 'POST', url: '/dicom-web/studies/1.2.3', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' }, payload: multipartBody([{ type: 'application/dicom', bytes: good }], 'x') });
    assert.equal(wrong.statusCode, 409);
    // Deflated: the head is compressed, the study is only seen on the whole dataset: refused there, 0xA900, nothing kept.
    const deflated = fs.readFileSync(sample('pydicom__image_dfl.dcm'));
    const wrongDeflated = await web.inject({ method: 'POST', url: '/dicom-web/studies/1.2.3', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x' }, payload: multipartBody([{ type: 'application/dicom', bytes: deflated }], 'x') });
    assert.equal(wrongDeflated.statusCode, 409, wrongDeflated.body);
    assert.equal(Number(((wrongDeflated.json() as Json)['00081198']!.Value as Json[])[0]!['00081197']!.Value![0]), 0xa900);
    const deflatedUid = (await readPart10Header(sample('pydicom__image_dfl.dcm'))).sopInstanceUID!;
    assert.equal(await pacs.server.archive.index.findInstance(deflatedUid), null, 'the deflated instance was not stored');
    assert.equal((await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'application/json' }, payload: '{}' })).statusCode, 415);
    // The response as XML when asked; an Accept with neither JSON nor XML is 406, and nothing is stored.
    const asXml = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x', accept: 'application/dicom+xml' }, payload: multipartBody([{ type: 'application/dicom', bytes: good }], 'x') });
    assert.equal(asXml.statusCode, 200, asXml.body);
    assert.equal(asXml.headers['content-type'], 'application/dicom+xml');
    const response = readNativeXml(asXml.body);
    const [item] = response['00081199']!.values as Record<string, XmlAttribute>[];
    assert.equal(item!['00081150']!.values[0], '1.2.840.10008.5.1.4.1.1.481.2');
    const greek = fs.readFileSync(sample('pydicom__chrGreek.dcm'));
    const refused = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=x', accept: 'text/html' }, payload: multipartBody([{ type: 'application/dicom', bytes: greek }], 'x') });
    assert.equal(refused.statusCode, 406);
    assert.equal(await pacs.server.archive.index.findInstance((await readPart10Header(sample('pydicom__chrGreek.dcm'))).sopInstanceUID!), null, 'nothing stored');
  });

  test('WADO-RS decompresses JPEG 2000 for a client that did not ask for it as stored', async () => {
    const j2k = fs.readFileSync(sample('pydicom__JPEG2000.dcm'));
    const stow = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=j' }, payload: multipartBody([{ type: 'application/dicom', bytes: j2k }], 'j') });
    assert.equal(stow.statusCode, 200, stow.body);
    const url = new URL(String(((stow.json() as Json)['00081199']!.Value as Json[])[0]!['00081190']!.Value![0])).pathname;
    const res = await get(url, 'multipart/related; type="application/dicom"');
    assert.equal(res.statusCode, 200);
    const [p] = parts(res.rawPayload, String(res.headers['content-type']));
    assert.match(p!.headers, /transfer-syntax=1\.2\.840\.10008\.1\.2\.1\r?$/m);
    const file = path.join(pacs.dir, 'decoded.dcm');
    fs.writeFileSync(file, p!.body);
    const dump = await run('dcmdump', ['+P', '0002,0010', '+P', '7fe0,0010', file]);
    assert.match(dump.stdout, /LittleEndianExplicit/);
    assert.match(dump.stdout, /\(7fe0,0010\) OW .*# 524288,/, 'native 1024×256×16-bit pixel data');
  });

  test('WADO-URI returns the instance as application/dicom, or rendered', async () => {
    const [inst] = (await get('/dicom-web/instances?PatientID=1CT1')).json() as Json[];
    const [study, series, sop] = ['0020000D', '0020000E', '00080018'].map((t) => String(inst![t]!.Value![0]));
    const res = await get(`/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}&contentType=application/dicom`);
    assert.equal(res.statusCode, 200);
    assert.ok(res.rawPayload.equals(await storedFile(study!)));
    // Without transferSyntax, Explicit VR Little Endian (PS3.18): a JPEG 2000 instance comes decompressed.
    const j2k = fs.readFileSync(sample('pydicom__JPEG2000.dcm'));
    assert.ok([200, 202].includes((await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=j' }, payload: multipartBody([{ type: 'application/dicom', bytes: j2k }], 'j') })).statusCode));
    const j2kLoc = (await pacs.server.archive.index.findInstance((await readPart10Header(sample('pydicom__JPEG2000.dcm'))).sopInstanceUID!))!;
    const plain = await get(`/wado?requestType=WADO&studyUID=${j2kLoc.StudyInstanceUID}&seriesUID=${j2kLoc.SeriesInstanceUID}&objectUID=${j2kLoc.SOPInstanceUID}&contentType=application/dicom`);
    assert.equal(plain.statusCode, 200);
    const plainFile = path.join(pacs.dir, 'wado-uri-plain.dcm');
    fs.writeFileSync(plainFile, plain.rawPayload);
    assert.match((await run('dcmdump', ['+P', '0002,0010', plainFile])).stdout, /LittleEndianExplicit/);
    const image = await get(`/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}`);
    assert.equal(image.statusCode, 200);
    assert.equal(image.headers['content-type'], 'image/jpeg', 'image/jpeg when contentType is absent (rendered.test.ts checks the pixels)');
    assert.equal((await get(`/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}&contentType=video/mpeg`)).statusCode, 406);
    const twice = await get(`/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}&contentType=image/png&contentType=image/jpeg`);
    assert.equal(twice.statusCode, 400, twice.body);
    assert.match(twice.json().detail, /contentType is given 2 times/);
    const windows = await get(`/dicom-web/studies/${study}/series/${series}/instances/${sop}/rendered?window=1,2&window=3,4`);
    assert.equal(windows.statusCode, 400, windows.body);
    assert.equal((await get(`/wado?studyUID=${study}`)).statusCode, 400);
  });
});

describe('DICOMweb authentication', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({
      http: { enabled: true, port: 0, host: '127.0.0.1', users: [{ username: 'ann', password: 'secret', role: 'read' }], tokens: [{ name: 'robot', token: 'abcdefghijklmnopqrstuvwxyz', role: 'write' }] },
    });
  });
  after(() => pacs.stop());

  test('anonymous read, writes need a write role, wrong credentials are 401', async () => {
    const web = pacs.server.httpServer!;
    assert.equal((await web.inject({ method: 'GET', url: '/dicom-web/studies' })).statusCode, 200);
    const stow = { 'content-type': 'multipart/related; type="application/dicom"; boundary=z' };
    const payload = multipartBody([{ type: 'application/dicom', bytes: fs.readFileSync(sample(CT)) }], 'z');
    const anon = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: stow, payload });
    assert.equal(anon.statusCode, 401);
    assert.match(String(anon.headers['www-authenticate']), /^Basic/);
    const reader = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { ...stow, authorization: `Basic ${Buffer.from('ann:secret').toString('base64')}` }, payload });
    assert.equal(reader.statusCode, 403);
    const wrong = await web.inject({ method: 'GET', url: '/dicom-web/studies', headers: { authorization: `Basic ${Buffer.from('ann:nope').toString('base64')}` } });
    assert.equal(wrong.statusCode, 401);
    const robot = await web.inject({ method: 'POST', url: '/dicom-web/studies', headers: { ...stow, authorization: 'Bearer abcdefghijklmnopqrstuvwxyz' }, payload });
    assert.equal(robot.statusCode, 200, robot.body);
  });
});
