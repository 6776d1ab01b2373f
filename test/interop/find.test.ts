// C-FIND SCP against DCMTK's findscu: both information models, every level, the matching
// rules of PS3.4 C.2.2.2, character sets, failure statuses and C-CANCEL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { record } from '../contract/fixtures.js';

interface Answer {
  status: string;
  values: Map<string, string | null>;
}

/** Runs findscu -v and reads each response: its status and its attributes by tag "gggg,eeee". */
async function findscu(port: number, args: string[]): Promise<{ answers: Answer[]; final: string; out: string }> {
  const r = await run('findscu', ['-v', '-aec', 'PACS_SERVER', ...args, '127.0.0.1', String(port)]);
  const out = r.stdout + r.stderr;
  const blocks = out.split(/I: Find Response: \d+ /).slice(1);
  const answers = blocks.map((b) => {
    const status = /^\(([^)]+)\)/.exec(b)?.[1] ?? '';
    const values = new Map<string, string | null>();
    for (const m of b.matchAll(/^I: \(([0-9a-f]{4},[0-9a-f]{4})\) \w\w (?:\[(.*?)\]|\(no value available\)|\(Sequence)/gim))
      values.set(m[1]!.toLowerCase(), m[2] === undefined ? null : m[2].replace(/[\s\0]+$/, '')); // padding is not part of the value
    return { status, values };
  });
  const final = /Received Final Find Response \(([^)]*)\)/.exec(out)?.[1] ?? '';
  return { answers: answers.filter((a) => a.status === 'Pending'), final, out };
}

