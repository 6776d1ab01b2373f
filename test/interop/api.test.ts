// The REST API through inject(), on studies sent by DCMTK's storescu: browse with filters and
// paging, details, download, delete at every level (files and cached metadata too), upload,
// known nodes with C-ECHO against a real storescp, status, OpenAPI, and the roles.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { TEST_INDEX } from '../helpers/index-backend.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';

const FILES = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm'];
const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const CR_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1';
const sample = (f: string): string => path.join(SAMPLES, f);
type Rows = { items: Record<string, unknown>[]; more: boolean; total: number | null; offset: number; limit: number };

describe('REST API', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown, headers: Record<string, string> = {}) => {
    const r = await web.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as string }) });
    return { status: r.statusCode, json: () => r.json() as Record<string, unknown>, raw: r.rawPayload, type: String(r.headers['content-type'] ?? '') };
  };
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, known_nodes: [{ ae_title: 'FROM_FILE', host: '127.0.0.1', port: 104 }] as never });
    web = pacs.server.httpServer!;
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...FILES.map(sample)]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => pacs.stop());

  test('WADO-RS metadata of every stored instance is prepared in the background before anyone asks', async () => {
    const warmer = pacs.server.metadataWarmer!;
    for (let i = 0; i < 200 && !warmer.idle; i++) await new Promise((r) => setTimeout(r, 25));
    assert.equal(warmer.idle, true);
    assert.equal(warmer.counts.prepared, FILES.length);
    const uids = (await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [], relational: true })).map((r) => String(r.SOPInstanceUID));
    const prepared = await pacs.server.archive.index.metadata.getMany(uids);
    for (const uid of uids) assert.ok(prepared.has(uid), `metadata of ${uid} prepared (in the index)`);
  });

  test('studies: newest first, the total without a filter, paging, C-FIND matching filters', async () => {
    const all = (await call('GET', '/api/studies')).json() as unknown as Rows;
    assert.equal(all.total, 4);
    assert.equal(all.items.length, 4);
    const dates = all.items.map((s) => String(s.StudyDate ?? ''));
    assert.deepEqual(dates, [...dates].sort().reverse(), 'newest study first');
    const first = (await call('GET', '/api/studies?limit=1')).json() as unknown as Rows;
    const second = (await call('GET', '/api/studies?limit=1&offset=1')).json() as unknown as Rows;
    assert.equal(first.more, true);
    assert.equal(first.items[0]!.StudyInstanceUID, all.items[0]!.StudyInstanceUID);
    assert.equal(second.items[0]!.StudyInstanceUID, all.items[1]!.StudyInstanceUID);
    const ct = (await call('GET', '/api/studies?PatientID=77654033&ModalitiesInStudy=CT')).json() as unknown as Rows;
    assert.deepEqual(ct.items.map((s) => s.StudyInstanceUID), [CT_STUDY]);
    assert.equal(ct.total, null, 'no total for a filtered list');
    assert.equal(ct.items[0]!.NumberOfStudyRelatedInstances, 2);
    const byName = (await call('GET', `/api/studies?PatientName=${encodeURIComponent('*')}`)).json() as unknown as Rows;
    assert.equal(byName.items.length, 4);
    const bad = await call('GET', '/api/studies?StudyDate=2024-bad');
    assert.equal(bad.status, 400);
    assert.match(bad.type, /problem\+json/);
  });

  test('patients, a study with its series, a series with its instances, an instance and its file', async () => {
    const patients = (await call('GET', '/api/patients?PatientID=77654033')).json() as unknown as Rows;
    assert.equal(patients.items.length, 1);
    assert.equal(patients.items[0]!.NumberOfPatientRelatedStudies, 2);
    const studies = (await call('GET', '/api/patients/77654033/studies')).json() as unknown as Rows;
    assert.deepEqual(studies.items.map((s) => s.StudyInstanceUID).sort(), [CR_STUDY, CT_STUDY].sort());
    const study = (await call('GET', `/api/studies/${CT_STUDY}`)).json() as { series: Record<string, unknown>[]; PatientID: string };
    assert.equal(study.PatientID, '77654033');
    assert.equal(study.series.length, 1);
    const seriesUid = String(study.series[0]!.SeriesInstanceUID);
    const series = (await call('GET', `/api/series/${seriesUid}`)).json() as { instances: Record<string, unknown>[]; Modality: string };
    assert.equal(series.Modality, 'CT');
    assert.equal(series.instances.length, 2);
    const sop = String(series.instances[0]!.SOPInstanceUID);
    const inst = (await call('GET', `/api/instances/${sop}`)).json() as { file: { path: string; size: number } };
    const file = await call('GET', `/api/instances/${sop}/file`);
    assert.equal(file.status, 200);
    assert.equal(file.type, 'application/dicom');
    assert.equal(file.raw.length, inst.file.size);
    assert.deepEqual(file.raw, fs.readFileSync(path.join(pacs.storageDir, inst.file.path)));
    assert.equal((await call('GET', '/api/studies/1.2.3.4')).status, 404);
  });

  test('delete a study: rows, files, cached metadata and thumbnails go; other studies stay', async () => {
    const before = await pacs.server.archive.index.statistics();
    const instances = await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: CR_STUDY }], relational: true });
    const locs = await Promise.all(instances.map((r) => pacs.server.archive.index.findInstance(String(r.SOPInstanceUID))));
    // Warm the metadata cache, so deleting must remove it too.
    const meta = await web.inject({ method: 'GET', url: `/dicom-web/studies/${CR_STUDY}/metadata` });
    assert.equal(meta.statusCode, 200);
    const l0 = locs[0]!;
    const thumb = await web.inject({ method: 'GET', url: `/dicom-web/studies/${CR_STUDY}/series/${l0.SeriesInstanceUID}/instances/${l0.SOPInstanceUID}/thumbnail` });
    assert.equal(thumb.statusCode, 200);
    const cacheFiles = () =>
      ['.thumbnails'].flatMap((d) => (fs.existsSync(path.join(pacs.storageDir, d)) ? fs.readdirSync(path.join(pacs.storageDir, d), { recursive: true }).map((f) => `${d}/${String(f)}`) : []));
    assert.notEqual(await pacs.server.archive.index.metadata.get(l0.SOPInstanceUID), null, 'metadata prepared in the index');
    assert.ok(cacheFiles().some((f) => f.startsWith('.thumbnails') && f.includes(l0.SOPInstanceUID)));
    const r = await call('DELETE', `/api/studies/${CR_STUDY}`);
    assert.equal(r.status, 200);
    assert.equal(r.json().deleted, locs.length);
    for (const loc of locs) {
      assert.equal(fs.existsSync(path.join(pacs.storageDir, loc!.path)), false, 'file removed');
      assert.equal(await pacs.server.archive.index.findInstance(loc!.SOPInstanceUID), null, 'row removed');
    }
    assert.ok(!cacheFiles().some((f) => f.includes(l0.SOPInstanceUID)), 'cached thumbnails removed');
    // Hierarchical naming: the study's and its series' folders go with it, the patient's (another study in it) stays.
    const seriesDir = path.join(pacs.storageDir, path.dirname(l0.path));
    assert.equal(fs.existsSync(seriesDir), false, 'series folder removed');
    assert.equal(fs.existsSync(path.dirname(seriesDir)), false, 'study folder removed');
    assert.equal(fs.existsSync(path.dirname(path.dirname(seriesDir))), true, 'the patient folder holds another study');
    assert.equal((await pacs.server.archive.index.metadata.getMany(locs.map((l) => l!.SOPInstanceUID))).size, 0, 'prepared metadata removed');
    const afterStats = await pacs.server.archive.index.statistics();
    assert.equal(afterStats.studies, before.studies - 1);
    assert.equal(afterStats.instances, before.instances - locs.length);
    assert.equal((await call('GET', `/api/studies/${CR_STUDY}`)).status, 404);
    assert.equal((await call('DELETE', `/api/studies/${CR_STUDY}`)).status, 404);
  });

  test('delete a series, then an instance, then a patient', async () => {
    const [mr] = ((await call('GET', '/api/series?Modality=MR')).json() as unknown as Rows).items;
    assert.ok(mr);
    assert.equal((await call('DELETE', `/api/series/${String(mr.SeriesInstanceUID)}`)).json().deleted, 1);
    const [ct] = ((await call('GET', `/api/series?StudyInstanceUID=${CT_STUDY}`)).json() as unknown as Rows).items;
    const sops = ((await call('GET', `/api/series/${String(ct!.SeriesInstanceUID)}`)).json() as { instances: { SOPInstanceUID: string }[] }).instances;
    assert.equal((await call('DELETE', `/api/instances/${sops[0]!.SOPInstanceUID}`)).json().deleted, 1);
    assert.equal(((await call('GET', `/api/studies/${CT_STUDY}`)).json() as { NumberOfStudyRelatedInstances: number }).NumberOfStudyRelatedInstances, 1);
    assert.equal((await call('DELETE', '/api/patients/77654033')).json().deleted, 1);
    assert.equal((await call('GET', '/api/patients/77654033')).status, 404);
  });

  test('upload: a DICOM file is stored through the pipeline; a non-DICOM body is refused and leaves nothing', async () => {
    const bytes = fs.readFileSync(sample('pydicom-dicomdir__77654033_CR1_6154.dcm'));
    const ok = await call('POST', '/api/instances', bytes, { 'content-type': 'application/dicom' });
    assert.equal(ok.status, 201, ok.raw.toString());
    const sop = String(ok.json().SOPInstanceUID);
    const loc = await pacs.server.archive.index.findInstance(sop);
    assert.ok(loc);
    assert.deepEqual(fs.readFileSync(path.join(pacs.storageDir, loc.path)).subarray(-1000), bytes.subarray(-1000));
    const filesBefore = pacs.files().filter((f) => !f.startsWith('.metadata')).length;
    const bad = await call('POST', '/api/instances', Buffer.from('this is not DICOM at all'.repeat(10)), { 'content-type': 'application/dicom' });
    assert.equal(bad.status, 400);
    assert.match(bad.type, /problem\+json/);
    assert.match(String(bad.json().detail), /not a DICOM file/);
    assert.equal(pacs.files().filter((f) => !f.startsWith('.metadata')).length, filesBefore, 'nothing written');
    // No body, or a body of another type: a 415 that says what to send, not a server error.
    for (const [payload, type] of [[undefined, undefined], ['{}', 'application/json'], ['text', 'text/plain']] as const) {
      const r = await web.inject({ method: 'POST', url: '/api/instances', ...(payload === undefined ? {} : { payload }), ...(type ? { headers: { 'content-type': type } } : {}) });
      assert.equal(r.statusCode, 415, `${type}: ${r.body}`);
      assert.match(r.body, /application\/dicom/);
    }
  });

  test('known nodes: add, change, list with the file’s nodes, refuse changing those, remove; C-ECHO a real storescp', async () => {
    const port = await freePort();
    const created = await call('PUT', '/api/nodes/STORESCP', { host: '127.0.0.1', port, description: 'DCMTK' });
    assert.equal(created.status, 201);
    assert.equal(created.json().source, 'api');
    assert.equal((await call('PUT', '/api/nodes/STORESCP', { host: '127.0.0.1', port })).status, 200);
    assert.equal((await call('PUT', '/api/nodes/BAD', { host: '127.0.0.1', port: 70000 })).status, 400);
    // A TLS node while tls.enabled is false: refused, and not kept.
    const tls = await call('PUT', '/api/nodes/TLS_NODE', { host: '127.0.0.1', port, tls: true });
    assert.equal(tls.status, 400);
    assert.match(String(tls.json().detail), /tls\.enabled/);
    assert.equal((await call('GET', '/api/nodes/TLS_NODE')).status, 404, 'the refused node was not kept');
    const list = (await call('GET', '/api/nodes')).json() as unknown as { ae_title: string; source: string }[];
    assert.deepEqual(list.map((n) => [n.ae_title, n.source]), [['FROM_FILE', 'config'], ['STORESCP', 'api']]);
    const conflict = await call('PUT', '/api/nodes/FROM_FILE', { host: '127.0.0.1', port: 1 });
    assert.equal(conflict.status, 409);
    assert.match(String(conflict.json().detail), /configuration file/);
    const down = (await call('POST', '/api/nodes/STORESCP/echo')).json();
    assert.equal(down.ok, false);
    assert.match(String(down.error), /ECONNREFUSED|cannot connect/);
    let scp: ChildProcess | null = null;
    try {
      scp = await startDaemon('storescp', ['-aet', 'STORESCP', String(port)], port);
      const up = (await call('POST', '/api/nodes/STORESCP/echo')).json();
      assert.equal(up.ok, true, String(up.error));
      assert.equal(up.status, 0);
    } finally {
      scp?.kill();
    }
    assert.equal((await call('DELETE', '/api/nodes/STORESCP')).status, 204);
    assert.equal((await call('GET', '/api/nodes/STORESCP')).status, 404);
  });

  test('status: associations, throughput, recent stores and errors, disk, jobs; /health and /status', async () => {
    const s = (await call('GET', '/api/status')).json() as {
      statistics: { instances: number };
      throughput: { sinceStart: { instances: number } };
      recentStores: { sopInstanceUID: string; callingAE: string }[];
      recentAssociations: { callingAE: string; instances: number }[];
      disk: { free: number; total: number };
      jobs: { queued: number };
      dicomPort: number;
      associations: unknown[];
    };
    assert.ok(s.throughput.sinceStart.instances >= FILES.length);
    assert.ok(s.recentStores.some((r) => r.callingAE === 'STORESCU'));
    assert.ok(s.recentAssociations.some((a) => a.callingAE === 'STORESCU' && a.instances === FILES.length));
    assert.ok(s.disk.free > 0 && s.disk.total >= s.disk.free);
    assert.equal(s.dicomPort, pacs.port);
    assert.deepEqual((s as unknown as { config: { index: string; knownNodes: number; tls: boolean } }).config.index, TEST_INDEX === 'sqlite' ? 'sqlite' : 'postgresql');
    assert.equal((s as unknown as { config: { knownNodes: number } }).config.knownNodes, 1);
    assert.ok(Array.isArray(s.associations));
    // A refused C-STORE shows up among the recent errors.
    const bad = fs.mkdtempSync(path.join(pacs.dir, 'bad-'));
    const f = path.join(bad, 'mismatch.dcm');
    fs.copyFileSync(sample('pydicom__CT_small.dcm'), f);
    assert.equal((await run('dcmodify', ['-nb', '-m', 'SOPClassUID=1.2.840.10008.5.1.4.1.1.4', f])).code, 0);
    await run('storescu', ['-aec', 'PACS_SERVER', '-R', '127.0.0.1', String(pacs.port), f]);
    const s2 = (await call('GET', '/status')).json() as { recentErrors: { kind: string; message: string }[] };
    assert.ok(s2.recentErrors.length > 0, 'a recent error is listed');
    const health = await call('GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.json().status, 'ok');
  });

  test('OpenAPI at /api/docs: the document lists the API, the page is served', async () => {
    const doc = (await call('GET', '/api/docs/json')).json() as { openapi: string; paths: Record<string, unknown> };
    assert.equal(doc.openapi, '3.1.0');
    for (const p of ['/api/studies', '/api/studies/{StudyInstanceUID}', '/api/nodes/{ae}', '/api/nodes/{ae}/echo', '/api/send', '/api/pull', '/api/jobs/{id}', '/api/status', '/api/instances'])
      assert.ok(p in doc.paths, `${p} documented`);
    assert.ok(!Object.keys(doc.paths).some((p) => p.startsWith('/dicom-web')), 'DICOMweb is documented by PS3.18, not here');
    const page = await web.inject({ method: 'GET', url: '/api/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger/i);
    assert.equal(page.headers['x-frame-options'], 'SAMEORIGIN', 'framed by our own pages only');
    assert.equal(page.headers['content-security-policy'], "frame-ancestors 'self'");
  });
});

describe('REST API roles', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({
      http: {
        enabled: true,
        port: 0,
        host: '127.0.0.1',
        anonymous_role: 'none',
        users: [...ROLE_USERS],
      },
    });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());

  test('anonymous: only /health; read lists; write sends but may not change nodes; admin may', async () => {
    assert.equal((await web.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies' })).statusCode, 401);
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies', headers: basic('reader', 'r-secret') })).statusCode, 200);
    const node = { host: '127.0.0.1', port: 11112 };
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/X', payload: node, headers: basic('reader', 'r-secret') })).statusCode, 403);
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/X', payload: node, headers: basic('writer', 'w-secret') })).statusCode, 403);
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/X', payload: node, headers: basic('boss', 'b-secret') })).statusCode, 201);
    const send = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'X', uids: ['1.2.3'] }, headers: basic('writer', 'w-secret') });
    assert.equal(send.statusCode, 202);
    assert.equal((await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'X', uids: ['1.2.3'] }, headers: basic('reader', 'r-secret') })).statusCode, 403);
    assert.equal((await web.inject({ method: 'DELETE', url: '/api/studies/1.2.3', headers: basic('writer', 'w-secret') })).statusCode, 403);
  });
});
