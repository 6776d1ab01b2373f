// DIMSE status codes (PS3.7 Annex C, PS3.4 for each service) and the one place where an error
// of ours becomes a status with an error comment.
import { type ErrorCode, isPacsError, errorMessage } from '../../core/errors.js';

export const Status = {
  Success: 0x0000,
  Pending: 0xff00,
  PendingWarning: 0xff01,
  Cancel: 0xfe00,
  // Warnings (C-STORE, PS3.4 B.2.3)
  CoercionOfDataElements: 0xb000,
  ElementsDiscarded: 0xb006,
  DataSetDoesNotMatchSOPClassWarning: 0xb007,
  SubOperationsCompleteWithFailures: 0xb000,
  // Failures
  OutOfResources: 0xa700,
  OutOfResourcesMatches: 0xa701,
  OutOfResourcesSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  DataSetDoesNotMatchSOPClass: 0xa900,
  IdentifierDoesNotMatchSOPClass: 0xa900,
  CannotUnderstand: 0xc000,
  UnableToProcess: 0xc001,
  ProcessingFailure: 0x0110,
  DuplicateSOPInstance: 0x0111,
  NoSuchSOPClass: 0x0118,
  ClassInstanceConflict: 0x0119,
  SOPClassNotSupported: 0x0122,
  NotAuthorized: 0x0124,
  UnrecognizedOperation: 0x0211,
  MistypedArgument: 0x0212,
} as const;

export const isPending = (s: number): boolean => s === Status.Pending || s === Status.PendingWarning;
export const isSuccess = (s: number): boolean => s === Status.Success;
export const isWarning = (s: number): boolean => s === 0x0001 || (s & 0xf000) === 0xb000 || s === 0x0107 || s === 0x0116;
export const isFailure = (s: number): boolean => !isSuccess(s) && !isPending(s) && !isWarning(s) && s !== Status.Cancel;

/** C-STORE failure status for each error code (documented in docs/conformance.md). */
const STORE_STATUS: Partial<Record<ErrorCode, number>> = {
  DICOM_PARSE: Status.CannotUnderstand,
  DICOM_MISSING_UID: Status.CannotUnderstand,
  UID_MISMATCH: Status.DataSetDoesNotMatchSOPClass,
  DUPLICATE_INSTANCE: Status.DuplicateSOPInstance,
  OUT_OF_RESOURCES: Status.OutOfResources,
  // An I/O or permission error is no shortage of resources: a retry later will not help.
  STORAGE_FAILURE: Status.ProcessingFailure,
  INDEX_FAILURE: Status.ProcessingFailure,
  REJECTED_BY_HOOK: Status.NotAuthorized,
  UNAVAILABLE: Status.OutOfResources,
  ABORTED: Status.ProcessingFailure,
};

/** An error comment is LO: at most 64 characters (PS3.7 C.3.1). */
export const errorComment = (text: string): string => (text.length > 64 ? `${text.slice(0, 61)}...` : text);

export function storeFailureStatus(e: unknown): { status: number; comment: string } {
  const status = isPacsError(e) ? (STORE_STATUS[e.code] ?? Status.ProcessingFailure) : Status.ProcessingFailure;
  return { status, comment: errorComment(errorMessage(e)) };
}
