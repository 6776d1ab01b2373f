// Roles that depend on what a request acts on: cancelling or retrying a job needs write for the
// send and pull jobs a write user queues itself (POST /api/send, /api/pull), admin for every job
// an administrator set up (a retention pass that deletes studies, a rule's command that a retry
// would run again, ...). Cancelling a worklist entry (DELETE /api/worklist/{id}, which keeps it
// as CANCELED) needs write.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';
import { record } from '../contract/fixtures.js';

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
      assert.match(r.json<{ detail: string }>().detail, /a retention job: cancelling or retrying it needs admin/);
      assert.notEqual((await web.inject({ method: 'POST', url: `/api/jobs/${id}/${what}`, headers: boss })).statusCode, 403, `${what} by an admin`);
    }
    // A study that is there: the job waits on the node that is down (a retry), rather than failing
    // for good at once — a failed job can no longer be canceled (409), which raced the cancel below.
    await pacs.server.archive.index.storeInstance(record({ sop: '1.2.3.1', study: '1.2.3' }), 'insert');
    const send = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'NOWHERE', uids: ['1.2.3'] }, headers: writer });
    assert.equal(send.statusCode, 202, send.body);
    const cancel = await web.inject({ method: 'POST', url: `/api/jobs/${send.json<{ id: number }>().id}/cancel`, headers: writer });
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.equal((await web.inject({ method: 'POST', url: '/api/jobs/999999/cancel', headers: writer })).statusCode, 404);
  });

  test('jobs an administrator set up (rules, STOW-RS and MPPS forwards, commitment, plugins) need admin to cancel or retry; send and pull of the API need write', async () => {
    // Queued for a day from now: no worker runs them while the test acts on them.
    const later = new Date(Date.now() + 86_400_000);
    const add = async (type: string, payload: Record<string, unknown>) =>
      (await pacs.server.archive.index.jobs.enqueue({ type, payload, maxAttempts: 1, runAfter: later })).job.id;
    const adminOnly = [
      await add('command', { rule: 'pet-convert', argv: ['/bin/sh', '-c', 'touch /tmp/pwned'], level: 'STUDY', uid: '1.2' }),
      await add('export', { rule: 'lab-a', to: '/nas/lab-a', level: 'STUDY', uid: '1.2' }),
      await add('send', { rule: 'lab-b', destination: 'NOWHERE', level: 'STUDY', uids: ['1.2'] }),
      await add('stow', { rule: 'consortium', server: 'X', level: 'STUDY', uids: ['1.2'] }),
      await add('mpps-forward', { node: 'NOWHERE', uid: '1.2' }),
      await add('commitment', { transactionUid: '1.2' }),
      await add('plugin:example:job', {}),
    ];
    for (const id of adminOnly) {
      const retried = await web.inject({ method: 'POST', url: `/api/jobs/${id}/retry`, headers: writer });
      assert.equal(retried.statusCode, 403, `retry ${id}: ${retried.body}`);
      const canceled = await web.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, headers: writer });
      assert.equal(canceled.statusCode, 403, `cancel ${id}: ${canceled.body}`);
      assert.match(canceled.json<{ detail: string }>().detail, /needs admin; the write role may act only on the send and pull jobs/);
      assert.equal((await pacs.server.archive.index.jobs.get(id))!.state, 'queued', 'untouched');
    }
    assert.match((await web.inject({ method: 'POST', url: `/api/jobs/${adminOnly[0]}/cancel`, headers: writer })).json<{ detail: string }>().detail, /queued by the rule "pet-convert"/);
    // A command's argv (it may hold a secret) and an export's folder are for administrators' eyes.
    type Shown = { payload: Record<string, unknown> };
    for (const who of [writer, basic('reader', 'r-secret')]) {
      assert.equal((await web.inject({ method: 'GET', url: `/api/jobs/${adminOnly[0]}`, headers: who })).json<Shown>().payload.argv, '(for administrators)');
      const listed = (await web.inject({ method: 'GET', url: '/api/jobs?type=export', headers: who })).json<{ items: Shown[] }>().items;
      assert.ok(listed.length && listed.every((j) => j.payload.to === '(for administrators)'));
    }
    assert.deepEqual((await web.inject({ method: 'GET', url: `/api/jobs/${adminOnly[0]}`, headers: boss })).json<Shown>().payload.argv, ['/bin/sh', '-c', 'touch /tmp/pwned']);
    // Its messages repeat the folder ("… in /nas/lab-b"): hidden from others too, the counts kept.
    const ran = (await pacs.server.archive.index.jobs.enqueue({ type: 'export', payload: { rule: 'lab-b', to: '/nas/lab-b', level: 'STUDY', uid: '1.3' }, maxAttempts: 1 })).job.id;
    const claimed = await pacs.server.archive.index.jobs.claim('test-owner', new Date(), new Date(Date.now() + 60_000), ['export'], adminOnly);
    assert.equal(claimed?.id, ran);
    await pacs.server.archive.index.jobs.finish(ran, 'test-owner', { state: 'failed', error: 'the export folder /nas/lab-b does not exist', progress: { total: 3, completed: 1, failed: 2, message: '1 written, 0 already there, in /nas/lab-b' } });
    type Ended = { lastError: string | null; progress: { total?: number; failed?: number; message?: string } };
    const seen = (await web.inject({ method: 'GET', url: `/api/jobs/${ran}`, headers: writer })).json<Ended>();
    assert.ok(!JSON.stringify(seen).includes('/nas/lab-b'), JSON.stringify(seen));
    assert.deepEqual([seen.progress.total, seen.progress.failed, seen.lastError, seen.progress.message], [3, 2, '(for administrators)', '(for administrators)']);
    assert.match((await web.inject({ method: 'GET', url: `/api/jobs/${ran}`, headers: boss })).json<Ended>().lastError ?? '', /\/nas\/lab-b/);
    for (const id of adminOnly) assert.equal((await web.inject({ method: 'POST', url: `/api/jobs/${id}/cancel`, headers: boss })).statusCode, 200, `cancel ${id} by an admin`);
    const pull = await web.inject({ method: 'POST', url: '/api/pull', payload: { source: 'NOWHERE', uids: ['1.2.3'] }, headers: writer });
    assert.equal(pull.statusCode, 202, pull.body);
    const pulled = await web.inject({ method: 'POST', url: `/api/jobs/${pull.json<{ id: number }>().id}/cancel`, headers: writer });
    assert.notEqual(pulled.statusCode, 403, pulled.body);
  });

  test("the status page's recent errors keep a storage failure's paths for administrators", async () => {
    pacs.server.archive.events.emit('instance.failed', { sopInstanceUID: '1.2.9', code: 'STORAGE_FAILURE', message: "writing: EACCES: permission denied, open '/var/lib/pacs/.incoming/x'", provenance: { callingAE: 'CT1', calledAE: 'PACS', remoteAddress: '127.0.0.1', source: 'dimse' } });
    type Status = { recentErrors: { message: string; sopInstanceUID?: string }[] };
    const mine = async (who: Record<string, string>) => (await web.inject({ method: 'GET', url: '/api/status', headers: who })).json<Status>().recentErrors.find((e) => e.sopInstanceUID === '1.2.9')!;
    assert.equal((await mine(basic('reader', 'r-secret'))).message, 'STORAGE_FAILURE: (the reason is shown to administrators)');
    assert.match((await mine(boss)).message, /EACCES.*\/var\/lib\/pacs/);
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
