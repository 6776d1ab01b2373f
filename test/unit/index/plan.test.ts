import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { indexedAttribute } from '../../../src/index/query/attributes.js';
import { levelOf, matchedColumn, planQuery } from '../../../src/index/query/plan.js';
import { type IndexQuery, QueryError, type QueryLevel } from '../../../src/index/query/types.js';

const q = (level: QueryLevel, keys: Record<string, string>, extra: Partial<IndexQuery> = {}): IndexQuery => ({
  level,
  model: 'STUDY_ROOT',
  keys: Object.entries(keys).map(([keyword, value]) => ({ keyword, value })),
  relational: false,
  ...extra,
});
const matched = (query: IndexQuery): string[] => planQuery(query).conditions.map((c) => c.attribute.keyword);
const fails = (code: string, keyword?: string) => (e: unknown) =>
  e instanceof QueryError && e.code === code && (keyword === undefined || e.keyword === keyword);

describe('levels and models', () => {
  test('PATIENT exists only in Patient Root; unknown levels and models are refused', () => {
    assert.throws(() => planQuery(q('PATIENT', {})), fails('UNKNOWN_LEVEL'));
    assert.doesNotThrow(() => planQuery(q('PATIENT', {}, { model: 'PATIENT_ROOT' })));
    assert.throws(() => planQuery(q('FRAME' as QueryLevel, {})), fails('UNKNOWN_LEVEL'));
    assert.throws(() => planQuery(q('STUDY', {}, { model: 'WORKLIST' as IndexQuery['model'] })), fails('UNKNOWN_LEVEL'));
  });
  test('patient attributes are study-level in Study Root', () => {
    const name = indexedAttribute('PatientName');
    assert.ok(name !== undefined);
    assert.equal(levelOf(name, 'STUDY_ROOT'), 'STUDY');
    assert.equal(levelOf(name, 'PATIENT_ROOT'), 'PATIENT');
  });
  test('joins only the tables of the level and above', () => {
    assert.deepEqual(planQuery(q('PATIENT', {}, { model: 'PATIENT_ROOT' })).tables, ['patients']);
    assert.deepEqual(planQuery(q('STUDY', {})).tables, ['studies', 'patients']);
    assert.deepEqual(planQuery(q('IMAGE', { StudyInstanceUID: 'a', SeriesInstanceUID: 'b' })).tables, ['instances', 'series', 'studies', 'patients']);
  });
});

describe('hierarchical unique keys (PS3.4 C.4.1.2.2.1)', () => {
  const cases: [IndexQuery, string][] = [
    [q('STUDY', {}, { model: 'PATIENT_ROOT' }), 'PatientID'],
    [q('SERIES', { PatientID: 'P' }, { model: 'PATIENT_ROOT' }), 'StudyInstanceUID'],
    [q('SERIES', { StudyInstanceUID: 'S' }, { model: 'PATIENT_ROOT' }), 'PatientID'],
    [q('IMAGE', { PatientID: 'P', StudyInstanceUID: 'S' }, { model: 'PATIENT_ROOT' }), 'SeriesInstanceUID'],
    [q('SERIES', {}), 'StudyInstanceUID'],
    [q('IMAGE', { StudyInstanceUID: 'S' }), 'SeriesInstanceUID'],
    [q('IMAGE', { SeriesInstanceUID: 'X' }), 'StudyInstanceUID'],
    [q('SERIES', { StudyInstanceUID: 'S1\\S2' }), 'StudyInstanceUID'],
    [q('STUDY', { PatientID: 'P?' }, { model: 'PATIENT_ROOT' }), 'PatientID'],
  ];
  for (const [query, keyword] of cases) {
    test(`${query.model} ${query.level} with ${JSON.stringify(query.keys.map((k) => k.keyword))} lacks ${keyword}`, () => {
      assert.throws(() => planQuery(query), fails('MISSING_UNIQUE_KEY', keyword));
      assert.doesNotThrow(() => planQuery({ ...query, relational: true }), 'relational needs none');
    });
  }
  test('the unique key of the query level itself may be a list or absent', () => {
    assert.deepEqual(matched(q('SERIES', { StudyInstanceUID: 'S', SeriesInstanceUID: 'a\\b' })), ['StudyInstanceUID', 'SeriesInstanceUID']);
    assert.deepEqual(matched(q('STUDY', {})), []);
  });
});

