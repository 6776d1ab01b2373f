// The query half of the index contract (C-FIND and QIDO-RS answered from the index): the same
// archive of four studies is loaded into every backend and queried through ArchiveIndex.query
// alone, so the SQLite and PostgreSQL translations of the matching rules must agree.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { IndexQuery, QueryKey, QueryLevel, QueryRow } from '../../src/index/query/types.js';
import { QueryError } from '../../src/index/query/types.js';
import type { ArchiveIndex, InstanceRecord } from '../../src/index/types.js';
import { CT, MR, type RecordSpec, SR, record } from './fixtures.js';

type Make = () => Promise<ArchiveIndex>;

interface Spec extends RecordSpec {
  date: string;
  time: string;
  seriesNumber: string;
  instanceNumber?: string;
  imageType?: string;
}

function make(spec: Spec): InstanceRecord {
  const r = record(spec);
  r.study.StudyDate = spec.date;
  r.study.StudyTime = spec.time;
  r.study.AccessionNumber = `ACC-${spec.study ?? ''}`;
  r.series.SeriesNumber = spec.seriesNumber;
  r.instance.InstanceNumber = spec.instanceNumber ?? '1';
  if (spec.imageType !== undefined) {
    r.instance.ImageType = spec.imageType;
    r.instance.EchoNumbers = '3';
  }
  return r;
}

// Ordered by study date and time: S3, S1, S4, S2.
const ARCHIVE: Spec[] = [
  { sop: 'i1', patientId: 'P1', patientName: 'Müller^Zoë', study: 'S1', series: 'S1.1', modality: 'CT', sopClass: CT, date: '20240102', time: '101500', seriesNumber: '10', instanceNumber: '2' },
  { sop: 'i2', patientId: 'P1', patientName: 'Müller^Zoë', study: 'S1', series: 'S1.1', modality: 'CT', sopClass: CT, date: '20240102', time: '101500', seriesNumber: '10', instanceNumber: '1' },
  { sop: 'i3', patientId: 'P1', patientName: 'Müller^Zoë', study: 'S1', series: 'S1.2', modality: 'MR', sopClass: MR, date: '20240102', time: '101500', seriesNumber: '2', imageType: 'DERIVED\\SECONDARY\\ MPR ' },
  { sop: 'i4', patientId: 'P1', patientName: 'Müller^Zoë', study: 'S2', series: 'S2.1', modality: 'SR', sopClass: SR, date: '20240315', time: '083000', seriesNumber: '1' },
  { sop: 'i5', patientId: 'P2', patientName: 'Smith^John', study: 'S3', series: 'S3.1', modality: 'CT', sopClass: CT, date: '20231231', time: '235959', seriesNumber: '1' },
  { sop: 'i6', patientId: 'P3', issuer: 'HOSP-B', patientName: 'SMITHSON^Anna', study: 'S4', series: 'S4.1', modality: 'MR', sopClass: MR, date: '20240102', time: '180000', seriesNumber: '1' },
];

const keys = (spec: Record<string, string>): QueryKey[] => Object.entries(spec).map(([keyword, value]) => ({ keyword, value }));

const isQueryError = (code: string, keyword?: string) => (e: unknown) =>
  e instanceof QueryError && e.code === code && (keyword === undefined || e.keyword === keyword);

