// The cluster-wide lock per SOP Instance UID (src/index/postgres/instance-lock.ts) on a real
// PostgreSQL: held while the caller works, refused with an index failure when it cannot be had,
// and a connection whose lock statement failed is closed, never handed to the next store with
// its transaction still open (the next lock on it would fail with "current transaction is
// aborted").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { isPacsError } from '../../src/core/errors.js';
import { PgInstanceLocks } from '../../src/index/postgres/instance-lock.js';
import { withPostgres } from './backends.js';

const SPACE = 0x50494e53; // INSTANCE_LOCK_SPACE

withPostgres('instance locks', (url) => {
  describe('instance locks (PostgreSQL)', () => {
    test('the lock is held while the caller works and released after', async () => {
      const locks = new PgInstanceLocks({ url });
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const tryLock = async (uid: string): Promise<boolean> =>
          (await other.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS ok', [SPACE, uid])).rows[0]!.ok;
        const during = await locks.run('1.2.3.held', () => tryLock('1.2.3.held'));
        assert.equal(during, false, 'another session took the lock while it was held');
        assert.equal(await tryLock('1.2.3.held'), true, 'the lock was not released');
        await other.query('SELECT pg_advisory_unlock($1, hashtext($2))', [SPACE, '1.2.3.held']);
      } finally {
        await other.end();
        await locks.close();
      }
    });

    test('a lock held elsewhere past the wait (a frozen server) is an index failure, and its connection is not reused', async () => {
      const locks = new PgInstanceLocks({ url, lockWaitMs: 200 });
      const holder = new pg.Client({ connectionString: url });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SPACE, '1.2.3.busy']);
        let ran = false;
        await assert.rejects(
          locks.run('1.2.3.busy', async () => {
            ran = true;
          }),
          (e: unknown) => isPacsError(e) && e.code === 'INDEX_FAILURE' && /cannot lock the instance/.test(e.message),
        );
        assert.equal(ran, false, 'the work ran without the lock');
        await holder.query('COMMIT');
        // Every connection the pool hands out next must be a clean one.
        for (let i = 0; i < 10; i++) assert.equal(await locks.run(`1.2.3.next.${i}`, async () => i), i);
        assert.equal(await locks.run('1.2.3.busy', async () => 'free'), 'free');
      } finally {
        await holder.end();
        await locks.close();
      }
    });
  });
});
