// pacs verify: the archive checked against itself — every index row has its file, of the
// recorded size and (unless quick) the recorded SHA-256; every file under the storage folder
// has its row. With repair: rows whose file is gone are removed, files without a row are
// indexed where they are (a crash between moving a file into place and committing its row
// leaves one; the instance was never acknowledged, but it is whole), and older copies of an
// instance indexed elsewhere are removed. Checksum mismatches are only reported: which side
// is right is for a person to decide.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { readPart10Header } from '../dicom/part10.js';
import { errorMessage } from '../core/errors.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { deleteInstances } from './delete.js';
import { indexExistingFile } from './import.js';
import type { StoreService } from './store.js';
import type { Logger } from '../core/logging.js';

export type ProblemKind = 'missing-file' | 'size-mismatch' | 'checksum-mismatch' | 'orphan-file' | 'stale-copy' | 'unreadable-file';

export interface VerifyProblem {
  kind: ProblemKind;
  path: string;
  sopInstanceUID: string | null;
  detail: string;
  repaired: boolean;
}

export interface VerifyReport {
  rows: number;
  files: number;
  problems: VerifyProblem[];
}

export interface VerifyDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  store: StoreService;
  derived: readonly { forget(sopInstanceUID: string): Promise<void> }[];
  logger: Logger;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * Rows whose files are gone are removed only when that is believable: not when the storage
 * holds no file at all, nor when more than half of ten or more rows lost theirs (an unmounted
 * volume, a mistyped --storage-dir: "repairing" emptied the index, protected marks and all).
 */
function believableLoss(missing: number, rows: number, files: number): string | null {
  if (files === 0) return `the storage holds no file at all (is it mounted?)`;
  if (rows >= 10 && missing * 2 > rows) return `${missing} of ${rows} rows lost their files (is storage.directory right?)`;
  return null;
}

export async function verifyArchive(deps: VerifyDeps, options: { quick: boolean; repair: boolean; force?: boolean; onProgress?: (done: number) => void }): Promise<VerifyReport> {
  const report: VerifyReport = { rows: 0, files: 0, problems: [] };
  const problem = (p: Omit<VerifyProblem, 'repaired'>, repaired = false): void => void report.problems.push({ ...p, repaired });
  const indexed = new Set<string>();
  /** Rows whose file is gone: removed after the walk of the files, when the loss is believable. */
  const missing: InstanceLocation[] = [];

  // 1. Rows → files.
  for (let after: string | null = null; ; ) {
    const page = await deps.index.listInstances(after, 1000);
    if (!page.length) break;
    for (const loc of page) {
      report.rows++;
      indexed.add(loc.path);
      const abs = deps.objects.absolutePath(loc.path);
      let size: number;
      try {
        size = (await fs.promises.stat(abs)).size;
      } catch (e) {
        // Only "no such file" is gone: a file we may not read, or an I/O error, is there.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          problem({ kind: 'unreadable-file', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: `indexed, but its file cannot be looked at: ${errorMessage(e)}` });
          continue;
        }
        // A running server may have moved the row meanwhile (an overwrite): only the row as it
        // is now, still naming a file that is not there, is a problem.
        const now = await deps.index.findInstance(loc.SOPInstanceUID);
        if (now?.path !== loc.path || (await deps.objects.exists(loc.path))) continue;
        missing.push(now);
        continue;
      }
      if (size !== loc.size) problem({ kind: 'size-mismatch', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: `${size} bytes on disk, ${loc.size} recorded` });
      else if (!options.quick) {
        const sum = await sha256(abs);
        if (sum !== loc.checksum) problem({ kind: 'checksum-mismatch', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: `SHA-256 ${sum.slice(0, 16)}…, ${loc.checksum.slice(0, 16)}… recorded` });
      }
      options.onProgress?.(report.rows);
    }
    after = page[page.length - 1]!.SOPInstanceUID;
  }

  // 2. Files → rows.
  for await (const rel of deps.objects.list()) {
    report.files++;
    if (indexed.has(rel)) continue;
    // Written in the last minute: a running server's store that may not have its row yet. Only
    // a check leaves these out; a repair runs with the server stopped, when no store is in flight.
    if (!options.repair && (await deps.objects.recentlyWritten(rel))) continue;
    let uid: string | null = null;
    try {
      uid = (await readPart10Header(deps.objects.absolutePath(rel))).sopInstanceUID ?? null;
    } catch (e) {
      problem({ kind: 'unreadable-file', path: rel, sopInstanceUID: null, detail: `not a readable DICOM file: ${errorMessage(e)}` });
      continue;
    }
    const holder = uid ? await deps.index.findInstance(uid) : null;
    if (holder?.path === rel) continue; // indexed since the rows were listed
    if (holder) {
      // Another file holds this instance in the index: this one is an older copy (an overwrite
      // interrupted) — removed only while the indexed copy is there and whole (its recorded
      // SHA-256): when that one is damaged or gone, this copy may be all that is left.
      const intact = options.repair && (await sha256(deps.objects.absolutePath(holder.path)).then((sum) => sum === holder.checksum, () => false));
      const repaired = intact && (await deps.objects.remove(rel).then(() => true, () => false));
      const kept = options.repair && !intact ? ': kept, for the indexed copy is missing or damaged' : '';
      problem({ kind: 'stale-copy', path: rel, sopInstanceUID: uid, detail: `the index has this instance at ${holder.path}` + (repaired ? ': copy removed' : kept) }, repaired);
      continue;
    }
    let repaired = false;
    if (options.repair) {
      try {
        await indexExistingFile(deps.store, rel);
        repaired = true;
      } catch (e) {
        deps.logger.warn({ err: e, path: rel }, 'verify: cannot index an orphan file');
      }
    }
    problem({ kind: 'orphan-file', path: rel, sopInstanceUID: uid, detail: 'a file with no index row' + (repaired ? ': indexed' : '') }, repaired);
  }

  // 3. Rows whose files are gone.
  const doubt = options.repair && !options.force ? believableLoss(missing.length, report.rows, report.files) : null;
  // A protected study's rows are kept: removed, the study's last row took its protected mark with
  // it, and once its files were back (and indexed again) retention could delete it.
  const protectedStudies = new Map<string, boolean>();
  const isProtected = async (study: string): Promise<boolean> => {
    let p = protectedStudies.get(study);
    if (p === undefined) protectedStudies.set(study, (p = (await deps.index.retention.isProtected(study)) === true));
    return p;
  };
  for (const loc of missing) {
    if (options.repair && !options.force && (await isProtected(loc.StudyInstanceUID))) {
      problem({ kind: 'missing-file', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: 'indexed, but its file is gone: row kept, its study is protected; --force removes it' });
      continue;
    }
    // Back since step 1 (a restore still copying, a share slow to come back): the row stays, and
    // the file with it — a delete would have set the file aside and removed it.
    if (options.repair && (await deps.objects.exists(loc.path))) {
      problem({ kind: 'missing-file', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: 'its file was missing, and is there again: row kept (run pacs verify again to check it)' });
      continue;
    }
    const repaired = options.repair && !doubt && (await deleteInstances({ index: deps.index, objects: deps.objects, derived: deps.derived, logger: deps.logger, exclusive: (uid, fn) => deps.store.exclusive(uid, fn) }, [loc])).instances === 1;
    const why = repaired ? ': row removed' : doubt ? `: row kept, ${doubt}; --force removes it` : '';
    problem({ kind: 'missing-file', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: 'indexed, but its file is gone' + why }, repaired);
  }
  return report;
}
