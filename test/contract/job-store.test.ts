// The durable job queue on every backend: dedupe, claim order and due times, leases that keep
// two servers off one job and hand it over when they run out, cancel, retry, prune, and jobs
// surviving a reopen of the index.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKENDS } from './backends.js';

const at = (ms: number): Date => new Date(Date.UTC(2026, 0, 1) + ms);

for (const backend of BACKENDS) backend.run((fresh) => {
  const open = async () => (await fresh())();
  describe(`job store (${backend.name})`, () => {
    test('enqueue: a dedupe key makes one job; claim takes the oldest due job of the given types', async () => {
      const index = await open();
      const a = await index.jobs.enqueue({ type: 'send', payload: { x: 1 }, maxAttempts: 3, dedupeKey: 'k1', runAfter: at(0) });
      const again = await index.jobs.enqueue({ type: 'send', payload: { x: 2 }, maxAttempts: 3, dedupeKey: 'k1', runAfter: at(0) });
      assert.equal(a.created, true);
      assert.equal(again.created, false);
      assert.equal(again.job.id, a.job.id);
      assert.deepEqual(again.job.payload, { x: 1 });
      assert.equal((await index.jobs.byDedupeKey('k1'))?.id, a.job.id, 'found by its dedupe key');
      assert.equal(await index.jobs.byDedupeKey('k2'), null);
      await index.jobs.enqueue({ type: 'pull', payload: {}, maxAttempts: 3, runAfter: at(0) });
      const later = await index.jobs.enqueue({ type: 'send', payload: {}, maxAttempts: 3, runAfter: at(10_000) });
      assert.equal(await index.jobs.claim('me', at(1), at(60_000), ['other']), null);
      const first = await index.jobs.claim('me', at(1), at(60_000), ['send']);
      assert.equal(first?.id, a.job.id);
      assert.equal(first?.state, 'running');
      assert.equal(first?.attempts, 1);
      assert.equal(first?.leaseOwner, 'me');
      assert.equal(await index.jobs.claim('me', at(2), at(60_000), ['send']), null, 'the later one is not due yet');
      assert.equal((await index.jobs.claim('me', at(10_000), at(60_000), ['send']))?.id, later.job.id);
      await index.close();
    });

    test('activeNaming counts the queued and running jobs whose payload names a UID, not the ended ones nor a UID it only begins', async () => {
      const index = await open();
      await index.jobs.enqueue({ type: 'send', payload: { destination: 'LAB', level: 'STUDY', uids: ['1.2.3'] }, maxAttempts: 3, runAfter: at(0) });
      await index.jobs.enqueue({ type: 'send', payload: { destination: 'LAB', level: 'SERIES', uids: ['1.2.3.4'], studyUID: '1.2.3' }, maxAttempts: 3, runAfter: at(0) });
      const done = await index.jobs.enqueue({ type: 'export', payload: { level: 'STUDY', uid: '1.2.3', studyUID: '1.2.3' }, maxAttempts: 3, runAfter: at(0) });
      assert.equal(await index.jobs.activeNaming('1.2.3'), 3);
      assert.equal(await index.jobs.activeNaming('1.2'), 0, 'a UID that only begins another is not it');
      await index.jobs.cancel(done.job.id);
      assert.equal(await index.jobs.activeNaming('1.2.3'), 2, 'a canceled job no longer counts');
      const running = await index.jobs.claim('me', at(1), at(60_000), ['send']);
      assert.ok(running);
      assert.equal(await index.jobs.activeNaming('1.2.3'), 2, 'a running one does');
      await index.close();
    });

    test('leases: another server cannot take a leased job; it takes it once the lease runs out; a spent one fails', async () => {
      const index = await open();
      const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 2, runAfter: at(0) });
      await index.jobs.claim('A', at(0), at(1000), ['t']);
      assert.equal(await index.jobs.claim('B', at(500), at(2000), ['t']), null);
      assert.deepEqual(await index.jobs.heartbeat(job.id, 'B', at(5000), null), { owned: false, cancelRequested: false });
      const taken = await index.jobs.claim('B', at(1001), at(2000), ['t']);
      assert.equal(taken?.leaseOwner, 'B');
      assert.equal(taken?.attempts, 2);
      assert.equal(await index.jobs.finish(job.id, 'A', { state: 'succeeded' }), false, 'A lost the job: its outcome is not recorded');
      // B dies too, on the last allowed attempt: the job fails instead of running a third time.
      assert.equal(await index.jobs.claim('C', at(2001), at(3000), ['t']), null);
      const failed = await index.jobs.get(job.id);
      assert.equal(failed?.state, 'failed');
      assert.match(failed?.lastError ?? '', /stopped during the last attempt/);
      await index.close();
    });

    test('claim: the excluded jobs (still running in the claiming process) are not taken, even with their lease run out', async () => {
      const index = await open();
      const a = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 5, runAfter: at(0) });
      const b = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 5, runAfter: at(0) });
      assert.equal((await index.jobs.claim('P:1', at(0), at(1000), ['t']))?.id, a.job.id);
      // a's lease ran out while its handler is still inside: the same process claims b, not a.
      assert.equal((await index.jobs.claim('P:2', at(2000), at(3000), ['t'], [a.job.id]))?.id, b.job.id);
      assert.equal(await index.jobs.claim('P:3', at(4000), at(5000), ['t'], [a.job.id, b.job.id]), null);
      // Each claim is its own owner: a's first claim no longer counts once a is claimed again.
      assert.equal((await index.jobs.claim('P:4', at(4000), at(5000), ['t'], [b.job.id]))?.id, a.job.id);
      assert.deepEqual(await index.jobs.heartbeat(a.job.id, 'P:1', at(6000), null), { owned: false, cancelRequested: false });
      assert.equal(await index.jobs.finish(a.job.id, 'P:1', { state: 'succeeded' }), false);
      assert.equal(await index.jobs.finish(a.job.id, 'P:4', { state: 'succeeded' }), true);
      await index.close();
    });

    test('heartbeat saves progress; finish; cancel (queued at once, running by request); retry; list; prune', async () => {
      const index = await open();
      const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 5, runAfter: at(0) });
      const queued = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 5, runAfter: at(100_000) });
      await index.jobs.claim('A', at(0), at(60_000), ['t']);
      assert.deepEqual(await index.jobs.heartbeat(job.id, 'A', at(70_000), { total: 4, completed: 1 }), { owned: true, cancelRequested: false });
      assert.deepEqual((await index.jobs.get(job.id))?.progress, { total: 4, completed: 1 });
      assert.equal((await index.jobs.cancel(queued.job.id))?.state, 'canceled');
      const asked = await index.jobs.cancel(job.id);
      assert.equal(asked?.state, 'running');
      assert.equal(asked?.cancelRequested, true);
      assert.deepEqual(await index.jobs.heartbeat(job.id, 'A', at(80_000), null), { owned: true, cancelRequested: true });
      assert.equal(await index.jobs.finish(job.id, 'A', { state: 'canceled', error: 'canceled' }), true);
      assert.equal(await index.jobs.cancel(999), null);
      const retried = await index.jobs.retry(job.id);
      assert.equal(retried?.state, 'queued');
      assert.equal(retried?.attempts, 0);
      assert.equal(retried?.cancelRequested, false);
      const list = await index.jobs.list({ state: 'canceled', limit: 10, offset: 0 });
      assert.equal(list.total, 1);
      assert.equal(list.jobs[0]?.id, queued.job.id);
      assert.equal((await index.jobs.list({ limit: 1, offset: 0 })).total, 2);
      assert.equal(await index.jobs.prune(new Date(Date.now() + 1000)), 1, 'only the finished job');
      assert.equal((await index.jobs.list({ limit: 10, offset: 0 })).total, 1);
      await index.close();
    });

    test('finish with the attempt given back (a stop): queued again, the attempt not counted', async () => {
      const index = await open();
      const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 2, runAfter: at(0) });
      assert.equal((await index.jobs.claim('A', at(0), at(60_000), ['t']))?.attempts, 1);
      assert.equal(await index.jobs.finish(job.id, 'A', { state: 'queued', error: 'server stopping', runAfter: at(1), attemptReturned: true }), true);
      const back = (await index.jobs.get(job.id))!;
      assert.equal(back.state, 'queued');
      assert.equal(back.attempts, 0);
      assert.equal((await index.jobs.claim('B', at(2), at(60_000), ['t']))?.attempts, 1);
      assert.equal(await index.jobs.finish(job.id, 'B', { state: 'queued', error: 'failed once', runAfter: at(3) }), true);
      assert.equal((await index.jobs.get(job.id))?.attempts, 1, 'an ordinary failure keeps its attempt');
      await index.close();
    });

    test('retry of a job waiting out its back-off runs it now, its attempts counted on; one due already or running is left as it is', async () => {
      const index = await open();
      const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 5, runAfter: at(0) });
      await index.jobs.claim('A', at(0), at(60_000), ['t']);
      const later = new Date(Date.now() + 3_600_000);
      assert.equal(await index.jobs.finish(job.id, 'A', { state: 'queued', error: 'refused', runAfter: later }), true);
      const now = await index.jobs.retry(job.id);
      assert.equal(now?.state, 'queued');
      assert.equal(now?.attempts, 1, 'the failed attempt still counts');
      assert.ok(now!.runAfter.getTime() <= Date.now(), 'due now, not in an hour');
      const due = await index.jobs.retry(job.id);
      assert.equal(due?.runAfter.getTime(), now!.runAfter.getTime(), 'due already: unchanged');
      await index.jobs.claim('B', new Date(), new Date(Date.now() + 60_000), ['t']);
      assert.equal((await index.jobs.retry(job.id))?.state, 'running', 'a running job is not touched');
      await index.close();
    });

    test('jobs and nodes survive closing and reopening the file; clear() (reindex) keeps them', async () => {
      const place = await fresh();
      let index = await place();
      const { job } = await index.jobs.enqueue({ type: 't', payload: { study: '1.2.3' }, maxAttempts: 5 });
      await index.nodes.put({ ae_title: 'WS1', host: 'ws1', port: 104, tls: false, permissions: ['store'], description: 'x' });
      await index.clear();
      await index.close();
      index = await place();
      assert.deepEqual((await index.jobs.get(job.id))?.payload, { study: '1.2.3' });
      assert.deepEqual(await index.nodes.get('WS1'), { ae_title: 'WS1', host: 'ws1', port: 104, tls: false, permissions: ['store'], description: 'x' });
      assert.deepEqual(await index.nodes.put({ ae_title: 'WS1', host: 'ws1b', port: 105, tls: true, permissions: [], description: '' }), { created: false });
      assert.equal((await index.nodes.list())[0]?.host, 'ws1b');
      assert.equal(await index.nodes.remove('WS1'), true);
      assert.equal(await index.nodes.remove('WS1'), false);
      await index.close();
    });
  });
});
