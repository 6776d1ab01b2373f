// Deleting what the archive holds, at any level. For each instance the index row goes first,
// then its file and what was derived from it (cached metadata, thumbnails): a crash in between leaves a file without a row (which
// reindex or a verification finds and which no query ever returns), never a row without a file.
import type { ArchiveIndex, InstanceLocation, StudyGuard } from '../index/types.js';
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
  instances: number;
  bytes: number;
  /** Files that could not be removed (their rows are gone; the files are orphans now). */
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

export async function deleteInstances(deps: DeleteDeps, instances: readonly InstanceLocation[], options: DeleteOptions = {}): Promise<DeleteResult> {
  const result: DeleteResult = { instances: 0, bytes: 0, leftFiles: [] };
  const { signal, guard } = options;
  for (const loc of instances) {
    if (signal?.aborted) {
      result.stopped = 'aborted';
      break;
    }
    const removed = await deps.exclusive(loc.SOPInstanceUID, async () => {
      const row = guard ? await deps.index.deleteInstanceIf(loc.SOPInstanceUID, guard) : await deps.index.deleteInstance(loc.SOPInstanceUID);
      if (row === 'changed') return row;
      if (!row) return null; // deleted meanwhile by someone else
      try {
        await deps.objects.remove(row.path);
      } catch (e) {
        result.leftFiles.push(row.path);
        deps.logger.warn({ err: e, path: row.path }, 'deleted from the index, but its file could not be removed');
      }
      return row;
    });
    if (removed === 'changed') {
      result.stopped = 'changed';
      break;
    }
    if (!removed) continue;
    result.instances++;
    result.bytes += removed.size;
    for (const d of deps.derived) await d.forget(removed.SOPInstanceUID).catch(() => {});
  }
  return result;
}
