// The SQL of the PostgreSQL index's read and write paths, written with @name parameters
// (./db.ts named()) like the SQLite statements they mirror; column lists come from
// ../columns.ts so the SQL cannot drift from the DICOM keyword maps.

import { leadingInteger } from './query.js';
import { INSTANCE_COLUMNS, SERIES_COLUMNS, STUDY_COLUMNS, quoteIdent } from '../columns.js';
import { IMAGES_OWN_DEMOGRAPHICS, PATIENT_DEMOGRAPHICS, UPSERT_PATIENT } from '../patient-sql.js';

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
const withoutKey = (cols: readonly string[], key: string): string[] => cols.filter((c) => c !== key);

/** "Latest wins" without needless writes (see ../sqlite/statements.ts): IS DISTINCT FROM is SQLite's IS NOT. */
function updateIfChanged(table: string, cols: readonly string[]): string {
  const changed = cols.map((c) => `${quoteIdent(c)} IS DISTINCT FROM @${c}`).join(' OR ');
  return `UPDATE ${table} SET ${assignments(cols)}, updated_at = @now WHERE pk = @pk AND (${changed})`;
}

const LOCATION_SELECT = `SELECT i.sop_instance_uid, i.sop_class_uid, se.series_instance_uid, st.study_instance_uid,
  p.patient_id, i.path, i.size, i.transfer_syntax_uid, i.checksum, i.received_at,
  i.pk, i.series_fk, se.study_fk, st.patient_fk
FROM instances i
JOIN series se ON se.pk = i.series_fk
JOIN studies st ON st.pk = se.study_fk
JOIN patients p ON p.pk = st.patient_fk`;

/** The order of an IMAGE query within a study (query/plan.ts ORDER), as the SQLite backend sorts it. */
const INSTANCE_ORDER = ` ORDER BY ${leadingInteger('se.series_number')} NULLS FIRST, se.pk, ${leadingInteger('i.instance_number')} NULLS FIRST, i.pk`;

