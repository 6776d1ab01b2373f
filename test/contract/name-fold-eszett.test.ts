// Fuzzy person-name matching keeps one character for one (src/index/fold.ts): 'Wei?' finds Weiß,
// as '?' matches one character of the name; and migration 13 refolds the names an older version
// folded with ß → SS — with the same result on SQLite (a JavaScript function) and PostgreSQL
// (rows read and written back).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ArchiveIndex } from '../../src/index/types.js';
import { BACKENDS, migrationTests } from './backends.js';
import { record } from './fixtures.js';

const NAMES = ['Weiß^Anna', 'Voß^Jürgen', 'Straße^Eva', 'Weiss^Otto'];

async function storeNames(index: ArchiveIndex): Promise<void> {
  for (const [i, name] of NAMES.entries())
    await index.storeInstance(record({ sop: `7.${i + 1}.1.1`, study: `7.${i + 1}`, patientId: `E${i + 1}`, patientName: name, referringPhysician: name }), 'insert');
}

async function names(index: ArchiveIndex, keyword: 'PatientName' | 'ReferringPhysicianName', value: string): Promise<string[]> {
  const rows = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: true, fuzzyNames: true, keys: [{ keyword, value }, { keyword: 'PatientName', value: '' }] });
  return rows.map((r) => String(r.PatientName)).sort();
}

async function assertMatching(index: ArchiveIndex): Promise<void> {
  assert.deepEqual(await names(index, 'PatientName', 'wei?^*'), ['Weiß^Anna']);
  assert.deepEqual(await names(index, 'PatientName', 'Stra?e*'), ['Straße^Eva']);
  assert.deepEqual(await names(index, 'PatientName', 'vo?*'), ['Voß^Jürgen']);
  assert.deepEqual(await names(index, 'PatientName', 'WEISS*'), ['Weiss^Otto'], 'SS is not ß');
  assert.deepEqual(await names(index, 'ReferringPhysicianName', 'Wei?^Anna'), ['Weiß^Anna']);
}

for (const backend of BACKENDS)
  backend.run((fresh) =>
    describe(`'?' matches ß in fuzzy name matching (${backend.name})`, () => {
      test('one character for one', async () => {
        const index = await (await fresh())();
        try {
          await storeNames(index);
          await assertMatching(index);
        } finally {
          await index.close();
        }
      });
    }),
  );

describe('migration 13 refolds the names folded with ß → SS', () => {
  migrationTests(13, async (old) => {
    await storeNames(old.index);
    // As the folding before version 13 left them.
    await old.exec(`UPDATE patients SET patient_name_fold = replace(patient_name_fold, 'ẞ', 'SS')`);
    await old.exec(`UPDATE studies SET referring_physician_name_fold = replace(referring_physician_name_fold, 'ẞ', 'SS')`);
    assert.deepEqual(await old.column(`SELECT patient_name_fold FROM patients WHERE patient_id = 'E1'`), ['WEISS^ANNA']);
    await old.index.migrate();
    assert.deepEqual(await old.column(`SELECT patient_name_fold FROM patients WHERE patient_id = 'E1'`), ['WEIẞ^ANNA']);
    assert.deepEqual(await old.column(`SELECT patient_name_fold FROM studies WHERE patient_id = 'E1'`), ['WEIẞ^ANNA'], "the study's copy follows");
    await assertMatching(old.index);
  });
});
