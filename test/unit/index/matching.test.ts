import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  MAX_LIST_VALUES,
  UNIVERSAL,
  anyValueMatches,
  assertOrderedRanges,
  combineDateTime,
  dateTimeBounds,
  isSingleValue,
  literalPrefix,
  normalizeDate,
  parseMatcher,
  prefixSuccessor,
  timeBounds,
  wildcardMatcher,
} from '../../../src/index/query/matching.js';
import { QueryError } from '../../../src/index/query/types.js';

const badValue = (keyword: string) => (e: unknown) => e instanceof QueryError && e.code === 'BAD_VALUE' && e.keyword === keyword;
const terms = (keyword: string, vr: string, value: string, fold = false) => {
  const m = parseMatcher(keyword, vr, value, { fold });
  assert.equal(m.kind, 'match');
  return m.kind === 'match' ? m.terms : [];
};

describe('universal matching', () => {
  test("'', spaces, '*' and runs of '*' match everything, for any VR", () => {
    for (const [vr, value] of [['PN', ''], ['LO', '   '], ['DA', '*'], ['UI', '**'], ['CS', 'CT\\*'], ['CS', '\\']]) {
      assert.deepEqual(parseMatcher('K', vr ?? '', value ?? ''), UNIVERSAL, `${vr} '${value}'`);
    }
  });
});

describe('single values and lists', () => {
  test('a value is an equal term, trimmed', () => {
    assert.deepEqual(terms('PatientID', 'LO', ' P1 '), [{ kind: 'equal', value: 'P1' }]);
  });
  test('backslash separates alternatives, except in LT, ST, UT, UR', () => {
    assert.deepEqual(terms('StudyInstanceUID', 'UI', '1.2\\1.3'), [
      { kind: 'equal', value: '1.2' },
      { kind: 'equal', value: '1.3' },
    ]);
    assert.deepEqual(terms('Modality', 'CS', 'CT\\M*'), [
      { kind: 'equal', value: 'CT' },
      { kind: 'wildcard', pattern: 'M*', prefix: 'M' },
    ]);
    assert.deepEqual(terms('ImageComments', 'LT', 'a\\b'), [{ kind: 'equal', value: 'a\\b' }]);
  });
  test('isSingleValue: one equal term only', () => {
    assert.equal(isSingleValue(parseMatcher('PatientID', 'LO', 'P1')), true);
    assert.equal(isSingleValue(parseMatcher('PatientID', 'LO', 'P*')), false);
    assert.equal(isSingleValue(parseMatcher('PatientID', 'LO', 'P1\\P2')), false);
    assert.equal(isSingleValue(parseMatcher('PatientID', 'LO', '')), false);
    assert.equal(isSingleValue(parseMatcher('StudyDate', 'DA', '20240101-')), false);
  });
  test('numbers are checked for the numeric VRs', () => {
    assert.deepEqual(terms('NumberOfStudyRelatedInstances', 'IS', '+12'), [{ kind: 'equal', value: '+12' }]);
    assert.deepEqual(terms('PatientWeight', 'DS', '65.5'), [{ kind: 'equal', value: '65.5' }]);
    assert.throws(() => parseMatcher('Rows', 'US', 'big'), badValue('Rows'));
    assert.throws(() => parseMatcher('PatientWeight', 'DS', '6,5'), badValue('PatientWeight'));
  });
  test('too many values or too long a value is refused', () => {
    assert.throws(() => parseMatcher('SOPInstanceUID', 'UI', Array(MAX_LIST_VALUES + 1).fill('1.2').join('\\')), badValue('SOPInstanceUID'));
    assert.throws(() => parseMatcher('PatientID', 'LO', 'x'.repeat(5000)), badValue('PatientID'));
    // Beyond what the VR holds, and a NUL: refused (PostgreSQL would fail on either with a 500).
    assert.throws(() => parseMatcher('Rows', 'US', '3000000000'), badValue('Rows'));
    assert.throws(() => parseMatcher('Rows', 'US', '-1'), badValue('Rows'));
    // IS holds a signed 32-bit value: a count of twenty digits was bound as a bigint PostgreSQL refused (a 500).
    assert.throws(() => parseMatcher('NumberOfStudyRelatedInstances', 'IS', '99999999999999999999'), badValue('NumberOfStudyRelatedInstances'));
    assert.throws(() => parseMatcher('NumberOfStudyRelatedInstances', 'IS', '2147483648'), badValue('NumberOfStudyRelatedInstances'));
    assert.doesNotThrow(() => parseMatcher('NumberOfStudyRelatedInstances', 'IS', '2147483647'));
    assert.doesNotThrow(() => parseMatcher('NumberOfStudyRelatedInstances', 'IS', '+12'));
    assert.deepEqual(parseMatcher('Rows', 'US', '65535'), { kind: 'match', terms: [{ kind: 'equal', value: '65535' }] });
    assert.throws(() => parseMatcher('PatientID', 'LO', 'a\u0000b'), badValue('PatientID'));
  });
});

