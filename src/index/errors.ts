// Any database or driver error of an index backend, as the one code the layers above understand.
import { PacsError, errorMessage } from '../core/errors.js';

/**
 * SQLite's disk full, and PostgreSQL's class 53 (insufficient resources: disk full, out of
 * memory, too many connections): the index is out of resources for now, which a sender is told
 * as such (C-STORE 0xA700, STOW 503) and retries, not as a processing failure it gives up on.
 */
const outOfResources = (e: unknown): boolean => {
  const code = (e as { code?: unknown } | null)?.code;
  return code === 'SQLITE_FULL' || (typeof code === 'string' && /^53[0-9A-Z]{3}$/.test(code));
};

export function indexFailure(e: unknown, context?: string): PacsError {
  const message = context === undefined ? `index: ${errorMessage(e)}` : `${context}: ${errorMessage(e)}`;
  return new PacsError(outOfResources(e) ? 'OUT_OF_RESOURCES' : 'INDEX_FAILURE', message, { cause: e });
}

/**
 * A write that committed but could not be made durable (the log's sync failed): the rows exist
 * for this process, whether they survive a crash is unknown. The caller must not undo what the
 * rows point at (an instance's file), and must not report success.
 */
export class UncertainCommit extends PacsError {
  constructor(message: string, cause: unknown) {
    super('INDEX_FAILURE', message, { cause });
  }
}

/**
 * The index is held by the other kind of user: servers (a maintenance tool cannot run), or a
 * maintenance tool (a server cannot start) — or, on SQLite, by another server (serve/maintain).
 */
export class IndexInUseError extends PacsError {
  constructor(message: string) {
    super('CONFLICT', message);
  }
}
