// The unique keys of a C-GET / C-MOVE, against DCMTK's getscu: a Patient ID retrieves only the
// patient of the Issuer of Patient ID given (two hospitals' patients may share an ID); a key of
// separators alone ('\'), an empty value in a list, or a wildcard is refused 0xA900 with nothing
// sent — '\' was read as a universal C-FIND key and retrieved the whole archive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const ID = 'SHARED-ID-9';

describe('C-GET unique keys', () => {
  let pacs: TestPacs;
  const studyOf: Record<string, string> = {};

  /** A copy of a sample under new UIDs, with Patient ID `ID` and the issuer given. */
  async function copyFor(issuer: string): Promise<string> {
    const file = path.join(pacs.dir, `keys-${issuer}.dcm`);
    fs.copyFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm'), file);
    const r = await run('dcmodify', ['-nb', '-gst', '-gse', '-gin', '-i', `PatientID=${ID}`, '-i', `IssuerOfPatientID=${issuer}`, file]);
    assert.equal(r.code, 0, r.stderr);
    const dump = await run('dcmdump', ['+P', 'StudyInstanceUID', file]);
    studyOf[issuer] = /\[([0-9.]+)\]/.exec(dump.stdout)![1]!;
    return file;
  }

  before(async () => {
    pacs = await startTestPacs({});
    const files = [await copyFor('HOSP_A'), await copyFor('HOSP_B'), path.join(SAMPLES, 'pydicom__MR_small.dcm')];
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => pacs.stop());

  /** getscu with these keys: what it printed and the files it received. */
  async function get(keys: string[], root: '-P' | '-S' = '-S') {
    const out = fs.mkdtempSync(path.join(pacs.dir, 'get-'));
    const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', root, '-od', out, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(pacs.port)]);
    return { ...r, received: fs.readdirSync(out).length };
  }
  const refused = (r: { stderr: string; stdout: string }) => assert.match(r.stderr + r.stdout, /DataSetDoesNotMatchSOPClass|Identifier does not match SOP Class|a900/i, r.stderr);

  test('PATIENT level, a Patient ID with its issuer: that hospital\'s patient only', async () => {
    const a = await get(['0008,0052=PATIENT', `PatientID=${ID}`, 'IssuerOfPatientID=HOSP_A'], '-P');
    assert.equal(a.received, 1, a.stderr);
    const both = await get(['0008,0052=PATIENT', `PatientID=${ID}`], '-P');
    assert.equal(both.received, 2, both.stderr);
  });

  test('STUDY level in the patient root, with the issuer: only that patient\'s studies', async () => {
    const r = await get(['0008,0052=STUDY', `PatientID=${ID}`, 'IssuerOfPatientID=HOSP_B', `StudyInstanceUID=${studyOf.HOSP_A}\\${studyOf.HOSP_B}`], '-P');
    assert.equal(r.received, 1, r.stderr);
  });

  test('a list of two Study Instance UIDs: both', async () => {
    const r = await get(['0008,0052=STUDY', `StudyInstanceUID=${studyOf.HOSP_A}\\${studyOf.HOSP_B}`]);
    assert.equal(r.received, 2, r.stderr);
  });

  test('a unique key of separators alone, with an empty value in its list, or a wildcard: 0xA900, nothing sent', async () => {
    for (const keys of [
      ['0008,0052=STUDY', 'StudyInstanceUID=\\'],
      ['0008,0052=STUDY', `StudyInstanceUID=${studyOf.HOSP_A}\\`],
      ['0008,0052=IMAGE', `StudyInstanceUID=${studyOf.HOSP_A}`, 'SeriesInstanceUID=\\\\', 'SOPInstanceUID=1.2.3'],
      ['0008,0052=STUDY', 'StudyInstanceUID=1.2.*'],
    ]) {
      const r = await get(keys);
      refused(r);
      assert.equal(r.received, 0, keys.join(' '));
    }
    const patient = await get(['0008,0052=PATIENT', 'PatientID=\\'], '-P');
    refused(patient);
    assert.equal(patient.received, 0);
  });
});
