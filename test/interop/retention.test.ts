// Retention rules: the least recently received studies go first, protected ones never; a pass
// runs as a durable job (queued through the API here), each deletion logged and audited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { testSql } from '../helpers/index-backend.js';

const STUDIES = {
  old: { file: 'pydicom__CT_small.dcm', uid: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', daysAgo: 100 },
  oldProtected: { file: 'octave-dicom__CT-MONO2-16-ankle.dcm', uid: '1.2.840.113619.2.1.1.322987881.621.736170080.681', daysAgo: 200 },
  middle: { file: 'pydicom__MR_small.dcm', uid: '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457', daysAgo: 10 },
  recent: { file: 'dicom3tools__0051.dcm', uid: '1.3.12.2.1107.5.2.43.67060.30000018121013085126000000053', daysAgo: 0 },
};

describe('retention', () => {
  let pacs: TestPacs;
  const auditDir = fs.mkdtempSync('/tmp/pacs-audit-');
  const auditFile = () => path.join(auditDir, 'audit.jsonl');
  const studies = async () => (await pacs.server.archive.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [], relational: true })).map((r) => String(r.StudyInstanceUID)).sort();
  const setConfig = (retention: Record<string, unknown>) => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, retention: { ...c.retention, ...retention } });
  };

  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, viewer: false }, logging: { audit_file: auditFile() } });
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...Object.values(STUDIES).map((s) => path.join(SAMPLES, s.file))]);
    assert.equal(r.code, 0, r.stderr);
    // Age the studies: retention goes by when a study's last instance arrived.
    for (const s of Object.values(STUDIES)) await testSql(pacs.dir, 'UPDATE studies SET last_received_at = ? WHERE study_instance_uid = ?', [Date.now() - s.daysAgo * 86_400_000, s.uid]);
  });
  after(async () => {
    await pacs.stop();
    fs.rmSync(auditDir, { recursive: true, force: true });
  });

  test('protect through the API: PUT /api/studies/{uid}/protected, read back; 404 for an unknown study', async () => {
    const app = pacs.server.httpServer!;
    const put = await app.inject({ method: 'PUT', url: `/api/studies/${STUDIES.oldProtected.uid}/protected`, payload: { protected: true } });
    assert.equal(put.statusCode, 200, put.body);
    assert.deepEqual(put.json(), { StudyInstanceUID: STUDIES.oldProtected.uid, protected: true });
    assert.equal((await app.inject({ method: 'GET', url: `/api/studies/${STUDIES.oldProtected.uid}/protected` })).json<{ protected: boolean }>().protected, true);
    assert.equal((await app.inject({ method: 'GET', url: `/api/studies/${STUDIES.old.uid}/protected` })).json<{ protected: boolean }>().protected, false);
    assert.equal((await app.inject({ method: 'PUT', url: '/api/studies/1.2.3/protected', payload: { protected: true } })).statusCode, 404);
  });

  test('max_age_days: older studies deleted (files too), the protected one kept', async () => {
    setConfig({ max_age_days: 30 });
    const before = pacs.files().filter((f) => f.endsWith('.dcm')).length;
    const r = await pacs.server.retention.run();
    assert.equal(r.studies, 1);
    assert.deepEqual(await studies(), [STUDIES.oldProtected.uid, STUDIES.middle.uid, STUDIES.recent.uid].sort());
    assert.equal(pacs.files().filter((f) => f.endsWith('.dcm')).length, before - 1, 'its file is gone');
  });

  test('max_bytes, as a job queued through the API: oldest unprotected first until under the limit', async () => {
    const recentSize = (await pacs.server.archive.index.findStudy(STUDIES.recent.uid))!;
    const protectedStudy = (await pacs.server.archive.index.findStudy(STUDIES.oldProtected.uid))!;
    // Room for the protected and the recent study: only the middle one must go.
    setConfig({ max_age_days: 0, max_bytes: protectedStudy.sizeBytes + recentSize.sizeBytes });
    const queued = await pacs.server.httpServer!.inject({ method: 'POST', url: '/api/retention/run' });
    assert.equal(queued.statusCode, 202, queued.body);
    const id = queued.json<{ id: number }>().id;
    for (let i = 0; i < 100 && (await pacs.server.archive.index.jobs.get(id))?.state !== 'succeeded'; i++) await new Promise((r) => setTimeout(r, 100));
    const job = await pacs.server.archive.index.jobs.get(id);
    assert.equal(job?.state, 'succeeded', JSON.stringify(job));
    assert.deepEqual(await studies(), [STUDIES.oldProtected.uid, STUDIES.recent.uid].sort());
  });

  test('a limit only protected and recent studies stand in the way of: everything else goes; protected, and received within min_age_hours (24), stays', async () => {
    setConfig({ max_bytes: 1 });
    await pacs.server.retention.run();
    assert.deepEqual(await studies(), [STUDIES.oldProtected.uid, STUDIES.recent.uid].sort());
    setConfig({ max_bytes: 0 });
  });

  test('each deletion is in the audit trail as a delete by "retention" with the reason', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // the audit file is written asynchronously
    const lines = fs.readFileSync(auditFile(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; who: string; what: { studyInstanceUID?: string; reason?: string } });
    const deletes = lines.filter((l) => l.action === 'delete' && l.who === 'retention');
    assert.deepEqual(deletes.map((d) => d.what.studyInstanceUID).sort(), [STUDIES.old.uid, STUDIES.middle.uid].sort());
    assert.match(deletes[0]!.what.reason!, /max_age_days/);
  });

  test('a study protected, or sent an instance, after the pass chose it is not deleted', async () => {
    const again = [STUDIES.old, STUDIES.middle];
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...again.map((s) => path.join(SAMPLES, s.file))]);
    assert.equal(r.code, 0, r.stderr);
    for (const s of again) await testSql(pacs.dir, 'UPDATE studies SET last_received_at = ? WHERE study_instance_uid = ?', [Date.now() - s.daysAgo * 86_400_000, s.uid]);
    // Between the choice and the deletion: an administrator protects one, an instance arrives for the other.
    const store = pacs.server.archive.index.retention;
    const oldest = store.oldest.bind(store);
    store.oldest = async (o) => {
      const chosen = await oldest(o);
      store.oldest = oldest;
      await store.setProtected(STUDIES.old.uid, true);
      await testSql(pacs.dir, 'UPDATE studies SET last_received_at = ? WHERE study_instance_uid = ?', [Date.now(), STUDIES.middle.uid]);
      return chosen;
    };
    setConfig({ max_age_days: 5 });
    const out = await pacs.server.retention.run();
    assert.equal(out.studies, 0);
    assert.deepEqual(await studies(), [STUDIES.oldProtected.uid, STUDIES.old.uid, STUDIES.middle.uid, STUDIES.recent.uid].sort());
    setConfig({ max_age_days: 0 });
  });
});
