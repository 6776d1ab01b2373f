// The "export" job (a rule's export action) and the loop `pacs export` shares with it: each
// instance's name is filled from its own attributes, then placed (see export.ts). Progress is
// reported per instance; failures are counted and the job fails at the end so the queue
// retries it, and the retry skips what is already in place.
import fs from 'node:fs/promises';
import path from 'node:path';
import type { ExportMode } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { JobProgress } from '../index/jobs.js';
import type { QueryLevel } from '../index/query/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { readAttributes } from './attributes.js';
import {
  digestOf,
  exportPath,
  holdsBytes,
  holdsInstance,
  isPermanentExportFailure,
  placeBytes,
  placeInstance,
  plannedPlacement,
  syncDirectory,
  type ExportTarget,
  type Placement,
} from './export.js';
import { BurnedInRefused, Deidentifier, fileParts, FlaggedCopies } from './deidentify.js';
import type { DeidentifyProfileConfig } from '../config/rules-schema.js';
import { type JobHandler, PermanentJobError } from './jobs.js';
import type { MetadataService } from './metadata.js';
import { selectInstances } from './retrieve.js';

export interface ExportDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  metadata: MetadataService;
}

export interface ExportCounts {
  total: number;
  written: number;
  present: number;
  failed: number;
  /** De-identification refused them (burned-in annotation, burned_in: refuse): not retried. */
  refused: number;
  /** De-identified although their pixels may carry burned-in text (burned_in: flag). */
  flagged: FlaggedCopies;
  firstError: string | null;
  failedUids: string[];
  /** Some failure another try may not repeat (see isPermanentExportFailure): the job is retried. */
  retryable: boolean;
}

export interface ExportOptions {
  /** Count and name (`written`: would be written) without writing anything. */
  dryRun?: boolean;
  signal?: AbortSignal;
  /** Writes de-identified copies (target.mode must be copy) named from the de-identified attributes. */
  deidentify?: Deidentifier;
  /** After each instance: where it went (or would go) and the counts so far. */
  onInstance?: (loc: InstanceLocation, dest: string | null, counts: ExportCounts) => void;
}

const UNIQUE: Record<QueryLevel, string> = { PATIENT: 'PatientID', STUDY: 'StudyInstanceUID', SERIES: 'SeriesInstanceUID', IMAGE: 'SOPInstanceUID' };

/** The stored instances of a patient, study, series or instance. */
export function instancesOf(index: ArchiveIndex, level: QueryLevel, uid: string): Promise<InstanceLocation[]> {
  return selectInstances(index, level === 'PATIENT' ? 'PATIENT_ROOT' : 'STUDY_ROOT', level, [{ keyword: UNIQUE[level], value: uid }]);
}

export async function exportInstances(deps: ExportDeps, instances: readonly InstanceLocation[], target: ExportTarget, options: ExportOptions = {}): Promise<ExportCounts> {
  const counts: ExportCounts = { total: instances.length, written: 0, present: 0, failed: 0, refused: 0, flagged: new FlaggedCopies(), firstError: null, failedUids: [], retryable: false };
  // Synced once at the end, before the job (or `pacs export`) reports the files done: the folder of
  // each file written, and the folders made for them (and their parents).
  const dirs = new Set<string>();
  // A dry run names each instance as the real run would (collisions resolved, files already in place found) and writes nothing.
  const planned = options.dryRun ? new Set<string>() : null;
  const toSync = (r: Placement): void => {
    if (r.placed === 'written') dirs.add(path.dirname(r.path));
    for (const d of r.madeDirs) dirs.add(d);
  };
  for (const loc of instances) {
    if (options.signal?.aborted) break;
    let dest: string | null = null;
    try {
      if (options.deidentify) {
        // Never a link: the point is a file without the original's identity.
        const d = await options.deidentify.deidentify(loc);
        try {
          counts.flagged.add(d);
          dest = exportPath(target, d.attributes);
          const parts = fileParts(d);
          let digest: string | undefined; // made when a file is found in the way, once
          const r = planned
            ? await plannedPlacement(dest, planned, (c) => holdsBytes(c, d.meta.length + d.datasetSize, (digest ??= digestOf(parts))), d.sopInstanceUID)
            : await placeBytes(parts, dest, d.sopInstanceUID, target.to);
          dest = r.path;
          counts[r.placed]++;
          if (!planned) toSync(r);
        } finally {
          d.release();
        }
        options.onInstance?.(loc, dest, counts);
        continue;
      }
      const attrs = await readAttributes(deps.metadata, loc);
      dest = exportPath(target, attrs.get);
      const r = planned
        ? await plannedPlacement(dest, planned, (c) => holdsInstance(deps.objects, loc, c, target.mode), loc.SOPInstanceUID)
        : await placeInstance(deps.objects, loc, dest, target.mode, target.to);
      dest = r.path;
      counts[r.placed]++;
      if (!planned) toSync(r);
    } catch (e) {
      if (e instanceof BurnedInRefused) {
        counts.refused++;
        counts.firstError ??= e.message;
        options.onInstance?.(loc, null, counts);
        continue;
      }
      counts.failed++;
      if (!isPermanentExportFailure(e)) counts.retryable = true;
      counts.firstError ??= `${loc.SOPInstanceUID}: ${errorMessage(e)}`;
      if (counts.failedUids.length < 20) counts.failedUids.push(loc.SOPInstanceUID);
    }
    options.onInstance?.(loc, dest, counts);
  }
  for (const d of dirs) await syncDirectory(d);
  return counts;
}

