// Merged-patient links (HL7 ADT^A40, migration 16), the rules both backends apply. A merge
// moves the prior patient's studies in the index only (the files keep what they were sent
// with), so images of the prior identity arriving afterwards — a worklist fetched before the
// merge, a late series — are filed under the link's resolved patient the same way: by the
// patient upsert of the store (./patient-sql.ts), whose statement reads the link, so a link
// another server wrote is seen from its commit on, at no statement of its own.
//
// Which link an identity follows: the one of its Patient ID and issuer, or, when it has no
// issuer, one of its ID with any issuer (the hospital names one, images often none: the rule
// Hl7Service.indexed applies to indexed patients). A prior identity "covers" the identities
// that follow its link; `resolved` is kept at the end of the chain (each merge moves the links
// resolved to its prior patient on to its own), so a store reads one row and never walks.
import { PacsError } from '../core/errors.js';
import type { PatientKey, PatientLink, PatientMerge } from './types.js';

export interface LinkRow {
  prior_patient_id: string;
  prior_issuer_of_patient_id: string;
  surviving_patient_id: string;
  surviving_issuer_of_patient_id: string;
  resolved_patient_id: string;
  resolved_issuer_of_patient_id: string;
  merged_at: number;
  message_control_id: string;
}

/**
 * The link an identity (@patient_id, @issuer_of_patient_id; '' for no issuer) follows, as
 * `FROM … LIMIT 1` for a SELECT of its columns: its own issuer first, then the least issuer.
 */
export const FOLLOWED_LINK = `FROM patient_links
  WHERE prior_patient_id = @patient_id AND (prior_issuer_of_patient_id = @issuer_of_patient_id OR @issuer_of_patient_id = '')
  ORDER BY prior_issuer_of_patient_id <> @issuer_of_patient_id, prior_issuer_of_patient_id LIMIT 1`;

/** The link of exactly one prior identity (@patient_id, @issuer_of_patient_id). */
export const LINK_OF_PRIOR = "SELECT * FROM patient_links WHERE prior_patient_id = @patient_id AND prior_issuer_of_patient_id = @issuer_of_patient_id";

export const INSERT_LINK = `INSERT INTO patient_links (prior_patient_id, prior_issuer_of_patient_id, surviving_patient_id,
  surviving_issuer_of_patient_id, resolved_patient_id, resolved_issuer_of_patient_id, merged_at, message_control_id)
  VALUES (@prior_id, @prior_issuer, @surviving_id, @surviving_issuer, @into_id, @into_issuer, @now, @control_id)`;

/** The links resolved to an identity the new prior covers now resolve where it goes: chains stay one step. */
export const REDIRECT_LINKS = `UPDATE patient_links SET resolved_patient_id = @into_id, resolved_issuer_of_patient_id = @into_issuer
  WHERE resolved_patient_id = @prior_id AND (resolved_issuer_of_patient_id = @prior_issuer OR resolved_issuer_of_patient_id = '')`;

/** '' for no issuer, as the tables keep it. */
export const issuerText = (key: PatientKey): string => key.IssuerOfPatientID ?? '';

/** The parameters of an identity for FOLLOWED_LINK and LINK_OF_PRIOR. */
export const identityParams = (key: PatientKey): { patient_id: string; issuer_of_patient_id: string } => ({
  patient_id: key.PatientID,
  issuer_of_patient_id: issuerText(key),
});

/** The parameters of INSERT_LINK and REDIRECT_LINKS. */
export const linkParams = (merge: PatientMerge, into: PatientKey, now: number): Record<string, string | number> => ({
  prior_id: merge.prior.PatientID,
  prior_issuer: issuerText(merge.prior),
  surviving_id: merge.surviving.PatientID,
  surviving_issuer: issuerText(merge.surviving),
  into_id: into.PatientID,
  into_issuer: issuerText(into),
  now,
  control_id: merge.controlId,
});

const key = (id: string, issuer: string): PatientKey => ({ PatientID: id, IssuerOfPatientID: issuer === '' ? null : issuer });

export const toPatientLink = (r: LinkRow): PatientLink => ({
  prior: key(r.prior_patient_id, r.prior_issuer_of_patient_id),
  surviving: key(r.surviving_patient_id, r.surviving_issuer_of_patient_id),
  resolved: key(r.resolved_patient_id, r.resolved_issuer_of_patient_id),
  mergedAt: new Date(Number(r.merged_at)),
  controlId: r.message_control_id,
});

/** Whether images of `identity` follow the link of `prior` (see the top). */
export const covers = (prior: PatientKey, identity: PatientKey): boolean =>
  prior.PatientID === identity.PatientID && (issuerText(identity) === '' || issuerText(identity) === issuerText(prior));

const sameKey = (a: PatientKey, b: PatientKey): boolean => a.PatientID === b.PatientID && issuerText(a) === issuerText(b);

/** A patient identity as HL7 writes it (CX: ID^^^issuer). */
export const cx = (k: PatientKey): string => (k.IssuerOfPatientID ? `${k.PatientID}^^^${k.IssuerOfPatientID}` : k.PatientID);

/**
 * Why `merge` cannot be recorded, or null. `into` is where it would file the prior patient,
 * `via` the link the survivor follows (if it was merged on), `existing` the prior identity's
 * own link. A cycle is refused rather than written: every store of the patients on it would
 * otherwise be filed under the other, and each merge would undo the last.
 */
export function refusal(merge: PatientMerge, into: PatientKey, via: PatientLink | null, existing: PatientLink | null): PacsError | null {
  const { prior, surviving } = merge;
  if (covers(prior, into)) {
    return new PacsError(
      'CONFLICT',
      via === null
        ? `${cx(prior)} and ${cx(surviving)} are the same patient: not merged`
        : `merging ${cx(prior)} into ${cx(surviving)} would make a cycle: ${cx(surviving)} was merged into ${cx(via.surviving)} (message ${via.controlId})` +
            (sameKey(via.surviving, into) ? '' : `, which is now ${cx(into)}`),
    );
  }
  // The same pair again is a resend (a lost ACK): it is applied again, harmlessly.
  if (existing !== null && !sameKey(existing.surviving, surviving)) {
    return new PacsError('CONFLICT', `${cx(prior)} was already merged into ${cx(existing.surviving)} (message ${existing.controlId}): not merged into ${cx(surviving)}`);
  }
  return null;
}
