// Deleting what the archive holds, at any level. For each instance the file is first moved
// aside (into .deleting/, src/storage/tombstones.ts), then the index row goes, then the moved
// file and what was derived from it (cached metadata, thumbnails). A row that stays (refused,
// failed) gets its file back; a crash in between leaves a set-aside file that the next start
// puts back or unlinks by whether the row is there. Never a file without a row at an
// instance's path, which `pacs verify --repair` or `pacs reindex` would index again, or which a
// new instance with the same templated name would take over and then lose to our unlink.
import { UncertainCommit } from '../index/errors.js';
import type { ArchiveIndex, InstanceLocation, StudyGuard } from '../index/types.js';
import type { Tombstone } from '../storage/tombstones.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../core/logging.js';

export interface DeleteDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  /** What is derived from each instance and kept apart from it: cached metadata, thumbnails. */
  derived: readonly { forget(sopInstanceUID: string): Promise<void> }[];
  logger: Logger;
  /**
   * Runs a delete while no store of the same instance runs (StoreService.exclusive): a resend
   * placed between the row's removal and the file's would otherwise lose its new file.
   */
  exclusive: <T>(sopInstanceUID: string, fn: () => Promise<T>) => Promise<T>;
}

export interface DeleteResult {
  /** Instance rows deleted. */
  instances: number;
  /** Bytes of the files actually removed (not those left behind, nor those missing already). */
  bytes: number;
  /** Files that could not be removed (their rows are gone; the files wait in .deleting for the next start). */
  leftFiles: string[];
  /** Why the deletion stopped before the end: the signal aborted, or the guard's study changed. */
  stopped?: 'aborted' | 'changed';
}

export interface DeleteOptions {
  /** Checked before each instance: a long deletion stops between two of them. */
  signal?: AbortSignal;
  /**
   * Each instance's row goes only while its study is still as the guard says, checked in the
   * delete's transaction; the first that is not stops the whole deletion (the rest is kept).
   */
  guard?: StudyGuard;
}

/**
 * What a deletion that failed part-way did before its error (to log, audit and count), by the
 * error it threw. The error itself goes on unchanged, so callers keep telling its kind.
 */
const partials = new WeakMap<object, DeleteResult>();
export const partialDelete = (e: unknown): DeleteResult | null => (typeof e === 'object' && e !== null ? (partials.get(e) ?? null) : null);

/** Throws the first instance's error; partialDelete(error) tells what was deleted until then. */
export async function deleteInstances(deps: DeleteDeps, instances: readonly InstanceLocation[], options: DeleteOptions = {}): Promise<DeleteResult> {
  const result: DeleteResult = { instances: 0, bytes: 0, leftFiles: [] };
  const { signal, guard } = options;
  for (const loc of instances) {
    if (signal?.aborted) {
      result.stopped = 'aborted';
      break;
    }
    let removed;
    try {
      removed = await deps.exclusive(loc.SOPInstanceUID, () => deleteOne(deps, loc.SOPInstanceUID, guard, result));
    } catch (e) {
      if (typeof e === 'object' && e !== null) partials.set(e, result);
      throw e;
    }
    if (removed === 'changed') {
      result.stopped = 'changed';
      break;
    }
    if (!removed) continue;
    for (const d of deps.derived) await d.forget(removed.SOPInstanceUID).catch(() => {});
  }
  return result;
}

/** One instance, under the caller's exclusion of its stores: file aside, row, then the file for good. */
async function deleteOne(deps: DeleteDeps, uid: string, guard: StudyGuard | undefined, result: DeleteResult): Promise<InstanceLocation | 'changed' | null> {
  // The row as it is now (not as listed a while ago: an overwrite may have moved the file).
  const current = await deps.index.findInstance(uid);
  if (!current) return null; // deleted meanwhile by someone else
  const tomb = await deps.objects.entomb(current.path, uid); // null: its file was missing already
  let row: InstanceLocation | 'changed' | null;
  try {
    row = guard ? await deps.index.deleteInstanceIf(uid, guard) : await deps.index.deleteInstance(uid);
  } catch (e) {
    if (tomb) await settleAfterFailure(deps, uid, current.path, tomb, e);
    throw e;
  }
  if (row === 'changed') {
    if (tomb) await putBack(deps, current.path, tomb);
    return row;
  }
  if (row === null) {
    // No row to delete after all: the file set aside has none either.
    await tomb?.remove().catch(() => {});
    return null;
  }
  result.instances++;
  await deps.objects.pruneEmptyDirs(current.path).catch(() => {}); // tidying only
  if (tomb) {
    try {
      await tomb.remove();
      result.bytes += row.size; // counted once really gone
    } catch (e) {
      // Out of every path an instance can have: the next start unlinks it (its row is gone).
      result.leftFiles.push(current.path);
      deps.logger.warn({ err: e, path: current.path }, 'deleted from the index, but its file (set aside in .deleting) could not be removed');
    }
  }
  return row;
}

/**
 * The row's delete failed. Rolled back: the file goes back. Uncertain (a PostgreSQL COMMIT
 * whose answer was lost): the index says which; if it cannot, the file stays set aside for the
 * next start's sweep, which decides by the row.
 */
async function settleAfterFailure(deps: DeleteDeps, uid: string, rel: string, tomb: Tombstone, e: unknown): Promise<void> {
  if (!(e instanceof UncertainCommit)) return putBack(deps, rel, tomb);
  const row = await deps.index.findInstance(uid).then(
    (r) => ({ known: true, row: r }),
    () => ({ known: false, row: null }),
  );
  if (!row.known) deps.logger.warn({ path: rel, sopInstanceUID: uid }, 'whether the index row was deleted is unknown; its file stays set aside until the next start settles it');
  else if (row.row) await putBack(deps, rel, tomb);
  else await tomb.remove().catch(() => {});
}

async function putBack(deps: DeleteDeps, rel: string, tomb: Tombstone): Promise<void> {
  await tomb.restore().catch((err: unknown) => deps.logger.error({ err, path: rel }, 'the instance was not deleted, but its file could not be put back (it stays in .deleting until the next start)'));
}
