import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cachedReadiness, readiness } from '../../../src/services/health.js';
import type { StagedObject } from '../../../src/storage/object-store.js';

const staged = (over: Partial<StagedObject> = {}): StagedObject => ({
  write: () => true,
  onDrain: (cb) => cb(),
  finish: async () => ({ size: 1, checksum: '' }),
  commit: async () => ({ durable: Promise.resolve() }),
  discard: async () => {},
  ...over,
});

test('ready when the index answers, a probe file is written and removed, and the disk is above the minimum', async () => {
  let discarded = 0;
  const r = await readiness({
    index: { statistics: async () => ({}) as never },
    objects: { stage: () => staged({ discard: async () => void discarded++ }), freeBytes: async () => 10 * 1048576, remove: async () => {} },
    minFreeBytes: () => 5 * 1048576,
  });
  assert.equal(r.ready, true);
  assert.deepEqual(r.reasons, []);
  assert.equal(discarded, 1, 'the probe file is removed');
});

test('not ready, with reasons: index failing, storage not writable, disk low, a hung check', async () => {
  const r = await readiness({
    index: { statistics: () => new Promise(() => {}) }, // hangs: a locked database
    objects: { stage: () => staged({ finish: async () => Promise.reject(new Error('EROFS: read-only file system')) }), freeBytes: async () => 1048576, remove: async () => {} },
    minFreeBytes: () => 500 * 1048576,
    timeoutMs: 100,
  });
  assert.equal(r.ready, false);
  assert.equal(r.reasons.length, 3, r.reasons.join('; '));
  assert.match(r.reasons[0]!, /index.*within 0.1 s/);
  assert.match(r.reasons[1]!, /storage not writable: EROFS/);
  assert.match(r.reasons[2]!, /1 MB free, below storage.min_free_mb \(500 MB\)/);
});

test('cached: one probe per 5 s for every caller (also those asking at once); a new generation probes again', async () => {
  let now = 0;
  let probes = 0;
  const cached = cachedReadiness(
    { index: { statistics: async () => ({}) as never }, objects: { stage: () => (probes++, staged()), freeBytes: async () => 10 * 1048576, remove: async () => {} }, minFreeBytes: () => 0 },
    5000,
    () => now,
  );
  const generation = {};
  await Promise.all([cached(generation), cached(generation), cached(generation)]);
  now += 4999;
  assert.equal((await cached(generation)).ready, true);
  assert.equal(probes, 1);
  now += 1;
  await cached(generation);
  assert.equal(probes, 2);
  await cached({});
  assert.equal(probes, 3, 'a reload (a new configuration object) probes at once');
});

test('reason codes name what is wrong without any message', async () => {
  const r = await readiness({
    index: { statistics: async () => Promise.reject(new Error('connect ECONNREFUSED db.internal:5432')) },
    objects: { stage: () => staged(), freeBytes: async () => Promise.reject(new Error('statfs /data/archive: EIO')), remove: async () => {} },
    minFreeBytes: () => 0,
  });
  assert.deepEqual(r.codes, ['index-unavailable', 'disk-unknown']);
});
