// Demographics set from outside DICOM (HL7 ADT^A08 through ArchiveIndex.updatePatient) are kept:
// the next image filed under the patient, carrying the name it was acquired with, used to rewrite
// them ("latest wins"), so a corrected name reverted with the next series. Patients whose
// demographics only images gave still follow their latest image. Same on both backends; an
// index made before migration 15 behaves as before until its first update.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ArchiveIndex } from '../../src/index/types.js';
import { BACKENDS, migrationTests } from './backends.js';
import { record } from './fixtures.js';

const patient = async (index: ArchiveIndex, id: string): Promise<unknown[]> => {
  const rows = await index.query({ level: 'PATIENT', model: 'PATIENT_ROOT', relational: false, keys: [{ keyword: 'PatientID', value: id }, { keyword: 'PatientName', value: '' }, { keyword: 'PatientBirthDate', value: '' }] });
  return rows.map((r) => [r.PatientName, r.PatientBirthDate]);
};
const studyNames = async (index: ArchiveIndex, id: string): Promise<unknown[]> =>
  (await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'PatientID', value: id }, { keyword: 'PatientName', value: '' }] })).map((r) => r.PatientName);

async function check(index: ArchiveIndex): Promise<void> {
  await index.storeInstance(record({ sop: '9.1.1', study: '9.1', patientId: 'H1', patientName: 'Old^Name' }), 'insert');
  await index.storeInstance(record({ sop: '9.2.1', study: '9.2', patientId: 'H2', patientName: 'Images^Only' }), 'insert');
  assert.equal(await index.updatePatient({ PatientID: 'H1', IssuerOfPatientID: null }, { PatientName: 'New^Name', PatientBirthDate: '19700101' }), true);
  // The modality sends more of the same study, then a new study, with what it was told at the scan.
  await index.storeInstance(record({ sop: '9.1.2', study: '9.1', patientId: 'H1', patientName: 'Old^Name' }), 'insert');
  await index.storeInstance(record({ sop: '9.3.1', study: '9.3', patientId: 'H1', patientName: 'Old^Name' }), 'insert');
  assert.deepEqual(await patient(index, 'H1'), [['New^Name', '19700101']], 'the update is kept');
  assert.deepEqual(await studyNames(index, 'H1'), ['New^Name', 'New^Name'], "and so are the studies' copies");
  // Images alone: the latest still wins.
  await index.storeInstance(record({ sop: '9.2.2', study: '9.2', patientId: 'H2', patientName: 'Images^Renamed' }), 'insert');
  await index.storeInstance(record({ sop: '9.4.1', study: '9.4', patientId: 'H2', patientName: 'Images^Again' }), 'insert');
  assert.deepEqual((await patient(index, 'H2')).map((p) => (p as unknown[])[0]), ['Images^Again']);
}

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`demographics set from outside DICOM are kept (${backend.name})`, () => {
    test('the next images do not rewrite them; images alone still do', async () => {
      const index = await (await fresh())();
      try {
        await check(index);
      } finally {
        await index.close();
      }
    });
  });
});

describe('migration 15 adds the mark, without changing what an older index held', () => {
  migrationTests(15, async (old) => {
    // As an older version wrote the row (this version's statements need the new column).
    await old.exec(`INSERT INTO patients (patient_id, issuer_of_patient_id, patient_name, patient_name_fold, created_at, updated_at) VALUES ('H5', '', 'Before^Migration', 'BEFORE^MIGRATION', 1, 1)`);
    await old.index.migrate();
    assert.deepEqual(await old.column(`SELECT coalesce(CAST(demographics_updated_at AS TEXT), 'null') FROM patients WHERE patient_id = 'H5'`), ['null']);
    await old.index.storeInstance(record({ sop: '9.5.2', study: '9.5', patientId: 'H5', patientName: 'After^Migration' }), 'insert');
    assert.deepEqual(await old.column(`SELECT patient_name FROM patients WHERE patient_id = 'H5'`), ['After^Migration'], 'images still own it');
  });
});
