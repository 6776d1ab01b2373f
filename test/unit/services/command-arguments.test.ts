// {Keyword} in a command's arguments comes from the images, so from whoever sent them: never a
// path out of a folder, never an option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandArguments } from '../../../src/services/command-job.js';

test('values filled into a command are made safe; the rest of each argument is kept', () => {
  const values: Record<string, string> = { PatientID: '../../etc', StudyDescription: '--delete everything', AccessionNumber: 'A1\nrm', PatientName: 'Doe^John' };
  const argv = commandArguments(['/opt/lab/ingest', '{PatientID}', '{StudyDescription}', '--accession={AccessionNumber}', 'name: {PatientName}', '{Missing}', '/nas/lab/{Dots}'], (k) => ({ ...values, Dots: '..' })[k]);
  // Missing or nothing left ('..'): UNKNOWN, never an empty path component (/nas/lab/ would be the lab's whole folder).
  assert.deepEqual(argv, ['/opt/lab/ingest', 'etc', '_-delete_everything', '--accession=A1rm', 'name: Doe_John', 'UNKNOWN', '/nas/lab/UNKNOWN']);
});
