// Reused read buffers: a file is read into a buffer of the pool, given back for the next file;
// a file whose size is not the indexed one is still read whole, in a buffer of its own.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import { ReadBuffers, readReused } from '../../../src/storage/read-buffers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-read-buffers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function store(): FsObjectStore {
  const root = path.join(tmp, 'root');
  mkdirSync(path.join(root, 'a'), { recursive: true });
  writeFileSync(path.join(root, 'a', 'one'), Buffer.alloc(1000, 1));
  writeFileSync(path.join(root, 'a', 'two'), Buffer.alloc(900, 2));
  return new FsObjectStore(root, { fsync: false });
}

test('a released buffer is read into again; an unreleased one is not', async () => {
  const s = store();
  const buffers = new ReadBuffers();
  const one = await readReused(s, 'a/one', 1000, buffers);
  assert.deepEqual(one.bytes, Buffer.alloc(1000, 1));
  const two = await readReused(s, 'a/two', 900, buffers);
  assert.notEqual(two.bytes.buffer, one.bytes.buffer, 'one is still held: two gets another buffer');
  assert.deepEqual(one.bytes, Buffer.alloc(1000, 1), 'and one is intact');
  one.release!();
  const again = await readReused(s, 'a/two', 900, buffers);
  assert.equal(again.bytes.buffer, one.bytes.buffer, 'the released buffer is reused');
  assert.deepEqual(again.bytes, Buffer.alloc(900, 2));
  await s.close?.();
});

test('a file of another size than indexed is read whole anyway; a missing one fails and keeps the pool whole', async () => {
  const s = store();
  const buffers = new ReadBuffers();
  const pooled = buffers.take(501);
  buffers.give(pooled);
  const read = await readReused(s, 'a/one', 500, buffers);
  assert.deepEqual(read.bytes, Buffer.alloc(1000, 1));
  assert.equal(read.release, undefined, 'a buffer of its own: nothing to give back');
  await assert.rejects(readReused(s, 'a/missing', 500, buffers), { code: 'ENOENT' });
  assert.equal(buffers.take(501), pooled, 'the buffer tried both times went back to the pool');
  await s.close?.();
});
