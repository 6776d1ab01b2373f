// Two servers on one PostgreSQL index: one deletes the last instance of a series (and with it
// the series) while the other stores a new instance of that series. The storing transaction
// reads the series before it waits for the study's lock; once the delete commits, its insert
// names a series that is gone (foreign key violation, 23503). It must run again and file the
// instance under a new series, not answer the C-STORE with an index failure.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { record } from './fixtures.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from './backends.js';

withPostgres('a store into a series whose last instance another server is deleting', (url) => {
  describe('a store into a series whose last instance another server is deleting (PostgreSQL)', () => {
    test('runs again and files under a new series', async () => {
      const schema = await freshSchema(url);
      const index = await openPostgres(url, schema);
      // The other server's delete, step by step on its own connection, holding its locks.
      const other = new pg.Client({ connectionString: inSchema(url, schema) });
      await other.connect();
      try {
        await index.storeInstance(record({ sop: '1.2.3.1.1.1', study: '1.2.3.1', series: '1.2.3.1.1' }), 'insert');
        await other.query('BEGIN');
        await other.query(`SELECT pk FROM studies WHERE study_instance_uid = '1.2.3.1' FOR UPDATE`);
        await other.query(`DELETE FROM instances WHERE sop_instance_uid = '1.2.3.1.1.1'`);
        await other.query(`DELETE FROM series WHERE series_instance_uid = '1.2.3.1.1'`);
        // Reads the series (still there for it), then waits for the study's lock.
        const storing = index.storeInstance(record({ sop: '1.2.3.1.1.2', study: '1.2.3.1', series: '1.2.3.1.1' }), 'insert');
        await new Promise((r) => setTimeout(r, 300));
        await other.query('COMMIT');
        const outcome = await storing;
        assert.equal(outcome.outcome, 'inserted');
        const found = await index.findInstance('1.2.3.1.1.2');
        assert.equal(found?.SeriesInstanceUID, '1.2.3.1.1');
        const series = await other.query(`SELECT num_instances FROM series WHERE series_instance_uid = '1.2.3.1.1'`);
        assert.equal(Number(series.rows[0]?.num_instances), 1);
      } finally {
        await other.end();
        await index.close();
      }
    });
  });
});
