// Roles that depend on what a request acts on: cancelling or retrying a retention job (a pass
// that deletes studies) needs admin, as queuing one does; other jobs need write. Cancelling a
// worklist entry (DELETE /api/worklist/{id}, which keeps it as CANCELED) needs write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';

describe('REST API roles by job type', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const writer = basic('writer', 'w-secret');
  const boss = basic('boss', 'b-secret');
  before(async () => {
    pacs = await startTestPacs({
      http: {
        enabled: true,
        port: 0,
        host: '127.0.0.1',
        anonymous_role: 'none',
        users: [...ROLE_USERS],
      },
      known_nodes: [{ ae_title: 'NOWHERE', host: '127.0.0.1', port: 1 }] as never,
    });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());

  test('a write user may not cancel or retry a retention job (403); an admin may; other jobs stay write', async () => {
    assert.equal((await web.inject({ method: 'POST', url: '/api/retention/run', headers: writer })).statusCode, 403);
    const queued = await web.inject({ method: 'POST', url: '/api/retention/run', headers: boss });
    assert.equal(queued.statusCode, 202, queued.body);
    const id = queued.json<{ id: number }>().id;
    for (const what of ['cancel', 'retry']) {
      const r = await web.inject({ method: 'POST', url: `/api/jobs/${id}/${what}`, headers: writer });
      assert.equal(r.statusCode, 403, `${what}: ${r.body}`);
      assert.match(r.json<{ detail: string }>().detail, /retention job needs admin/);
      assert.notEqual((await web.inject({ method: 'POST', url: `/api/jobs/${id}/${what}`, headers: boss })).statusCode, 403, `${what} by an admin`);
    }
    const send = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'NOWHERE', uids: ['1.2.3'] }, headers: writer });
    assert.equal(send.statusCode, 202, send.body);
    const cancel = await web.inject({ method: 'POST', url: `/api/jobs/${send.json<{ id: number }>().id}/cancel`, headers: writer });
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal((await web.inject({ method: 'POST', url: '/api/jobs/999999/cancel', headers: writer })).statusCode, 404);
  });

  test('a write user cancels a worklist entry (DELETE keeps it, CANCELED); a read user may not', async () => {
    const entry = { PatientID: 'P1', Modality: 'CT', ScheduledProcedureStepStartDate: '20260312' };
    const created = await web.inject({ method: 'POST', url: '/api/worklist', payload: entry, headers: writer });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ id: number }>().id;
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/worklist/${id}`, headers: basic('reader', 'r-secret') })).statusCode, 403);
    const canceled = await web.inject({ method: 'DELETE', url: `/api/worklist/${id}`, headers: writer });
    assert.equal(canceled.statusCode, 200, canceled.body);
    assert.equal(canceled.json<{ status: string }>().status, 'CANCELED');
    assert.equal((await web.inject({ method: 'GET', url: `/api/worklist/${id}`, headers: writer })).json<{ status: string }>().status, 'CANCELED', 'kept');
  });
});
