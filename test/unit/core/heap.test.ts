// Heap flags the user gave node win over server.compact_heap's (core/heap.ts); the process-wide
// effect itself is tested on a running server (test/e2e/heap.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { userHeapFlags, wantsCompactHeap } from '../../../src/core/heap.js';

test('heap flags given to node itself are recognised, in either spelling', () => {
  assert.equal(userHeapFlags([], ''), false);
  assert.equal(userHeapFlags(['--enable-source-maps'], '--max-old-space-size=512'), false, 'the old-space limit is not ours to override');
  assert.equal(userHeapFlags(['--max-semi-space-size=8'], ''), true);
  assert.equal(userHeapFlags([], '--trace-gc --max_semi_space_size=8'), true);
  assert.equal(userHeapFlags([], '--heap-growing-percent=50'), true);
  assert.equal(userHeapFlags(['--semi-space-growth-factor=4'], ''), true);
});

test('the compact heap by default with SQLite, not with PostgreSQL; as configured when configured', () => {
  const config = (compact_heap: boolean | undefined, url?: string) => ({ server: { compact_heap }, database: { url } });
  assert.equal(wantsCompactHeap(config(undefined)), true);
  assert.equal(wantsCompactHeap(config(undefined, 'postgres://pacs@db/pacs')), false);
  assert.equal(wantsCompactHeap(config(false)), false);
  assert.equal(wantsCompactHeap(config(true, 'postgres://pacs@db/pacs')), true);
});
