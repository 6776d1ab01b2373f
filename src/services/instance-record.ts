// Turns the attributes collected while a dataset streamed past into the index's record.
import { Tag } from '../dicom/tags.js';
import { elementNumber, elementText } from '../dicom/charset.js';
import type { ElementValue } from '../dicom/reader.js';
import { PacsError } from '../core/errors.js';
import type { FileRecord, InstanceRecord, Provenance } from '../index/types.js';
import { normalizeDate } from '../index/query/matching.js';
import { lookupTag } from '../dicom/dictionary.js';
import { INSTANCE_NUMBERS, INSTANCE_TEXT, PATIENT, SERIES, STUDY } from '../dicom/record-attributes.js';

const LEGACY_TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$/;

/**
 * Dates and times in the ACR-NEMA form PS3.5 6.2 allows reading (YYYY.MM.DD, HH:MM:SS) kept
 * in the standard one, as queries are matched: stored as received, they never matched.
 */
function legacyForm(tag: number, value: string | null): string | null {
  // Only a value with a '.' or ':' can be one: most skip the dictionary lookup (the ingest path).
  if (value === null || (!value.includes('.') && !value.includes(':'))) return value;
  const vr = lookupTag(tag)?.vr;
  if (vr === 'DA' && value.includes('.')) return normalizeDate(value) ?? value;
  if (vr === 'TM' && LEGACY_TIME.test(value)) return value.replace(/:/g, '');
  return value;
}

type Keyword = (typeof PATIENT)[number] | (typeof STUDY)[number] | (typeof SERIES)[number] | (typeof INSTANCE_TEXT)[number] | (typeof INSTANCE_NUMBERS)[number];

/** Every top-level tag the store pipeline reads while the dataset streams past. */
export const COLLECTED_TAGS: ReadonlySet<number> = new Set(
  [Tag.SpecificCharacterSet, ...[...PATIENT, ...STUDY, ...SERIES, ...INSTANCE_TEXT, ...INSTANCE_NUMBERS].map((k) => Tag[k as Keyword])],
);

export interface ParsedAttributes {
  values: Map<number, ElementValue>;
  littleEndian: boolean;
}

export function buildInstanceRecord(p: ParsedAttributes, file: FileRecord, provenance: Provenance, receivedAt: Date): InstanceRecord {
  const charset = elementText(p.values.get(Tag.SpecificCharacterSet), null);
  const text = (k: Keyword): string | null => legacyForm(Tag[k], elementText(p.values.get(Tag[k]), charset));
  const pick = <K extends Keyword>(keys: readonly K[]): Record<K, string | null> =>
    Object.fromEntries(keys.map((k) => [k, text(k)])) as Record<K, string | null>;
  const required = (k: 'SOPInstanceUID' | 'SOPClassUID' | 'StudyInstanceUID' | 'SeriesInstanceUID'): string => {
    const v = text(k);
    if (!v) throw new PacsError('DICOM_MISSING_UID', `dataset has no ${k}`);
    if (!/^[0-9]+(\.[0-9]+)*$/.test(v) || v.length > 64) throw new PacsError('DICOM_PARSE', `${k} is not a valid UID: ${v.slice(0, 70)}`);
    return v;
  };
  const instance = {
    ...pick(INSTANCE_TEXT),
    SOPInstanceUID: required('SOPInstanceUID'),
    SOPClassUID: required('SOPClassUID'),
    Rows: elementNumber(p.values.get(Tag.Rows), p.littleEndian),
    Columns: elementNumber(p.values.get(Tag.Columns), p.littleEndian),
    BitsAllocated: elementNumber(p.values.get(Tag.BitsAllocated), p.littleEndian),
    SamplesPerPixel: elementNumber(p.values.get(Tag.SamplesPerPixel), p.littleEndian),
    BitsStored: elementNumber(p.values.get(Tag.BitsStored), p.littleEndian),
  };
  return {
    specificCharacterSet: charset,
    patient: { ...pick(PATIENT), PatientID: text('PatientID') ?? '' },
    study: { ...pick(STUDY), StudyInstanceUID: required('StudyInstanceUID') },
    series: { ...pick(SERIES), SeriesInstanceUID: required('SeriesInstanceUID') },
    instance,
    file,
    provenance,
    receivedAt,
  };
}

/**
 * Attribute lookup by keyword over a record, for naming templates: the instance's own value
 * first, then its series', study's and patient's. Looked up in place — a merged copy of the four
 * levels (a spread of some fifty properties) was the largest allocation of a C-STORE.
 */
export function recordLookup(r: InstanceRecord): (keyword: string) => string | null {
  const levels = [r.instance, r.series, r.study, r.patient] as readonly object[] as readonly Readonly<Record<string, unknown>>[];
  return (k) => {
    for (const level of levels) {
      if (!Object.hasOwn(level, k)) continue;
      const v = level[k];
      return v === null || v === undefined ? null : String(v);
    }
    return null;
  };
}

/** The UIDs a store answers with: the instance and where it is filed. */
export const filedAs = (record: InstanceRecord): { sopInstanceUID: string; studyInstanceUID: string; seriesInstanceUID: string } => ({
  sopInstanceUID: record.instance.SOPInstanceUID,
  studyInstanceUID: record.study.StudyInstanceUID,
  seriesInstanceUID: record.series.SeriesInstanceUID,
});
