// A key-ordered page (IndexQuery.keyOrder, what C-FIND reads its answer in) on a real
// PostgreSQL is read in order from the level's primary key index, never by sorting every match:
// each page of a universal query over a million studies cost a sort of all of them while the
// ORDER BY said NULLS FIRST, an order the key's index (NULLS LAST) cannot give.
// With enable_sort off a plan still sorts when no index gives the order, so a Sort node in the
// plan is the defect, whatever the table's size.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { buildPgQuery } from '../../src/index/postgres/query.js';
import { planQuery } from '../../src/index/query/plan.js';
import type { IndexQuery, QueryLevel } from '../../src/index/query/types.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from './backends.js';

const UNIQUE: Readonly<Record<QueryLevel, string>> = {
  PATIENT: 'PatientID',
  STUDY: 'StudyInstanceUID',
  SERIES: 'SeriesInstanceUID',
  IMAGE: 'SOPInstanceUID',
};

/** Every node type of an EXPLAIN (FORMAT JSON) plan. */
function nodeTypes(node: { 'Node Type': string; Plans?: unknown[] }): string[] {
  return [node['Node Type'], ...(node.Plans ?? []).flatMap((p) => nodeTypes(p as typeof node))];
}

withPostgres('key-ordered pages', (url) => {
  describe('key-ordered pages (PostgreSQL)', () => {
    test('every level pages through its primary key index without a sort, first page and next', async () => {
      const schema = await freshSchema(url);
      const index = await openPostgres(url, schema);
      const client = new pg.Client({ connectionString: inSchema(url, schema) });
      await client.connect();
      try {
        await client.query('SET enable_sort = off');
        for (const level of ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'] as const) {
          for (const after of [undefined, [1234]]) {
            const query: IndexQuery = {
              level,
              model: 'PATIENT_ROOT',
              relational: true,
              keys: [{ keyword: UNIQUE[level], value: '' }],
              keyOrder: true,
              positions: true,
              limit: 1000,
              ...(after === undefined ? {} : { after }),
            };
            const { sql, params } = buildPgQuery(planQuery(query));
            const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: { 'Node Type': string } }] }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
            const types = nodeTypes(rows[0]!['QUERY PLAN'][0].Plan);
            assert.ok(!types.includes('Sort') && !types.includes('Incremental Sort'), `${level}, after ${String(after)}: ${types.join(' > ')}\n${sql}`);
          }
        }
      } finally {
        await client.end();
        await index.close();
      }
    });
  });
});
