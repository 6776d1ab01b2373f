// One Patient ID, two patients: the index keys patients by Patient ID and Issuer of Patient ID,
// so the REST API's patient paths name one of them with ?IssuerOfPatientID= (empty for none),
// and answer 409 rather than show, or delete, both.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const ID = 'SHARED-ID-7';
let pacs: TestPacs;
let web: FastifyInstance;
const studyOf: Record<string, string> = {};

/** A copy of a sample under new UIDs, with Patient ID `ID` and the issuer given ('' for none). */
async function copyFor(issuer: string): Promise<string> {
  const file = path.join(pacs.dir, `issuer-${issuer || 'none'}.dcm`);
  fs.copyFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm'), file);
  const set = ['-i', `PatientID=${ID}`, ...(issuer ? ['-i', `IssuerOfPatientID=${issuer}`] : [])]; // the sample has none
  const r = await run('dcmodify', ['-nb', '-gst', '-gse', '-gin', ...set, file]);
  assert.equal(r.code, 0, r.stderr);
  const dump = await run('dcmdump', ['+P', 'StudyInstanceUID', file]);
  studyOf[issuer] = /\[([0-9.]+)\]/.exec(dump.stdout)![1]!;
  return file;
}

before(async () => {
  pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
  web = pacs.server.httpServer!;
  const files = [await copyFor(''), await copyFor('HOSP_A')];
  const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => pacs.stop());

const call = async (method: 'GET' | 'DELETE', url: string) => {
  const r = await web.inject({ method, url });
  return { status: r.statusCode, body: r.json() as Record<string, unknown> };
};

test('a Patient ID that names two patients: 409 unless the issuer says which; delete takes only that one', async () => {
  const both = await call('GET', `/api/patients/${ID}`);
  assert.equal(both.status, 409);
  assert.match(String(both.body.detail), /names 2 patients \(Issuer of Patient ID: .*"HOSP_A".*\).*IssuerOfPatientID=/);
  assert.match(String(both.body.detail), /none/);
  const a = await call('GET', `/api/patients/${ID}?IssuerOfPatientID=HOSP_A`);
  assert.equal(a.status, 200);
  assert.equal(a.body.IssuerOfPatientID, 'HOSP_A');
  assert.equal((await call('GET', `/api/patients/${ID}?IssuerOfPatientID=HOSP_B`)).status, 404);
  const none = await call('GET', `/api/patients/${ID}/studies?IssuerOfPatientID=`);
  assert.equal(none.status, 200);
  assert.deepEqual((none.body.items as { StudyInstanceUID: string }[]).map((s) => s.StudyInstanceUID), [studyOf['']]);
  const ofA = await call('GET', `/api/patients/${ID}/studies?IssuerOfPatientID=HOSP_A`);
  assert.deepEqual((ofA.body.items as { StudyInstanceUID: string }[]).map((s) => s.StudyInstanceUID), [studyOf.HOSP_A]);

  assert.equal((await call('DELETE', `/api/patients/${ID}`)).status, 409);
  assert.equal((await pacs.server.archive.index.statistics()).studies, 2, 'nothing deleted');
  const deleted = await call('DELETE', `/api/patients/${ID}?IssuerOfPatientID=HOSP_A`);
  assert.equal(deleted.status, 200);
  assert.equal(deleted.body.deleted, 1);
  assert.equal(await pacs.server.archive.index.findStudy(studyOf.HOSP_A!), null);
  assert.notEqual(await pacs.server.archive.index.findStudy(studyOf['']!), null, 'the patient without an issuer keeps its study');
  // One patient left: the ID alone names it again.
  const left = await call('GET', `/api/patients/${ID}`);
  assert.equal(left.status, 200);
  assert.equal(left.body.IssuerOfPatientID ?? null, null);
});

test("a patient of another issuer with the same ID, stored between the delete's look-up and its selection, is not deleted", async () => {
  // Left by the test before: the patient without an issuer, alone under the ID.
  const index = pacs.server.archive.index;
  const hospB = await copyFor('HOSP_B');
  const query = index.query.bind(index);
  let armed = true;
  index.query = async (q) => {
    const rows = await query(q);
    if (armed && q.level === 'PATIENT') {
      armed = false;
      const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), hospB]);
      assert.equal(r.code, 0, r.stderr);
    }
    return rows;
  };
  try {
    const deleted = await call('DELETE', `/api/patients/${ID}?IssuerOfPatientID=`);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(deleted.body.deleted, 1);
  } finally {
    index.query = query;
  }
  assert.equal(await index.findStudy(studyOf['']!), null);
  assert.notEqual(await index.findStudy(studyOf.HOSP_B!), null, "HOSP_B's patient, stored meanwhile, keeps its study");
});
