// Heap flags the user gave node win over server.compact_heap's (core/heap.ts); the process-wide
// effect itself is tested on a running server (test/e2e/heap.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userHeapFlags } from '../../../src/core/heap.js';

test('heap flags given to node itself are recognised, in either spelling', () => {
  assert.equal(userHeapFlags([], ''), false);
  assert.equal(userHeapFlags(['--enable-source-maps'], '--max-old-space-size=512'), false, 'the old-space limit is not ours to override');
  assert.equal(userHeapFlags(['--max-semi-space-size=8'], ''), true);
  assert.equal(userHeapFlags([], '--trace-gc --max_semi_space_size=8'), true);
  assert.equal(userHeapFlags([], '--heap-growing-percent=50'), true);
  assert.equal(userHeapFlags(['--semi-space-growth-factor=4'], ''), true);
});
