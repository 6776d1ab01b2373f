import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssociationRateLimiter } from '../../../src/scp/rate-limit.js';

test('a burst of N per minute, then one each 60/N seconds, per AE title', () => {
  let now = 0;
  const limiter = new AssociationRateLimiter(() => now);
  for (let i = 0; i < 3; i++) assert.equal(limiter.take('CT1', 3), true, `attempt ${i}`);
  assert.equal(limiter.take('CT1', 3), false, 'the burst is spent');
  assert.equal(limiter.take('MR1', 3), true, 'another AE has its own bucket');
  assert.equal(limiter.waitSeconds('CT1', 3), 20);
  now += 19_000;
  assert.equal(limiter.take('CT1', 3), false, 'refused attempts count: still not a whole token');
  now += 20_000;
  assert.equal(limiter.take('CT1', 3), true, 'refilled');
  assert.equal(limiter.take('ANY', 0), true, '0 = no limit');
});

test('random AE titles do not grow memory without bound', () => {
  let now = 0;
  const limiter = new AssociationRateLimiter(() => now);
  for (let i = 0; i < 10_001; i++) limiter.take(`AE${i}`, 10);
  now += 61_000;
  limiter.take('LAST', 10);
  assert.ok(limiter.size <= 2, `forgotten: ${limiter.size}`);
});
