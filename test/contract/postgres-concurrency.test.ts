// Several servers on one PostgreSQL index, at the level of the index: two PostgresIndex (two
// pools, as two pacs_server processes have) write the same and different studies at once, claim
// jobs, enqueue the same deduplicated job and catch up stability together. Afterwards no row is
// lost or doubled, every kept count equals a recount, and each job ran once.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { quoteSchema } from '../../src/index/postgres/db.js';
import type { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import { freshSchema, openPostgres, withPostgres } from './backends.js';
import { record } from './fixtures.js';

/** Every kept count and total against a recount of the rows: the mismatches (none expected). */
async function inconsistencies(url: string, schema: string): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`SET search_path = ${quoteSchema(schema)}`);
    const q = async (sql: string) => (await client.query(sql)).rows;
    return [
      ...(await q(`SELECT 'series' AS level, se.pk FROM series se WHERE num_instances IS DISTINCT FROM
        (SELECT count(*) FROM instances i WHERE i.series_fk = se.pk) OR size_bytes IS DISTINCT FROM
        (SELECT coalesce(sum(size), 0) FROM instances i WHERE i.series_fk = se.pk) OR num_instances = 0`)),
      ...(await q(`SELECT 'study' AS level, st.pk FROM studies st WHERE
        num_series IS DISTINCT FROM (SELECT count(*) FROM series se WHERE se.study_fk = st.pk) OR
        num_instances IS DISTINCT FROM (SELECT count(*) FROM instances i JOIN series se ON se.pk = i.series_fk WHERE se.study_fk = st.pk) OR
        modalities_in_study IS DISTINCT FROM (SELECT coalesce(string_agg(DISTINCT modality, '\\' ORDER BY modality), '') FROM series se
          WHERE se.study_fk = st.pk AND modality <> '') OR
        sop_classes_in_study IS DISTINCT FROM (SELECT coalesce(string_agg(DISTINCT sop_class_uid, '\\' ORDER BY sop_class_uid), '')
          FROM instances i JOIN series se ON se.pk = i.series_fk WHERE se.study_fk = st.pk)`)),
      ...(await q(`SELECT 'patient' AS level, p.pk FROM patients p WHERE
        num_studies IS DISTINCT FROM (SELECT count(*) FROM studies st WHERE st.patient_fk = p.pk) OR
        num_instances IS DISTINCT FROM (SELECT count(*) FROM instances i JOIN series se ON se.pk = i.series_fk
          JOIN studies st ON st.pk = se.study_fk WHERE st.patient_fk = p.pk)`)),
      ...(await q(`SELECT 'study name' AS level, st.pk FROM studies st JOIN patients p ON p.pk = st.patient_fk
        WHERE st.patient_name_fold IS DISTINCT FROM p.patient_name_fold`)),
      ...(await q(`SELECT 'totals' AS level, t.* FROM (SELECT sum(patients) AS patients, sum(studies) AS studies, sum(series) AS series,
        sum(instances) AS instances, sum(bytes) AS bytes FROM archive_totals) t WHERE
        patients <> (SELECT count(*) FROM patients) OR studies <> (SELECT count(*) FROM studies) OR
        series <> (SELECT count(*) FROM series) OR instances <> (SELECT count(*) FROM instances) OR
        bytes <> (SELECT coalesce(sum(size), 0) FROM instances)`)),
    ];
  } finally {
    await client.end();
  }
}

