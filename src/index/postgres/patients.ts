// Patient demographics changed from outside DICOM (HL7 ADT^A08, ADT^A40), on PostgreSQL: the
// same rules as ../sqlite/patients.ts, run inside a write transaction of PostgresIndex. The
// patient rows are locked first (FOR UPDATE) so a store filing under them meanwhile waits.
import { foldName } from '../fold.js';
import { normalizePersonName } from '../../dicom/person-name.js';
import type { PatientChanges, PatientKey } from '../types.js';
import type { Db } from './db.js';

interface PatientRow {
  pk: number;
  num_studies: number;
  num_series: number;
  num_instances: number;
}

const COLUMNS: Record<keyof PatientChanges, string> = { PatientName: 'patient_name', PatientBirthDate: 'patient_birth_date', PatientSex: 'patient_sex' };

const find = async (db: Db, key: PatientKey): Promise<PatientRow | undefined> =>
  (
    await db.query<PatientRow>('SELECT pk, num_studies, num_series, num_instances FROM patients WHERE patient_id = $1 AND issuer_of_patient_id = $2 FOR UPDATE', [
      key.PatientID,
      key.IssuerOfPatientID ?? '',
    ])
  ).rows[0];

/** The patient as the index holds it (an ID indexed without issuer is the same patient); see ../sqlite/patients.ts. */
export async function indexedKey(db: Db, key: PatientKey): Promise<PatientKey> {
  if (key.IssuerOfPatientID === null || (await find(db, key))) return key;
  const bare = { PatientID: key.PatientID, IssuerOfPatientID: null };
  return (await find(db, bare)) ? bare : key;
}

export async function updatePatient(db: Db, key: PatientKey, changes: PatientChanges): Promise<boolean> {
  const row = await find(db, key);
  if (!row) return false;
  const sets: string[] = [];
  const values: unknown[] = [];
  const param = (v: unknown): string => `$${values.push(v)}`;
  const name = changes.PatientName ? normalizePersonName(changes.PatientName) : null;
  for (const [k, column] of Object.entries(COLUMNS) as [keyof PatientChanges, string][]) {
    if (k in changes) sets.push(`${column} = ${param(k === 'PatientName' ? name : (changes[k] ?? null))}`);
  }
  if ('PatientName' in changes) sets.push(`patient_name_fold = ${param(name ? foldName(name) : null)}`);
  if (!sets.length) return true;
  // From now on the images filed under the patient no longer rewrite these (../patient-sql.ts).
  const now = param(Date.now());
  await db.query(`UPDATE patients SET ${sets.join(', ')}, updated_at = ${now}, demographics_updated_at = ${now} WHERE pk = ${param(row.pk)}`, values);
  return true;
}

/** Moves every study of `from` to `to` and removes `from`; see ../sqlite/patients.ts. */
export async function mergePatients(db: Db, from: PatientKey, to: PatientKey): Promise<number> {
  const old = await find(db, from);
  if (!old) return 0;
  const now = Date.now();
  const survivor = await find(db, to);
  if (!survivor) {
    await db.query('UPDATE patients SET patient_id = $1, issuer_of_patient_id = $2, updated_at = $3 WHERE pk = $4', [to.PatientID, to.IssuerOfPatientID ?? '', now, old.pk]);
    return old.num_studies;
  }
  if (survivor.pk === old.pk) return 0;
  await db.query('UPDATE studies SET patient_fk = $1 WHERE patient_fk = $2', [survivor.pk, old.pk]);
  await db.query('UPDATE patients SET num_studies = num_studies + $1, num_series = num_series + $2, num_instances = num_instances + $3, updated_at = $4 WHERE pk = $5', [
    old.num_studies,
    old.num_series,
    old.num_instances,
    now,
    survivor.pk,
  ]);
  await db.query('DELETE FROM patients WHERE pk = $1', [old.pk]);
  return old.num_studies;
}
