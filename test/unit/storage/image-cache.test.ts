// The thumbnail cache: entries come back only for the checksum of the file they were made
// from, are replaced in place, and odd keys become safe file names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FsImageCache } from '../../../src/storage/image-cache.js';

test('thumbnail cache: hit on the same checksum, miss on another, replaced in place, safe names', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-image-cache-'));
  try {
    const cache = new FsImageCache(dir);
    assert.equal(await cache.get('1.2.3.1.jpeg', 'aa'), null);
    await cache.put('1.2.3.1.jpeg', 'aa', Buffer.from([0xff, 0xd8, 0x0a, 0x00]));
    assert.deepEqual(await cache.get('1.2.3.1.jpeg', 'aa'), Buffer.from([0xff, 0xd8, 0x0a, 0x00]));
    assert.equal(await cache.get('1.2.3.1.jpeg', 'bb'), null, 'the instance was replaced: stale');
    await cache.put('1.2.3.1.jpeg', 'bb', Buffer.from('new'));
    assert.deepEqual(await cache.get('1.2.3.1.jpeg', 'bb'), Buffer.from('new'));
    await cache.put('../../etc/passwd.1.png', 'cc', Buffer.from('x'));
    assert.deepEqual(await cache.get('../../etc/passwd.1.png', 'cc'), Buffer.from('x'));
    const files: string[] = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' });
    assert.ok(files.every((f) => !f.includes('..') && !f.endsWith('.tmp')), files.join(', '));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