describe('C-FIND with findscu', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs();
    const files = ['pydicom-dicomdir__77654033_CR1_6154.dcm', 'pydicom-dicomdir__77654033_CR2_6247.dcm', 'pydicom-dicomdir__77654033_CR3_6278.dcm',
      'pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm', 'pydicom-dicomdir__77654033_CT2_17166.dcm',
      'pydicom-dicomdir__77654033_CT2_17196.dcm', 'pydicom__chrFren.dcm', 'pydicom__chrH31.dcm', 'pydicom__chrGreek.dcm', 'pydicom__CT_small.dcm'].map((f) => path.join(SAMPLES, f));
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => pacs.stop());

  test('Study Root, STUDY level by PatientID: both studies with computed attributes', async () => {
    const { answers, final } = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID', '-k', 'StudyDate', '-k', 'ModalitiesInStudy', '-k', 'NumberOfStudyRelatedSeries', '-k', 'NumberOfStudyRelatedInstances']);
    assert.equal(final, 'Success');
    assert.equal(answers.length, 2);
    const byDate = new Map(answers.map((a) => [a.values.get('0008,0020'), a.values]));
    assert.equal(byDate.get('20010101')?.get('0008,0061'), 'CR');
    assert.equal(byDate.get('20010101')?.get('0020,1206'), '3');
    assert.equal(byDate.get('20010101')?.get('0020,1208'), '3');
    assert.equal(byDate.get('19950903')?.get('0008,0061'), 'CT');
    assert.equal(byDate.get('19950903')?.get('0020,1208'), '4');
    for (const a of answers) {
      assert.equal(a.values.get('0008,0054'), 'PACS_SERVER', 'Retrieve AE Title');
      assert.equal(a.values.get('0008,0052'), 'STUDY');
      assert.ok(!a.values.has('0010,0010'), 'only requested keys (PatientName was not)');
    }
  });

  test('a key with a value that is not matched (not held; below the level): each answer 0xFF01, the SCU told its keys were not all used', async () => {
    // The last: a sequence key with a value in its item (sequence matching, which the index does not do).
    for (const key of ['OperatorsName=NOBODY', 'SOPInstanceUID=1.2.3', 'ProcedureCodeSequence[0].CodeValue=XYZ']) {
      const { out, final } = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=77654033', '-k', key, '-k', 'StudyInstanceUID']);
      assert.equal(final, 'Success');
      const statuses = [...out.matchAll(/I: Find Response: \d+ \(([^)]+)\)/g)].map((m) => m[1]);
      assert.equal(statuses.length, 2, out);
      for (const s of statuses) assert.match(s!, /Warning|0xff01/i, out);
    }
    // Return keys and matched keys only (a sequence with empty keys in its item too): plain Pending.
    const plain = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=77654033', '-k', 'OperatorsName', '-k', 'ProcedureCodeSequence[0].CodeValue', '-k', 'StudyInstanceUID']);
    assert.equal(plain.answers.length, 2, plain.out);
    assert.doesNotMatch(plain.out, /Find Response: \d+ \((Warning|0xff01)/i);
  });

  test('date range, modality and case-insensitive person-name wildcard', async () => {
    const range = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'StudyDate=20000101-20021231', '-k', 'StudyInstanceUID']);
    assert.deepEqual(range.answers.map((a) => a.values.get('0020,000d')), ['1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1']);
    const mod = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'ModalitiesInStudy=CT', '-k', 'PatientID']);
    assert.ok(mod.answers.some((a) => a.values.get('0010,0020') === '77654033'));
    const name = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientName=doe*', '-k', 'PatientID']);
    assert.equal(name.answers.length, 2);
    const accent = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientName=buc^jerome', '-k', 'PatientID']);
    assert.deepEqual(accent.answers.map((a) => a.values.get('0010,0020')), ['SCSFREN']);
  });

  test('Patient Root: PATIENT, then STUDY, SERIES and IMAGE with the unique keys above', async () => {
    const patients = await findscu(pacs.port, ['-P', '-k', '0008,0052=PATIENT', '-k', 'PatientID=77654033', '-k', 'NumberOfPatientRelatedStudies', '-k', 'NumberOfPatientRelatedInstances']);
    assert.equal(patients.answers.length, 1);
    assert.equal(patients.answers[0]!.values.get('0020,1200'), '2');
    assert.equal(patients.answers[0]!.values.get('0020,1204'), '7');
    const series = await findscu(pacs.port, ['-P', '-k', '0008,0052=SERIES', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID=1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1', '-k', 'SeriesInstanceUID', '-k', 'Modality', '-k', 'NumberOfSeriesRelatedInstances']);
    assert.equal(series.answers.length, 3);
    assert.ok(series.answers.every((a) => a.values.get('0008,0060') === 'CR' && a.values.get('0020,1209') === '1'));
    const images = await findscu(pacs.port, ['-S', '-k', '0008,0052=IMAGE', '-k', 'StudyInstanceUID=1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1', '-k', 'SeriesInstanceUID=1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2', '-k', 'SOPInstanceUID']);
    assert.equal(images.answers.length, 4);
  });

  test('a hierarchical query without the unique key above: failure 0xA900 with a comment', async () => {
    const r = await findscu(pacs.port, ['-S', '-k', '0008,0052=SERIES', '-k', 'Modality=CT']);
    assert.equal(r.answers.length, 0);
    assert.match(r.out, /DataSetDoesNotMatchSOPClass|Identifier does not match|0xa900/i);
    const level = await findscu(pacs.port, ['-S', '-k', '0008,0052=PATIENT', '-k', 'PatientID']);
    assert.match(level.out, /DataSetDoesNotMatchSOPClass|Identifier does not match|0xa900/i, 'no PATIENT level in Study Root');
  });

  test('non-ASCII names come back in a character set that carries them', async () => {
    const r = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=H31EXAMPLE', '-k', 'PatientName']);
    assert.equal(r.answers.length, 1);
    assert.equal(r.answers[0]!.values.get('0008,0005'), 'ISO_IR 192');
    assert.match(r.answers[0]!.values.get('0010,0010') ?? '', /^Yamada\^Tarou=/);
  });

  test('C-CANCEL after the first response', async () => {
    const r = await findscu(pacs.port, ['-S', '--cancel', '1', '-k', '0008,0052=STUDY', '-k', 'StudyInstanceUID']);
    assert.ok(r.answers.length >= 1);
    assert.match(r.out, /Cancel/i);
  });
});

describe('C-FIND over more matches than one page of the index', () => {
  let pacs: TestPacs;
  const STUDIES = 1100; // the SCP reads 1,000 at a time
  before(async () => {
    pacs = await startTestPacs();
    for (let s = 1; s <= STUDIES; s++) await pacs.server.archive.index.storeInstance(record({ sop: `7.${s}.1.1`, study: `7.${s}`, patientId: `MANY${s % 7}` }), 'insert');
  });
  after(() => pacs.stop());

  test('every match answered, each once, read from the index a page at a time; query.max_results still cuts', async () => {
    const all = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'StudyInstanceUID']);
    assert.equal(all.final, 'Success');
    const uids = all.answers.map((a) => a.values.get('0020,000d'));
    assert.equal(uids.length, STUDIES);
    assert.equal(new Set(uids).size, STUDIES, 'none twice');
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, query: { ...c.query, max_results: 1050 } });
    try {
      const cut = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=MANY3', '-k', 'StudyInstanceUID']);
      assert.equal(cut.answers.length, 157, 'fewer matches than the cap: all of them');
      const capped = await findscu(pacs.port, ['-S', '-k', '0008,0052=STUDY', '-k', 'StudyInstanceUID']);
      assert.equal(capped.answers.length, 1050);
      assert.deepEqual(capped.answers.map((a) => a.values.get('0020,000d')), uids.slice(-1050).reverse(), 'the newest ones, newest first');
    } finally {
      pacs.server.reload(c);
    }
  });
});
