// Rows as read from either backend → the interface's objects (DICOM keywords, Dates, null for
// absent). Both backends use the same column names (./columns.ts), so one mapping serves both.

import { PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS } from './columns.js';
import type { InstanceLocation, PatientSummary, SeriesSummary, StudySummary } from './types.js';

export type AnyRow = Record<string, unknown>;

/** What findInstance and friends read: an InstanceLocation, in column names. */
export interface LocationRow {
  sop_instance_uid: string;
  sop_class_uid: string;
  series_instance_uid: string;
  study_instance_uid: string;
  patient_id: string;
  path: string;
  size: number;
  transfer_syntax_uid: string;
  checksum: string;
  received_at: number;
}

/** A located instance plus the keys of its row and of its parents, for the writers. */
export interface InstanceRefRow extends LocationRow {
  pk: number;
  series_fk: number;
  study_fk: number;
  patient_fk: number;
}

export function toLocation(row: LocationRow): InstanceLocation {
  return {
    SOPInstanceUID: row.sop_instance_uid,
    SOPClassUID: row.sop_class_uid,
    SeriesInstanceUID: row.series_instance_uid,
    StudyInstanceUID: row.study_instance_uid,
    PatientID: row.patient_id,
    path: row.path,
    size: row.size,
    transferSyntaxUID: row.transfer_syntax_uid,
    checksum: row.checksum,
    receivedAt: new Date(row.received_at),
  };
}

/**
 * The attributes of one level out of a row, keyed by keyword again. Typed `never` per value so
 * the spread fits the summary types: the STRICT columns hold exactly what was stored from them.
 */
function attributes<K extends string>(row: AnyRow, columns: Record<K, string>): Record<K, never> {
  const out = {} as Record<K, unknown>;
  for (const key of Object.keys(columns) as K[]) out[key] = row[columns[key]] ?? null;
  return out as Record<K, never>;
}

// The issuer is stored as '' when absent (it is part of the patient key); the interface says null.
const issuer = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

export function toPatientSummary(row: AnyRow): PatientSummary {
  return {
    ...attributes(row, PATIENT_COLUMNS),
    IssuerOfPatientID: issuer(row.issuer_of_patient_id),
    NumberOfPatientRelatedStudies: Number(row.num_studies),
    NumberOfPatientRelatedSeries: Number(row.num_series),
    NumberOfPatientRelatedInstances: Number(row.num_instances),
  };
}

export function toStudySummary(row: AnyRow): StudySummary {
  return {
    ...attributes(row, STUDY_COLUMNS),
    PatientID: String(row.patient_id),
    IssuerOfPatientID: issuer(row.issuer_of_patient_id),
    ModalitiesInStudy: String(row.modalities_in_study ?? ''),
    SOPClassesInStudy: String(row.sop_classes_in_study ?? ''),
    NumberOfStudyRelatedSeries: Number(row.num_series),
    NumberOfStudyRelatedInstances: Number(row.num_instances),
    sizeBytes: Number(row.size_bytes),
    lastReceivedAt: new Date(Number(row.last_received_at)),
  };
}

export function toSeriesSummary(row: AnyRow): SeriesSummary {
  return {
    ...attributes(row, SERIES_COLUMNS),
    StudyInstanceUID: String(row.study_instance_uid),
    NumberOfSeriesRelatedInstances: Number(row.num_instances),
    sizeBytes: Number(row.size_bytes),
    lastReceivedAt: new Date(Number(row.last_received_at)),
  };
}
