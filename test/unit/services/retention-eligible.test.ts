// What retention may delete at all: never a study received less than min_age_hours ago or whose
// stability is pending, and nothing by usage when the volume's excess is more than the studies
// it may delete hold (the volume holds other things than the archive).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addStudy, daysAgo, retentionArchive, sql, studyUIDs } from './retention-harness.js';

const hoursAgo = (h: number): Date => new Date(Date.now() - h * 3_600_000);

test('a study received less than min_age_hours ago is never deleted, even by a size rule not met', async () => {
  const a = await retentionArchive({ maxBytes: 1 });
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: daysAgo(100) });
  await addStudy(a, '9.2', { instances: 1, size: 100, receivedAt: hoursAgo(1) });
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), ['9.2']);
  a.settings.minAgeHours = 0;
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), [], 'min_age_hours: 0 lifts the minimum');
  await a.close();
});

test('a study whose stability is pending (still arriving, its rules not run yet) is not deleted', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: daysAgo(100) });
  await a.index.stability.catchUp(1000);
  assert.equal((await a.index.stability.pending(10)).filter((e) => e.level === 'study').length, 1);
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), ['9.1']);
  sql(a, 'UPDATE stability SET pending = 0');
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), [], 'once stable it goes');
  await a.close();
});

test("a study with a forward of one of its series still queued (its destination down) is not deleted until that job has ended", async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: daysAgo(100) });
  await addStudy(a, '9.2', { instances: 1, size: 100, receivedAt: daysAgo(100) });
  const { job } = await a.index.jobs.enqueue({ type: 'send', payload: { rule: 'to-lab', destination: 'LAB', level: 'SERIES', uids: ['9.1.77'], studyUID: '9.1' }, maxAttempts: 5 });
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), ['9.1'], 'the other old study goes');
  await a.index.jobs.cancel(job.id);
  await a.retention.run();
  assert.deepEqual(await studyUIDs(a), [], 'once its job has ended');
  await a.close();
});

test('max_usage_percent: an excess larger than what the deletable studies hold deletes nothing, with an error naming the figures', async () => {
  const a = await retentionArchive({ maxUsagePercent: 50 });
  for (const [uid, days] of [['9.1', 100], ['9.2', 50], ['9.3', 40]] as const) await addStudy(a, uid, { instances: 1, size: 1000, receivedAt: daysAgo(days) });
  a.diskUsage = () => Promise.resolve({ totalBytes: 1_000_000, freeBytes: 100_000 }); // 90 % full: 400,000 bytes too many
  const out = await a.retention.run();
  assert.equal(out.studies, 0);
  assert.deepEqual(await studyUIDs(a), ['9.1', '9.2', '9.3']);
  const error = a.logged.find((l) => l.level === 'error');
  assert.ok(error, 'an error is logged');
  assert.equal(error.fields.excessBytes, 400_000);
  assert.equal(error.fields.eligibleBytes, 3000);
  await a.close();
});

test('max_usage_percent: an excess the deletable studies can cover deletes the oldest until under, measured each time', async () => {
  const a = await retentionArchive({ maxUsagePercent: 50 });
  for (const [uid, days] of [['9.1', 100], ['9.2', 50], ['9.3', 40]] as const) await addStudy(a, uid, { instances: 1, size: 1000, receivedAt: daysAgo(days) });
  // Other data fills the volume to 1,500 bytes above half: two studies must go.
  a.diskUsage = async () => ({ totalBytes: 1_000_000, freeBytes: 1_000_000 - (498_500 + (await a.index.statistics()).bytes) });
  const out = await a.retention.run();
  assert.equal(out.studies, 2);
  assert.deepEqual(await studyUIDs(a), ['9.3']);
  await a.close();
});

test('max_usage_percent on a volume whose usage does not fall as files go (hard links, snapshots): one excess-worth deleted, then the rule is off', async () => {
  const a = await retentionArchive({ maxUsagePercent: 50 });
  for (const [uid, days] of [['9.1', 100], ['9.2', 90], ['9.3', 80], ['9.4', 70], ['9.5', 60]] as const) await addStudy(a, uid, { instances: 1, size: 1000, receivedAt: daysAgo(days) });
  let used = 501_500; // 1,500 bytes over half, and deleting does not lower it
  a.diskUsage = () => Promise.resolve({ totalBytes: 1_000_000, freeBytes: 1_000_000 - used });
  const first = await a.retention.run();
  assert.equal(first.studies, 2, 'the excess at the start (1,500 bytes: two studies of 1,000), not four');
  assert.deepEqual(await studyUIDs(a), ['9.3', '9.4', '9.5']);
  assert.ok(a.logged.some((l) => l.level === 'error' && /freed 0 bytes on the volume/.test(l.msg)));
  const second = await a.retention.run();
  assert.equal(second.studies, 0, 'off while the volume does not show the space freed');
  assert.deepEqual(await studyUIDs(a), ['9.3', '9.4', '9.5']);
  used -= 2000; // freed at last (a file system that frees later): the rule is back, and nothing is over
  assert.equal((await a.retention.run()).studies, 0);
  used += 1000; // more data came since: 500 bytes over again
  assert.equal((await a.retention.run()).studies, 1, 'back on once the space showed');
  assert.deepEqual(await studyUIDs(a), ['9.4', '9.5']);
  await a.close();
});
