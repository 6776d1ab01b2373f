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
