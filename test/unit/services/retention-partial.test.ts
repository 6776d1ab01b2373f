// A study retention could delete only in part still has what was deleted logged, audited and
// counted; and only files really removed count as freed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addStudy, daysAgo, retentionArchive } from './retention-harness.js';

test('a failure part-way through a study: the instances deleted before it are audited and counted', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 3, size: 100, receivedAt: daysAgo(100) });
  const original = a.index.deleteInstanceIf.bind(a.index);
  let calls = 0;
  a.index.deleteInstanceIf = (uid, guard) => (++calls >= 2 ? Promise.reject(new Error('index down')) : original(uid, guard));
  const out = await a.retention.run();
  assert.deepEqual(out, { studies: 1, instances: 1, bytes: 100 });
  assert.deepEqual(a.audits.map((e) => [e.what.studyInstanceUID, e.what.instances, e.what.bytes]), [['9.1', 1, 100]]);
  await a.close();
});

test('a file that cannot be removed is not counted as freed', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: daysAgo(100) });
  const entomb = a.objects.entomb.bind(a.objects);
  a.objects.entomb = async (rel, uid) => {
    const t = await entomb(rel, uid);
    return t && { restore: () => t.restore(), remove: () => Promise.reject(new Error('EIO')) };
  };
  const out = await a.retention.run();
  assert.deepEqual(out, { studies: 1, instances: 1, bytes: 0 });
  assert.equal(a.audits[0]?.what.bytes, 0);
  await a.close();
});
