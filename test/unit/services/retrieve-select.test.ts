// What a retrieve's selection asks of the index: the rows of a patient-level C-MOVE / C-GET
// carry the SOP Instance UID alone (it read every attribute of four levels per instance, some 60
// columns, for hundreds of thousands of instances), and its keys are the unique keys given.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectInstances } from '../../../src/services/retrieve.js';
import type { ArchiveIndex } from '../../../src/index/types.js';
import type { IndexQuery } from '../../../src/index/query/types.js';

test('a PATIENT level retrieve asks for the SOP Instance UIDs only, with Patient ID and issuer as keys', async () => {
  const asked: IndexQuery[] = [];
  const found: string[][] = [];
  const index = {
    query: async (q: IndexQuery) => {
      asked.push(q);
      return [{ SOPInstanceUID: '1.2.3' }, { SOPInstanceUID: '1.2.4' }];
    },
    findInstances: async (uids: string[]) => {
      found.push(uids);
      return [];
    },
  } as unknown as ArchiveIndex;
  await selectInstances(index, 'PATIENT_ROOT', 'PATIENT', [
    { keyword: 'PatientID', value: 'P1' },
    { keyword: 'IssuerOfPatientID', value: 'HOSP' },
    { keyword: 'PatientName', value: 'DOE*' },
  ]);
  assert.equal(asked.length, 1);
  assert.deepEqual(asked[0]!.returnKeys, ['SOPInstanceUID']);
  assert.deepEqual(
    asked[0]!.keys.map((k) => k.keyword),
    ['PatientID', 'IssuerOfPatientID', 'SOPInstanceUID'],
  );
  assert.deepEqual(found, [['1.2.3', '1.2.4']]);
});
