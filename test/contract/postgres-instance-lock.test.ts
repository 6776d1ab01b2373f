// The cluster-wide lock per SOP Instance UID (src/index/postgres/instance-lock.ts) on a real
// PostgreSQL: held while the caller works, refused with an index failure when it cannot be had
// within the bound (as is any write waiting on a lock, the change log's included),
// and a connection whose lock statement failed is closed, never handed to the next store with
// its transaction still open (the next lock on it would fail with "current transaction is
// aborted").
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { isPacsError } from '../../src/core/errors.js';
import { PgInstanceLocks } from '../../src/index/postgres/instance-lock.js';
import { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import { freshSchema, withPostgres } from './backends.js';
import { record } from './fixtures.js';

const SPACE = 0x50494e53; // INSTANCE_LOCK_SPACE
const CHANGE_LOG_LOCK = 0x63686e67; // the change log's (src/index/postgres/writer.ts), with the schema's hash
const MERGE_LOCK = 0x6d726765; // an ADT^A40's (src/index/postgres/patient-links.ts), with the schema's hash
/** An instance's or task's second key: its name in the connection's schema (instance-lock.ts). */
const IN_SCHEMA = "hashtext(current_schema() || ':' || $2)";

withPostgres('instance locks', (url) => {
  describe('instance locks (PostgreSQL)', () => {
    test('the lock is held while the caller works and released after', async () => {
      const locks = new PgInstanceLocks({ url });
      const other = new pg.Client({ connectionString: url });
      await other.connect();
      try {
        const tryLock = async (uid: string): Promise<boolean> =>
          (await other.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, ${IN_SCHEMA}) AS ok`, [SPACE, uid])).rows[0]!.ok;
        const during = await locks.run('1.2.3.held', () => tryLock('1.2.3.held'));
        assert.equal(during, false, 'another session took the lock while it was held');
        assert.equal(await tryLock('1.2.3.held'), true, 'the lock was not released');
        await other.query(`SELECT pg_advisory_unlock($1, ${IN_SCHEMA})`, [SPACE, '1.2.3.held']);
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
        await holder.query(`SELECT pg_advisory_xact_lock($1, ${IN_SCHEMA})`, [SPACE, '1.2.3.busy']);
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

withPostgres('write lock waits', (url) => {
  test('a write waiting on a lock held elsewhere (a frozen server holding the change log) fails after the bound, then goes once it is free', async () => {
    const schema = await freshSchema(url);
    const index = PostgresIndex.open({ url, schema, max: 2, lockWaitMs: 300 });
    await index.migrate();
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::int4, hashtext($2))', [CHANGE_LOG_LOCK, schema]);
      const rec = record({ sop: '1.2.3.9.1', study: '1.2.3.9' });
      await assert.rejects(index.storeInstance(rec, 'insert'), (e: unknown) => isPacsError(e) && e.code === 'INDEX_FAILURE' && /lock timeout/i.test(e.message));
      assert.equal(await index.findInstance('1.2.3.9.1'), null, 'nothing written');
      await holder.query('COMMIT');
      await index.storeInstance(rec, 'insert');
      assert.notEqual(await index.findInstance('1.2.3.9.1'), null);
    } finally {
      await holder.end();
      await index.close();
    }
  });
});

withPostgres('locks per schema', (url) => {
  test('two archives in two schemas of one database hold the same task and instance locks at once', async () => {
    const [a, b] = [new PgInstanceLocks({ url, schema: await freshSchema(url) }), new PgInstanceLocks({ url, schema: await freshSchema(url) })];
    try {
      const both = await a.tryHold('retention', async () => b.tryHold('retention', async () => b.run('1.2.3.same', async () => a.run('1.2.3.same', async () => 'both'))));
      assert.deepEqual(both, { ran: true, value: { ran: true, value: 'both' } }, "one archive's retention pass or store did not wait for the other's");
      const same = await a.tryHold('retention', async () => a.tryHold('retention', async () => 'twice'));
      assert.deepEqual(same, { ran: true, value: { ran: false } }, 'within one archive the task runs once');
    } finally {
      await a.close();
      await b.close();
    }
  });
});

withPostgres('merges and new studies', (url) => {
  test('a store filing a new study waits for a merge under way (it may make the merge\'s prior patient); one into a known study does not', async () => {
    const schema = await freshSchema(url);
    const index = PostgresIndex.open({ url, schema, max: 2, lockWaitMs: 300 });
    await index.migrate();
    await index.storeInstance(record({ sop: '1.2.4.1.1', study: '1.2.4.1', patientId: 'OLD' }), 'insert');
    const merging = new pg.Client({ connectionString: url });
    await merging.connect();
    try {
      // What an ADT^A40 holds from its first statement to its commit (patient-links.ts).
      await merging.query('BEGIN');
      await merging.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MERGE_LOCK, schema]);
      await index.storeInstance(record({ sop: '1.2.4.1.2', study: '1.2.4.1', patientId: 'OLD' }), 'insert');
      await assert.rejects(index.storeInstance(record({ sop: '1.2.4.2.1', study: '1.2.4.2', patientId: 'OLD' }), 'insert'), (e: unknown) => isPacsError(e) && /lock timeout/i.test(e.message));
      await merging.query('COMMIT');
      await index.storeInstance(record({ sop: '1.2.4.2.1', study: '1.2.4.2', patientId: 'OLD' }), 'insert');
      assert.equal((await index.findStudy('1.2.4.2'))?.StudyInstanceUID, '1.2.4.2');
    } finally {
      await merging.end();
      await index.close();
    }
  });
});