describe('which keys match', () => {
  test('hierarchical: the query level, and only the unique keys above (with the issuer of the Patient ID)', () => {
    const keys = { PatientID: 'P', IssuerOfPatientID: 'H', PatientName: 'X*', StudyInstanceUID: 'S', StudyDate: '20240101', Modality: 'CT' };
    assert.deepEqual(matched(q('SERIES', keys, { model: 'PATIENT_ROOT' })), ['PatientID', 'IssuerOfPatientID', 'StudyInstanceUID', 'Modality']);
    assert.deepEqual(matched(q('SERIES', keys)), ['StudyInstanceUID', 'Modality'], 'Study Root has no patient level');
    assert.deepEqual(matched(q('STUDY', keys)), ['PatientID', 'IssuerOfPatientID', 'PatientName', 'StudyInstanceUID', 'StudyDate']);
  });
  test('relational: every key of the level and above', () => {
    const keys = { PatientName: 'X*', StudyDate: '20240101', Modality: 'CT', SOPInstanceUID: '1.2' };
    assert.deepEqual(matched(q('SERIES', keys, { relational: true })), ['PatientName', 'StudyDate', 'Modality']);
  });
  test('universal keys and unknown keywords are return keys only; unknown ones are answered null', () => {
    const plan = planQuery(q('STUDY', { PatientName: '', StudyDescription: '*', PatientComments: 'x*', Bogus: '1', Modality: 'CT' }));
    assert.deepEqual(plan.conditions, []);
    assert.deepEqual(plan.absent, ['PatientComments', 'Bogus', 'Modality']);
  });
  test('returns the attributes of the level and above, computed ones included', () => {
    const returned = planQuery(q('SERIES', { StudyInstanceUID: 'S' })).returned.map((a) => a.keyword);
    for (const k of ['PatientID', 'NumberOfPatientRelatedStudies', 'StudyDate', 'ModalitiesInStudy', 'Modality', 'NumberOfSeriesRelatedInstances']) {
      assert.ok(returned.includes(k), k);
    }
    assert.ok(!returned.includes('SOPInstanceUID'));
  });
  test('person names compare folded unless fuzzyNames is false', () => {
    const [fuzzy] = planQuery(q('STUDY', { PatientName: 'müller*' })).conditions;
    assert.equal(fuzzy?.folded, true);
    assert.deepEqual(fuzzy?.terms, [{ kind: 'wildcard', pattern: 'MULLER*', prefix: 'MULLER' }]);
    const [exact] = planQuery(q('STUDY', { PatientName: 'müller*' }, { fuzzyNames: false })).conditions;
    assert.equal(exact?.folded, false);
    assert.deepEqual(exact?.terms, [{ kind: 'wildcard', pattern: 'müller*', prefix: 'müller' }]);
    const [other] = planQuery(q('STUDY', { StudyDescription: 'ct*' })).conditions;
    assert.equal(other?.folded, false);
  });
  test('study level and below read the patient\'s attributes from the studies\' copies; the patient level from patients', () => {
    const on = (query: IndexQuery) => planQuery(query).conditions.map(matchedColumn);
    assert.deepEqual(on(q('STUDY', { PatientName: 'smith*' })), [{ table: 'studies', column: 'patient_name_fold' }]);
    assert.deepEqual(on(q('STUDY', { PatientName: 'smith*' }, { model: 'PATIENT_ROOT', relational: true })), [{ table: 'studies', column: 'patient_name_fold' }]);
    assert.deepEqual(on(q('SERIES', { PatientName: 'smith*' }, { relational: true })), [{ table: 'studies', column: 'patient_name_fold' }]);
    assert.deepEqual(on(q('IMAGE', { PatientName: 'smith*' }, { relational: true })), [{ table: 'studies', column: 'patient_name_fold' }]);
    assert.deepEqual(on(q('PATIENT', { PatientName: 'smith*' }, { model: 'PATIENT_ROOT' })), [{ table: 'patients', column: 'patient_name_fold' }]);
    // Not folded: the name as stored, copied too.
    // As written, narrowed by the folded twin's index first.
    assert.deepEqual(on(q('STUDY', { PatientName: 'Smith*' }, { fuzzyNames: false })), [
      { table: 'studies', column: 'patient_name' },
      { table: 'studies', column: 'patient_name_fold' },
    ]);
    assert.deepEqual(on(q('STUDY', { ReferringPhysicianName: 'house*', PatientID: 'P1' })), [
      { table: 'studies', column: 'referring_physician_name_fold' },
      { table: 'studies', column: 'patient_id' },
    ]);
  });
  test('patients is joined only when the answer needs its counts, or at the patient level', () => {
    const plan = (query: IndexQuery) => planQuery(query);
    // As C-FIND and QIDO-RS ask: the keys' columns (returnKeys); without it every column is read.
    const study = plan(q('STUDY', { PatientName: 'smith*', PatientID: '', PatientBirthDate: '', PatientSex: '', IssuerOfPatientID: '' }, { returnKeys: [] }));
    assert.deepEqual(study.tables, ['studies']);
    assert.ok(study.returned.filter((a) => a.keyword.startsWith('Patient')).every((a) => a.table === 'studies'));
    assert.deepEqual(plan(q('IMAGE', { PatientName: 'x*' }, { relational: true, returnKeys: [] })).tables, ['instances', 'series', 'studies']);
    assert.deepEqual(plan(q('STUDY', { NumberOfPatientRelatedStudies: '' }, { model: 'PATIENT_ROOT', relational: true, returnKeys: [] })).tables, ['studies', 'patients']);
    assert.deepEqual(plan(q('STUDY', { PatientName: 'x*' })).tables, ['studies', 'patients'], 'every column: the patient counts too');
    assert.deepEqual(plan(q('PATIENT', { PatientName: 'x*' }, { model: 'PATIENT_ROOT' })).tables, ['patients']);
  });
  test('values of keys that match are checked; of keys that do not, not', () => {
    assert.throws(() => planQuery(q('STUDY', { StudyDate: 'yesterday' })), fails('BAD_VALUE', 'StudyDate'));
    assert.doesNotThrow(() => planQuery(q('SERIES', { StudyInstanceUID: 'S', StudyDate: 'yesterday', SOPInstanceUID: '*x*' })));
  });
});

