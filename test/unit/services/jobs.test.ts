// The job runner on a real SQLite queue: retries with back-off until success, permanent
// failures without retries, cancel of a running job, a stop that gives the job back and a new
// runner (the restarted server) that finishes it, and a dead server's job taken over.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { JobService, PermanentJobError, RetryableJobError, backoffMs, type JobHandler } from '../../../src/services/jobs.js';
import { createLogger } from '../../../src/core/logging.js';
import type { Job } from '../../../src/index/jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-jobservice-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const logger = createLogger({ level: 'silent' });
const settings = () => ({ workers: 2, maxAttempts: 4, backoffSeconds: 0.05, keepDays: 30, leaseSeconds: 60 });

async function setup(): Promise<{ index: SqliteIndex; service: (h: JobHandler) => JobService }> {
  const index = SqliteIndex.open({ path: join(dir, `q-${++n}.db`), walMode: true });
  await index.migrate();
  return {
    index,
    service: (h) => {
      const s = new JobService(index.jobs, settings, logger);
      s.register('t', h);
      return s;
    },
  };
}

async function until(index: SqliteIndex, id: number, pred: (j: Job) => boolean, ms = 10_000): Promise<Job> {
  const end = Date.now() + ms;
  for (;;) {
    const j = (await index.jobs.get(id))!;
    if (pred(j)) return j;
    if (Date.now() > end) throw new Error(`job ${id}: ${j.state}, ${j.attempts} attempts, ${j.lastError}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('JobService', () => {
  test('a failure that says when to come back (a Retry-After) is retried no sooner, at most an hour later', async () => {
    const { index } = await setup();
    const s = new JobService(index.jobs, settings, logger);
    let tries = 0;
    s.register('t', {
      run: async () => {
        tries++;
        throw new RetryableJobError('busy', tries === 1 ? 600_000 : 86_400_000);
      },
    });
    s.start();
    const { id } = await s.enqueue('t', {});
    const first = await until(index, id, (j) => j.state === 'queued' && j.attempts === 1);
    const wait = first.runAfter.getTime() - Date.now();
    assert.ok(wait > 590_000 && wait <= 600_000, `retried in ${wait} ms, not after the 0.05 s back-off`);
    await s.stop();
    await index.close();
  });

  test("the log line of a job done leaves the acknowledged UIDs out (a study's worth: hundreds of KB)", async () => {
    const { index } = await setup();
    const lines: string[] = [];
    const s = new JobService(index.jobs, settings, createLogger({ level: 'info' }, { stdout: { write: (line: string) => void lines.push(line) } }));
    const acknowledged = Array.from({ length: 1000 }, (_, i) => `1.2.3.${i}`);
    s.register('t', { run: async () => ({ completed: 1000, total: 1000, acknowledged }) });
    s.start();
    const { id } = await s.enqueue('t', {});
    const done = await until(index, id, (j) => j.state === 'succeeded');
    assert.equal(done.progress.acknowledged?.length, 1000, 'kept with the job');
    const line = lines.find((l) => l.includes('job succeeded'));
    assert.ok(line !== undefined && line.includes('"completed":1000'), line);
    assert.ok(!line.includes('1.2.3.'), 'no UID in the log line');
    await s.stop();
    await index.close();
  });

  test('prompt jobs (a peer waits on them) run while long jobs fill every worker; other jobs wait', async () => {
    const { index } = await setup();
    const s = new JobService(index.jobs, settings, logger);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    s.register('long', { run: () => held });
    s.register('report', { run: async () => ({ completed: 1, total: 1 }) }, { prompt: true });
    s.start();
    const long = [await s.enqueue('long', {}), await s.enqueue('long', {}), await s.enqueue('long', {})];
    await until(index, long[1]!.id, (j) => j.state === 'running');
    await until(index, long[0]!.id, (j) => j.state === 'running');
    const report = await s.enqueue('report', {});
    await until(index, report.id, (j) => j.state === 'succeeded');
    const second = await s.enqueue('report', {});
    await until(index, second.id, (j) => j.state === 'succeeded');
    assert.equal((await index.jobs.get(long[2]!.id))!.state, 'queued', 'the prompt worker takes no other job');
    assert.equal(s.active, 2);
    release();
    await until(index, long[2]!.id, (j) => j.state === 'succeeded');
    await s.stop();
    await index.close();
  });

  test('back-off doubles with each failed try, at most an hour', () => {
    assert.deepEqual([1, 2, 3, 4].map((n) => backoffMs(n, 10)), [10_000, 20_000, 40_000, 80_000]);
    assert.equal(backoffMs(30, 10), 3_600_000);
  });

  test('a failing attempt is retried with back-off until it succeeds; progress is kept', async () => {
    const { index, service } = await setup();
    const times: number[] = [];
    const s = service({
      async run({ progress }) {
        times.push(Date.now());
        progress({ completed: times.length });
        if (times.length < 3) throw new Error(`flaky ${times.length}`);
        return { completed: 3, total: 3 };
      },
    });
    s.start();
    const job = await s.enqueue('t', {});
    const done = await until(index, job.id, (j) => j.state === 'succeeded');
    assert.equal(done.attempts, 3);
    assert.deepEqual(done.progress, { completed: 3, total: 3 });
    assert.equal(done.lastError, null);
    await s.stop();
    await index.close();
  });

  test('a permanent failure ends the job at once; spent attempts end it failed', async () => {
    const { index, service } = await setup();
    const s = service({
      async run({ job }) {
        if (job.payload.permanent) throw new PermanentJobError('unknown node');
        throw new Error('always');
      },
    });
    s.start();
    const p = await s.enqueue('t', { permanent: true });
    const q = await s.enqueue('t', {}, { maxAttempts: 2 });
    assert.equal((await until(index, p.id, (j) => j.state === 'failed')).attempts, 1);
    const spent = await until(index, q.id, (j) => j.state === 'failed');
    assert.equal(spent.attempts, 2);
    assert.equal(spent.lastError, 'always');
    await s.stop();
    await index.close();
  });

  test('cancel: a running job sees its signal and ends canceled; retry runs it again', async () => {
    const { index, service } = await setup();
    let runs = 0;
    const s = service({
      run: ({ signal }) =>
        new Promise((resolve, reject) => {
          runs++;
          if (runs > 1) return resolve({ message: 'second run' });
          signal.addEventListener('abort', () => reject(new Error('stopped by the signal')));
        }),
    });
    s.start();
    const job = await s.enqueue('t', {});
    await until(index, job.id, (j) => j.state === 'running');
    await s.cancel(job.id);
    assert.equal((await until(index, job.id, (j) => j.state === 'canceled')).state, 'canceled');
    await s.retry(job.id);
    assert.equal((await until(index, job.id, (j) => j.state === 'succeeded')).progress.message, 'second run');
    await s.stop();
    await index.close();
  });

  test('a job withdrawn before its attempt (its rule disabled) is not run, ends canceled with the reason; retry runs it once the reason is gone', async () => {
    const { index, service } = await setup();
    let runs = 0;
    const s = service({ run: async () => void runs++ });
    let disabled = true;
    s.checkBeforeRun((job) => (disabled && job.payload.rule === 'to-lab' ? 'the rule "to-lab" was disabled' : null));
    s.start();
    const ruled = await s.enqueue('t', { rule: 'to-lab' });
    const other = await s.enqueue('t', {});
    const canceled = await until(index, ruled.id, (j) => j.state === 'canceled');
    assert.equal(canceled.lastError, 'the rule "to-lab" was disabled');
    await until(index, other.id, (j) => j.state === 'succeeded');
    assert.equal(runs, 1, 'only the other job ran');
    disabled = false;
    await s.retry(ruled.id);
    await until(index, ruled.id, (j) => j.state === 'succeeded');
    assert.equal(runs, 2);
    await s.stop();
    await index.close();
  });

  test('a stop gives the running job back; the next runner (after a restart) finishes it', async () => {
    const { index, service } = await setup();
    const first = service({ run: ({ signal }) => new Promise((_r, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))) });
    first.start();
    const job = await first.enqueue('t', {});
    await until(index, job.id, (j) => j.state === 'running');
    await first.stop();
    const back = (await index.jobs.get(job.id))!;
    assert.equal(back.state, 'queued');
    assert.equal(back.attempts, 0, 'the stopped attempt is given back');
    const second = service({ run: async () => ({ message: 'finished after restart' }) });
    second.start();
    assert.equal((await until(index, job.id, (j) => j.state === 'succeeded')).progress.message, 'finished after restart');
    await second.stop();
    await index.close();
  });

  test('a lease that cannot be renewed: the job stops before it runs out, goes back to the queue, its attempt not counted', async () => {
    const { index } = await setup();
    let unreachable = true;
    // The index unreachable for heartbeats only, until the job has stopped.
    const jobs = Object.create(index.jobs) as typeof index.jobs;
    jobs.heartbeat = (...args) => (unreachable ? Promise.reject(new Error('index unreachable')) : index.jobs.heartbeat(...args));
    const s = new JobService(jobs, () => ({ ...settings(), leaseSeconds: 0.3 }), logger);
    let runs = 0;
    s.register('t', {
      run: ({ signal }) => {
        if (++runs > 1) return Promise.resolve({ message: 'second run' });
        return new Promise((_r, reject) =>
          signal.addEventListener('abort', () => {
            unreachable = false;
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          }),
        );
      },
    });
    s.start();
    const job = await s.enqueue('t', {});
    const done = await until(index, job.id, (j) => j.state === 'succeeded');
    assert.equal(runs, 2);
    assert.equal(done.attempts, 1, 'the attempt whose lease ran out was given back');
    await s.stop();
    await index.close();
  });

  test('a handler that finished while the server stops is recorded done, not given back to run again', async () => {
    const { index, service } = await setup();
    let runs = 0;
    let release!: () => void;
    const first = service({
      // Ignores the stop's signal and finishes within the grace: its work is done.
      run: () => (runs++, new Promise((resolve) => (release = () => resolve({ message: 'done once' })))),
    });
    first.start();
    const job = await first.enqueue('t', {});
    await until(index, job.id, (j) => j.state === 'running');
    const stopping = first.stop();
    release();
    await stopping;
    const after = (await index.jobs.get(job.id))!;
    assert.deepEqual([after.state, after.progress.message, runs], ['succeeded', 'done once', 1]);
    await index.close();
  });

  test("recording a job's outcome is retried while its lease is kept: a failed finish does not leave it to run again", async () => {
    const { index } = await setup();
    let failures = 2;
    const jobs = Object.create(index.jobs) as typeof index.jobs;
    jobs.finish = (...args) => (failures-- > 0 ? Promise.reject(new Error('connection refused')) : index.jobs.finish(...args));
    const s = new JobService(jobs, settings, logger);
    let runs = 0;
    s.register('t', { run: async () => (runs++, { message: 'ran' }) });
    s.start();
    const job = await s.enqueue('t', {});
    const done = await until(index, job.id, (j) => j.state === 'succeeded');
    assert.deepEqual([done.progress.message, runs], ['ran', 1]);
    await s.stop();
    await index.close();
  });

  test('a job whose server died (lease run out) is taken over', async () => {
    const { index, service } = await setup();
    const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 3, runAfter: new Date(Date.now() - 200_000) });
    assert.ok(await index.jobs.claim('dead-server', new Date(Date.now() - 120_000), new Date(Date.now() - 60_000), ['t']));
    const s = service({ run: async () => ({ message: 'taken over' }) });
    s.start();
    const done = await until(index, job.id, (j) => j.state === 'succeeded');
    assert.equal(done.attempts, 2);
    await s.stop();
    await index.close();
  });

  test("a restart takes back at once the live lease of a dead process of its name on this machine, not one of its name on another machine", async () => {
    const { index } = await setup();
    const dead = 2 ** 22 + 17; // above any pid_max: no such process
    const lease = new Date(Date.now() + 600_000);
    const mine = new JobService(index.jobs, settings, logger, 'pacs'); // for this machine's owner name
    const machine = mine.owner.split(':')[3]!;
    const here = (await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 3 })).job;
    assert.equal((await index.jobs.claim(`pacs:${dead}:aaaaaa:${machine}:1`, new Date(), lease, ['t']))?.id, here.id);
    const there = (await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 3 })).job;
    assert.equal((await index.jobs.claim(`pacs:${dead}:bbbbbb:0123456789ab:1`, new Date(), lease, ['t']))?.id, there.id);
    const older = (await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 3 })).job;
    assert.equal((await index.jobs.claim(`pacs:${dead}:cccccc:7`, new Date(), lease, ['t']))?.id, older.id, 'a claim written before the machine was in it');
    mine.register('t', { run: async () => ({ message: 'done' }) });
    mine.start();
    await until(index, here.id, (j) => j.state === 'succeeded');
    await until(index, older.id, (j) => j.state === 'succeeded');
    await mine.stop();
    assert.equal((await index.jobs.get(there.id))!.state, 'running', "another machine's job is left to it until its lease runs out");
    await index.close();
  });
});
