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
import type { ArchiveIndex } from '../index/types.js';
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

export async function verifyArchive(deps: VerifyDeps, options: { quick: boolean; repair: boolean; onProgress?: (done: number) => void }): Promise<VerifyReport> {
  const report: VerifyReport = { rows: 0, files: 0, problems: [] };
  const problem = (p: Omit<VerifyProblem, 'repaired'>, repaired = false): void => void report.problems.push({ ...p, repaired });
  const indexed = new Set<string>();

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
      } catch {
        // A running server may have moved the row meanwhile (an overwrite): only the row as it
        // is now, still naming a file that is not there, is a problem.
        const now = await deps.index.findInstance(loc.SOPInstanceUID);
        if (now?.path !== loc.path || (await deps.objects.exists(loc.path))) continue;
        const repaired = options.repair && (await deleteInstances({ index: deps.index, objects: deps.objects, derived: deps.derived, logger: deps.logger, exclusive: (uid, fn) => deps.store.exclusive(uid, fn) }, [now])).instances === 1;
        problem({ kind: 'missing-file', path: loc.path, sopInstanceUID: loc.SOPInstanceUID, detail: 'indexed, but its file is gone' + (repaired ? ': row removed' : '') }, repaired);
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
      // Another file holds this instance in the index: this one is an older copy (an overwrite interrupted).
      const repaired = options.repair && (await deps.objects.remove(rel).then(() => true, () => false));
      problem({ kind: 'stale-copy', path: rel, sopInstanceUID: uid, detail: `the index has this instance at ${holder.path}` + (repaired ? ': copy removed' : '') }, repaired);
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
  return report;
}
