// Person names in their short form (PS3.5 6.2: trailing empty components and groups may be left
// out): the writers keep 'Doe^John^^^' as 'Doe^John', queries are matched in that form, and
// migration 12 rewrites the rows an older version wrote — with the same result on SQLite (the
// JavaScript function) and PostgreSQL (its regexp_replace).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { normalizePersonName, normalizePersonNameSql } from '../../src/dicom/person-name.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { BACKENDS, migrationTests, withPostgres } from './backends.js';
import { record } from './fixtures.js';

const FORMS: readonly [string, string][] = [
  ['Doe^John', 'Doe^John'],
  ['Doe^John^^^', 'Doe^John'],
  ['Doe^^^^', 'Doe'],
  ['Doe^John^^=^^^^=', 'Doe^John'],
  ['Yamada^Tarou^^=山田^太郎^=やまだ^たろう^^', 'Yamada^Tarou=山田^太郎=やまだ^たろう'],
  ['=山田^^', '=山田'],
  ['^John', '^John'],
  ['^^^', ''],
  ['Doe^*^', 'Doe^*'],
  ['Doe^John^^^Jr', 'Doe^John^^^Jr'],
  ['', ''],
];

test('normalizePersonName: trailing empty components of each group and trailing empty groups left out', () => {
  for (const [value, short] of FORMS) assert.equal(normalizePersonName(value), short, value);
});

withPostgres('PostgreSQL normalizes person names as JavaScript does', (url) =>
  test('PostgreSQL normalizes person names as JavaScript does', async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const [value, short] of FORMS) {
        const { rows } = await client.query<{ v: string }>(`SELECT ${normalizePersonNameSql('$1::text')} AS v`, [value]);
        assert.equal(rows[0]!.v, short, value);
      }
    } finally {
      await client.end();
    }
  }),
);

/** The studies a C-FIND-like study query answers for one key, exactly as given (no fuzzy matching). */
async function studies(index: ArchiveIndex, keyword: string, value: string): Promise<string[]> {
  const rows = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, fuzzyNames: false, keys: [{ keyword, value }, { keyword: 'StudyInstanceUID', value: '' }] });
  return rows.map((r) => String(r.StudyInstanceUID)).sort();
}

async function assertShortForm(index: ArchiveIndex): Promise<void> {
  for (const name of ['Doe^John', 'Doe^John^', 'Doe^John^^^=']) assert.deepEqual(await studies(index, 'PatientName', name), ['6.10', '6.20'], name);
  assert.deepEqual(await studies(index, 'PatientName', 'Yamada^Tarou=山田^太郎'), ['6.30']);
  // Patterns that end in delimiters and '*' match the short form too: 'Solo^*' finds 'Solo' (sent as 'Solo^^^').
  for (const [pattern, found] of [['Solo^*', ['6.40']], ['*olo^*', ['6.40']], ['Doe^John^*', ['6.10', '6.20']], ['Doe^*', ['6.10', '6.20']], ['Solo^?', []], ['*^', ['6.10', '6.20', '6.30', '6.40']]] as const)
    assert.deepEqual(await studies(index, 'PatientName', pattern), found, pattern);
  assert.deepEqual(await studies(index, 'ReferringPhysicianName', 'House^Gregory'), ['6.10', '6.20', '6.30', '6.40', '6.50']);
  const [answer] = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'StudyInstanceUID', value: '6.10' }, { keyword: 'PatientName', value: '' }, { keyword: 'ReferringPhysicianName', value: '' }] });
  assert.equal(answer!.PatientName, 'Doe^John', 'answered in the short form');
  assert.equal(answer!.ReferringPhysicianName, 'House^Gregory');
}

