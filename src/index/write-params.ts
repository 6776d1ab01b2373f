// What both index writers (SQLite, PostgreSQL) need to turn a record into statement parameters
// and keep the multi-valued study lists: written once, used by each backend's writer.
import { INSTANCE_COLUMNS, PATIENT_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS } from './columns.js';
import { foldNullable } from './fold.js';
import type { InstanceRecord } from './types.js';

export type Params = Record<string, unknown>;

/** Where an instance is filed: the keys of its series and of that series' ancestors. */
export interface Chain {
  patientPk: number;
  studyPk: number;
  seriesPk: number;
  studyUID: string;
}

/** Attributes keyed by keyword → parameters keyed by column; undefined is bound as NULL. */
export function byColumn<T extends object>(attrs: T, columns: Record<keyof T, string>): Params {
  const out: Params = {};
  for (const key of Object.keys(columns) as (keyof T)[]) out[columns[key]] = attrs[key] ?? null;
  return out;
}

/** A backslash-separated kept list (ModalitiesInStudy, SOPClassesInStudy) as values. */
export const splitList = (v: string): string[] => (v === '' ? [] : v.split('\\'));
/** Values as a kept list: distinct, sorted, backslash-separated. */
export const joinSorted = (values: Iterable<string>): string => [...new Set(values)].sort().join('\\');

/** The parameters of a record's patient, study and series rows (the folded names beside them). */
export function entityParams(record: InstanceRecord, now: number): { patient: Params; study: Params; series: Params } {
  const { patient, study, series } = record;
  return {
    patient: {
      ...byColumn(patient, PATIENT_COLUMNS),
      issuer_of_patient_id: patient.IssuerOfPatientID ?? '',
      patient_name_fold: foldNullable(patient.PatientName ?? null),
      now,
    },
    study: { ...byColumn(study, STUDY_COLUMNS), referring_physician_name_fold: foldNullable(study.ReferringPhysicianName ?? null), now },
    series: { ...byColumn(series, SERIES_COLUMNS), now },
  };
}

/** The parameters of a record's instance row, filed under the series row `seriesPk`. */
export function instanceParams(record: InstanceRecord, seriesPk: number, now: number): Params {
  return {
    ...byColumn(record.instance, INSTANCE_COLUMNS),
    specific_character_set: record.specificCharacterSet ?? null,
    path: record.file.path,
    size: record.file.size,
    transfer_syntax_uid: record.file.transferSyntaxUID,
    checksum: record.file.checksum,
    received_at: record.receivedAt.getTime(),
    calling_ae: record.provenance.callingAE ?? null,
    called_ae: record.provenance.calledAE ?? null,
    remote_address: record.provenance.remoteAddress ?? null,
    source: record.provenance.source,
    series_fk: seriesPk,
    now,
  };
}
