// A job's lease renewal on PostgreSQL that cannot get an answer: another connection holds the
// job's row locked (as a transaction of a server cut off by a network partition would), so the
// UPDATE waits. With a timeout the heartbeat fails in time instead of waiting as long as the
// lock is held, and the next one, once the row is free, renews the lease.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { quoteSchema } from '../../src/index/postgres/db.js';
import { freshSchema, openPostgres, withPostgres } from './backends.js';

withPostgres('job heartbeat timeout on PostgreSQL', (url) => {
  describe('job heartbeat timeout on PostgreSQL', () => {
    test('a heartbeat blocked on the job row fails after its timeout; the next renews the lease', async () => {
      const schema = await freshSchema(url);
      const index = await openPostgres(url, schema);
      const locker = new pg.Client({ connectionString: url });
      await locker.connect();
      try {
        const { job } = await index.jobs.enqueue({ type: 't', payload: {}, maxAttempts: 3 });
        const now = Date.now();
        assert.ok(await index.jobs.claim('A:1', new Date(now), new Date(now + 60_000), ['t']));
        await locker.query(`SET search_path = ${quoteSchema(schema)}`);
        await locker.query('BEGIN');
        await locker.query('SELECT id FROM jobs WHERE id = $1 FOR UPDATE', [job.id]);
        const started = Date.now();
        await assert.rejects(index.jobs.heartbeat(job.id, 'A:1', new Date(now + 120_000), null, 300), /did not answer in time/);
        const took = Date.now() - started;
        assert.ok(took < 3000, `gave up after ${took} ms`);
        await locker.query('COMMIT');
        // The dropped connection ended the waiting UPDATE's transaction: the pool works on.
        assert.deepEqual(await index.jobs.heartbeat(job.id, 'A:1', new Date(now + 180_000), null, 5000), { owned: true, cancelRequested: false });
        assert.equal((await index.jobs.get(job.id))?.leaseUntil?.getTime(), now + 180_000);
      } finally {
        await locker.end();
        await index.close();
      }
    });
  });
});