describe('date and time', () => {
  test('a date range and a time range of the same form become one condition', () => {
    const plan = planQuery(q('STUDY', { StudyDate: '20240101-20240105', StudyTime: '1800-0600' }));
    assert.deepEqual(plan.conditions, []);
    assert.equal(plan.dateTimeConditions.length, 1);
    assert.deepEqual(plan.dateTimeConditions[0]?.range, { lower: { date: '20240101', time: '180000' }, upper: { date: '20240105', time: '060059.999999' } });
  });
  test('not when told so, nor when the forms differ; a reversed time range alone is BAD_VALUE', () => {
    const keys = { StudyDate: '20240101-20240105', StudyTime: '0600-1800' };
    assert.deepEqual(matched(q('STUDY', keys, { combinedDateTime: false })), ['StudyDate', 'StudyTime']);
    assert.deepEqual(matched(q('STUDY', { StudyDate: '20240101-', StudyTime: '-1800' })), ['StudyDate', 'StudyTime']);
    assert.throws(() => planQuery(q('STUDY', { StudyDate: '20240101', StudyTime: '1800-0600' })), fails('BAD_VALUE', 'StudyTime'));
  });
});

describe('order and paging', () => {
  test('by the keys of each level down to the query level, pk last', () => {
    const order = (level: QueryLevel, keys: Record<string, string> = {}) =>
      planQuery(q(level, keys, { model: 'PATIENT_ROOT', relational: true })).order.map((o) => `${o.table}.${o.column}${o.numeric ? '#' : ''}`);
    assert.deepEqual(order('PATIENT'), ['patients.patient_id', 'patients.issuer_of_patient_id', 'patients.pk']);
    assert.deepEqual(order('STUDY'), ['studies.study_date', 'studies.study_time', 'studies.pk']);
    assert.deepEqual(order('IMAGE'), [
      'studies.study_date', 'studies.study_time', 'studies.pk', 'series.series_number#', 'series.pk', 'instances.instance_number#', 'instances.pk',
    ]);
  });
  test('limit and offset are clamped to whole non-negative numbers', () => {
    const p = (limit?: number, offset?: number) => {
      const plan = planQuery(q('STUDY', {}, { limit, offset }));
      return [plan.limit, plan.offset];
    };
    assert.deepEqual(p(), [null, 0]);
    assert.deepEqual(p(10.7, 2.2), [10, 2]);
    assert.deepEqual(p(-1, -5), [0, 0]);
    assert.deepEqual(p(Number.NaN, Number.POSITIVE_INFINITY), [null, 0]);
  });
});
