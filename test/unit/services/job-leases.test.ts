// The job runner when its lease cannot be renewed (the index unreachable, or a heartbeat that
// never answers), on a real SQLite queue whose heartbeats (and finishes) a test holds back: a
// run stuck in its handler past its lease is never started a second time beside itself by the
// same process (and what it returns is the job's outcome), the late outcome of a run whose claim
// another server took is not recorded, and a run whose heartbeat hangs is stopped before its
// lease ends (not after, and not never).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { JobService } from '../../../src/services/jobs.js';
import { createLogger } from '../../../src/core/logging.js';
import type { JobStore } from '../../../src/index/jobs.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-jobleases-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const logger = createLogger({ level: 'silent' });
const settings = (leaseSeconds: number) => () => ({ workers: 2, maxAttempts: 4, backoffSeconds: 0.05, keepDays: 30, leaseSeconds });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A queue whose heartbeats fail while `unreachable` is set (the rest works). */
async function setup(): Promise<{ index: SqliteIndex; jobs: JobStore; outage: { unreachable: boolean } }> {
  const index = SqliteIndex.open({ path: join(dir, `q-${++n}.db`), walMode: true });
  await index.migrate();
  const outage = { unreachable: true };
  const jobs = Object.create(index.jobs) as JobStore;
  jobs.heartbeat = (...args) => (outage.unreachable ? Promise.reject(new Error('index unreachable')) : index.jobs.heartbeat(...args));
  return { index, jobs, outage };
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A promise and the function that settles it: a handler stuck until the test lets it go. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

describe('JobService leases', () => {
  test('a run stuck in its handler past its lease is not started again beside itself; what it returns is its outcome', async () => {
    const { index, jobs, outage } = await setup();
    const s = new JobService(jobs, settings(0.3), logger);
    const stuck = gate();
    let runs = 0;
    let inside = 0;
    let most = 0;
    let aborted = false;
    s.register('t', {
      async run({ signal }) {
        const first = ++runs === 1;
        most = Math.max(most, ++inside);
        try {
          // The first run ignores its signal, as a copyFile or a C-STORE in flight would.
          signal.addEventListener('abort', () => (aborted = true));
          if (first) await stuck.wait;
          return { message: first ? 'first run' : 'second run' };
        } finally {
          inside--;
        }
      },
    });
    s.start();
    const job = await s.enqueue('t', {});
    await until('the first run to be aborted', () => aborted);
    // Claims work again (the outage is over for them) while the first handler is still inside:
    // polls come every second, so two seconds give the runner every chance to claim it again.
    await sleep(2000);
    assert.equal(runs, 1, 'the job was started again while its first run was still inside its handler');
    outage.unreachable = false;
    stuck.open();
    // Nobody claimed it meanwhile: the work the handler did is the job's outcome, not done again.
    await until('the job to succeed', async () => (await index.jobs.get(job.id))!.state === 'succeeded');
    assert.equal(most, 1, 'never two runs of the job at once');
    assert.equal(runs, 1);
    assert.equal((await index.jobs.get(job.id))!.progress.message, 'first run');
    await s.stop();
    await index.close();
  });

  test('the late outcome of a run whose claim another server took is not recorded over the new claim', async () => {
    const { index, jobs } = await setup();
    // The first run's finish is held back until another server has claimed the job again (its
    // heartbeats failing meanwhile, the lease ran out).
    const firstFinish = gate();
    const finishes: boolean[] = [];
    jobs.finish = async (...args) => {
      await firstFinish.wait;
      const mine = await index.jobs.finish(...args);
      finishes.push(mine);
      return mine;
    };
    const s = new JobService(jobs, settings(0.3), logger);
    s.register('t', { run: async () => ({ message: 'run 1' }) });
    s.start();
    const job = await s.enqueue('t', {});
    await until('the first run to have its claim', async () => (await index.jobs.get(job.id))!.state === 'running');
    const first = (await index.jobs.get(job.id))!;
    // Another server: it takes the job once the lease has run out.
    const other = new JobService(index.jobs, settings(0.3), logger, 'other');
    const second = gate();
    other.register('t', { run: async () => (await second.wait, { message: 'run 2' }) });
    other.start();
    await until('the other server to claim it', async () => {
      const j = (await index.jobs.get(job.id))!;
      return j.leaseOwner !== null && j.leaseOwner !== first.leaseOwner;
    });
    firstFinish.open();
    await until('the first finish', () => finishes.length >= 1);
    assert.equal(finishes[0], false, 'the replaced claim ended the job');
    assert.equal((await index.jobs.get(job.id))!.state, 'running');
    second.open();
    await until('the job to succeed', async () => (await index.jobs.get(job.id))!.state === 'succeeded');
    assert.equal((await index.jobs.get(job.id))!.progress.message, 'run 2');
    await other.stop();
    await s.stop();
    await index.close();
  });

  test('a heartbeat that never answers: the handler is aborted before the lease ends', async () => {
    const { index, jobs } = await setup();
    const asked: (number | undefined)[] = [];
    jobs.heartbeat = (...args) => {
      asked.push(args[4]);
      return new Promise(() => undefined);
    };
    const s = new JobService(jobs, settings(2), logger);
    let leaseUntil = 0;
    let abortedAt = 0;
    let runs = 0;
    s.register('t', {
      run: ({ job, signal }) => {
        if (++runs > 1) return Promise.resolve({ message: 'later run' });
        leaseUntil = job.leaseUntil!.getTime();
        return new Promise((_r, reject) =>
          signal.addEventListener('abort', () => {
            abortedAt = Date.now();
            reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
          }),
        );
      },
    });
    s.start();
    const job = await s.enqueue('t', {});
    await until('the run to be aborted', () => abortedAt > 0, 4000);
    assert.ok(abortedAt < leaseUntil, `aborted ${abortedAt - leaseUntil} ms after the lease ended`);
    assert.ok(leaseUntil - abortedAt >= 300, `aborted only ${leaseUntil - abortedAt} ms before the lease ended`);
    assert.ok(asked.length >= 1 && asked.every((t) => t !== undefined && t > 0 && t <= 1000), 'each heartbeat is given a timeout of one heartbeat interval');
    assert.equal(asked.length, 1, 'no second heartbeat of the run beside the one still waiting');
    await until('the next run to succeed', async () => (await index.jobs.get(job.id))!.state === 'succeeded');
    assert.equal((await index.jobs.get(job.id))!.attempts, 1, 'the attempt stopped for its lease was given back');
    await s.stop();
    await index.close();
  });

  test('a job claimed while the server stops is handed back unrun, its attempt returned', async () => {
    const { index, outage } = await setup();
    outage.unreachable = false;
    const jobs = Object.create(index.jobs) as JobStore;
    const held = gate();
    let claiming = false;
    let claimed = false;
    jobs.claim = async (...args) => {
      claiming = true;
      await held.wait;
      const job = await index.jobs.claim(...args);
      claimed = true;
      return job;
    };
    const s = new JobService(jobs, settings(30), logger);
    let ran = false;
    s.register('t', {
      async run() {
        ran = true;
        return { message: 'done' };
      },
    });
    const job = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 4, dedupeKey: null });
    s.start();
    await until('a claim to be under way', () => claiming);
    const stopping = s.stop();
    held.open();
    await stopping;
    await until('the claim to be done', () => claimed);
    await until('the job to leave running', async () => (await index.jobs.get(job.job.id))!.state !== 'running');
    assert.equal(ran, false, 'not run after stop');
    const after = (await index.jobs.get(job.job.id))!;
    assert.equal(after.state, 'queued');
    assert.equal(after.attempts, 0);
    await index.close();
  });

  test('heartbeats that answer keep a run going for many leases', async () => {
    const { index, outage } = await setup();
    outage.unreachable = false;
    const s = new JobService(index.jobs, settings(0.3), logger);
    let aborted = false;
    s.register('t', {
      async run({ signal }) {
        signal.addEventListener('abort', () => (aborted = true));
        await sleep(1500);
        return { message: 'done' };
      },
    });
    s.start();
    const job = await s.enqueue('t', {});
    await until('the job to succeed', async () => (await index.jobs.get(job.id))!.state === 'succeeded');
    assert.equal(aborted, false);
    assert.equal((await index.jobs.get(job.id))!.attempts, 1);
    await s.stop();
    await index.close();
  });
});