describe('wildcards', () => {
  test('allowed for the text VRs, with the literal prefix kept', () => {
    assert.deepEqual(terms('PatientName', 'PN', 'SMI*'), [{ kind: 'wildcard', pattern: 'SMI*', prefix: 'SMI' }]);
    // A name may hold more component groups after the one a key gives (person-name.ts).
    assert.deepEqual(terms('PatientName', 'PN', '*ITH'), [{ kind: 'wildcard', pattern: '*ITH', prefix: '' }, { kind: 'wildcard', pattern: '*ITH=*', prefix: '' }]);
    assert.deepEqual(terms('AccessionNumber', 'SH', 'A?C'), [{ kind: 'wildcard', pattern: 'A?C', prefix: 'A' }]);
  });
  test('refused for UI, DA, TM, numbers', () => {
    assert.throws(() => parseMatcher('StudyInstanceUID', 'UI', '1.2.*'), badValue('StudyInstanceUID'));
    assert.throws(() => parseMatcher('StudyDate', 'DA', '2024*'), badValue('StudyDate'));
    assert.throws(() => parseMatcher('StudyTime', 'TM', '10?'), badValue('StudyTime'));
    assert.throws(() => parseMatcher('SeriesNumber', 'IS', '1*'), badValue('SeriesNumber'));
  });
  test('person names fold when asked, wildcards kept', () => {
    assert.deepEqual(terms('PatientName', 'PN', 'müll*^zoë', true), [
      { kind: 'wildcard', pattern: 'MULL*^ZOE', prefix: 'MULL' },
      { kind: 'wildcard', pattern: 'MULL*^ZOE=*', prefix: 'MULL' },
    ]);
    assert.deepEqual(terms('PatientName', 'PN', 'Müller', false), [
      { kind: 'equal', value: 'Müller' },
      { kind: 'wildcard', pattern: 'Müller=*', prefix: 'Müller=' },
    ]);
  });
  test('wildcardMatcher: * any run, ? one character (a code point), the whole value', () => {
    const cases: [string, string, boolean][] = [
      ['SMI*', 'SMITH', true],
      ['SMI*', 'SMI', true],
      ['SMI*', 'XSMITH', false],
      ['*ITH', 'SMITH', true],
      ['*ITH', 'SMITHS', false],
      ['S?ITH', 'SMITH', true],
      ['S?ITH', 'SITH', false],
      ['*', '', true],
      ['?', '', false],
      ['a*b*c', 'aXXbYYc', true],
      ['a*b*c', 'aXXcYYb', false],
      ['a**b', 'ab', true],
      ['*a*', 'bbb', false],
      // Characters a regular expression would read as its own.
      ['1.2.(3)+[x]$', '1.2.(3)+[x]$', true],
      ['1.2.(3)', '1x2x(3)', false],
      ['a\\b', 'a\\b', true],
      // One '?' for a character beyond the BMP (two UTF-16 units), as SQLite and PostgreSQL count.
      ['?', '\u{1F600}', true],
      ['??', '\u{1F600}', false],
      ['line*', 'line\nnext', true],
    ];
    for (const [pattern, value, expected] of cases) assert.equal(wildcardMatcher(pattern)(value), expected, `${pattern} ~ ${value}`);
  });
  test('wildcardMatcher: a pattern that backtracks a regular expression exponentially is answered at once', () => {
    // As a RegExp of '.*' runs, 10 pairs against 40 characters took 17 s (and 15 times more a
    // pair): the event loop of the whole server, held by one C-FIND key.
    const pattern = `${'*?'.repeat(30)}#`;
    assert.equal(wildcardMatcher(pattern)('a'.repeat(4096)), false);
    assert.equal(wildcardMatcher(pattern)(`${'a'.repeat(4095)}#`), true);
  });
  test('literalPrefix and prefixSuccessor bound an index range', () => {
    assert.equal(literalPrefix('SMI*TH?'), 'SMI');
    assert.equal(literalPrefix('ABC'), 'ABC');
    assert.equal(prefixSuccessor('SMI'), 'SMJ');
    assert.equal(prefixSuccessor('MÜ'), 'MÝ');
    assert.equal(prefixSuccessor(''), null);
    assert.equal(prefixSuccessor('A\u{10FFFF}'), 'B');
    assert.equal(prefixSuccessor('\u{10FFFF}'), null);
    assert.equal(prefixSuccessor('a\u{D7FF}'), 'a\u{E000}');
    // A prefix of a megabyte (an HL7 order number): no stack overflow.
    assert.equal(prefixSuccessor(`${'A'.repeat(1024 * 1024)}^`), `${'A'.repeat(1024 * 1024)}_`);
  });
});