withPostgres('two servers on one PostgreSQL index', (url) => {
  describe('two servers on one PostgreSQL index', () => {
    const pair = async (): Promise<{ schema: string; a: PostgresIndex; b: PostgresIndex }> => {
      const schema = await freshSchema(url);
      const [a, b] = await Promise.all([openPostgres(url, schema), openPostgres(url, schema)]);
      return { schema, a, b };
    };

    test('concurrent stores of the same and of different studies: no lost or doubled rows, counts right', async () => {
      const { schema, a, b } = await pair();
      try {
        const shared = Array.from({ length: 24 }, (_, k) =>
          record({ sop: `9.1.${k}`, study: '9.1', series: `9.1.${k % 3}`, modality: k % 3 === 0 ? 'CT' : 'MR', patientId: 'SHARED', size: 100 + k }),
        );
        const own = (server: string) =>
          Array.from({ length: 24 }, (_, k) => record({ sop: `9.${server}.${k}`, study: `9.${server}.s${k % 4}`, patientId: `P${server}${k % 2}`, size: 10 }));
        // Both servers receive every shared instance (a modality sending to both), each its own.
        const work = [
          ...shared.map((r) => () => a.storeInstance(r, 'replace')),
          ...shared.map((r) => () => b.storeInstance(r, 'replace')),
          ...own('2').map((r) => () => a.storeInstance(r, 'insert')),
          ...own('3').map((r) => () => b.storeInstance(r, 'insert')),
        ].sort(() => Math.random() - 0.5);
        const outcomes = await Promise.all(work.map((w) => w()));
        assert.equal(new Set(outcomes.map((o) => o.changeSeq)).size, outcomes.length, 'one change row each');
        const inserted = outcomes.filter((o) => o.outcome === 'inserted').length;
        assert.equal(inserted, 24 + 48, 'each shared instance inserted once, replaced once');
        assert.deepEqual(await a.statistics(), { patients: 5, studies: 9, series: 3 + 8, instances: 72, bytes: shared.reduce((s, r) => s + r.file.size, 0) + 480 });
        assert.deepEqual(await inconsistencies(url, schema), []);
        const changes = await b.changesSince(0, 1000);
        assert.equal(changes.length, outcomes.length);
        assert.deepEqual(changes.map((c) => c.seq), [...changes.map((c) => c.seq)].sort((x, y) => x - y));
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test('jobs: each claimed by exactly one server; one dedupe key is one job', async () => {
      const { a, b } = await pair();
      try {
        const now = new Date();
        for (let k = 0; k < 30; k++) await a.jobs.enqueue({ type: 't', payload: { k }, maxAttempts: 3, runAfter: new Date(now.getTime() - 1000) });
        const drain = async (index: PostgresIndex, owner: string): Promise<number[]> => {
          const ids: number[] = [];
          for (;;) {
            const job = await index.jobs.claim(owner, now, new Date(now.getTime() + 60_000), ['t']);
            if (job === null) return ids;
            ids.push(job.id);
          }
        };
        const [fromA, fromB, fromA2] = await Promise.all([drain(a, 'A'), drain(b, 'B'), drain(a, 'A2')]);
        const all = [...fromA, ...fromB, ...fromA2];
        assert.equal(all.length, 30);
        assert.equal(new Set(all).size, 30, 'no job claimed twice');
        const enqueued = await Promise.all(
          Array.from({ length: 10 }, (_, k) => (k % 2 ? a : b).jobs.enqueue({ type: 'd', payload: {}, maxAttempts: 1, dedupeKey: 'same' })),
        );
        assert.equal(new Set(enqueued.map((e) => e.job.id)).size, 1);
        assert.equal(enqueued.filter((e) => e.created).length, 1);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test('stability: both servers catch up; each stable event is given by one of them', async () => {
      const { a, b } = await pair();
      try {
        await Promise.all(Array.from({ length: 12 }, (_, k) => (k % 2 ? a : b).storeInstance(record({ sop: `8.1.${k}`, study: '8.1', series: `8.1.${k % 2}` }), 'insert')));
        const read = await Promise.all([a.stability.catchUp(5), b.stability.catchUp(5), a.stability.catchUp(100), b.stability.catchUp(100)]);
        assert.equal(read.reduce((s, n) => s + n, 0), 12, 'every change read once');
        const due = await a.stability.due(new Date(Date.now() + 1000), 10);
        assert.deepEqual(due.map((e) => e.level), ['series', 'series', 'study']);
        for (const e of due) {
          const marks = await Promise.all([a, b].map((i) => i.stability.markStable(e.level, e.uid, e.lastChangeSeq, new Date())));
          assert.deepEqual(marks.sort(), [false, true]);
        }
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    test('a metadata text put while another server deletes its instance waits for that delete, then keeps nothing', async () => {
      const { schema, a, b } = await pair();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await a.storeInstance(record({ sop: '7.7.1', study: '7.7' }), 'insert');
        await client.query(`SET search_path = ${quoteSchema(schema)}`);
        await client.query('BEGIN');
        await client.query("DELETE FROM instances WHERE sop_instance_uid = '7.7.1'");
        // The delete is not committed: the put must wait on the instance row, not insert beside it.
        let done = false;
        const put = b.metadata.put('7.7.1', 'made from the file read before the delete').then(() => (done = true));
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(done, false, 'the put waits for the deleting transaction');
        await client.query('COMMIT');
        await put;
        assert.equal(await a.metadata.get('7.7.1'), null, 'no text left for a deleted instance');
      } finally {
        await client.end();
        await Promise.all([a.close(), b.close()]);
      }
    });
  });
});
