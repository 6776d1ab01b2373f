// Every SQL statement of the SQLite index, prepared once per connection. The attribute column
// lists come from ../columns.ts so the SQL cannot drift from the DICOM keyword maps.

import type Database from 'better-sqlite3';
import type { AnyRow, InstanceRefRow, LocationRow } from '../rows.js';

export type { InstanceRefRow, LocationRow };
import { INSTANCE_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS, quoteIdent } from '../columns.js';
import { IMAGES_OWN_DEMOGRAPHICS, PATIENT_DEMOGRAPHICS, UPSERT_PATIENT } from '../patient-sql.js';

export interface SeriesRefRow {
  pk: number;
  study_fk: number;
  modality: string | null;
}
export interface StudyRefRow {
  pk: number;
  patient_fk: number;
  study_instance_uid: string;
}
export interface PatientRefRow {
  pk: number;
  patient_id: string;
  issuer_of_patient_id: string;
}
export interface ChangeRow {
  seq: number;
  kind: string;
  level: string;
  uid: string;
  study_uid: string;
  at: number;
}
export interface StatisticsRow {
  patients: number;
  studies: number;
  series: number;
  instances: number;
  bytes: number;
}

const STUDY_ATTRS = [...Object.values(STUDY_COLUMNS), 'referring_physician_name_fold'];
const SERIES_ATTRS = Object.values(SERIES_COLUMNS);
const INSTANCE_ATTRS = [
  ...Object.values(INSTANCE_COLUMNS),
  'specific_character_set',
  'path',
  'size',
  'transfer_syntax_uid',
  'checksum',
  'received_at',
  'calling_ae',
  'called_ae',
  'remote_address',
  'source',
];

const names = (cols: readonly string[]): string => cols.map(quoteIdent).join(', ');
const values = (cols: readonly string[]): string => cols.map((c) => `@${c}`).join(', ');
const assignments = (cols: readonly string[]): string => cols.map((c) => `${quoteIdent(c)} = @${c}`).join(', ');

/**
 * "Latest wins" without needless writes: most instances of a study repeat its attributes, and
 * an UPDATE that assigns an indexed column rewrites that index entry even when the value is the
 * same. The WHERE makes an unchanged row a no-op. The UID key column is never assigned.
 */
function updateIfChanged(table: string, cols: readonly string[]): string {
  const changed = cols.map((c) => `${quoteIdent(c)} IS NOT @${c}`).join(' OR ');
  return `UPDATE ${table} SET ${assignments(cols)}, updated_at = @now WHERE pk = @pk AND (${changed})`;
}
const withoutKey = (cols: readonly string[], key: string): string[] => cols.filter((c) => c !== key);

const LOCATION_SELECT = `SELECT i.sop_instance_uid, i.sop_class_uid, se.series_instance_uid, st.study_instance_uid,
  p.patient_id, i.path, i.size, i.transfer_syntax_uid, i.checksum, i.received_at,
  i.pk, i.series_fk, se.study_fk, st.patient_fk
FROM instances i
JOIN series se ON se.pk = i.series_fk
JOIN studies st ON st.pk = se.study_fk
JOIN patients p ON p.pk = st.patient_fk`;

const INSTANCE_ORDER = ' ORDER BY CAST(se.series_number AS INTEGER), se.pk, CAST(i.instance_number AS INTEGER), i.pk';

