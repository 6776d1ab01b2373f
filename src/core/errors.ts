// Error classes with stable codes. Every layer throws these; one place per transport maps
// them to a wire answer (a DIMSE status, an HTTP problem, a CLI exit code).

export type ErrorCode =
  | 'DICOM_PARSE' // the bytes are not a well-formed dataset (truncated, corrupt, not DICOM)
  | 'DICOM_MISSING_UID' // a UID needed to file the instance is absent
  | 'UID_MISMATCH' // the dataset contradicts the command (SOP class / instance UID)
  | 'DUPLICATE_INSTANCE' // duplicate_policy: reject, and the content differs
  | 'OUT_OF_RESOURCES' // disk full, below the free-space guard, too large
  | 'INDEX_FAILURE' // the index could not record the instance
  | 'STORAGE_FAILURE' // the object store could not write or read
  | 'REJECTED_BY_HOOK' // a before-store hook refused the instance
  | 'CONFIG_INVALID'
  | 'PROTOCOL' // a peer broke the upper-layer or DIMSE protocol
  | 'NOT_FOUND'
  | 'CONFLICT' // the request contradicts what exists (a read-only node, a duplicate)
  | 'BAD_ARGUMENT' // a parameter of the request is malformed or out of range (a region outside the image)
  | 'UNSUPPORTED' // well-formed, but beyond what this server can do with it (render a non-image, a codec we lack)
  | 'UNAVAILABLE' // a part of this server it needs failed or was too slow (a codec worker died, timed out, could not start): try again later
  | 'ABORTED'; // the operation was cancelled or its association aborted

export class PacsError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'PacsError';
  }
}

export const isPacsError = (e: unknown, code?: ErrorCode): e is PacsError =>
  e instanceof PacsError && (code === undefined || e.code === code);

/** The message of anything thrown, for logs and error comments. */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e));
