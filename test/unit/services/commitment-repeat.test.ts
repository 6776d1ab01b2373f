// A Storage Commitment request asked again while its report job waits out a back-off (the
// requester was down; it is back and asks again, J.3.3.1.3): the report must go now, with all
// its attempts, not after up to an hour on the few attempts left. And a report being made for
// a canceled job stops between two files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { CommitmentService, type CommitmentPayload, type ReportChannel } from '../../../src/services/commitment.js';
import { JobService } from '../../../src/services/jobs.js';
import type { NodeDirectory } from '../../../src/services/nodes.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'pacs-commit-repeat-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A commitment service on an index of its own and a job queue that runs nothing. */
async function commitment(name: string) {
  const index = SqliteIndex.open({ path: path.join(dir, `${name}.db`), walMode: true });
  await index.migrate();
  const jobs = new JobService(index.jobs, () => ({ workers: 1, maxAttempts: 20, backoffSeconds: 60, keepDays: 30, leaseSeconds: 60 }), createLogger({ level: 'silent' }));
  const service = new CommitmentService({ index, objects: {} as ObjectStore, nodes: {} as NodeDirectory, aeTitle: () => 'PACS' }, jobs);
  return { index, jobs, service };
}

test('asked again while its job waits out a back-off: a new job, due now, with every attempt; the waiting one canceled', async () => {
  const { index, jobs, service } = await commitment('index');
  const payload: CommitmentPayload = { transactionUID: '2.25.77', requester: 'CT1', instances: [{ sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: '1.2.3.4' }] };
  const channel: ReportChannel = { open: false, send: async () => 0, done: () => {} };
  try {
    await service.accept(payload, channel);
    const [first] = (await index.jobs.list({ limit: 10, offset: 0 })).jobs;
    assert.ok(first);
    // Its report failed (the requester's SCP down): back to the queue for an hour.
    const claimed = await index.jobs.claim('test', new Date(), new Date(Date.now() + 60_000), ['commitment']);
    assert.equal(claimed?.id, first.id);
    assert.ok(await index.jobs.finish(first.id, 'test', { state: 'queued', error: 'CT1 did not answer', runAfter: new Date(Date.now() + 3_600_000) }));
    assert.equal((await index.jobs.get(first.id))?.attempts, 1);

    await service.accept(payload, channel);
    const all = (await index.jobs.list({ limit: 10, offset: 0 })).jobs;
    assert.equal((await index.jobs.get(first.id))?.state, 'canceled');
    const fresh = all.find((j) => j.id !== first.id);
    assert.ok(fresh, 'a new job');
    assert.equal(fresh.state, 'queued');
    assert.equal(fresh.attempts, 0);
    assert.ok((fresh.runAfter?.getTime() ?? 0) <= Date.now(), 'due now');
    // Asked a third time while that one waits, not yet tried: the same job.
    await service.accept(payload, channel);
    assert.equal((await index.jobs.list({ limit: 10, offset: 0 })).jobs.length, 2);
  } finally {
    await jobs.stop();
    await index.close();
  }
});

test('a report being made stops when its job is canceled: no more files read, no report', async () => {
  const { index, jobs, service } = await commitment('abort');
  const instances = Array.from({ length: 1000 }, (_, i) => ({ sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: `1.2.3.${i}` }));
  const abort = new AbortController();
  let looked = 0;
  const verify = service.verify.bind(service);
  service.verify = async (r) => {
    if (++looked === 10) abort.abort(new Error('canceled'));
    return verify(r);
  };
  try {
    await assert.rejects(service.report({ transactionUID: '2.25.78', requester: 'CT1', instances }, abort.signal), /canceled/);
    // Files are verified four at a time: the group under way when the cancel came ends, no other starts.
    assert.equal(looked, 12, 'no instance looked at after the group of the cancel');
  } finally {
    await jobs.stop();
    await index.close();
  }
});
