// One retention pass at a time, measuring again before each study: two passes side by side (two
// workers, a manual run beside the interval's, two servers) must not together delete more than
// a rule asks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RetentionCandidate } from '../../../src/index/retention.js';
import { addStudy, daysAgo, retentionArchive, studyUIDs } from './retention-harness.js';

const SIZE = 1000;

async function threeStudies(maxBytes: number) {
  const a = await retentionArchive({ maxBytes });
  await addStudy(a, '9.1', { instances: 1, size: SIZE, receivedAt: daysAgo(100) });
  await addStudy(a, '9.2', { instances: 1, size: SIZE, receivedAt: daysAgo(50) });
  await addStudy(a, '9.3', { instances: 1, size: SIZE, receivedAt: daysAgo(40) });
  return a;
}

test('two passes at once: one runs, the other ends at once; one study goes, as the rule asks', async () => {
  const a = await threeStudies(2.5 * SIZE);
  // Each pass that gets as far as choosing candidates waits there for the other (or for the
  // other to have ended): without the single-pass hold both would choose from the same state.
  const store = a.index.retention;
  const oldest = store.oldest.bind(store);
  let arrived = 0;
  let meet!: () => void;
  const met = new Promise<void>((r) => (meet = r));
  store.oldest = async (o): Promise<RetentionCandidate[]> => {
    const chosen = await oldest(o);
    if (++arrived === 2) meet();
    await met;
    return chosen;
  };
  const passes = [a.retention.run(), a.retention.run()].map((p) => p.finally(meet));
  const [first, second] = await Promise.all(passes);
  assert.equal(first!.studies + second!.studies, 1, `deleted ${first!.studies} + ${second!.studies} studies`);
  assert.equal([first, second].filter((r) => r!.skipped).length, 1, 'one pass ended at once');
  assert.deepEqual(await studyUIDs(a), ['9.2', '9.3']);
  await a.close();
});

test('the excess is measured again before each study: space freed meanwhile by someone else counts', async () => {
  const a = await threeStudies(2.5 * SIZE);
  const store = a.index.retention;
  const oldest = store.oldest.bind(store);
  store.oldest = async (o): Promise<RetentionCandidate[]> => {
    const chosen = await oldest(o);
    store.oldest = oldest;
    await a.index.deleteInstance('9.3.1'); // a user's delete, between the choice and the first deletion
    return chosen;
  };
  const out = await a.retention.run();
  assert.equal(out.studies, 0, 'the archive is under max_bytes already');
  assert.deepEqual(await studyUIDs(a), ['9.1', '9.2']);
  await a.close();
});
