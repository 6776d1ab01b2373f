// The patient row as the images see it, the same text on both backends: made by the first
// image of the patient and its demographics rewritten by each later one ("latest wins") —
// unless they were set from outside DICOM (HL7 ADT^A08, the REST API; migration 15), which the
// images then never overwrite: a corrected name would otherwise revert with the next series.
import { PATIENT_COLUMNS, quoteIdent } from './columns.js';
import { FOLLOWED_LINK } from './patient-links.js';

/** Columns an image writes: the attributes and the folded name. */
export const PATIENT_ATTRS: readonly string[] = [...Object.values(PATIENT_COLUMNS), 'patient_name_fold'];
/** The patient key (Patient ID and issuer). */
export const PATIENT_KEY: readonly string[] = [PATIENT_COLUMNS.PatientID, PATIENT_COLUMNS.IssuerOfPatientID];
/** The columns an image may rewrite on an existing patient. */
export const PATIENT_DEMOGRAPHICS: readonly string[] = PATIENT_ATTRS.filter((c) => !PATIENT_KEY.includes(c));

/** Whether the images still own the row's demographics (a condition on `patients`). */
export const IMAGES_OWN_DEMOGRAPHICS = 'patients.demographics_updated_at IS NULL';

/**
 * Files a patient by its key, returning its pk: inserted, or its demographics taken from the
 * image when the images own them (a CASE per column, so the row is always returned).
 *
 * An image of a patient merged away (HL7 ADT^A40) is filed under the patient its link resolves
 * to (./patient-links.ts), as the merge filed the prior patient's studies: the link is read in
 * this statement, on its primary key — nothing more per study, and nothing per instance (an
 * instance of a study already filed never gets here) — and, being read by the statement, seen
 * as soon as another server sharing the index commits it. Like the merge, such an image leaves
 * the survivor's demographics as they are (they are not its own), and makes the survivor with
 * them when it is not indexed yet (the merge's prior patient would take its identity so).
 * SQLite needs the WHERE to read ON CONFLICT as the upsert's, not as the join's.
 */
const LINKED: Readonly<Record<string, string>> = {
  [PATIENT_COLUMNS.PatientID]: 'coalesce(link.resolved_patient_id, @patient_id)',
  [PATIENT_COLUMNS.IssuerOfPatientID]: 'coalesce(link.resolved_issuer_of_patient_id, @issuer_of_patient_id)',
};
const OWN_PATIENT = 'excluded.patient_id = @patient_id AND excluded.issuer_of_patient_id = @issuer_of_patient_id';
export const UPSERT_PATIENT = `WITH link AS (SELECT resolved_patient_id, resolved_issuer_of_patient_id ${FOLLOWED_LINK})
  INSERT INTO patients (${PATIENT_ATTRS.map(quoteIdent).join(', ')}, created_at, updated_at)
  SELECT ${PATIENT_ATTRS.map((c) => LINKED[c] ?? `@${c}`).join(', ')}, @now, @now
  FROM (SELECT 1) AS image LEFT JOIN link ON true WHERE true
  ON CONFLICT (${PATIENT_KEY.map(quoteIdent).join(', ')}) DO UPDATE SET
  ${PATIENT_DEMOGRAPHICS.map((c) => `${quoteIdent(c)} = CASE WHEN ${IMAGES_OWN_DEMOGRAPHICS} AND ${OWN_PATIENT} THEN excluded.${quoteIdent(c)} ELSE patients.${quoteIdent(c)} END`).join(', ')},
  updated_at = excluded.updated_at
  RETURNING pk`;
