// The archive index contract: what every backend must do, tested through ArchiveIndex alone.
// A backend's test file calls runIndexContract with a factory that returns a fresh, migrated,
// empty index; each test closes the index it made.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPacsError } from '../../src/core/errors.js';
import type { ArchiveIndex, PatientKey } from '../../src/index/types.js';
import { CT, MR, SR, record } from './fixtures.js';
import { runIndexQueryContract } from './index-query-contract.js';

type Make = () => Promise<ArchiveIndex>;

const isCode = (code: string) => (e: unknown) => isPacsError(e) && e.code === code;

/** One ADT^A40 pair through the index: the number of studies moved. */
const merge = async (index: ArchiveIndex, prior: PatientKey, surviving: PatientKey): Promise<number> =>
  (await index.mergePatients([{ prior, surviving, controlId: 'CONTRACT' }]))[0]!.studies;

export function runIndexContract(name: string, makeIndex: Make): void {
  const it = (title: string, fn: (index: ArchiveIndex) => Promise<void>) =>
    test(title, async () => {
      const index = await makeIndex();
      try {
        await fn(index);
      } finally {
        await index.close();
      }
    });

  describe(`ArchiveIndex contract: ${name}`, () => {
    it('starts empty', async (index) => {
      assert.deepEqual(await index.statistics(), { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 });
      assert.deepEqual(await index.listInstances(null, 10), []);
      assert.deepEqual(await index.changesSince(0, 10), []);
      assert.equal(await index.findInstance('1.2.3'), null);
    });

    it('deleting an instance deletes its prepared metadata in the same transaction', async (index) => {
      await index.storeInstance(record({ sop: '1.2.3.9.1.1' }), 'insert');
      await index.metadata.put('1.2.3.9.1.1', '{"prepared":true}');
      assert.equal(await index.metadata.get('1.2.3.9.1.1'), '{"prepared":true}');
      await index.deleteInstance('1.2.3.9.1.1');
      // Not left for a separate forget() that a crash would skip: no text outlives its row.
      assert.equal(await index.metadata.get('1.2.3.9.1.1'), null);
    });

    it('inserts an instance and finds it by UID and by path', async (index) => {
      const r = record({ sop: '1.2.3.1.1.1', size: 1234 });
      const out = await index.storeInstance(r, 'insert');
      assert.equal(out.outcome, 'inserted');
      assert.equal(out.previous, null);
      assert.ok(out.changeSeq > 0);
      const expected = {
        SOPInstanceUID: '1.2.3.1.1.1',
        SOPClassUID: CT,
        SeriesInstanceUID: '1.2.3.1.1',
        StudyInstanceUID: '1.2.3.1',
        PatientID: 'PID1',
        path: r.file.path,
        size: 1234,
        transferSyntaxUID: '1.2.840.10008.1.2.1',
        checksum: r.file.checksum,
        receivedAt: r.receivedAt,
      };
      assert.deepEqual(await index.findInstance('1.2.3.1.1.1'), expected);
      assert.deepEqual(await index.senderOf('1.2.3.1.1.1'), { callingAE: r.provenance.callingAE, calledAE: r.provenance.calledAE, remoteAddress: r.provenance.remoteAddress });
      assert.equal(await index.senderOf('1.2.3.9.9.9'), null);
      assert.deepEqual(await index.findInstanceByPath(r.file.path), expected);
      assert.equal(await index.findInstanceByPath('no/such/path.dcm'), null);
      const study = await index.findStudy('1.2.3.1');
      assert.equal(study?.StudyDescription, 'CT HEAD');
      assert.equal(study?.ReferringPhysicianName, 'House^Gregory');
      const series = await index.findSeries('1.2.3.1.1');
      assert.equal(series?.StudyInstanceUID, '1.2.3.1');
      assert.equal(series?.FrameOfReferenceUID, '1.2.3.1.1.0');
      assert.equal(series?.PatientPosition, 'HFS');
      assert.equal(series?.ContrastBolusAgent, 'Iohexol 350');
      const patient = await index.findPatient('PID1', null);
      assert.equal(patient?.PatientName, 'Doe^Jane');
      assert.equal(patient?.IssuerOfPatientID, null);
    });

    it('updates a patient\'s demographics; only the keys given change', async (index) => {
      await index.storeInstance(record({ sop: '1.7.1', patientId: 'PU' }), 'insert');
      assert.equal(await index.updatePatient({ PatientID: 'PU', IssuerOfPatientID: null }, { PatientName: 'Roe^Jane', PatientSex: null }), true);
      const p = await index.findPatient('PU', null);
      assert.equal(p?.PatientName, 'Roe^Jane');
      assert.equal(p?.PatientSex, null);
      assert.equal(p?.PatientBirthDate, record({ sop: 'x' }).patient.PatientBirthDate, 'birth date not given: unchanged');
      const byName = await index.query({ level: 'PATIENT', model: 'PATIENT_ROOT', relational: false, keys: [{ keyword: 'PatientName', value: 'roe*' }, { keyword: 'PatientID', value: '' }] });
      assert.deepEqual(byName.map((r) => r.PatientID), ['PU'], 'queries see the new (folded) name');
      assert.equal(await index.updatePatient({ PatientID: 'NOPE', IssuerOfPatientID: null }, { PatientName: 'X' }), false);
    });

    it('merges a patient into another: studies move, counts follow, the old patient goes', async (index) => {
      await index.storeInstance(record({ sop: '1.8.1', study: '1.8.10', patientId: 'OLD' }), 'insert');
      await index.storeInstance(record({ sop: '1.8.2', study: '1.8.20', patientId: 'NEW' }), 'insert');
      assert.equal(await merge(index, { PatientID: 'OLD', IssuerOfPatientID: null }, { PatientID: 'NEW', IssuerOfPatientID: null }), 1);
      assert.equal(await index.findPatient('OLD', null), null);
      assert.equal((await index.findPatient('NEW', null))?.NumberOfPatientRelatedStudies, 2);
      assert.equal((await index.findPatient('NEW', null))?.NumberOfPatientRelatedInstances, 2);
      assert.equal((await index.findInstance('1.8.1'))?.PatientID, 'NEW');
      assert.equal((await index.statistics()).patients, 1);
      // Removing what was moved keeps the survivor's counts right.
      await index.deleteInstance('1.8.1');
      assert.equal((await index.findPatient('NEW', null))?.NumberOfPatientRelatedStudies, 1);
      // A survivor not indexed yet: the old patient takes its identity.
      assert.equal(await merge(index, { PatientID: 'NEW', IssuerOfPatientID: null }, { PatientID: 'NEWER', IssuerOfPatientID: null }), 1);
      assert.equal((await index.findInstance('1.8.2'))?.PatientID, 'NEWER');
      assert.equal(await merge(index, { PatientID: 'GONE', IssuerOfPatientID: null }, { PatientID: 'NEWER', IssuerOfPatientID: null }), 0);
    });

    // Study-level name keys match on the studies' copy of the patient's folded name (migration
    // 11): wherever the patient's name changes or a study changes patient, the copy follows.
    const studiesNamed = async (index: ArchiveIndex, name: string, level: 'STUDY' | 'SERIES' = 'STUDY'): Promise<string[]> =>
      (
        await index.query({
          level,
          model: 'STUDY_ROOT',
          relational: true,
          keys: [{ keyword: 'PatientName', value: name }, { keyword: 'StudyInstanceUID', value: '' }],
        })
      )
        .map((r) => String(r.StudyInstanceUID))
        .sort();

    it('study-level PatientName keys see a patient renamed by updatePatient, on every study of the patient', async (index) => {
      await index.storeInstance(record({ sop: '1.7.1', study: '1.7.10', patientId: 'PU' }), 'insert');
      await index.storeInstance(record({ sop: '1.7.2', study: '1.7.20', patientId: 'PU' }), 'insert');
      await index.storeInstance(record({ sop: '1.7.3', study: '1.7.30', patientId: 'OTHER', patientName: 'Doe^John' }), 'insert');
      assert.deepEqual(await studiesNamed(index, 'doe^j*'), ['1.7.10', '1.7.20', '1.7.30']);
      await index.updatePatient({ PatientID: 'PU', IssuerOfPatientID: null }, { PatientName: 'Röe^Jane' });
      assert.deepEqual(await studiesNamed(index, 'ROE^J*'), ['1.7.10', '1.7.20']);
      assert.deepEqual(await studiesNamed(index, 'roe^jane'), ['1.7.10', '1.7.20'], 'an exact name, folded');
      assert.deepEqual(await studiesNamed(index, 'doe^j*'), ['1.7.30']);
      assert.deepEqual(await studiesNamed(index, 'r?e*', 'SERIES'), ['1.7.10', '1.7.20'], 'series level, through its studies');
      // Changing something else leaves the name; removing the name matches it no more.
      await index.updatePatient({ PatientID: 'PU', IssuerOfPatientID: null }, { PatientSex: 'O' });
      assert.deepEqual(await studiesNamed(index, 'roe*'), ['1.7.10', '1.7.20']);
      await index.updatePatient({ PatientID: 'PU', IssuerOfPatientID: null }, { PatientName: null });
      assert.deepEqual(await studiesNamed(index, '*'), ['1.7.10', '1.7.20', '1.7.30'], "'*' is universal: every study");
      assert.deepEqual(await studiesNamed(index, '*e*'), ['1.7.30']);
    });

    it('study-level PatientName keys see studies merged into another patient under that patient\'s name', async (index) => {
      await index.storeInstance(record({ sop: '1.8.1', study: '1.8.10', patientId: 'OLD', patientName: 'Old^Name' }), 'insert');
      await index.storeInstance(record({ sop: '1.8.2', study: '1.8.20', patientId: 'NEW', patientName: 'New^Name' }), 'insert');
      await merge(index, { PatientID: 'OLD', IssuerOfPatientID: null }, { PatientID: 'NEW', IssuerOfPatientID: null });
      assert.deepEqual(await studiesNamed(index, 'new^*'), ['1.8.10', '1.8.20']);
      assert.deepEqual(await studiesNamed(index, 'old^*'), []);
      // A study stored later for the survivor, under its name, then a rename: all three follow.
      await index.storeInstance(record({ sop: '1.8.3', study: '1.8.30', patientId: 'NEW', patientName: 'New^Name' }), 'insert');
      await index.updatePatient({ PatientID: 'NEW', IssuerOfPatientID: null }, { PatientName: 'Newer^Name' });
      assert.deepEqual(await studiesNamed(index, 'newer*'), ['1.8.10', '1.8.20', '1.8.30']);
      // A survivor not indexed yet takes the old patient's row, name and all.
      await merge(index, { PatientID: 'NEW', IssuerOfPatientID: null }, { PatientID: 'NEWEST', IssuerOfPatientID: null });
      assert.deepEqual(await studiesNamed(index, 'newer*'), ['1.8.10', '1.8.20', '1.8.30']);
    });

    it('study-level PatientName keys follow a name changed by a store, on every study of the patient', async (index) => {
      await index.storeInstance(record({ sop: '1.6.1', study: '1.6.10', patientId: 'PS', patientName: 'Doe^Jane' }), 'insert');
      // A new study with a new name ("latest wins"): the patient's older study follows it.
      await index.storeInstance(record({ sop: '1.6.2', study: '1.6.20', patientId: 'PS', patientName: 'Roe^Jane' }), 'insert');
      assert.deepEqual(await studiesNamed(index, 'roe*'), ['1.6.10', '1.6.20']);
      assert.deepEqual(await studiesNamed(index, 'doe*'), []);
      // An instance of an existing study with another name again.
      await index.storeInstance(record({ sop: '1.6.3', study: '1.6.10', patientId: 'PS', patientName: 'Poe^Jane' }), 'insert');
      assert.deepEqual(await studiesNamed(index, 'poe*'), ['1.6.10', '1.6.20']);
      // A study already filed under another patient stays with it, and with that patient's name.
      await index.storeInstance(record({ sop: '1.6.4', study: '1.6.10', patientId: 'INTRUDER', patientName: 'Zed^Zoe' }), 'insert');
      assert.deepEqual(await studiesNamed(index, 'zed*'), []);
      assert.deepEqual(await studiesNamed(index, 'poe*'), ['1.6.10', '1.6.20']);
    });

    // Study-level answers take every patient attribute from the studies' copies (no join when
    // the patient's counts are not asked for): IDs, issuers, birth dates and sexes follow too.
    const patientOfStudies = async (index: ArchiveIndex, keys: Record<string, string>): Promise<string[]> =>
      (
        await index.query({
          level: 'STUDY',
          model: 'STUDY_ROOT',
          relational: false,
          returnKeys: [],
          keys: Object.entries({ PatientID: '', IssuerOfPatientID: '', PatientName: '', PatientBirthDate: '', PatientSex: '', ...keys }).map(([keyword, value]) => ({ keyword, value })),
        })
      )
        .map((r) => [r.StudyInstanceUID, r.PatientID, r.IssuerOfPatientID ?? '-', r.PatientName, r.PatientBirthDate, r.PatientSex].join('|'))
        .sort();

    it('study-level answers carry the patient\'s current attributes: updates, a new ID by merge, an issuer', async (index) => {
      await index.storeInstance(record({ sop: '1.5.1', study: '1.5.10', patientId: 'PA', patientName: 'Doe^Jane' }), 'insert');
      await index.storeInstance(record({ sop: '1.5.2', study: '1.5.20', patientId: 'PA', patientName: 'Doe^Jane' }), 'insert');
      await index.storeInstance(record({ sop: '1.5.3', study: '1.5.30', patientId: 'PA', issuer: 'HOSP-B', patientName: 'Other^Pat' }), 'insert');
      assert.deepEqual(await patientOfStudies(index, { PatientID: 'PA' }), [
        '1.5.10|PA|-|Doe^Jane|19700101|F',
        '1.5.20|PA|-|Doe^Jane|19700101|F',
        '1.5.30|PA|HOSP-B|Other^Pat|19700101|F',
      ]);
      assert.deepEqual(await patientOfStudies(index, { PatientID: 'PA', IssuerOfPatientID: 'HOSP-B' }), ['1.5.30|PA|HOSP-B|Other^Pat|19700101|F']);
      await index.updatePatient({ PatientID: 'PA', IssuerOfPatientID: null }, { PatientBirthDate: '19711231', PatientSex: 'O' });
      assert.deepEqual(await patientOfStudies(index, { PatientBirthDate: '19710101-19721231' }), ['1.5.10|PA|-|Doe^Jane|19711231|O', '1.5.20|PA|-|Doe^Jane|19711231|O']);
      assert.deepEqual(await patientOfStudies(index, { PatientSex: 'O' }), ['1.5.10|PA|-|Doe^Jane|19711231|O', '1.5.20|PA|-|Doe^Jane|19711231|O']);
      // Merged into an ID not indexed yet: the patient's row takes the new ID, its studies with it.
      await merge(index, { PatientID: 'PA', IssuerOfPatientID: null }, { PatientID: 'PB', IssuerOfPatientID: null });
      assert.deepEqual(await patientOfStudies(index, { PatientID: 'PB' }), ['1.5.10|PB|-|Doe^Jane|19711231|O', '1.5.20|PB|-|Doe^Jane|19711231|O']);
      assert.deepEqual(await patientOfStudies(index, { PatientID: 'PA' }), ['1.5.30|PA|HOSP-B|Other^Pat|19700101|F']);
      // Merged into an existing patient: the studies take that patient's attributes.
      await merge(index, { PatientID: 'PB', IssuerOfPatientID: null }, { PatientID: 'PA', IssuerOfPatientID: 'HOSP-B' });
      assert.deepEqual(await patientOfStudies(index, { PatientID: 'PA' }), [
        '1.5.10|PA|HOSP-B|Other^Pat|19700101|F',
        '1.5.20|PA|HOSP-B|Other^Pat|19700101|F',
        '1.5.30|PA|HOSP-B|Other^Pat|19700101|F',
      ]);
    });

    it('refuses a duplicate insert with DUPLICATE_INSTANCE and changes nothing', async (index) => {
      await index.storeInstance(record({ sop: '1.9.1' }), 'insert');
      const before = await index.statistics();
      await assert.rejects(index.storeInstance(record({ sop: '1.9.1', path: 'other.dcm', size: 5 }), 'insert'), isCode('DUPLICATE_INSTANCE'));
      assert.deepEqual(await index.statistics(), before);
      assert.equal((await index.changesSince(0, 100)).length, 1);
      assert.equal((await index.findInstance('1.9.1'))?.size, 1000);
    });

    it('refuses a second instance at a path already indexed with INDEX_FAILURE', async (index) => {
      await index.storeInstance(record({ sop: '1.9.1', path: 'same.dcm' }), 'insert');
      await assert.rejects(index.storeInstance(record({ sop: '1.9.2', path: 'same.dcm' }), 'insert'), isCode('INDEX_FAILURE'));
      assert.equal((await index.statistics()).instances, 1);
      assert.equal(await index.findInstance('1.9.2'), null);
      assert.equal((await index.changesSince(0, 100)).length, 1);
    });

    it('replaces in place: returns the previous row, keeps the counts, updates size and path', async (index) => {
      const first = record({ sop: '1.9.1', path: 'a.dcm', size: 100 });
      await index.storeInstance(first, 'insert');
      const out = await index.storeInstance(record({ sop: '1.9.1', path: 'b.dcm', size: 150 }), 'replace');
      assert.equal(out.outcome, 'replaced');
      assert.equal(out.previous?.path, 'a.dcm');
      assert.equal(out.previous?.size, 100);
      assert.equal(await index.findInstanceByPath('a.dcm'), null);
      assert.equal((await index.findInstanceByPath('b.dcm'))?.SOPInstanceUID, '1.9.1');
      assert.deepEqual(await index.statistics(), { patients: 1, studies: 1, series: 1, instances: 1, bytes: 150 });
      const study = await index.findStudy('1.2.3.1');
      assert.equal(study?.NumberOfStudyRelatedInstances, 1);
      assert.equal(study?.sizeBytes, 150);
      const changes = await index.changesSince(0, 10);
      assert.deepEqual(changes.map((c) => c.kind), ['instance.stored', 'instance.replaced']);
      assert.equal(changes[1]?.seq, out.changeSeq);
    });

    it('replace of an instance not yet indexed inserts it', async (index) => {
      const out = await index.storeInstance(record({ sop: '1.9.1' }), 'replace');
      assert.equal(out.outcome, 'inserted');
      assert.equal(out.previous, null);
      assert.equal((await index.changesSince(0, 10))[0]?.kind, 'instance.stored');
    });

    it('replace re-parents to another patient, study and series and prunes the emptied ones', async (index) => {
      await index.storeInstance(record({ sop: '1.9.1', study: '1.2.3.1', patientId: 'P1', size: 10 }), 'insert');
      await index.storeInstance(record({ sop: '1.9.2', study: '1.2.3.1', patientId: 'P1', size: 20 }), 'insert');
      const out = await index.storeInstance(
        record({ sop: '1.9.2', study: '1.2.3.2', patientId: 'P2', modality: 'MR', sopClass: MR, size: 30 }),
        'replace',
      );
      assert.equal(out.previous?.StudyInstanceUID, '1.2.3.1');
      assert.equal(out.previous?.PatientID, 'P1');
      const moved = await index.findInstance('1.9.2');
      assert.equal(moved?.StudyInstanceUID, '1.2.3.2');
      assert.equal(moved?.SeriesInstanceUID, '1.2.3.2.1');
      assert.equal(moved?.PatientID, 'P2');
      assert.deepEqual(await index.statistics(), { patients: 2, studies: 2, series: 2, instances: 2, bytes: 40 });
      assert.equal((await index.findStudy('1.2.3.1'))?.NumberOfStudyRelatedInstances, 1);
      assert.equal((await index.findStudy('1.2.3.1'))?.sizeBytes, 10);
      assert.equal((await index.findPatient('P2', null))?.NumberOfPatientRelatedInstances, 1);

      // Moving the last instance away removes the old series, study and patient.
      await index.storeInstance(record({ sop: '1.9.1', study: '1.2.3.2', patientId: 'P2', modality: 'MR', sopClass: MR }), 'replace');
      assert.equal(await index.findStudy('1.2.3.1'), null);
      assert.equal(await index.findSeries('1.2.3.1.1'), null);
      assert.equal(await index.findPatient('P1', null), null);
      assert.deepEqual(await index.statistics(), { patients: 1, studies: 1, series: 1, instances: 2, bytes: 1030 });
      const p2 = await index.findPatient('P2', null);
      assert.equal(p2?.NumberOfPatientRelatedStudies, 1);
      assert.equal(p2?.NumberOfPatientRelatedSeries, 1);
      assert.equal(p2?.NumberOfPatientRelatedInstances, 2);
    });

    it('replace moves an instance to another series of the same study', async (index) => {
      await index.storeInstance(record({ sop: '1.9.1', series: 'S1' }), 'insert');
      await index.storeInstance(record({ sop: '1.9.2', series: 'S1' }), 'insert');
      await index.storeInstance(record({ sop: '1.9.2', series: 'S2', modality: 'SR', sopClass: SR }), 'replace');
      let study = await index.findStudy('1.2.3.1');
      assert.equal(study?.NumberOfStudyRelatedSeries, 2);
      assert.equal(study?.ModalitiesInStudy, 'CT\\SR');
      assert.equal(study?.SOPClassesInStudy, [CT, SR].sort().join('\\'));
      await index.storeInstance(record({ sop: '1.9.1', series: 'S2', modality: 'SR', sopClass: SR }), 'replace');
      study = await index.findStudy('1.2.3.1');
      assert.equal(await index.findSeries('S1'), null);
      assert.equal(study?.NumberOfStudyRelatedSeries, 1);
      assert.equal(study?.NumberOfStudyRelatedInstances, 2);
      assert.equal(study?.ModalitiesInStudy, 'SR');
      assert.equal(study?.SOPClassesInStudy, SR);
      assert.equal((await index.findPatient('PID1', null))?.NumberOfPatientRelatedSeries, 1);
    });

    it('keeps counts and sizes at every level', async (index) => {
      const put = (sop: string, study: string, series: string, patientId: string, modality: string, size: number) =>
        index.storeInstance(record({ sop, study, series, patientId, modality, size }), 'insert');
      await put('i1', 'A', 'A1', 'P1', 'CT', 1);
      await put('i2', 'A', 'A1', 'P1', 'CT', 2);
      await put('i3', 'A', 'A1', 'P1', 'CT', 4);
      await put('i4', 'A', 'A2', 'P1', 'MR', 8);
      await put('i5', 'A', 'A2', 'P1', 'MR', 16);
      await put('i6', 'B', 'B1', 'P1', 'SR', 32);
      await put('i7', 'C', 'C1', 'P2', 'CT', 64);
      const p1 = await index.findPatient('PID1', null);
      assert.equal(p1, null, 'patients are keyed by PatientID');
      assert.deepEqual(
        [await index.findPatient('P1', null), await index.findPatient('P2', null)].map((p) => [
          p?.NumberOfPatientRelatedStudies,
          p?.NumberOfPatientRelatedSeries,
          p?.NumberOfPatientRelatedInstances,
        ]),
        [[2, 3, 6], [1, 1, 1]],
      );
      const studies = await Promise.all(['A', 'B', 'C'].map((uid) => index.findStudy(uid)));
      assert.deepEqual(
        studies.map((s) => [s?.NumberOfStudyRelatedSeries, s?.NumberOfStudyRelatedInstances, s?.sizeBytes, s?.PatientID]),
        [[2, 5, 31, 'P1'], [1, 1, 32, 'P1'], [1, 1, 64, 'P2']],
      );
      const series = await Promise.all(['A1', 'A2', 'B1', 'C1'].map((uid) => index.findSeries(uid)));
      assert.deepEqual(series.map((s) => [s?.NumberOfSeriesRelatedInstances, s?.sizeBytes]), [[3, 7], [2, 24], [1, 32], [1, 64]]);
      assert.deepEqual(await index.statistics(), { patients: 2, studies: 3, series: 4, instances: 7, bytes: 127 });
    });

    it('keeps ModalitiesInStudy and SOPClassesInStudy sorted and distinct, shrinking on delete', async (index) => {
      await index.storeInstance(record({ sop: 'i1', series: 'S1', modality: 'MR', sopClass: MR }), 'insert');
      await index.storeInstance(record({ sop: 'i2', series: 'S2', modality: 'CT', sopClass: CT }), 'insert');
      await index.storeInstance(record({ sop: 'i3', series: 'S3', modality: 'CT', sopClass: CT }), 'insert');
      await index.storeInstance(record({ sop: 'i4', series: 'S4', modality: 'SR', sopClass: SR }), 'insert');
      await index.storeInstance(record({ sop: 'i5', series: 'S5', modality: null, sopClass: SR }), 'insert');
      let study = await index.findStudy('1.2.3.1');
      assert.equal(study?.ModalitiesInStudy, 'CT\\MR\\SR');
      assert.equal(study?.SOPClassesInStudy, [CT, MR, SR].sort().join('\\'));
      await index.deleteInstance('i1');
      await index.deleteInstance('i4');
      await index.deleteInstance('i2');
      study = await index.findStudy('1.2.3.1');
      assert.equal(study?.ModalitiesInStudy, 'CT');
      assert.equal(study?.SOPClassesInStudy, [CT, SR].sort().join('\\'));
      // A series whose Modality changes (latest wins) changes the study's list too.
      await index.storeInstance(record({ sop: 'i6', series: 'S3', modality: 'PT', sopClass: CT }), 'insert');
      assert.equal((await index.findStudy('1.2.3.1'))?.ModalitiesInStudy, 'PT');
    });

    it('updates patient, study and series attributes from the latest instance', async (index) => {
      await index.storeInstance(record({ sop: 'i1', patientName: 'Doe^Jane', studyDescription: 'first', seriesDescription: 'one' }), 'insert');
      const second = record({ sop: 'i2', patientName: 'Doe-Smith^Jane', studyDescription: 'second', seriesDescription: 'two', referringPhysician: null });
      second.series.ContrastBolusAgent = null;
      await index.storeInstance(second, 'insert');
      assert.equal((await index.findPatient('PID1', null))?.PatientName, 'Doe-Smith^Jane');
      const study = await index.findStudy('1.2.3.1');
      assert.equal(study?.StudyDescription, 'second');
      assert.equal(study?.ReferringPhysicianName, null);
      const series = await index.findSeries('1.2.3.1.1');
      assert.equal(series?.SeriesDescription, 'two');
      assert.equal(series?.ContrastBolusAgent, null);
      assert.equal(series?.PatientPosition, 'HFS');
    });

    it('keeps a study under its first patient when an instance names another', async (index) => {
      await index.storeInstance(record({ sop: 'i1', patientId: 'P1', patientName: 'First^Patient' }), 'insert');
      await index.storeInstance(record({ sop: 'i2', patientId: 'P2', patientName: 'Other^Patient' }), 'insert');
      assert.equal((await index.findStudy('1.2.3.1'))?.PatientID, 'P1');
      assert.equal((await index.findInstance('i2'))?.PatientID, 'P1');
      assert.equal(await index.findPatient('P2', null), null);
      const p1 = await index.findPatient('P1', null);
      assert.equal(p1?.PatientName, 'First^Patient');
      assert.equal(p1?.NumberOfPatientRelatedInstances, 2);
      assert.deepEqual(await index.statistics(), { patients: 1, studies: 1, series: 1, instances: 2, bytes: 2000 });
    });

    it('tells patients apart by issuer, a null issuer being the same as none', async (index) => {
      await index.storeInstance(record({ sop: 'i1', study: 'A', patientId: 'P', issuer: null }), 'insert');
      await index.storeInstance(record({ sop: 'i2', study: 'B', patientId: 'P', issuer: 'HOSP-B' }), 'insert');
      await index.storeInstance(record({ sop: 'i3', study: 'C', patientId: 'P', issuer: null }), 'insert');
      assert.equal((await index.statistics()).patients, 2);
      assert.equal((await index.findPatient('P', null))?.NumberOfPatientRelatedStudies, 2);
      const b = await index.findPatient('P', 'HOSP-B');
      assert.equal(b?.IssuerOfPatientID, 'HOSP-B');
      assert.equal(b?.NumberOfPatientRelatedStudies, 1);
      assert.equal((await index.findStudy('B'))?.IssuerOfPatientID, 'HOSP-B');
    });

    it('tracks when a study and a series last received an instance', async (index) => {
      const t1 = new Date('2024-05-01T10:00:00Z');
      const t2 = new Date('2024-05-01T10:05:00Z');
      await index.storeInstance(record({ sop: 'i1', receivedAt: t2 }), 'insert');
      await index.storeInstance(record({ sop: 'i2', receivedAt: t1 }), 'insert');
      assert.deepEqual((await index.findStudy('1.2.3.1'))?.lastReceivedAt, t2);
      assert.deepEqual((await index.findSeries('1.2.3.1.1'))?.lastReceivedAt, t2);
    });

    it('deletes an instance, pruning emptied series, study and patient', async (index) => {
      await index.storeInstance(record({ sop: 'i1', study: 'A', series: 'A1' }), 'insert');
      await index.storeInstance(record({ sop: 'i2', study: 'A', series: 'A2', modality: 'MR' }), 'insert');
      await index.storeInstance(record({ sop: 'i3', study: 'B', series: 'B1' }), 'insert');
      assert.equal(await index.deleteInstance('nope'), null);
      const gone = await index.deleteInstance('i2');
      assert.equal(gone?.SOPInstanceUID, 'i2');
      assert.equal(gone?.SeriesInstanceUID, 'A2');
      assert.equal(await index.findInstance('i2'), null);
      assert.equal(await index.findSeries('A2'), null);
      assert.equal((await index.findStudy('A'))?.NumberOfStudyRelatedSeries, 1);
      assert.equal((await index.findStudy('A'))?.ModalitiesInStudy, 'CT');
      await index.deleteInstance('i1');
      assert.equal(await index.findStudy('A'), null);
      const patient = await index.findPatient('PID1', null);
      assert.deepEqual(
        [patient?.NumberOfPatientRelatedStudies, patient?.NumberOfPatientRelatedSeries, patient?.NumberOfPatientRelatedInstances],
        [1, 1, 1],
      );
      await index.deleteInstance('i3');
      assert.deepEqual(await index.statistics(), { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 });
      const changes = await index.changesSince(0, 100);
      assert.deepEqual(changes.slice(3).map((c) => [c.kind, c.uid, c.studyUID]), [
        ['instance.deleted', 'i2', 'A'],
        ['instance.deleted', 'i1', 'A'],
        ['instance.deleted', 'i3', 'B'],
      ]);
    });

    it('lists every instance in pages, in SOP Instance UID order', async (index) => {
      const uids = Array.from({ length: 25 }, (_, i) => `1.2.840.99.${i + 1}`);
      for (const [i, sop] of uids.entries()) {
        await index.storeInstance(record({ sop, series: `S${i % 3}` }), 'insert');
      }
      const seen: string[] = [];
      let after: string | null = null;
      const sizes: number[] = [];
      for (;;) {
        const page = await index.listInstances(after, 10);
        if (page.length === 0) break;
        sizes.push(page.length);
        seen.push(...page.map((l) => l.SOPInstanceUID));
        after = page[page.length - 1]?.SOPInstanceUID ?? null;
      }
      assert.deepEqual(sizes, [10, 10, 5]);
      assert.deepEqual(seen, [...uids].sort());
      const first = [...uids].sort()[0] ?? '';
      assert.deepEqual(await index.listInstances(null, 1), [await index.findInstance(first)]);
      assert.deepEqual(await index.listInstances(uids[uids.length - 1] ?? '', 0), []);
    });

    it('returns changes after a sequence number, in order, limited', async (index) => {
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push((await index.storeInstance(record({ sop: `i${i}`, study: `S${i % 2}` }), 'insert')).changeSeq);
      seqs.push((await index.storeInstance(record({ sop: 'i0', study: 'S0', size: 7 }), 'replace')).changeSeq);
      await index.deleteInstance('i1');
      const all = await index.changesSince(0, 100);
      assert.equal(all.length, 7);
      assert.deepEqual(all.slice(0, 6).map((c) => c.seq), seqs);
      for (let i = 1; i < all.length; i++) assert.ok((all[i]?.seq ?? 0) > (all[i - 1]?.seq ?? 0));
      assert.deepEqual(all.map((c) => c.kind), [
        'instance.stored', 'instance.stored', 'instance.stored', 'instance.stored', 'instance.stored',
        'instance.replaced', 'instance.deleted',
      ]);
      assert.deepEqual(all.map((c) => c.studyUID), ['S0', 'S1', 'S0', 'S1', 'S0', 'S0', 'S1']);
      assert.ok(all.every((c) => c.level === 'instance' && c.at instanceof Date && !Number.isNaN(c.at.getTime())));
      const third = all[2]?.seq ?? 0;
      const page = await index.changesSince(third, 2);
      assert.deepEqual(page.map((c) => c.uid), ['i3', 'i4']);
      assert.deepEqual(await index.changesSince(all[6]?.seq ?? 0, 10), []);
    });

    it('clears every row, and goes on working with fresh sequence numbers', async (index) => {
      await index.storeInstance(record({ sop: 'i1', study: 'A' }), 'insert');
      const last = (await index.storeInstance(record({ sop: 'i2', study: 'B', patientId: 'P2' }), 'insert')).changeSeq;
      await index.clear();
      assert.deepEqual(await index.statistics(), { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 });
      assert.equal(await index.findInstance('i1'), null);
      assert.equal(await index.findStudy('A'), null);
      assert.equal(await index.findPatient('P2', null), null);
      assert.deepEqual(await index.listInstances(null, 10), []);
      assert.deepEqual(await index.changesSince(0, 10), []);
      const again = await index.storeInstance(record({ sop: 'i1', study: 'A' }), 'insert');
      assert.equal(again.outcome, 'inserted');
      assert.ok(again.changeSeq > last, 'sequence numbers are never reused');
      assert.equal((await index.statistics()).instances, 1);
    });

    it('handles many concurrent stores', async (index) => {
      const records = Array.from({ length: 200 }, (_, i) =>
        record({ sop: `9.${i}`, study: `ST${i % 4}`, series: `SE${i % 10}`, patientId: `P${i % 2}`, size: i }),
      );
      const outcomes = await Promise.all(records.map((r) => index.storeInstance(r, 'insert')));
      assert.equal(new Set(outcomes.map((o) => o.changeSeq)).size, 200);
      // Series SEk lands in the study of its first instance (k % 4), and stays there.
      const stats = await index.statistics();
      assert.equal(stats.instances, 200);
      assert.equal(stats.bytes, (199 * 200) / 2);
      assert.equal(stats.series, 10);
      const studies = await Promise.all(['ST0', 'ST1', 'ST2', 'ST3'].map((s) => index.findStudy(s)));
      assert.equal(studies.reduce((n, s) => n + (s?.NumberOfStudyRelatedInstances ?? 0), 0), 200);
      assert.equal(studies.reduce((n, s) => n + (s?.NumberOfStudyRelatedSeries ?? 0), 0), 10);

      const racing = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => index.storeInstance(record({ sop: 'dup', path: `dup-${i}.dcm` }), 'insert')),
      );
      assert.equal(racing.filter((r) => r.status === 'fulfilled').length, 1);
      assert.ok(racing.every((r) => r.status === 'fulfilled' || isCode('DUPLICATE_INSTANCE')(r.reason)));
      const mixed = await Promise.all([
        ...Array.from({ length: 50 }, (_, i) => index.deleteInstance(`9.${i}`)),
        ...Array.from({ length: 50 }, (_, i) => index.storeInstance(record({ sop: `9.${150 + i}`, study: 'NEW', size: 1 }), 'replace')),
      ]);
      assert.equal(mixed.length, 100);
      assert.equal((await index.statistics()).instances, 151);
    });
  });

  runIndexQueryContract(name, makeIndex);
}