export const SQL = {
  // --- reads
  instancesOfStudy: `${LOCATION_SELECT} WHERE st.study_instance_uid = $1${INSTANCE_ORDER}`,
  instancesOfSeries: `${LOCATION_SELECT} WHERE st.study_instance_uid = $1 AND se.series_instance_uid = $2${INSTANCE_ORDER}`,
  instanceOf: `${LOCATION_SELECT} WHERE st.study_instance_uid = $1 AND se.series_instance_uid = $2 AND i.sop_instance_uid = $3`,
  // The UIDs as one array parameter, in their order: one statement however many a retrieve names.
  instancesByUids: `${LOCATION_SELECT.replace('FROM instances i', 'FROM unnest($1::text[]) WITH ORDINALITY AS u(uid, n)\nJOIN instances i ON i.sop_instance_uid = u.uid')} ORDER BY u.n`,
  instanceByUid: `${LOCATION_SELECT} WHERE i.sop_instance_uid = $1`,
  instanceByPath: `${LOCATION_SELECT} WHERE i.path = $1`,
  listFirst: `${LOCATION_SELECT} ORDER BY i.sop_instance_uid LIMIT $1`,
  listAfter: `${LOCATION_SELECT} WHERE i.sop_instance_uid > $1 ORDER BY i.sop_instance_uid LIMIT $2`,
  // sum() of BIGINT is NUMERIC (a string to the driver): cast back, the totals fit.
  statistics: `SELECT ${['patients', 'studies', 'series', 'instances', 'bytes'].map((c) => `coalesce(sum(${c}), 0)::bigint AS ${c}`).join(', ')}
    FROM archive_totals`,
  changesSince: 'SELECT seq, kind, level, uid, study_uid, at FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2',
  patientSummary: 'SELECT * FROM patients WHERE patient_id = $1 AND issuer_of_patient_id = $2',
  studySummary: `SELECT st.*, p.patient_id, p.issuer_of_patient_id FROM studies st
    JOIN patients p ON p.pk = st.patient_fk WHERE st.study_instance_uid = $1`,
  seriesSummary: `SELECT se.*, st.study_instance_uid FROM series se
    JOIN studies st ON st.pk = se.study_fk WHERE se.series_instance_uid = $1`,

  // --- parents
  seriesByUid: 'SELECT pk, study_fk, modality FROM series WHERE series_instance_uid = $1',
  studyByUid: 'SELECT pk, patient_fk, study_instance_uid FROM studies WHERE study_instance_uid = $1',
  studyByPk: 'SELECT pk, patient_fk, study_instance_uid FROM studies WHERE pk = $1',
  upsertPatient: UPSERT_PATIENT,
  // Only while the images own the demographics (patient-sql.ts).
  updatePatient: `${updateIfChanged('patients', PATIENT_DEMOGRAPHICS)} AND ${IMAGES_OWN_DEMOGRAPHICS}`,
  /**
   * The same, only while the row is still the record's patient (Patient ID and issuer): an
   * instance of a study filed under another patient leaves that patient as it is. Asked in the
   * UPDATE rather than read first, so it needs no round trip of its own.
   */
  updatePatientOfKey: `${updateIfChanged('patients', PATIENT_DEMOGRAPHICS)} AND patient_id = @patient_id AND issuer_of_patient_id = @issuer_of_patient_id AND ${IMAGES_OWN_DEMOGRAPHICS}`,
  insertStudy: `INSERT INTO studies (patient_fk, ${names(STUDY_ATTRS)}, created_at, updated_at)
    VALUES (@patient_fk, ${values(STUDY_ATTRS)}, @now, @now) RETURNING pk`,
  updateStudy: updateIfChanged('studies', withoutKey(STUDY_ATTRS, 'study_instance_uid')),
  insertSeries: `INSERT INTO series (study_fk, ${names(SERIES_ATTRS)}, created_at, updated_at)
    VALUES (@study_fk, ${values(SERIES_ATTRS)}, @now, @now) RETURNING pk`,
  updateSeries: updateIfChanged('series', withoutKey(SERIES_ATTRS, 'series_instance_uid')),

  // --- instances
  insertInstance: `INSERT INTO instances (series_fk, ${names(INSTANCE_ATTRS)}, created_at, updated_at)
    VALUES (@series_fk, ${values(INSTANCE_ATTRS)}, @now, @now)`,
  updateInstance: `UPDATE instances SET series_fk = @series_fk, ${assignments(INSTANCE_ATTRS)}, updated_at = @now WHERE pk = @pk`,
  deleteInstance: 'DELETE FROM instances WHERE pk = $1',
  deleteMetadataOf: 'DELETE FROM instance_metadata WHERE sop_instance_uid = $1',

  // --- counts; greatest() is SQLite's two-argument max()
  bumpStudy: `UPDATE studies SET num_series = num_series + @series, num_instances = num_instances + @instances,
    size_bytes = size_bytes + @bytes, last_received_at = greatest(last_received_at, @at) WHERE pk = @pk`,
  bumpPatient: `UPDATE patients SET num_studies = num_studies + @studies, num_series = num_series + @series,
    num_instances = num_instances + @instances WHERE pk = @pk`,
  /**
   * An instance added to (or taken from) its series, study and patient in one round trip,
   * with its SOP Class added to the study's list when new (@sop_class null: no change). The
   * list stays sorted by code point, as joinSorted makes it (COLLATE "C").
   */
  bumpChain: `WITH se AS (
      UPDATE series SET num_instances = num_instances + @instances, size_bytes = size_bytes + @bytes,
        last_received_at = greatest(last_received_at, @at) WHERE pk = @series_pk RETURNING 1
    ), st AS (
      UPDATE studies SET num_instances = num_instances + @instances, size_bytes = size_bytes + @bytes,
        last_received_at = greatest(last_received_at, @at),
        sop_classes_in_study = CASE
          WHEN @sop_class::text IS NULL OR @sop_class::text = ANY (string_to_array(sop_classes_in_study, '\\')) THEN sop_classes_in_study
          ELSE array_to_string(ARRAY(SELECT x FROM unnest(string_to_array(sop_classes_in_study, '\\') || @sop_class::text) AS x ORDER BY x COLLATE "C"), '\\')
        END
        WHERE pk = @study_pk RETURNING 1
    )
    UPDATE patients SET num_instances = num_instances + @instances WHERE pk = @patient_pk`,
  seriesInstances: 'SELECT num_instances AS n FROM series WHERE pk = $1',
  studySeries: 'SELECT num_series AS n FROM studies WHERE pk = $1',
  patientStudies: 'SELECT num_studies AS n FROM patients WHERE pk = $1',
  deleteSeries: 'DELETE FROM series WHERE pk = $1',
  deleteStudy: 'DELETE FROM studies WHERE pk = $1',
  deletePatient: 'DELETE FROM patients WHERE pk = $1',

  // --- computed study attributes
  studyModalities: "SELECT DISTINCT modality FROM series WHERE study_fk = $1 AND modality IS NOT NULL AND modality <> ''",
  setModalities: 'UPDATE studies SET modalities_in_study = $1 WHERE pk = $2',
  studySopClasses: 'SELECT sop_classes_in_study AS v FROM studies WHERE pk = $1',
  sopClassInStudy: `SELECT 1 AS found FROM series se JOIN instances i ON i.series_fk = se.pk
    WHERE se.study_fk = $1 AND i.sop_class_uid = $2 LIMIT 1`,
  setSopClasses: 'UPDATE studies SET sop_classes_in_study = $1 WHERE pk = $2',

  // children first: the foreign keys refuse a parent that still has rows
  clear: ['instances', 'series', 'studies', 'patients', 'changes', 'instance_metadata'].map((t) => `DELETE FROM ${t}`),

  /**
   * The change log's order must be its commit order (readers follow it by seq): the lock,
   * held to COMMIT, is taken before the sequence hands out the number — in one round trip.
   */
  insertChange: `WITH lock AS (SELECT pg_advisory_xact_lock($6::int4, hashtext(current_schema())))
    INSERT INTO changes (kind, level, uid, study_uid, at) SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint FROM lock RETURNING seq`,
} as const;
