// The SQL the SQLite backend makes of a plan: values only ever bound, indexes used. (What it
// answers is the contract's business: test/contract/index-query-contract.ts.)
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { planQuery } from '../../../src/index/query/plan.js';
import type { IndexQuery } from '../../../src/index/query/types.js';
import { applyMigrations } from '../../../src/index/sqlite/migrations.js';
import { SqliteQueryRunner, buildQuery } from '../../../src/index/sqlite/query.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { CT, MR, SR, record } from '../../contract/fixtures.js';

const db = new Database(':memory:');
applyMigrations(db);
after(() => db.close());

const study = (keys: Record<string, string>, extra: Partial<IndexQuery> = {}) =>
  buildQuery(
    planQuery({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: Object.entries(keys).map(([keyword, value]) => ({ keyword, value })), ...extra }),
  );
const queryPlan = (sql: string, params: unknown[]): string =>
  (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');

describe('SQLite query SQL', () => {
  test('as many wildcard and range values as a query may hold run; one more is a BAD_VALUE naming a key, not an SQLite error', () => {
    // 85 person-name patterns (3 forms each: 255) and a range: SQLite takes the expression.
    const names = Array.from({ length: 85 }, (_, i) => `N${i}*`).join('\\');
    const { sql, params } = study({ PatientName: names, StudyDate: '20200101-20201231' });
    assert.doesNotThrow(() => db.prepare(sql).all(...params));
    // 334 patterns (1,002 forms) once reached SQLite's depth limit of 1,000.
    for (const keys of [
      { PatientName: Array.from({ length: 334 }, (_, i) => `N${i}*`).join('\\') },
      { AccessionNumber: Array.from({ length: 257 }, (_, i) => `A${i}*`).join('\\') },
      { AccessionNumber: Array.from({ length: 200 }, (_, i) => `A${i}*`).join('\\'), StudyDescription: Array.from({ length: 57 }, (_, i) => `D${i}*`).join('\\') },
    ] as Record<string, string>[])
      assert.throws(() => study(keys), (e: Error & { code?: string }) => e.code === 'BAD_VALUE' && /wildcard or range values .*at most 256/.test(e.message));
    // The key named is the one with the most patterns, not the longest list of equal values.
    const many = { StudyInstanceUID: Array.from({ length: 1000 }, (_, i) => `1.2.3.${i}`).join('\\'), StudyDescription: Array.from({ length: 300 }, (_, i) => `D${i}*`).join('\\') };
    assert.throws(() => study(many), (e: Error & { keyword?: string }) => e.keyword === 'StudyDescription');
    // Equal values are one bound list, however many.
    const uids = Array.from({ length: 1000 }, (_, i) => `1.2.3.${i}`).join('\\');
    const equal = study({ StudyInstanceUID: uids });
    assert.doesNotThrow(() => db.prepare(equal.sql).all(...equal.params));
  });
  test('binds every value, whatever it holds', () => {
    const hostile = "x'); DROP TABLE studies; --";
    const { sql, params } = study({ PatientID: hostile, StudyDescription: `${hostile}*`, AccessionNumber: 'a\\b' });
    assert.ok(!sql.includes('DROP'), sql);
    assert.ok(params.includes(hostile));
    assert.doesNotThrow(() => db.prepare(sql).all(...params));
  });

  test('the same shape gives the same text, so the prepared statement is reused', () => {
    assert.equal(study({ PatientID: 'A' }).sql, study({ PatientID: 'B' }).sql);
    assert.equal(study({ StudyDate: '20240101-20240201' }).sql, study({ StudyDate: '20230101-20230201' }).sql);
  });

  test('a prefix wildcard on a name searches the folded-name index: the studies\' copy at study level, patients\' at patient level', () => {
    const { sql, params } = study({ PatientName: 'smi*' });
    assert.ok(params.includes('SMI') && params.includes('SMJ') && params.includes('SMI*'), String(params));
    assert.match(queryPlan(sql, params), /SEARCH st USING INDEX studies_patient_name_fold/);
    const patients = buildQuery(planQuery({ level: 'PATIENT', model: 'PATIENT_ROOT', relational: false, keys: [{ keyword: 'PatientName', value: 'smi*' }] }));
    assert.match(queryPlan(patients.sql, patients.params), /SEARCH p USING INDEX patients_name_fold/);
  });

  test('names matched exactly (fuzzy matching off) search the folded-name index first, then compare as written; not with ?', () => {
    const exact = { fuzzyNames: false };
    for (const value of ['Smith^John', 'Smi*']) {
      const { sql, params } = study({ PatientName: value }, exact);
      assert.match(queryPlan(sql, params), /SEARCH st USING INDEX studies_patient_name_fold/, value);
      assert.ok(params.includes(value), `${value}: compared as written too`);
    }
    const single = study({ PatientName: 'Sm?th' }, exact);
    assert.doesNotMatch(queryPlan(single.sql, single.params), /patient_name_fold/);
  });

  test('an exact name walks its studies in date order: no sort, unless some kept name has more groups after it', async () => {
    const index = SqliteIndex.open({ path: ':memory:', walMode: false });
    await index.migrate();
    try {
      await index.storeInstance(record({ sop: 'i1', study: 'A', patientId: 'P1', patientName: 'Smith^John' }), 'insert');
      const runner = new SqliteQueryRunner(index.db);
      const exact = planQuery({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'PatientName', value: 'smith^john' }] });
      const plain = runner.build(exact);
      const plan = queryPlan(plain.sql, plain.params);
      assert.match(plan, /studies_patient_name_fold \(patient_name_fold=\?\)/);
      assert.doesNotMatch(plan, /TEMP B-TREE/);
      assert.ok(!plain.params.includes('SMITH^JOHN=*'), 'no kept name is SMITH^JOHN=…: the group term is left out');
      await index.storeInstance(record({ sop: 'i2', study: 'B', patientId: 'P2', patientName: 'Smith^John=スミス' }), 'insert');
      const groups = runner.build(exact);
      assert.ok(groups.params.includes('SMITH^JOHN=*'), String(groups.params));
      assert.match(queryPlan(groups.sql, groups.params), /MULTI-INDEX OR/);
      assert.deepEqual(runner.run(exact).map((r) => r.StudyInstanceUID).sort(), ['A', 'B']);
    } finally {
      await index.close();
    }
  });

  test('a date range uses the date index, PatientID its unique index', () => {
    const range = study({ StudyDate: '20240101-20240131' });
    assert.match(queryPlan(range.sql, range.params), /studies_date/);
    const id = study({ PatientID: 'P1' });
    assert.match(queryPlan(id.sql, id.params), /patient_id/);
  });

  test('ModalitiesInStudy is answered from the series modality index, in either form', () => {
    const plan = planQuery({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'ModalitiesInStudy', value: 'CT\\MR' }] });
    const many = buildQuery(plan);
    assert.match(many.sql, /EXISTS \(SELECT 1 FROM series sx WHERE sx\.study_fk = st\.pk AND sx\.modality IN \(\?, \?\)\)/);
    assert.match(queryPlan(many.sql, many.params), /series_modality/);
    const few = buildQuery(plan, new Set(plan.conditions));
    assert.match(few.sql, /st\.pk IN \(SELECT study_fk FROM series WHERE modality IN \(\?, \?\)\)/);
    assert.match(queryPlan(few.sql, few.params), /series_modality/);
  });

  test('a page of a C-FIND cut newest first starts at its place in the key, not at the newest row', () => {
    for (const newestFirst of [false, true]) {
      const { sql, params } = study({}, { keyOrder: true, newestFirst, limit: 1000, after: [5000] });
      const plan = queryPlan(sql, params);
      assert.doesNotMatch(plan, /SCAN st\b/, `${newestFirst ? 'newest' : 'oldest'} first: ${plan}`);
      assert.match(plan, /SEARCH st USING INTEGER PRIMARY KEY \(rowid[<>]\?\)/, plan);
    }
  });

  test('a long UID list is bound as one JSON array', () => {
    const uids = Array.from({ length: 500 }, (_, i) => `1.2.${i}`);
    const { sql, params } = study({ StudyInstanceUID: uids.join('\\') });
    assert.match(sql, /json_each\(\?\)/);
    assert.equal(params.length, 3); // the list, limit, offset
    assert.doesNotThrow(() => db.prepare(sql).all(...params));
  });

  test('GLOB brackets are literal, as DICOM has no character classes', () => {
    const { params } = study({ StudyDescription: '[AB]*' });
    assert.ok(params.includes('[[]AB]*'), String(params));
  });

  test('both ModalitiesInStudy forms give the same answers', async () => {
    const index = SqliteIndex.open({ path: ':memory:', walMode: false });
    await index.migrate();
    const put = (sop: string, study: string, modality: string, sopClass: string, patientId = 'P1') =>
      index.storeInstance(record({ sop, study, series: `${study}.${modality}`, modality, sopClass, patientId }), 'insert');
    await put('i1', 'A', 'CT', CT);
    await put('i2', 'A', 'MR', MR);
    await put('i3', 'B', 'SR', SR);
    await put('i4', 'C', 'CT', CT, 'P2');
    await put('i5', 'D', 'MR', MR, 'P2');
    const inForm = new SqliteQueryRunner(index.db, Number.MAX_SAFE_INTEGER);
    const existsForm = new SqliteQueryRunner(index.db, 0);
    const answers = (runner: SqliteQueryRunner, keys: Record<string, string>) =>
      runner
        .run(planQuery({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: Object.entries(keys).map(([keyword, value]) => ({ keyword, value })) }))
        .map((r) => r.StudyInstanceUID)
        .sort();
    const cases: [Record<string, string>, string[]][] = [
      [{ ModalitiesInStudy: 'CT' }, ['A', 'C']],
      [{ ModalitiesInStudy: 'CT\\SR' }, ['A', 'B', 'C']],
      [{ ModalitiesInStudy: 'M*' }, ['A', 'D']],
      [{ ModalitiesInStudy: 'MR', PatientID: 'P2' }, ['D']],
      [{ ModalitiesInStudy: 'PT' }, []],
    ];
    for (const [keys, expected] of cases) {
      assert.deepEqual(answers(inForm, keys), expected, `IN ${JSON.stringify(keys)}`);
      assert.deepEqual(answers(existsForm, keys), expected, `EXISTS ${JSON.stringify(keys)}`);
    }
    await index.close();
  });
});