export function runIndexQueryContract(name: string, makeIndex: Make): void {
  const it = (title: string, fn: (find: Find, index: ArchiveIndex) => Promise<void>) =>
    test(title, async () => {
      const index = await makeIndex();
      try {
        for (const spec of ARCHIVE) await index.storeInstance(make(spec), 'insert');
        await fn(finder(index), index);
      } finally {
        await index.close();
      }
    });

  describe(`ArchiveIndex query contract: ${name}`, () => {
    it('answers every level of Patient Root, hierarchically', async (find) => {
      assert.deepEqual(uids(await find('PATIENT', {}, 'PATIENT_ROOT'), 'PatientID'), ['P1', 'P2', 'P3']);
      assert.deepEqual(uids(await find('STUDY', { PatientID: 'P1' }, 'PATIENT_ROOT')), ['S1', 'S2']);
      const series = await find('SERIES', { PatientID: 'P1', StudyInstanceUID: 'S1' }, 'PATIENT_ROOT');
      assert.deepEqual(uids(series, 'SeriesInstanceUID'), ['S1.2', 'S1.1'], 'by series number, as a number');
      const images = await find('IMAGE', { PatientID: 'P1', StudyInstanceUID: 'S1', SeriesInstanceUID: 'S1.1' }, 'PATIENT_ROOT');
      assert.deepEqual(uids(images, 'SOPInstanceUID'), ['i2', 'i1'], 'by instance number');
    });

    it('answers every level of Study Root, hierarchically', async (find) => {
      assert.deepEqual(uids(await find('STUDY', {})), ['S3', 'S1', 'S4', 'S2']);
      assert.deepEqual(uids(await find('SERIES', { StudyInstanceUID: 'S1' }), 'SeriesInstanceUID'), ['S1.2', 'S1.1']);
      const images = await find('IMAGE', { StudyInstanceUID: 'S1', SeriesInstanceUID: 'S1.2' });
      assert.deepEqual(uids(images, 'SOPInstanceUID'), ['i3']);
    });

    it('returns every attribute of the level and those above, with the computed ones', async (find) => {
      const [patient] = await find('PATIENT', { PatientID: 'P1' }, 'PATIENT_ROOT');
      assert.deepEqual(
        [patient?.PatientName, patient?.NumberOfPatientRelatedStudies, patient?.NumberOfPatientRelatedSeries, patient?.NumberOfPatientRelatedInstances],
        ['Müller^Zoë', 2, 3, 4],
      );
      assert.equal(patient?.IssuerOfPatientID, null);
      assert.equal(patient?.StudyInstanceUID, undefined, 'nothing of the levels below');
      const [study] = await find('STUDY', { StudyInstanceUID: 'S1' });
      assert.deepEqual(
        [study?.PatientID, study?.PatientName, study?.StudyDate, study?.StudyTime, study?.AccessionNumber, study?.ReferringPhysicianName],
        ['P1', 'Müller^Zoë', '20240102', '101500', 'ACC-S1', 'House^Gregory'],
      );
      assert.deepEqual(
        [study?.NumberOfStudyRelatedSeries, study?.NumberOfStudyRelatedInstances, study?.ModalitiesInStudy, study?.SOPClassesInStudy],
        [2, 3, 'CT\\MR', [CT, MR].sort().join('\\')],
      );
      const [series] = await find('SERIES', { StudyInstanceUID: 'S1', SeriesInstanceUID: 'S1.1' });
      assert.deepEqual([series?.Modality, series?.SeriesNumber, series?.NumberOfSeriesRelatedInstances], ['CT', '10', 2]);
      assert.equal(series?.StudyDescription, 'CT HEAD');
      const [image] = await find('IMAGE', { StudyInstanceUID: 'S4', SeriesInstanceUID: 'S4.1' });
      assert.deepEqual([image?.SOPClassUID, image?.Rows, image?.ImageType, image?.IssuerOfPatientID], [MR, 512, 'ORIGINAL\\PRIMARY\\AXIAL', 'HOSP-B']);
    });

    it('with returnKeys, rows carry only the keys, the asked attributes and the unique keys', async (_find, index) => {
      const [study] = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: keys({ StudyInstanceUID: 'S1', StudyDate: '' }), returnKeys: ['ModalitiesInStudy'] });
      assert.deepEqual(study, { PatientID: 'P1', StudyInstanceUID: 'S1', StudyDate: '20240102', ModalitiesInStudy: 'CT\\MR' });
      const [image] = await index.query({ level: 'IMAGE', model: 'STUDY_ROOT', relational: false, keys: keys({ StudyInstanceUID: 'S4', SeriesInstanceUID: 'S4.1' }), returnKeys: [] });
      assert.deepEqual(Object.keys(image ?? {}).sort(), ['PatientID', 'SOPInstanceUID', 'SeriesInstanceUID', 'StudyInstanceUID']);
      const [all] = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: keys({ StudyInstanceUID: 'S1' }) });
      assert.equal(all?.ReferringPhysicianName, 'House^Gregory', 'without returnKeys: every attribute');
    });

    it('matches single values, and UID lists', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { AccessionNumber: 'ACC-S4' })), ['S4']);
      assert.deepEqual(uids(await find('STUDY', { PatientID: 'P2' })), ['S3'], 'patient keys are study keys in Study Root');
      assert.deepEqual(uids(await find('STUDY', { StudyInstanceUID: 'S2\\S3\\nope' })), ['S3', 'S2']);
      assert.deepEqual(uids(await find('SERIES', { StudyInstanceUID: 'S1', SeriesInstanceUID: 'S1.1\\S1.2' }), 'SeriesInstanceUID'), ['S1.2', 'S1.1']);
      assert.deepEqual(uids(await find('STUDY', { AccessionNumber: 'acc-s4' })), [], 'case-sensitive but for names');
      assert.deepEqual(uids(await find('PATIENT', { IssuerOfPatientID: 'HOSP-B' }, 'PATIENT_ROOT'), 'PatientID'), ['P3']);
    });

    it('matches a multi-valued attribute when any one of its values matches (PS3.4 C.2.2.3)', async (find) => {
      const images = async (spec: Record<string, string>): Promise<unknown[]> =>
        uids(await find('IMAGE', spec, 'STUDY_ROOT', { relational: true }), 'SOPInstanceUID').sort();
      assert.deepEqual(await images({ ImageType: 'AXIAL' }), ['i1', 'i2', 'i4', 'i5', 'i6'], 'the last value');
      assert.deepEqual(await images({ ImageType: 'ORIGINAL' }), ['i1', 'i2', 'i4', 'i5', 'i6'], 'the first');
      assert.deepEqual(await images({ ImageType: 'SECONDARY' }), ['i3'], 'the middle one');
      assert.deepEqual(await images({ ImageType: 'MPR' }), ['i3'], "a value's padding is not part of it");
      assert.deepEqual(await images({ ImageType: 'DERIVED\\SECONDARY\\MPR' }), ['i3'], 'a list: any of its values');
      assert.deepEqual(await images({ ImageType: 'SEC*' }), ['i3'], 'a wildcard on each value');
      assert.deepEqual(await images({ ImageType: '*Y' }), ['i1', 'i2', 'i3', 'i4', 'i5', 'i6']);
      assert.deepEqual(await images({ ImageType: 'ORIG*AXIAL' }), [], 'a wildcard never spans two values');
      assert.deepEqual(await images({ ImageType: 'NONE\\AXIAL' }), ['i1', 'i2', 'i4', 'i5', 'i6']);
      assert.deepEqual(await images({ ImageType: 'PRIM' }), [], 'a value, not a substring');
      assert.deepEqual(await images({ EchoNumbers: '2' }), ['i1', 'i2', 'i4', 'i5', 'i6']);
      assert.deepEqual(await images({ EchoNumbers: '3' }), ['i3']);
      const [mr] = await find('IMAGE', { StudyInstanceUID: 'S1', SeriesInstanceUID: 'S1.2', ImageType: 'MPR' });
      assert.equal(mr?.ImageType, 'DERIVED\\SECONDARY\\ MPR ', 'every value returned, as kept');
    });

    it('matches wildcards: prefix, infix, ? and the universal *', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'SMI*' })), ['S3', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: '*ULL*' })), ['S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'SMITH^J?HN' })), ['S3']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'S?ITH*' })), ['S3', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { AccessionNumber: 'ACC-S?' })), ['S3', 'S1', 'S4', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { StudyDescription: '*' })), ['S3', 'S1', 'S4', 'S2']);
      assert.deepEqual(uids(await find('SERIES', { StudyInstanceUID: 'S1', Modality: 'C*' }), 'SeriesInstanceUID'), ['S1.1']);
    });

    it('matches names ignoring case and accents with fuzzyNames, exactly without', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'muller^zoe' })), ['S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'MÜLLER*' })), ['S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { ReferringPhysicianName: 'house*' })), ['S3', 'S1', 'S4', 'S2']);
      const exact = { fuzzyNames: false };
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'muller^zoe' }, 'STUDY_ROOT', exact)), []);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'Müller^Zoë' }, 'STUDY_ROOT', exact)), ['S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'Smith*' }, 'STUDY_ROOT', exact)), ['S3']);
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'SMI*' }, 'STUDY_ROOT', exact)), ['S4']);
    });

    it('matches DA ranges, closed and open on either side', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240102' })), ['S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240101-20240102' })), ['S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240102-' })), ['S1', 'S4', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '-20240102' })), ['S3', 'S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240103-20240314' })), []);
    });

    it('matches TM ranges and single times at their precision', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '1000-1100' })), ['S1']);
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '-0900' })), ['S2']);
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '1800-' })), ['S3', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '10' })), ['S1'], '10 is 10:00:00-10:59:59');
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '2359' })), ['S3']);
      assert.deepEqual(uids(await find('STUDY', { StudyTime: '1015-1015' })), ['S1']);
    });

    it('combines a date range and a time range into one range of instants', async (find) => {
      const both = { StudyDate: '20240102-20240315', StudyTime: '0800-1100' };
      assert.deepEqual(uids(await find('STUDY', both)), ['S1', 'S4', 'S2'], 'from Jan 2 08:00 to Mar 15 11:00');
      assert.deepEqual(uids(await find('STUDY', both, 'STUDY_ROOT', { combinedDateTime: false })), ['S1', 'S2'], 'each on its own');
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240102-20240315', StudyTime: '1200-0900' })), ['S4', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '20240102-', StudyTime: '1200-' })), ['S4', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { StudyDate: '-20240102', StudyTime: '-1100' })), ['S3', 'S1']);
      await assert.rejects(
        find('STUDY', { StudyDate: '20240102-20240315', StudyTime: '1200-0900' }, 'STUDY_ROOT', { combinedDateTime: false }),
        isQueryError('BAD_VALUE', 'StudyTime'),
      );
    });

    it('matches ModalitiesInStudy and SOPClassesInStudy on any series of the study', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { ModalitiesInStudy: 'CT' })), ['S3', 'S1']);
      assert.deepEqual(uids(await find('STUDY', { ModalitiesInStudy: 'MR' })), ['S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { ModalitiesInStudy: 'SR\\CT' })), ['S3', 'S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { ModalitiesInStudy: 'S*' })), ['S2']);
      assert.deepEqual(uids(await find('STUDY', { ModalitiesInStudy: 'CT', PatientID: 'P1' })), ['S1']);
      assert.deepEqual(uids(await find('STUDY', { SOPClassesInStudy: MR })), ['S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { SOPClassesInStudy: `${SR}\\${CT}` })), ['S3', 'S1', 'S2']);
      assert.deepEqual(uids(await find('STUDY', { SOPClassesInStudy: '1.2.840.10008.5.1.4.1.1' })), [], 'whole UIDs only');
    });

    it('matches kept counts', async (find) => {
      assert.deepEqual(uids(await find('STUDY', { NumberOfStudyRelatedInstances: '3' })), ['S1']);
      assert.deepEqual(uids(await find('PATIENT', { NumberOfPatientRelatedStudies: '2' }, 'PATIENT_ROOT'), 'PatientID'), ['P1']);
    });

    it('hierarchical: needs the unique keys above, single-valued, and matches only those above', async (find) => {
      const missing = (keyword: string) => isQueryError('MISSING_UNIQUE_KEY', keyword);
      await assert.rejects(find('STUDY', { PatientName: 'SMITH^JOHN' }, 'PATIENT_ROOT'), missing('PatientID'));
      await assert.rejects(find('STUDY', { PatientID: 'P*' }, 'PATIENT_ROOT'), missing('PatientID'));
      await assert.rejects(find('STUDY', { PatientID: 'P1\\P2' }, 'PATIENT_ROOT'), missing('PatientID'));
      await assert.rejects(find('SERIES', { PatientID: 'P1' }, 'PATIENT_ROOT'), missing('StudyInstanceUID'));
      await assert.rejects(find('SERIES', { Modality: 'CT' }), missing('StudyInstanceUID'));
      await assert.rejects(find('SERIES', { StudyInstanceUID: '' }), missing('StudyInstanceUID'));
      await assert.rejects(find('IMAGE', { StudyInstanceUID: 'S1' }), missing('SeriesInstanceUID'));
      await assert.rejects(find('IMAGE', { StudyInstanceUID: 'S1', SeriesInstanceUID: '*' }), missing('SeriesInstanceUID'));
      // Keys of the levels above other than the unique key do not match, hierarchically.
      assert.deepEqual(uids(await find('STUDY', { PatientID: 'P1', PatientName: 'nobody' }, 'PATIENT_ROOT')), ['S1', 'S2']);
      assert.deepEqual(uids(await find('SERIES', { StudyInstanceUID: 'S1', StudyDate: '19990101' }), 'SeriesInstanceUID'), ['S1.2', 'S1.1']);
    });

    it('relational: any key of any level above matches, no unique key needed', async (find) => {
      const relational = { relational: true };
      assert.deepEqual(uids(await find('STUDY', { PatientName: 'SMI*' }, 'PATIENT_ROOT', relational)), ['S3', 'S4']);
      assert.deepEqual(uids(await find('STUDY', { PatientID: 'P1', PatientName: 'nobody' }, 'PATIENT_ROOT', relational)), []);
      const series = await find('SERIES', { Modality: 'MR' }, 'STUDY_ROOT', relational);
      assert.deepEqual(uids(series, 'SeriesInstanceUID'), ['S1.2', 'S4.1']);
      const images = await find('IMAGE', { PatientName: 'muller*', Modality: 'CT' }, 'PATIENT_ROOT', relational);
      assert.deepEqual(uids(images, 'SOPInstanceUID'), ['i2', 'i1']);
    });

    it('refuses a PATIENT level in Study Root', async (find) => {
      await assert.rejects(find('PATIENT', {}, 'STUDY_ROOT'), isQueryError('UNKNOWN_LEVEL'));
    });

    it('pages with limit and offset, in a stable order', async (find) => {
      assert.deepEqual(uids(await find('STUDY', {}, 'STUDY_ROOT', { limit: 2 })), ['S3', 'S1']);
      assert.deepEqual(uids(await find('STUDY', {}, 'STUDY_ROOT', { limit: 2, offset: 1 })), ['S1', 'S4']);
      assert.deepEqual(uids(await find('STUDY', {}, 'STUDY_ROOT', { limit: 10, offset: 3 })), ['S2']);
      assert.deepEqual(uids(await find('STUDY', {}, 'STUDY_ROOT', { offset: 4 })), []);
      assert.deepEqual(uids(await find('STUDY', {}, 'STUDY_ROOT', { limit: 0 })), []);
    });

    it('refuses a malformed value with BAD_VALUE naming the key', async (find) => {
      await assert.rejects(find('STUDY', { StudyDate: '2024-01-02' }), isQueryError('BAD_VALUE', 'StudyDate'));
      await assert.rejects(find('STUDY', { StudyDate: '20240315-20240102' }), isQueryError('BAD_VALUE', 'StudyDate'));
      await assert.rejects(find('STUDY', { StudyTime: '25' }), isQueryError('BAD_VALUE', 'StudyTime'));
      await assert.rejects(find('STUDY', { StudyInstanceUID: 'S*' }), isQueryError('BAD_VALUE', 'StudyInstanceUID'));
    });

    it('answers keys the index does not hold with null, and does not match on them', async (find) => {
      const rows = await find('STUDY', { StudyInstanceUID: 'S1', PatientComments: 'x', NotAKeyword: '', SeriesDescription: 'AXIAL*' });
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.PatientComments, null);
      assert.equal(rows[0]?.NotAKeyword, null);
      assert.equal(rows[0]?.SeriesDescription, null, 'a key of a level below is not answered');
      assert.ok(Object.hasOwn(rows[0] ?? {}, 'PatientComments'));
    });
  });
}

type Find = (
  level: QueryLevel,
  spec: Record<string, string>,
  model?: IndexQuery['model'],
  extra?: Partial<IndexQuery>,
) => Promise<QueryRow[]>;

const finder =
  (index: ArchiveIndex): Find =>
  (level, spec, model = 'STUDY_ROOT', extra = {}) =>
    index.query({ level, model, keys: keys(spec), relational: false, ...extra });

const uids = (rows: QueryRow[], keyword = 'StudyInstanceUID'): unknown[] => rows.map((r) => r[keyword]);
