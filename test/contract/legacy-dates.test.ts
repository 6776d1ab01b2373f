// Migration 14 rewrites dates and times an older version kept in the ACR-NEMA form (YYYY.MM.DD,
// HH:MM:SS) in the standard one, so that queries match them — with the same result on SQLite
// and PostgreSQL. (New stores are normalised when the record is built: instance-record.test.ts.)
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ArchiveIndex } from '../../src/index/types.js';
import { migrationTests } from './backends.js';
import { record } from './fixtures.js';

const studies = async (index: ArchiveIndex, keyword: string, value: string): Promise<string[]> =>
  (await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: true, keys: [{ keyword, value }, { keyword: 'StudyInstanceUID', value: '' }] })).map((r) => String(r.StudyInstanceUID));

describe('migration 14 rewrites ACR-NEMA dates and times', () => {
  migrationTests(14, async (old) => {
    await old.index.storeInstance(record({ sop: '8.1.1.1', study: '8.1', patientId: 'L1' }), 'insert');
    await old.index.storeInstance(record({ sop: '8.2.1.1', study: '8.2', patientId: 'L2' }), 'insert');
    // As an older version kept what it received.
    await old.exec(`UPDATE studies SET study_date = '2024.01.07', study_time = '10:17:00' WHERE study_instance_uid = '8.1'`);
    await old.exec(`UPDATE patients SET patient_birth_date = '1950.12.31' WHERE patient_id = 'L1'`);
    await old.exec(`UPDATE series SET series_time = '09:05' WHERE series_instance_uid = '8.1.1'`);
    await old.exec(`UPDATE instances SET content_date = '2024.01.07', acquisition_time = '10:15:30.5' WHERE sop_instance_uid = '8.1.1.1'`);
    assert.deepEqual(await studies(old.index, 'StudyDate', '20240107'), []);
    await old.index.migrate();
    assert.deepEqual(await old.column(`SELECT study_date || ' ' || study_time FROM studies WHERE study_instance_uid = '8.1'`), ['20240107 101700']);
    assert.deepEqual(await old.column(`SELECT patient_birth_date FROM patients WHERE patient_id = 'L1'`), ['19501231']);
    assert.deepEqual(await old.column(`SELECT patient_birth_date FROM studies WHERE study_instance_uid = '8.1'`), ['19501231'], "the study's copy follows");
    assert.deepEqual(await old.column(`SELECT series_time FROM series WHERE series_instance_uid = '8.1.1'`), ['0905']);
    assert.deepEqual(await old.column(`SELECT content_date || ' ' || acquisition_time FROM instances WHERE sop_instance_uid = '8.1.1.1'`), ['20240107 101530.5']);
    assert.deepEqual(await studies(old.index, 'StudyDate', '20240107'), ['8.1']);
    assert.deepEqual(await studies(old.index, 'StudyDate', '20240105-20240110'), ['8.1']);
    assert.deepEqual(await studies(old.index, 'StudyTime', '1017'), ['8.1']);
    assert.deepEqual(await studies(old.index, 'StudyDate', '20240102'), ['8.2'], 'the others unchanged');
  });
});