export function prepareStatements(db: Database.Database) {
  const get = <R>(sql: string) => db.prepare<unknown[], R>(sql);
  const run = (sql: string) => db.prepare<unknown[], never>(sql);
  return {
    // --- reads
    instanceByUid: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE i.sop_instance_uid = ?`),
    senderByUid: get<{ calling_ae: string | null; called_ae: string | null; remote_address: string | null }>('SELECT calling_ae, called_ae, remote_address FROM instances WHERE sop_instance_uid = ?'),
    studyGuard: get<{ study_instance_uid: string; protected: number; last_received_at: number }>('SELECT study_instance_uid, protected, last_received_at FROM studies WHERE pk = ?'),
    instanceByPath: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE i.path = ?`),
    // The UIDs as one JSON array, answered in its order (key is the array index). CROSS JOIN
    // keeps the array the outer loop: left to itself the planner scanned patients per instance.
    instancesByUids: get<InstanceRefRow>(`SELECT i.sop_instance_uid, i.sop_class_uid, se.series_instance_uid, st.study_instance_uid,
  p.patient_id, i.path, i.size, i.transfer_syntax_uid, i.checksum, i.received_at,
  i.pk, i.series_fk, se.study_fk, st.patient_fk
FROM json_each(?) u
CROSS JOIN instances i ON i.sop_instance_uid = u.value
CROSS JOIN series se ON se.pk = i.series_fk
CROSS JOIN studies st ON st.pk = se.study_fk
CROSS JOIN patients p ON p.pk = st.patient_fk
ORDER BY u.key`),
    // The order of an IMAGE query within a study (query/plan.ts ORDER).
    instancesOfStudy: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE st.study_instance_uid = ?${INSTANCE_ORDER}`),
    instancesOfSeries: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE st.study_instance_uid = ? AND se.series_instance_uid = ?${INSTANCE_ORDER}`),
    instanceOf: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE st.study_instance_uid = ? AND se.series_instance_uid = ? AND i.sop_instance_uid = ?`),
    listFirst: get<InstanceRefRow>(`${LOCATION_SELECT} ORDER BY i.sop_instance_uid LIMIT ?`),
    listAfter: get<InstanceRefRow>(`${LOCATION_SELECT} WHERE i.sop_instance_uid > ? ORDER BY i.sop_instance_uid LIMIT ?`),
    // One row kept by triggers (migration 4): O(1) however large the archive.
    statistics: get<StatisticsRow>('SELECT patients, studies, series, instances, bytes FROM archive_totals'),
    changesSince: get<ChangeRow>('SELECT seq, kind, level, uid, study_uid, at FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),

    patientSummary: get<AnyRow>('SELECT * FROM patients WHERE patient_id = ? AND issuer_of_patient_id = ?'),
    studySummary: get<AnyRow>(`SELECT st.*, p.patient_id, p.issuer_of_patient_id FROM studies st
      JOIN patients p ON p.pk = st.patient_fk WHERE st.study_instance_uid = ?`),
    seriesSummary: get<AnyRow>(`SELECT se.*, st.study_instance_uid FROM series se
      JOIN studies st ON st.pk = se.study_fk WHERE se.series_instance_uid = ?`),

    // --- parents
    seriesByUid: get<SeriesRefRow>('SELECT pk, study_fk, modality FROM series WHERE series_instance_uid = ?'),
    studyByUid: get<StudyRefRow>('SELECT pk, patient_fk, study_instance_uid FROM studies WHERE study_instance_uid = ?'),
    studyByPk: get<StudyRefRow>('SELECT pk, patient_fk, study_instance_uid FROM studies WHERE pk = ?'),
    patientByPk: get<PatientRefRow>('SELECT pk, patient_id, issuer_of_patient_id FROM patients WHERE pk = ?'),
    upsertPatient: get<{ pk: number }>(UPSERT_PATIENT),
    // Only while the images own the demographics (patient-sql.ts).
    updatePatient: run(`${updateIfChanged('patients', PATIENT_DEMOGRAPHICS)} AND ${IMAGES_OWN_DEMOGRAPHICS}`),
    insertStudy: get<{ pk: number }>(
      `INSERT INTO studies (patient_fk, ${names(STUDY_ATTRS)}, created_at, updated_at)
       VALUES (@patient_fk, ${values(STUDY_ATTRS)}, @now, @now) RETURNING pk`,
    ),
    updateStudy: run(updateIfChanged('studies', withoutKey(STUDY_ATTRS, 'study_instance_uid'))),
    insertSeries: get<{ pk: number }>(
      `INSERT INTO series (study_fk, ${names(SERIES_ATTRS)}, created_at, updated_at)
       VALUES (@study_fk, ${values(SERIES_ATTRS)}, @now, @now) RETURNING pk`,
    ),
    updateSeries: run(updateIfChanged('series', withoutKey(SERIES_ATTRS, 'series_instance_uid'))),

    // --- instances
    insertInstance: run(
      `INSERT INTO instances (series_fk, ${names(INSTANCE_ATTRS)}, created_at, updated_at)
       VALUES (@series_fk, ${values(INSTANCE_ATTRS)}, @now, @now)`,
    ),
    updateInstance: run(
      `UPDATE instances SET series_fk = @series_fk, ${assignments(INSTANCE_ATTRS)}, updated_at = @now WHERE pk = @pk`,
    ),
    deleteInstance: run('DELETE FROM instances WHERE pk = ?'),
    deleteMetadataOf: run('DELETE FROM instance_metadata WHERE sop_instance_uid = ?'),

    // --- counts; a negative delta removes, and max() keeps last_received_at from going back
    bumpSeries: run(`UPDATE series SET num_instances = num_instances + @instances, size_bytes = size_bytes + @bytes,
      last_received_at = max(last_received_at, @at) WHERE pk = @pk`),
    bumpStudy: run(`UPDATE studies SET num_series = num_series + @series, num_instances = num_instances + @instances,
      size_bytes = size_bytes + @bytes, last_received_at = max(last_received_at, @at) WHERE pk = @pk`),
    bumpPatient: run(`UPDATE patients SET num_studies = num_studies + @studies, num_series = num_series + @series,
      num_instances = num_instances + @instances WHERE pk = @pk`),
    seriesInstances: get<number>('SELECT num_instances FROM series WHERE pk = ?').pluck(),
    studySeries: get<number>('SELECT num_series FROM studies WHERE pk = ?').pluck(),
    patientStudies: get<number>('SELECT num_studies FROM patients WHERE pk = ?').pluck(),
    deleteSeries: run('DELETE FROM series WHERE pk = ?'),
    deleteStudy: run('DELETE FROM studies WHERE pk = ?'),
    deletePatient: run('DELETE FROM patients WHERE pk = ?'),

    // --- computed study attributes
    studyModalities: get<string>(
      "SELECT DISTINCT modality FROM series WHERE study_fk = ? AND modality IS NOT NULL AND modality <> ''",
    ).pluck(),
    setModalities: run('UPDATE studies SET modalities_in_study = ? WHERE pk = ?'),
    studySopClasses: get<string>('SELECT sop_classes_in_study FROM studies WHERE pk = ?').pluck(),
    sopClassInStudy: get<number>(
      `SELECT 1 FROM series se JOIN instances i ON i.series_fk = se.pk
       WHERE se.study_fk = ? AND i.sop_class_uid = ? LIMIT 1`,
    ).pluck(),
    setSopClasses: run('UPDATE studies SET sop_classes_in_study = ? WHERE pk = ?'),

    // children first: the foreign keys refuse a parent that still has rows
    clear: ['instances', 'series', 'studies', 'patients', 'changes', 'instance_metadata'].map((t) => run(`DELETE FROM ${t}`)),

    // --- change log
    insertChange: get<number>(
      'INSERT INTO changes (kind, level, uid, study_uid, at) VALUES (?, ?, ?, ?, ?) RETURNING seq',
    ).pluck(),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;
