// The REST API's worklist edits against what a step has become, and request bodies and ids the
// routes must refuse as requests, not fail on: a step completed or discontinued (by its MPPS) is
// not canceled nor put back to another status (409, unchanged) — its status is the record of
// what was performed; a body nesting 20,000 levels is a 400 (the walk over it ran out of stack:
// 500); a job or entry id past 2^53 is a 400 (a PostgreSQL bigint refused it: 500); a JSON body's
// values are not coerced ({"protected": null} unprotected a study).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('worklist edits against a step\'s status; deep bodies; huge ids', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());
  const entry = { PatientID: 'P1', PatientName: 'DOE^JANE', Modality: 'CT', ScheduledProcedureStepStartDate: '20260312', ScheduledProcedureStepStartTime: '0900' };
  const create = async (): Promise<number> => {
    const r = await web.inject({ method: 'POST', url: '/api/worklist', payload: entry });
    assert.equal(r.statusCode, 201, r.body);
    return r.json<{ id: number }>().id;
  };
  const statusOf = async (id: number): Promise<string> => (await web.inject({ method: 'GET', url: `/api/worklist/${id}` })).json<{ status: string }>().status;
  const put = (id: number, status?: string) => web.inject({ method: 'PUT', url: `/api/worklist/${id}`, payload: { ...entry, ...(status ? { ScheduledProcedureStepStatus: status } : {}) } });

  test('a step done: DELETE and a PUT to another status are 409 and change nothing; a PUT keeping it is fine', async () => {
    for (const done of ['COMPLETED', 'DISCONTINUED']) {
      const id = await create();
      assert.equal((await put(id, done)).statusCode, 200);
      const del = await web.inject({ method: 'DELETE', url: `/api/worklist/${id}` });
      assert.equal(del.statusCode, 409, del.body);
      assert.match(del.json<{ detail: string }>().detail, new RegExp(`is ${done}: a step done cannot be canceled`));
      const back = await put(id, 'SCHEDULED');
      assert.equal(back.statusCode, 409, back.body);
      assert.equal(await statusOf(id), done);
      // An edit that says no status, or the same, keeps it.
      assert.equal((await put(id)).statusCode, 200);
      assert.equal((await put(id, done)).statusCode, 200);
      assert.equal(await statusOf(id), done);
      // Set so by mistake: put right by a change that names the entry as read.
      const tag = (await web.inject({ method: 'GET', url: `/api/worklist/${id}` })).headers.etag as string;
      const fixed = await web.inject({ method: 'PUT', url: `/api/worklist/${id}`, headers: { 'if-match': tag }, payload: { ...entry, ScheduledProcedureStepStatus: 'SCHEDULED' } });
      assert.equal(fixed.statusCode, 200, fixed.body);
      assert.equal(await statusOf(id), 'SCHEDULED');
    }
  });

  test('a step not done is canceled, twice alike; a canceled one may be scheduled again', async () => {
    const id = await create();
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/worklist/${id}` })).statusCode, 200);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/worklist/${id}` })).statusCode, 200);
    assert.equal(await statusOf(id), 'CANCELED');
    assert.equal((await put(id, 'SCHEDULED')).statusCode, 200);
    assert.equal(await statusOf(id), 'SCHEDULED');
  });

  test('a step the modality started: a PUT of a copy read before (SCHEDULED in it) is 409, unchanged; with If-Match of the entry as read now it may move back; a stale If-Match is 412', async () => {
    const id = await create();
    const read = await web.inject({ method: 'GET', url: `/api/worklist/${id}` });
    const before = read.headers.etag as string;
    assert.match(before, /^"[\w-]{22}"$/);
    // The modality starts the step (its MPPS): the entry follows.
    const e = read.json<{ StudyInstanceUID: string; ScheduledProcedureStepID: string }>();
    await pacs.server.archive.worklist.stepPerformed([{ studyInstanceUID: e.StudyInstanceUID, scheduledProcedureStepID: e.ScheduledProcedureStepID, accessionNumber: null }], 'IN PROGRESS');
    assert.equal(await statusOf(id), 'STARTED');
    const stale = await put(id, 'SCHEDULED');
    assert.equal(stale.statusCode, 409, stale.body);
    assert.match(stale.json<{ detail: string }>().detail, /is STARTED now.*If-Match/);
    assert.equal(await statusOf(id), 'STARTED');
    // An edit without a status keeps STARTED; it changes the version.
    assert.equal((await put(id)).statusCode, 200);
    assert.equal(await statusOf(id), 'STARTED');
    const notNow = await web.inject({ method: 'PUT', url: `/api/worklist/${id}`, headers: { 'if-match': before }, payload: { ...entry, ScheduledProcedureStepStatus: 'SCHEDULED' } });
    assert.equal(notNow.statusCode, 412, notNow.body);
    assert.equal(await statusOf(id), 'STARTED');
    const now = (await web.inject({ method: 'GET', url: `/api/worklist/${id}` })).headers.etag as string;
    assert.notEqual(now, before);
    const back = await web.inject({ method: 'PUT', url: `/api/worklist/${id}`, headers: { 'if-match': now }, payload: { ...entry, ScheduledProcedureStepStatus: 'SCHEDULED' } });
    assert.equal(back.statusCode, 200, back.body);
    assert.equal(await statusOf(id), 'SCHEDULED');
    assert.notEqual(back.headers.etag, now, 'the answer names the new version');
  });

  test('a POST of a step that exists already (same Study Instance UID and step ID): 409 naming the entry; the same without those is a new step', async () => {
    const step = { ...entry, StudyInstanceUID: '1.2.826.0.1.3680043.8.498.555', ScheduledProcedureStepID: 'SPS555' };
    const first = await web.inject({ method: 'POST', url: '/api/worklist', payload: step });
    assert.equal(first.statusCode, 201, first.body);
    const again = await web.inject({ method: 'POST', url: '/api/worklist', payload: step });
    assert.equal(again.statusCode, 409, again.body);
    assert.match(again.json<{ detail: string }>().detail, new RegExp(`entry ${first.json<{ id: number }>().id} is this step already`));
    assert.equal((await web.inject({ method: 'POST', url: '/api/worklist', payload: { ...step, ScheduledProcedureStepID: 'SPS556' } })).statusCode, 201, 'another step of the study');
    // Canceled, the step may be scheduled anew; then the canceled entry may not be scheduled again beside it.
    const firstId = first.json<{ id: number }>().id;
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/worklist/${firstId}` })).statusCode, 200);
    const anew = await web.inject({ method: 'POST', url: '/api/worklist', payload: step });
    assert.equal(anew.statusCode, 201);
    const back = await web.inject({ method: 'PUT', url: `/api/worklist/${firstId}`, payload: { ...step, ScheduledProcedureStepStatus: 'SCHEDULED' } });
    assert.equal(back.statusCode, 409, back.body);
    assert.match(back.json<{ detail: string }>().detail, new RegExp(`entry ${anew.json<{ id: number }>().id} is this step already`));
    assert.equal((await web.inject({ method: 'POST', url: '/api/worklist', payload: entry })).statusCode, 201);
    assert.equal((await web.inject({ method: 'POST', url: '/api/worklist', payload: entry })).statusCode, 201, 'UIDs made for each: two steps');
  });

  test('a body nesting 20,000 levels (under max_json_kb): 400, nothing kept', async () => {
    const depth = 20_000;
    const payload = `{"00400100":{"vr":"SQ","Value":[${'{"00400100":{"vr":"SQ","Value":['.repeat(depth)}${']}}'.repeat(depth)}]}}`;
    const before = (await web.inject({ method: 'GET', url: '/api/worklist' })).json<{ total: number }>().total;
    for (const [method, url] of [['POST', '/api/worklist'], ['PUT', '/api/worklist/1'], ['PUT', '/api/nodes/DEEP']] as const) {
      const r = await web.inject({ method, url, payload, headers: { 'content-type': 'application/json' } });
      assert.equal(r.statusCode, 400, `${method} ${url}: ${r.body}`);
      assert.match(r.json<{ detail: string }>().detail, /nests deeper than 100 levels/);
    }
    assert.equal((await web.inject({ method: 'GET', url: '/api/worklist' })).json<{ total: number }>().total, before);
  });

  test('an id past 2^53: 400 from the schema, not a database error', async () => {
    for (const url of ['/api/jobs/99999999999999999999', '/api/worklist/99999999999999999999']) {
      const r = await web.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    }
  });

  test('JSON bodies are taken as sent: null for a boolean, text for a number, one text for a list are 400; a query string is still read as text', async () => {
    for (const [method, url, payload, property] of [
      ['PUT', '/api/studies/1.2.3/protected', { protected: null }, 'protected'],
      ['PUT', '/api/nodes/TYPES', { host: '127.0.0.1', port: '104' }, 'port'],
      ['PUT', '/api/nodes/TYPES', { host: '127.0.0.1', port: 104, tls: 'false' }, 'tls'],
      ['POST', '/api/send', { destination: 'X', level: 'STUDY', uids: '1.2.3' }, 'uids'],
    ] as const) {
      const r = await web.inject({ method, url, payload });
      assert.equal(r.statusCode, 400, `${method} ${url} ${JSON.stringify(payload)}: ${r.body}`);
      assert.match(r.json<{ detail: string }>().detail, new RegExp(property));
    }
    assert.equal((await web.inject({ method: 'GET', url: '/api/nodes/TYPES' })).statusCode, 404, 'nothing was made of them');
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies?limit=5&offset=0' })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: '/api/worklist?status=SCHEDULED' })).statusCode, 200);
  });
});
