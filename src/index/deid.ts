// What de-identification keeps in the index so its output is the same in every run and after
// restarts: a per-archive secret (UIDs and pseudonyms are keyed hashes of it, so they need no
// table of their own and never collide across archives) and, per patient, the pseudonym and
// date shift given, which is also the centre's key to re-identify a subject when allowed.

export interface DeidPatient {
  /**
   * Whose entry: PatientID and IssuerOfPatientID of the original joined by a backslash (without
   * a PatientID: the name and birth date, else the study; services/deidentify.ts patientKeyOf),
   * then U+0001 and the pseudonym prefix. Entries made before prefixes were kept have no prefix part.
   */
  patientKey: string;
  pseudonym: string;
  /** Days added to the patient's dates when dates are shifted. */
  shiftDays: number;
  createdAt: Date;
}

export interface DeidStore {
  /** The archive's secret, made from `fresh` on first use; every later call returns the same. */
  secret(fresh: string): Promise<string>;
  /**
   * The patient's entry, created from `proposed` when there is none. A pseudonym already given
   * to another patient is refused: then null, and the caller proposes another.
   */
  patient(proposed: Omit<DeidPatient, 'createdAt'>): Promise<DeidPatient | null>;
  /** The entry given to a pseudonym (re-identification, by those allowed to). */
  byPseudonym(pseudonym: string): Promise<DeidPatient | null>;
  /** The archive's secret if one was made; null before the first de-identification (reads only). */
  findSecret(): Promise<string | null>;
  /** The patient's entry if one was made (reads only). */
  byPatientKey(patientKey: string): Promise<DeidPatient | null>;
}