describe('dates', () => {
  test('single DA, also the ACR-NEMA form', () => {
    assert.deepEqual(terms('StudyDate', 'DA', '20240102'), [{ kind: 'equal', value: '20240102' }]);
    assert.deepEqual(terms('StudyDate', 'DA', '2024.01.02'), [{ kind: 'equal', value: '20240102' }]);
    assert.equal(normalizeDate('20241301'), null);
    assert.equal(normalizeDate('2024-01-02'), null);
  });
  test('closed and open ranges', () => {
    assert.deepEqual(terms('StudyDate', 'DA', '20240101-20240131'), [{ kind: 'range', lower: '20240101', upper: '20240131', explicit: true }]);
    assert.deepEqual(terms('StudyDate', 'DA', '20240101-'), [{ kind: 'range', lower: '20240101', upper: null, explicit: true }]);
    assert.deepEqual(terms('StudyDate', 'DA', ' -20240131'), [{ kind: 'range', lower: null, upper: '20240131', explicit: true }]);
  });
  test('malformed ranges are BAD_VALUE naming the key', () => {
    for (const v of ['-', '2024-01-02', '20240131-20240101', '202401-20240131', '20240101-2024013x', '20240101--']) {
      assert.throws(() => parseMatcher('StudyDate', 'DA', v), badValue('StudyDate'), v);
    }
  });
});

