// The copies of each patient's attributes on its studies (migration 11), which study-level
// queries read instead of joining patients: an index made before it gets them filled in by the
// migration, and `pacs migrate-index` carries them to PostgreSQL. (That they follow renames,
// merges and stores is the index contract's: index-contract.ts.)
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { quoteSchema } from '../../src/index/postgres/db.js';
import { copySqliteToPostgres } from '../../src/index/postgres/from-sqlite.js';
import { PG_MIGRATIONS, applyPgMigrations } from '../../src/index/postgres/migrations.js';
import { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import { MIGRATIONS, applyMigrations } from '../../src/index/sqlite/migrations.js';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { freshSchema, inSchema, openPostgres, withPostgres } from './backends.js';
import { record } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-name-copy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Studies of several patients, one without a name, one with accents, one with two studies. */
async function storeSome(index: ArchiveIndex): Promise<void> {
  await index.storeInstance(record({ sop: '5.1', study: '5.10', patientId: 'P1', patientName: 'Smith^John' }), 'insert');
  await index.storeInstance(record({ sop: '5.2', study: '5.20', patientId: 'P1', patientName: 'Smith^John' }), 'insert');
  await index.storeInstance(record({ sop: '5.3', study: '5.30', patientId: 'P2', patientName: 'Smíth^Jöe' }), 'insert');
  await index.storeInstance(record({ sop: '5.4', study: '5.40', patientId: 'P3', patientName: 'Smythe^Jane' }), 'insert');
  await index.storeInstance(record({ sop: '5.5', study: '5.50', patientId: 'P4', patientName: null }), 'insert');
}

/** What a study search by name answers, as the study list asks (SMITH^J* as bench:scale does). */
async function studiesNamed(index: ArchiveIndex, name: string): Promise<string[]> {
  const rows = await index.query({
    level: 'STUDY',
    model: 'STUDY_ROOT',
    relational: false,
    keys: [{ keyword: 'PatientName', value: name }, { keyword: 'StudyInstanceUID', value: '' }],
  });
  return rows.map((r) => String(r.StudyInstanceUID)).sort();
}

async function assertAnswers(index: ArchiveIndex): Promise<void> {
  assert.deepEqual(await studiesNamed(index, 'SMITH^J*'), ['5.10', '5.20', '5.30']);
  assert.deepEqual(await studiesNamed(index, 'sm?th*'), ['5.10', '5.20', '5.30', '5.40']);
  assert.deepEqual(await studiesNamed(index, 'smythe^jane'), ['5.40']);
  assert.deepEqual(await studiesNamed(index, '*'), ['5.10', '5.20', '5.30', '5.40', '5.50']);
  assert.deepEqual(await studiesNamed(index, '*^*'), ['5.10', '5.20', '5.30', '5.40'], 'the unnamed patient\'s study matches no pattern');
}

/** Each study's copies, as `uid|id|issuer|name|fold|birth date|sex`. */
const COPIES_SQL = `SELECT study_instance_uid || '|' || patient_id || '|' || issuer_of_patient_id || '|' || coalesce(patient_name, '-') || '|' ||
  coalesce(patient_name_fold, '-') || '|' || patient_birth_date || '|' || patient_sex AS copy FROM studies ORDER BY study_instance_uid`;
const COPIES = [
  '5.10|P1||Smith^John|SMITH^JOHN|19700101|F',
  '5.20|P1||Smith^John|SMITH^JOHN|19700101|F',
  '5.30|P2||Smíth^Jöe|SMITH^JOE|19700101|F',
  '5.40|P3||Smythe^Jane|SMYTHE^JANE|19700101|F',
  '5.50|P4||-|-|19700101|F',
];

describe('migration 11 fills in the studies\' copies of their patient\'s attributes', () => {
  test('SQLite', async () => {
    const path = join(dir, 'v10.db');
    const index = SqliteIndex.open({ path, walMode: true });
    try {
      // An index as version 10 left it, with rows written by the store path.
      applyMigrations(index.db, MIGRATIONS.filter((m) => m.version < 11));
      await storeSome(index);
      const columns = index.db.prepare("SELECT name FROM pragma_table_info('studies')").pluck().all();
      assert.ok(!columns.includes('patient_name_fold'));
      await index.migrate();
      assert.deepEqual(index.db.prepare(COPIES_SQL).pluck().all(), COPIES);
      await assertAnswers(index);
    } finally {
      await index.close();
    }
  });

  withPostgres('PostgreSQL', (url) =>
    test('PostgreSQL', async () => {
      const schema = await freshSchema(url);
      const client = new pg.Client({ connectionString: inSchema(url, quoteSchema(schema)) });
      await client.connect();
      const index = PostgresIndex.open({ url, schema, max: 2 });
      try {
        await applyPgMigrations(client as unknown as pg.PoolClient, PG_MIGRATIONS.filter((m) => m.version < 11));
        await storeSome(index);
        const { rows: before } = await client.query("SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'studies' AND column_name = 'patient_name_fold'", [schema]);
        assert.equal(before.length, 0);
        await index.migrate();
        const { rows } = await client.query<{ copy: string }>(COPIES_SQL);
        assert.deepEqual(rows.map((r) => r.copy), COPIES);
        await assertAnswers(index);
      } finally {
        await index.close();
        await client.end();
      }
    }),
  );
});

withPostgres('pacs migrate-index carries the copies to PostgreSQL', (url) =>
  test('pacs migrate-index carries the copies to PostgreSQL, and they follow renames there', async () => {
    const source = SqliteIndex.open({ path: join(dir, 'source.db'), walMode: true });
    await source.migrate();
    await storeSome(source);
    const schema = await freshSchema(url);
    const pool = new pg.Pool({ connectionString: inSchema(url, quoteSchema(schema)), max: 1 });
    try {
      await copySqliteToPostgres(source.db, pool);
    } finally {
      await pool.end();
      await source.close();
    }
    const target = await openPostgres(url, schema);
    try {
      await assertAnswers(target);
      const check = new pg.Client({ connectionString: inSchema(url, quoteSchema(schema)) });
      await check.connect();
      const { rows } = await check.query<{ copy: string }>(COPIES_SQL).finally(() => check.end());
      assert.deepEqual(rows.map((r) => r.copy), COPIES);
      await target.updatePatient({ PatientID: 'P3', IssuerOfPatientID: null }, { PatientName: 'Smith^Jane' });
      assert.deepEqual(await studiesNamed(target, 'SMITH^J*'), ['5.10', '5.20', '5.30', '5.40']);
    } finally {
      await target.close();
    }
  }),
);
