// Patient demographics changed from outside DICOM (HL7 ADT^A08 update, ADT^A40 merge). The
// stored files keep what they were sent with; the index, which answers queries, follows the
// hospital's patient record. Run inside a write transaction of SqliteIndex.
import type Database from 'better-sqlite3';
import { foldName } from '../fold.js';
import { normalizePersonName } from '../../dicom/person-name.js';
import type { PatientChanges, PatientKey } from '../types.js';

interface PatientRow {
  pk: number;
  num_studies: number;
  num_series: number;
  num_instances: number;
}

const COLUMNS: Record<keyof PatientChanges, string> = { PatientName: 'patient_name', PatientBirthDate: 'patient_birth_date', PatientSex: 'patient_sex' };

const find = (db: Database.Database, key: PatientKey): PatientRow | undefined =>
  db.prepare<[string, string], PatientRow>('SELECT pk, num_studies, num_series, num_instances FROM patients WHERE patient_id = ? AND issuer_of_patient_id = ?')
    .get(key.PatientID, key.IssuerOfPatientID ?? '');

/**
 * The patient as the index holds it: images often come without Issuer of Patient ID while
 * the hospital system always names one, so an ID indexed without issuer is the same patient.
 */
export function indexedKey(db: Database.Database, key: PatientKey): PatientKey {
  if (key.IssuerOfPatientID === null || find(db, key)) return key;
  return find(db, { PatientID: key.PatientID, IssuerOfPatientID: null }) ? { PatientID: key.PatientID, IssuerOfPatientID: null } : key;
}

export function updatePatient(db: Database.Database, key: PatientKey, changes: PatientChanges): boolean {
  const row = find(db, key);
  if (!row) return false;
  const sets: string[] = [];
  const values: Record<string, string | number | null> = { pk: row.pk, now: Date.now() };
  for (const [k, column] of Object.entries(COLUMNS) as [keyof PatientChanges, string][]) {
    if (!(k in changes)) continue;
    sets.push(`${column} = @${k}`);
    values[k] = changes[k] ?? null;
  }
  if ('PatientName' in changes) {
    const name = changes.PatientName ? normalizePersonName(changes.PatientName) : null;
    values.PatientName = name;
    sets.push('patient_name_fold = @fold');
    values.fold = name ? foldName(name) : null;
  }
  if (!sets.length) return true;
  // From now on the images filed under the patient no longer rewrite these (../patient-sql.ts).
  db.prepare(`UPDATE patients SET ${sets.join(', ')}, updated_at = @now, demographics_updated_at = @now WHERE pk = @pk`).run(values);
  return true;
}

/**
 * Moves every study of `from` to `to` and removes `from`. When `to` is not indexed yet, `from`
 * simply takes its identity. Returns the number of studies moved (0 when `from` is unknown).
 */
export function mergePatients(db: Database.Database, from: PatientKey, to: PatientKey): number {
  const old = find(db, from);
  if (!old) return 0;
  const now = Date.now();
  const survivor = find(db, to);
  if (!survivor) {
    db.prepare('UPDATE patients SET patient_id = ?, issuer_of_patient_id = ?, updated_at = ? WHERE pk = ?').run(to.PatientID, to.IssuerOfPatientID ?? '', now, old.pk);
    return old.num_studies;
  }
  if (survivor.pk === old.pk) return 0;
  db.prepare('UPDATE studies SET patient_fk = ? WHERE patient_fk = ?').run(survivor.pk, old.pk);
  db.prepare('UPDATE patients SET num_studies = num_studies + ?, num_series = num_series + ?, num_instances = num_instances + ?, updated_at = ? WHERE pk = ?')
    .run(old.num_studies, old.num_series, old.num_instances, now, survivor.pk);
  db.prepare('DELETE FROM patients WHERE pk = ?').run(old.pk);
  return old.num_studies;
}
