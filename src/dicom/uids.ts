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
