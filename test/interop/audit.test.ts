// The audit trail (logging.audit_file): storescu's instances summed per study and sender, a
// C-FIND with its keys, a C-GET with the studies it handed out, a rejected association, and
// HTTP: a deletion by a named user, a failed login, a refused access, DICOMweb reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic } from '../helpers/http-users.js';

const CT2 = ['pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm'].map((f) => path.join(SAMPLES, f));
const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';

describe('audit trail', () => {
  let pacs: TestPacs;
  let file: string;
  const entries = (): Record<string, unknown>[] => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  before(async () => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-audit-')), 'audit.jsonl');
    pacs = await startTestPacs({
      logging: { level: 'silent', audit_file: file },
      http: { enabled: true, port: 0, host: '127.0.0.1', users: [{ username: 'ann', password: 'ann-secret', role: 'admin' }, { username: 'bob', password: 'bob-secret', role: 'read' }] },
      access_control: { allowed_ae_titles: ['STORESCU', 'FINDSCU', 'GETSCU'] },
    });
  });
  after(() => pacs.stop());

  test('DICOM: stores per study and sender, a query with its keys, a retrieve with its studies, a rejected association', async () => {
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...CT2])).code, 0);
    assert.equal((await run('findscu', ['-S', '-aec', 'PACS_SERVER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID', '127.0.0.1', String(pacs.port)])).code, 0);
    const out = fs.mkdtempSync(path.join(pacs.dir, 'get-'));
    assert.equal((await run('getscu', ['-S', '-aec', 'PACS_SERVER', '-od', out, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)])).code, 0);
    await run('echoscu', ['-aet', 'INTRUDER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    await new Promise((r) => setTimeout(r, 300));
    const e = entries();
    const store = e.find((x) => x.action === 'store');
    assert.deepEqual({ ...store, time: undefined }, { time: undefined, action: 'store', outcome: 'success', who: 'STORESCU', from: '127.0.0.1', what: { source: 'dimse', study: CT_STUDY, patient: '77654033', instances: 2, bytes: (store!.what as { bytes: number }).bytes } });
    const query = e.find((x) => x.action === 'query');
    assert.equal(query?.who, 'FINDSCU');
    assert.deepEqual((query?.what as { keys: unknown }).keys, { PatientID: '77654033' });
    const retrieve = e.find((x) => x.action === 'retrieve');
    assert.equal(retrieve?.who, 'GETSCU');
    assert.deepEqual((retrieve?.what as { studies: string[] }).studies, [CT_STUDY]);
    assert.equal((retrieve?.what as { instances: number }).instances, 2);
    assert.ok(e.some((x) => x.action === 'access-denied' && x.who === 'INTRUDER'));
  });

  test('HTTP: a deletion by its user, a failed login, a refused access', async () => {
    const web = pacs.server.httpServer!;
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies', headers: basic('ann', 'wrong') })).statusCode, 401);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/studies/${CT_STUDY}`, headers: basic('bob', 'bob-secret') })).statusCode, 403);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/studies/${CT_STUDY}`, headers: basic('ann', 'ann-secret') })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: '/dicom-web/studies', headers: basic('bob', 'bob-secret') })).statusCode, 200);
    await new Promise((r) => setTimeout(r, 300)); // the file is written asynchronously
    const e = entries();
    assert.ok(e.some((x) => x.action === 'login-failed' && x.outcome === 'failure'));
    assert.ok(e.some((x) => x.action === 'access-denied' && x.who === 'bob'));
    const del = e.find((x) => x.action === 'delete' && x.outcome === 'success');
    assert.equal(del?.who, 'ann');
    assert.equal((del?.what as { url: string }).url, `/api/studies/${CT_STUDY}`);
    assert.ok(e.some((x) => x.action === 'http' && x.who === 'bob' && (x.what as { url: string }).url === '/dicom-web/studies'));
  });
});
