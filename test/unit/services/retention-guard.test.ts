// A study being deleted by retention that changes under the pass — protected, an instance sent
// again, the job stopped — keeps the instances not deleted yet: each instance's delete checks
// the study in its own transaction, and the abort is checked per instance.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import type { InstanceLocation } from '../../../src/index/types.js';
import { addStudy, daysAgo, retentionArchive, sendSample, sql, type RetentionArchive } from './retention-harness.js';

/** Calls `then` once, after the first instance row deleted (by whichever delete method). */
function afterFirstDelete(a: RetentionArchive, then: (deleted: InstanceLocation) => Promise<void>): void {
  const index = a.index as unknown as Record<string, ((...args: unknown[]) => Promise<unknown>) | undefined>;
  let done = false;
  for (const name of ['deleteInstance', 'deleteInstanceIf']) {
    const original = index[name]?.bind(a.index);
    if (!original) continue;
    index[name] = async (...args: unknown[]) => {
      const r = await original(...args);
      if (!done && r !== null && r !== 'changed') {
        done = true;
        await then(r as InstanceLocation);
      }
      return r;
    };
  }
}

const instancesOf = async (a: RetentionArchive, study: string): Promise<number> => (await a.index.findStudy(study))?.NumberOfStudyRelatedInstances ?? 0;

test('a study protected while it is being deleted: the instances not deleted yet stay', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 3, size: 100, receivedAt: daysAgo(100) });
  afterFirstDelete(a, async () => void (await a.index.retention.setProtected('9.1', true)));
  await a.retention.run();
  assert.equal(await instancesOf(a, '9.1'), 2);
  assert.equal(await a.index.retention.isProtected('9.1'), true);
  await a.close();
});

test('a pass stopped while it deletes a study stops before the next instance', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  await addStudy(a, '9.1', { instances: 3, size: 100, receivedAt: daysAgo(100) });
  const stop = new AbortController();
  afterFirstDelete(a, async () => stop.abort());
  await a.retention.run(stop.signal);
  assert.equal(await instancesOf(a, '9.1'), 2);
  await a.close();
});

test('an instance sent again (answered "identical") while its study is being deleted is kept', async () => {
  const a = await retentionArchive({ maxAgeDays: 30 });
  const files = ['pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm'];
  const sent = await Promise.all(files.map((f) => sendSample(a, f)));
  const study = (await a.index.findInstance(sent[0]!.sopInstanceUID))!.StudyInstanceUID;
  assert.equal(await instancesOf(a, study), 2);
  sql(a, 'UPDATE studies SET last_received_at = ?', daysAgo(100).getTime());
  let resent: { sopInstanceUID: string; kind: string } | null = null;
  afterFirstDelete(a, async (deleted) => {
    const other = files[sent.findIndex((s) => s.sopInstanceUID !== deleted.SOPInstanceUID)]!;
    resent = await sendSample(a, other);
  });
  await a.retention.run();
  assert.equal(resent!.kind, 'identical', 'the sender was told the instance is kept');
  const kept = await a.index.findInstance(resent!.sopInstanceUID);
  assert.ok(kept, 'so its row is still there');
  assert.ok(existsSync(a.objects.absolutePath(kept.path)), 'and its file');
  await a.close();
});
