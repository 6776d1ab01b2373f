// Matching and return keys over DICOM JSON (the worklist's C-FIND), and the JSON encoder's
// round trip through the dataset parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchDataset, projectDataset } from '../../../src/services/dataset-match.js';
import { decodeJsonDataset, encodeJsonDataset } from '../../../src/dicom/json-encode.js';
import type { JsonDataset } from '../../../src/dicom/json.js';
import { QueryError } from '../../../src/index/query/types.js';

const opts = { fuzzyNames: true };
const entry: JsonDataset = {
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^Jörg' }] },
  '00100020': { vr: 'LO', Value: ['P1'] },
  '00400100': {
    vr: 'SQ',
    Value: [
      { '00080060': { vr: 'CS', Value: ['MR'] }, '00400001': { vr: 'AE', Value: ['AA32', 'AA33'] }, '00400002': { vr: 'DA', Value: ['19951015'] }, '00400003': { vr: 'TM', Value: ['085607'] } },
    ],
  },
};
const step = (keys: JsonDataset): JsonDataset => ({ '00400100': { vr: 'SQ', Value: [keys] } });

test('sequence matching: any item, every key; multi-valued AE; universal empty keys', () => {
  assert.ok(matchDataset(step({ '00400001': { vr: 'AE', Value: ['AA33'] } }), entry, opts));
  assert.ok(!matchDataset(step({ '00400001': { vr: 'AE', Value: ['AA34'] } }), entry, opts));
  assert.ok(matchDataset(step({ '00080060': { vr: 'CS' }, '00400002': { vr: 'DA' } }), entry, opts));
  assert.ok(!matchDataset({ '00100021': { vr: 'LO', Value: ['X'] } }, entry, opts), 'a key the entry has no value for');
});

test('names fold case and accents; ranges of dates and combined date-times', () => {
  assert.ok(matchDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'muller*' }] } }, entry, opts));
  assert.ok(!matchDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'muller*' }] } }, entry, { fuzzyNames: false }));
  // Trailing empty components do not count, on either side; 'Müller^*' matches a bare 'Müller'.
  const bare = { ...entry, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Müller^^^' }] } };
  for (const q of ['Müller', 'Müller^', 'Müller^*', '*ller^*', '*^']) assert.ok(matchDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: q }] } }, bare, { fuzzyNames: false }), q);
  for (const q of ['Müller^?', '^*']) assert.ok(!matchDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: q }] } }, bare, { fuzzyNames: false }), q);
  // Group by group: a key's missing group matches any (person-name.ts).
  const groups = { ...entry, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] } };
  for (const q of [{ Alphabetic: 'Yamada^Tarou' }, { Ideographic: '山田^太郎' }, { Alphabetic: 'YAMADA^TAROU', Ideographic: '山田^太郎' }])
    assert.ok(matchDataset({ '00100010': { vr: 'PN', Value: [q] } }, groups, opts), JSON.stringify(q));
  assert.ok(!matchDataset({ '00100010': { vr: 'PN', Value: [{ Ideographic: '山田' }] } }, groups, opts));
  assert.ok(matchDataset(step({ '00400002': { vr: 'DA', Value: ['19951001-19951031'] } }), entry, opts));
  assert.ok(matchDataset(step({ '00400002': { vr: 'DA', Value: ['19951014-19951015'] }, '00400003': { vr: 'TM', Value: ['1200-0900'] } }), entry, opts));
  assert.ok(!matchDataset(step({ '00400002': { vr: 'DA', Value: ['19951015-19951016'] }, '00400003': { vr: 'TM', Value: ['0900-0800'] } }), entry, opts));
  assert.throws(() => matchDataset(step({ '00400002': { vr: 'DA', Value: ['1995XX15'] } }), entry, opts), QueryError);
});

test('return keys: only those asked, zero length when absent, whole items for an empty sequence key', () => {
  const out = projectDataset({ '00100020': { vr: 'LO' }, '00100030': { vr: 'DA' }, ...step({ '00080060': { vr: 'CS' } }) }, entry, opts);
  assert.deepEqual(out, { '00100020': entry['00100020'], '00100030': { vr: 'DA' }, '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['MR'] } }] } });
  assert.deepEqual(projectDataset({ '00400100': { vr: 'SQ' } }, entry, opts)['00400100'], entry['00400100']);
});

test('JSON encoding round-trips through the parser in both syntaxes, text in the chosen charset', async () => {
  for (const ts of ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']) {
    const bytes = encodeJsonDataset({ ...entry, '00081150': { vr: 'UI', Value: ['1.2.3'] }, '00280010': { vr: 'US', Value: [512] } }, ts, 'ISO_IR 100');
    const back = await decodeJsonDataset(bytes, ts);
    assert.equal(back.specificCharacterSet, 'ISO_IR 100');
    assert.deepEqual(back.dataset['00100010'], entry['00100010']);
    assert.deepEqual(back.dataset['00400100'], entry['00400100']);
    assert.deepEqual(back.dataset['00280010'], { vr: 'US', Value: [512] });
  }
});

test('private attributes in a worklist query are not matched (a modality\'s private block left every query without answers), and returned as the entry holds them', () => {
  const query: JsonDataset = { '00090010': { vr: 'LO', Value: ['ACME 1.0'] }, '00091001': { vr: 'LO', Value: ['X'] }, '00100020': { vr: 'LO', Value: ['P1'] }, ...step({ '00290010': { vr: 'LO', Value: ['ACME'] }, '00080060': { vr: 'CS', Value: ['MR'] } }) };
  assert.ok(matchDataset(query, entry, opts));
  assert.ok(!matchDataset({ ...query, '00100020': { vr: 'LO', Value: ['P2'] } }, entry, opts), 'the standard keys still match');
  const answer = projectDataset(query, entry, opts);
  assert.deepEqual(answer['00090010'], { vr: 'LO' }, 'asked for, not held: empty');
});
