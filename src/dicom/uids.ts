// UID tables of the standard (generated) and what we derive from them.
import { SOP_CLASSES, type UidEntry } from './uids.generated.js';

export { SOP_CLASSES, TRANSFER_SYNTAXES, type UidEntry } from './uids.generated.js';

/**
 * Every storage SOP class of the standard, retired ones included: PS3.4 Annex B and the other
 * storage-like annexes name each of them "... Storage"; Storage Commitment is the one class so
 * named that is not transferred with C-STORE.
 */
export const STORAGE_SOP_CLASSES: readonly UidEntry[] = SOP_CLASSES.filter(
  (c) => /Storage/.test(c.name) && !/Storage Commitment/.test(c.name),
);
const STORAGE_UIDS = new Set(STORAGE_SOP_CLASSES.map((c) => c.uid));
/** Whether a SOP class is one of the storage classes C-STORE accepts (STOW-RS and commitment ask too). */
export const isStorageSopClass = (uid: string): boolean => STORAGE_UIDS.has(uid);

/** The non-storage SOP classes the code names (PS3.4 Annexes A and C). */
export const SopClass = {
  Verification: '1.2.840.10008.1.1',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
  // Workflow (PS3.4 Annexes K, F, J)
  ModalityWorklistInformationModelFind: '1.2.840.10008.5.1.4.31',
  ModalityPerformedProcedureStep: '1.2.840.10008.3.1.2.3.3',
  StorageCommitmentPushModel: '1.2.840.10008.1.20.1',
} as const;

/** The well-known SOP Instance of the Storage Commitment Push Model (PS3.4 J.3.5). */
export const STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE = '1.2.840.10008.1.20.1.1';

/** The root under which PS3.6 defines every UID of its registry (Table and the rest). */
const STANDARD_ROOT = '1.2.840.10008.';

/**
 * A UID the standard itself defines (a SOP class, transfer syntax, coding scheme, well-known
 * frame of reference or instance…): it names a definition, never a patient or a study, so
 * de-identification keeps it. Every UID of the generated registry is under the root.
 */
export const isStandardUid = (uid: string): boolean => uid.startsWith(STANDARD_ROOT);