describe('times', () => {
  test('bounds padded to full precision', () => {
    assert.deepEqual(timeBounds('10'), { lower: '100000', upper: '105959.999999' });
    assert.deepEqual(timeBounds('1015'), { lower: '101500', upper: '101559.999999' });
    assert.deepEqual(timeBounds('101530.25'), { lower: '101530.25', upper: '101530.259999' });
    assert.deepEqual(timeBounds('10:15:30'), { lower: '101530', upper: '101530.999999' });
    assert.equal(timeBounds('2400'), null);
    assert.equal(timeBounds('1060'), null);
    assert.equal(timeBounds('101'), null);
  });
  test('a single TM names a span; a range is explicit', () => {
    assert.deepEqual(terms('StudyTime', 'TM', '1015'), [{ kind: 'range', lower: '101500', upper: '101559.999999', explicit: false }]);
    assert.deepEqual(terms('StudyTime', 'TM', '1000-1100'), [{ kind: 'range', lower: '100000', upper: '110059.999999', explicit: true }]);
    assert.deepEqual(terms('StudyTime', 'TM', '-0830'), [{ kind: 'range', lower: null, upper: '083059.999999', explicit: true }]);
  });
  test('a reversed TM range parses (it may combine with its date) but is refused alone', () => {
    const t = terms('StudyTime', 'TM', '1800-0800');
    assert.throws(() => assertOrderedRanges('StudyTime', t), badValue('StudyTime'));
    assert.doesNotThrow(() => assertOrderedRanges('StudyTime', terms('StudyTime', 'TM', '0800-1800')));
    assert.throws(() => parseMatcher('StudyTime', 'TM', '25-'), badValue('StudyTime'));
  });
});

describe('date-times', () => {
  test('bounds, and the timezone minus is not a range', () => {
    assert.deepEqual(dateTimeBounds('2024'), { lower: '20240101000000', upper: '20241231235959.999999' });
    assert.deepEqual(terms('AcquisitionDateTime', 'DT', '2023-2024'), [
      { kind: 'range', lower: '20230101000000', upper: '20241231235959.999999', explicit: true },
    ]);
    assert.deepEqual(terms('AcquisitionDateTime', 'DT', '20240101120000-0500'), [
      { kind: 'range', lower: '20240101120000', upper: '20240101120000.999999', explicit: false },
    ]);
    assert.deepEqual(terms('AcquisitionDateTime', 'DT', '202401-'), [{ kind: 'range', lower: '20240101000000', upper: null, explicit: true }]);
    assert.throws(() => parseMatcher('AcquisitionDateTime', 'DT', '2024x'), badValue('AcquisitionDateTime'));
  });
});

describe('combined date and time', () => {
  const m = (vr: string, v: string) => parseMatcher(vr === 'DA' ? 'StudyDate' : 'StudyTime', vr, v);
  test('ranges of the same form combine', () => {
    assert.deepEqual(combineDateTime(m('DA', '20240102-20240105'), m('TM', '1800-0800')), {
      lower: { date: '20240102', time: '180000' },
      upper: { date: '20240105', time: '080059.999999' },
    });
    assert.deepEqual(combineDateTime(m('DA', '20240102-'), m('TM', '1800-')), { lower: { date: '20240102', time: '180000' }, upper: null });
    assert.deepEqual(combineDateTime(m('DA', '-20240102'), m('TM', '-0800')), { lower: null, upper: { date: '20240102', time: '080059.999999' } });
  });
  test('anything else does not', () => {
    assert.equal(combineDateTime(m('DA', '20240102-'), m('TM', '-0800')), null);
    assert.equal(combineDateTime(m('DA', '20240102'), m('TM', '0800-1000')), null);
    assert.equal(combineDateTime(m('DA', '20240102-20240105'), m('TM', '0800')), null, 'a single time is not a range form');
    assert.equal(combineDateTime(m('DA', '20240102-20240105'), m('TM', '')), null);
    assert.equal(combineDateTime(m('DA', '20240102-\\20240301-'), m('TM', '0800-')), null);
  });
});

test('a multi-valued value loses its space padding only, as PostgreSQL btrim() does: a tab or a no-break space stays part of it', () => {
  assert.equal(anyValueMatches('ORIGINAL \\PRIMARY', 'ORIGINAL', false), true);
  assert.equal(anyValueMatches(' X\\ Y ', 'Y', false), true);
  assert.equal(anyValueMatches('ORIGINAL\t\\PRIMARY', 'ORIGINAL', false), false);
  assert.equal(anyValueMatches('DERIVED\u00a0\\SECONDARY', 'DERIVED', false), false);
  assert.equal(anyValueMatches('DERIVED\u00a0\\SECONDARY', 'DERIVED?', true), true);
});
