// A full disk is said as "out of resources" wherever it is found — the store's folder sync, the
// index's database — so a sender hears 0xA700 (STOW 503) and sends again later, instead of
// 0x0110 (STOW 409), which it takes as final.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { PacsError, isPacsError } from '../../../src/core/errors.js';
import { indexFailure } from '../../../src/index/errors.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-disk-full-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('a full disk found while making the file\'s folder durable stays OUT_OF_RESOURCES, not a storage failure', async () => {
  const objects = new FsObjectStore(path.join(tmp, 'files'), { fsync: true });
  try {
    objects.ensureDir = async () => {
      throw new PacsError('OUT_OF_RESOURCES', 'disk full while syncing directory');
    };
    const staged = objects.stage();
    staged.write(Buffer.from('DICM'));
    await staged.finish();
    await assert.rejects(staged.commit('a/b.dcm', 'exclusive'), (e: unknown) => isPacsError(e, 'OUT_OF_RESOURCES'));
    await staged.discard();
  } finally {
    objects.close();
  }
});

test("the index's disk full (SQLite SQLITE_FULL, PostgreSQL class 53) is OUT_OF_RESOURCES; other index errors INDEX_FAILURE", () => {
  const withCode = (code: string): Error => Object.assign(new Error(`database error ${code}`), { code });
  for (const code of ['SQLITE_FULL', '53100', '53200', '53300']) assert.equal(indexFailure(withCode(code)).code, 'OUT_OF_RESOURCES', code);
  for (const code of ['SQLITE_BUSY', 'SQLITE_CORRUPT', '23505', '40001']) assert.equal(indexFailure(withCode(code)).code, 'INDEX_FAILURE', code);
  assert.equal(indexFailure(new Error('no code')).code, 'INDEX_FAILURE');
  assert.equal(indexFailure(null).code, 'INDEX_FAILURE');
});