/** The job's payload: what (level, uid) goes where (to, template, mode); `rule` names the rule that queued it. */
export interface ExportPayload {
  level: QueryLevel;
  uid: string;
  to: string;
  template: string;
  mode: ExportMode;
  rule?: string;
  deidentify?: DeidentifyProfileConfig;
}

const MODES: readonly string[] = ['copy', 'hardlink', 'symlink'];

function checkPayload(p: Partial<ExportPayload>): ExportPayload {
  if (!p.level || !(p.level in UNIQUE)) throw new PermanentJobError('export: level must be PATIENT, STUDY, SERIES or IMAGE');
  if (typeof p.uid !== 'string' || !p.uid) throw new PermanentJobError('export: uid is missing');
  if (typeof p.to !== 'string' || !path.isAbsolute(p.to)) throw new PermanentJobError('export: "to" must be an absolute directory');
  if (typeof p.template !== 'string' || !p.template) throw new PermanentJobError('export: template is missing');
  if (typeof p.mode !== 'string' || !MODES.includes(p.mode)) throw new PermanentJobError('export: mode must be copy, hardlink or symlink');
  return p as ExportPayload;
}

const toProgress = (c: ExportCounts, message: string): JobProgress => ({
  total: c.total,
  completed: c.written + c.present,
  failed: c.failed,
  message,
  ...(c.failedUids.length ? { failedUids: c.failedUids } : {}),
  ...c.flagged.progress(),
});

/**
 * A rule's folder must be there: it is never created. A lab's share that is not mounted leaves
 * its mount point (or nothing) in its place, and files written there would fill the local disk
 * and be hidden once the share is back. Not there: the job fails this try and is retried (the
 * share may be mounted meanwhile). The folders below it are created as the template needs.
 */
async function assertFolder(to: string): Promise<void> {
  const stat = await fs.stat(to).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? null : Promise.reject(e)));
  if (stat === null) throw new Error(`the export folder ${to} does not exist (a share not mounted?): it is not created, and the job is retried`);
  if (!stat.isDirectory()) throw new PermanentJobError(`the export folder ${to} is not a folder`);
}

export function exportJobHandler(deps: ExportDeps): JobHandler {
  return {
    async run({ job, signal, progress }) {
      const p = checkPayload(job.payload as Partial<ExportPayload>);
      await assertFolder(p.to);
      const instances = await instancesOf(deps.index, p.level, p.uid);
      if (!instances.length) throw new PermanentJobError(`nothing stored matches ${UNIQUE[p.level]} ${p.uid}`);
      progress({ total: instances.length, completed: 0, failed: 0, message: `exporting to ${p.to}` });
      const deidentify = p.deidentify ? new Deidentifier(deps.index.deid, deps.objects, p.deidentify) : undefined;
      const c = await exportInstances(deps, instances, p, { signal, ...(deidentify ? { deidentify } : {}), onInstance: (_l, _d, counts) => progress(toProgress(counts, `exporting to ${p.to}`)) });
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('canceled');
      const refused = c.refused ? `, ${c.refused} refused (burned-in annotation)` : '';
      const final = toProgress(c, c.failed ? `${c.failed} failed: ${c.firstError}` : `${c.written} written, ${c.present} already there${refused}${c.flagged.words}, in ${p.to}`);
      progress(final);
      if (c.failed) {
        // Only what a retry cannot change (a hard link across filesystems, a name too long): failed for good.
        const message = `${c.failed} of ${c.total} instances not exported: ${c.firstError}`;
        throw c.retryable ? new Error(message) : new PermanentJobError(message);
      }
      return final;
    },
  };
}