async function storeLong(index: ArchiveIndex): Promise<void> {
  await index.storeInstance(record({ sop: '6.1', study: '6.10', patientId: 'P1', patientName: 'Doe^John^^^', referringPhysician: 'House^Gregory^^' }), 'insert');
  await index.storeInstance(record({ sop: '6.2', study: '6.20', patientId: 'P1', patientName: 'Doe^John^^^' }), 'insert');
  await index.storeInstance(record({ sop: '6.3', study: '6.30', patientId: 'P2', patientName: 'Yamada^Tarou^=山田^太郎^^=' }), 'insert');
  await index.storeInstance(record({ sop: '6.4', study: '6.40', patientId: 'P3', patientName: 'Solo^^^' }), 'insert');
  await index.storeInstance(record({ sop: '6.5', study: '6.50', patientId: 'P4', patientName: null }), 'insert');
}

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`person names in their short form (${backend.name})`, () => {
    test('stored, renamed and queried in the short form', async () => {
      const index = await (await fresh())();
      try {
        await storeLong(index);
        await assertShortForm(index);
        await index.updatePatient({ PatientID: 'P2', IssuerOfPatientID: null }, { PatientName: 'Yamada^Hanako^^^' });
        assert.deepEqual(await studies(index, 'PatientName', 'Yamada^Hanako'), ['6.30']);
      } finally {
        await index.close();
      }
    });
  });
});

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`person names matched group by group (${backend.name})`, () => {
    test("a key's groups match the name's, and a key's empty group any", async () => {
      const index = await (await fresh())();
      try {
        await index.storeInstance(record({ sop: '7.1', study: '7.10', patientId: 'G1', patientName: 'Yamada^Tarou=山田^太郎=やまだ^たろう' }), 'insert');
        await index.storeInstance(record({ sop: '7.2', study: '7.20', patientId: 'G2', patientName: 'Yamada^Tarou' }), 'insert');
        await index.storeInstance(record({ sop: '7.3', study: '7.30', patientId: 'G3', patientName: 'Yamada^Tarou=山田^太郎' }), 'insert');
        await index.storeInstance(record({ sop: '7.4', study: '7.40', patientId: 'G4', patientName: 'Yamada^Taro=山田^太郎' }), 'insert');
        await index.storeInstance(record({ sop: '7.5', study: '7.50', patientId: 'G5', patientName: 'Yamada^Tarou2' }), 'insert');
        for (const [key, found] of [
          ['Yamada^Tarou', ['7.10', '7.20', '7.30']],
          ['YAMADA^TAROU', []],
          ['Yamada^Tarou=山田^太郎', ['7.10', '7.30']],
          ['=山田^太郎', ['7.10', '7.30', '7.40']],
          ['Yamada^Tar?u', ['7.10', '7.20', '7.30']],
          ['==やまだ^たろう', ['7.10']],
          ['Yamada^Tarou==やまだ^たろう', ['7.10']],
          ['Yamada^Taro', ['7.40']],
          ['=山田', []],
          ['Yamada^*', ['7.10', '7.20', '7.30', '7.40', '7.50']],
          // A pattern whose alphabetic group is empty: that group matches any (it matched none).
          ['=山田*', ['7.10', '7.30', '7.40']],
          ['=山田^太*', ['7.10', '7.30', '7.40']],
        ] as const) {
          assert.deepEqual(await studies(index, 'PatientName', key), found, key);
        }
      } finally {
        await index.close();
      }
    });
  });
});

/** What an older version wrote: the long forms as they came. */
const LONG_ROWS = [
  "UPDATE patients SET patient_name = patient_name || '^^^', patient_name_fold = patient_name_fold || '^^^' WHERE patient_id = 'P1'",
  "UPDATE patients SET patient_name = 'Yamada^Tarou^=山田^太郎^^=', patient_name_fold = 'YAMADA^TAROU^=山田^太郎^^=' WHERE patient_id = 'P2'",
  "UPDATE studies SET referring_physician_name = referring_physician_name || '^^', referring_physician_name_fold = referring_physician_name_fold || '^^'",
];
const FORMS_SQL = `SELECT study_instance_uid || '|' || patient_name || '|' || patient_name_fold || '|' || referring_physician_name || '|' || referring_physician_name_fold AS row FROM studies WHERE study_instance_uid < '6.4' ORDER BY study_instance_uid`;
const SHORT_ROWS = ['6.10|Doe^John|DOE^JOHN|House^Gregory|HOUSE^GREGORY', '6.20|Doe^John|DOE^JOHN|House^Gregory|HOUSE^GREGORY', '6.30|Yamada^Tarou=山田^太郎|YAMADA^TAROU=山田^太郎|House^Gregory|HOUSE^GREGORY'];

describe('migration 12 rewrites the long forms an older version kept', () => {
  migrationTests(12, async (old) => {
    await storeLong(old.index);
    for (const sql of LONG_ROWS) await old.exec(sql);
    assert.match((await old.column(FORMS_SQL))[0]!, /Doe\^John\^\^\^/);
    await old.index.migrate();
    assert.deepEqual(await old.column(FORMS_SQL), SHORT_ROWS);
    await assertShortForm(old.index);
  });
});
