// Any database or driver error of an index backend, as the one code the layers above understand.
import { PacsError, errorMessage } from '../core/errors.js';

export function indexFailure(e: unknown, context?: string): PacsError {
  const message = context === undefined ? `index: ${errorMessage(e)}` : `${context}: ${errorMessage(e)}`;
  return new PacsError('INDEX_FAILURE', message, { cause: e });
}
