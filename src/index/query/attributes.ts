// What the index holds, seen from the query side: for each DICOM keyword, the table and column
// that answer it, its VR (which decides how a key on it matches) and how it is matched. Built
// from ../columns.ts, so a column added there is queryable without touching this file.

import { lookupTag, tagOfKeyword } from '../../dicom/dictionary.js';
import { COMPUTED_COLUMNS, INSTANCE_COLUMNS, PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS } from '../columns.js';
import type { QueryLevel } from './types.js';

export type EntityTable = 'patients' | 'studies' | 'series' | 'instances';

/** Tables from the top down; a level's entities join every table before theirs. */
export const TABLES: readonly EntityTable[] = ['patients', 'studies', 'series', 'instances'];

export const TABLE_OF_LEVEL: Readonly<Record<QueryLevel, EntityTable>> = {
  PATIENT: 'patients',
  STUDY: 'studies',
  SERIES: 'series',
  IMAGE: 'instances',
};

export interface IndexedAttribute {
  keyword: string;
  table: EntityTable;
  /** The column returned (and matched, unless `match` says otherwise). */
  column: string;
  vr: string;
  /** An INTEGER column: returned as a number, matched against numbers. */
  integer: boolean;
  /** The folded twin (../fold.ts) that person-name keys match against when fuzzyNames is on. */
  foldColumn: string | null;
  /**
   * 'column': on `column`. 'modalities': a study has a series of that Modality (the kept
   * backslash list is for returning, not searching). 'sop-classes': the study's kept list of
   * SOP Class UIDs contains the value (instances have no index on the class alone).
   */
  match: 'column' | 'modalities' | 'sop-classes';
  computed: boolean;
  /**
   * Kept as a backslash-separated list of values (VM > 1 in PS3.6: ImageType, EchoNumbers): a
   * key matches when any one value does (PS3.4 C.2.2.3), never the list as one string.
   */
  multiValued: boolean;
}

// Computed attributes are not all in the dictionary the way the index keeps them: say it here.
const COMPUTED_VR: Readonly<Record<string, string>> = { ModalitiesInStudy: 'CS', SOPClassesInStudy: 'UI' };
const FOLDED: Readonly<Record<string, string>> = {
  PatientName: COMPUTED_COLUMNS.patients.PatientNameFold,
  ReferringPhysicianName: COMPUTED_COLUMNS.studies.ReferringPhysicianNameFold,
};

/**
 * Each study holds a copy of its patient's stored attributes, under the patients' column names
 * (migration 11, kept by triggers). A query that reads studies anyway (study level and below)
 * reads the copies: the same values, without joining patients.
 */
export function onStudies(attribute: IndexedAttribute): IndexedAttribute {
  return COPIES.get(attribute) ?? attribute;
}

function dictionaryEntry(keyword: string): { vr: string; vm: string } {
  const computed = COMPUTED_VR[keyword];
  if (computed !== undefined) return { vr: computed, vm: '1' };
  const tag = tagOfKeyword(keyword);
  const entry = tag === undefined ? undefined : lookupTag(tag);
  // Every column is named after a dictionary keyword: a miss is a typo in columns.ts.
  if (entry === undefined) throw new Error(`no VR for the indexed keyword ${keyword}`);
  return entry;
}

function stored(table: EntityTable, columns: Readonly<Record<string, string>>): IndexedAttribute[] {
  return Object.entries(columns).map(([keyword, column]) => {
    const { vr, vm } = dictionaryEntry(keyword);
    return {
      keyword,
      table,
      column,
      vr,
      integer: vr === 'US',
      foldColumn: FOLDED[keyword] ?? null,
      match: 'column' as const,
      computed: false,
      multiValued: vm !== '1',
    };
  });
}

function computed(table: EntityTable, columns: Readonly<Record<string, string>>): IndexedAttribute[] {
  return Object.entries(columns)
    .filter(([keyword]) => !keyword.endsWith('Fold'))
    .map(([keyword, column]) => ({
      keyword,
      table,
      column,
      vr: dictionaryEntry(keyword).vr,
      integer: keyword.startsWith('NumberOf'),
      foldColumn: null,
      match: keyword === 'ModalitiesInStudy' ? ('modalities' as const) : keyword === 'SOPClassesInStudy' ? ('sop-classes' as const) : ('column' as const),
      computed: true,
      // The kept study lists are matched their own way ('modalities', 'sop-classes').
      multiValued: false,
    }));
}

const ALL: readonly IndexedAttribute[] = [
  ...stored('patients', PATIENT_COLUMNS),
  ...computed('patients', COMPUTED_COLUMNS.patients),
  ...stored('studies', STUDY_COLUMNS),
  ...computed('studies', COMPUTED_COLUMNS.studies),
  ...stored('series', SERIES_COLUMNS),
  ...computed('series', COMPUTED_COLUMNS.series),
  ...stored('instances', INSTANCE_COLUMNS),
];

const BY_KEYWORD = new Map(ALL.map((a) => [a.keyword, a]));

// The patients' stored attributes (not their counts) as the studies' copies of them.
const COPIES = new Map(ALL.filter((a) => a.table === 'patients' && !a.computed).map((a) => [a, { ...a, table: 'studies' as const }]));

/** The attribute the index answers for this keyword, if any. */
export const indexedAttribute = (keyword: string): IndexedAttribute | undefined => BY_KEYWORD.get(keyword);

/** Every attribute kept in a table, stored then computed, in a stable order. */
export const attributesOf = (table: EntityTable): readonly IndexedAttribute[] => ALL.filter((a) => a.table === table);

/** Date and time attributes that match as one range when both hold one (PS3.4 C.2.2.2.5.1). */
export const DATE_TIME_PAIRS: readonly (readonly [string, string])[] = [
  ['StudyDate', 'StudyTime'],
  ['SeriesDate', 'SeriesTime'],
  ['PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime'],
  ['AcquisitionDate', 'AcquisitionTime'],
  ['ContentDate', 'ContentTime'],
];
