// The patient row as the images see it, the same text on both backends: made by the first
// image of the patient and its demographics rewritten by each later one ("latest wins") —
// unless they were set from outside DICOM (HL7 ADT^A08, the REST API; migration 15), which the
// images then never overwrite: a corrected name would otherwise revert with the next series.
import { PATIENT_COLUMNS, quoteIdent } from './columns.js';

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
 */
export const UPSERT_PATIENT = `INSERT INTO patients (${PATIENT_ATTRS.map(quoteIdent).join(', ')}, created_at, updated_at)
  VALUES (${PATIENT_ATTRS.map((c) => `@${c}`).join(', ')}, @now, @now)
  ON CONFLICT (${PATIENT_KEY.map(quoteIdent).join(', ')}) DO UPDATE SET
  ${PATIENT_DEMOGRAPHICS.map((c) => `${quoteIdent(c)} = CASE WHEN ${IMAGES_OWN_DEMOGRAPHICS} THEN excluded.${quoteIdent(c)} ELSE patients.${quoteIdent(c)} END`).join(', ')},
  updated_at = excluded.updated_at
  RETURNING pk`;
