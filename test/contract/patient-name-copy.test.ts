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
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { freshSchema, inSchema, migrationTests, openPostgres, withPostgres } from './backends.js';
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
  migrationTests(11, async (old) => {
    // An index as version 10 left it, with rows written by the store path.
    await storeSome(old.index);
    const columns =
      old.backend === 'sqlite'
        ? "SELECT name FROM pragma_table_info('studies')"
        : "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'studies'";
    assert.ok(!(await old.column(columns)).includes('patient_name_fold'));
    await old.index.migrate();
    assert.deepEqual(await old.column(COPIES_SQL), COPIES);
    await assertAnswers(old.index);
  });
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
