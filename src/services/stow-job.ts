// The "stow" job: a rule's forward action to a DICOMweb server (dicomweb_servers) by STOW-RS.
// The instances go in batches (max_instances_per_request, about max_request_mb each), each
// file streamed from the object store, or de-identified first (the same Deidentifier as the
// C-STORE forward and the export). What the server acknowledged is kept in the job's progress,
// so a retry — after a network error, a 5xx, a restart, or by hand — sends only the rest.
import { readFileSync } from 'node:fs';
import type { DicomwebServer } from '../config/schema.js';
import type { DeidentifyProfileConfig } from '../config/rules-schema.js';
import { PacsError, errorMessage } from '../core/errors.js';
import { isOutOfResources } from '../dicomweb-client/stow-answer.js';
import { postInstances, StowPartError, StowRequestError, type StowPart, type StowResponse, type StowTarget } from '../dicomweb-client/stow-rs.js';
import type { JobProgress } from '../index/jobs.js';
import type { QueryLevel } from '../index/query/types.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { ObjectStore, SpooledObject } from '../storage/object-store.js';
import { BurnedInRefused, Deidentifier, fileParts, FlaggedCopies } from './deidentify.js';
import { type JobHandler, PermanentJobError, RetryableJobError } from './jobs.js';
import { type ChangeRange, FAILED_UIDS_KEPT, checkChanges, checkLevel, checkUids, selectionOrNothing, transferSelection } from './transfer-jobs.js';

/** What `uids` name at `level` goes to the DICOMweb server named `server`. */
export interface StowPayload {
  server: string;
  level: QueryLevel;
  uids: string[];
  deidentify?: DeidentifyProfileConfig;
  /** The rule that queued it (for the jobs page). */
  rule?: string;
  /** Only what was stored or replaced since the rule last acted (transfer-jobs.ts). */
  changes?: ChangeRange;
}

export interface StowJobDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  /** Read at each run: the servers are reloaded live, credentials never go into the payload. */
  servers: () => readonly DicomwebServer[];
}

/** The request settings of a configured server; its CA file is read here, at each run. */
export function stowTargetOf(s: DicomwebServer): StowTarget {
  const basic = s.username !== undefined ? `Basic ${Buffer.from(`${s.username}:${s.password ?? ''}`).toString('base64')}` : undefined;
  const authorization = s.token !== undefined ? `Bearer ${s.token}` : basic;
  let ca: Buffer | undefined;
  if (s.ca_path !== undefined) {
    try {
      ca = readFileSync(s.ca_path);
    } catch (e) {
      throw new PermanentJobError(`dicomweb_servers ${s.name}: ca_path ${s.ca_path}: ${errorMessage(e)}`);
    }
  }
  return { url: s.url, timeoutMs: s.timeout * 1000, rejectUnauthorized: s.reject_unauthorized, ...(authorization ? { authorization } : {}), ...(ca ? { ca } : {}) };
}

/** Consecutive runs of at most `count` instances and, unless one alone is larger, `bytes`. */
export function batches(instances: readonly InstanceLocation[], count: number, bytes: number): InstanceLocation[][] {
  const out: InstanceLocation[][] = [];
  let cur: InstanceLocation[] = [];
  let size = 0;
  for (const i of instances) {
    if (cur.length && (cur.length >= count || size + i.size > bytes)) {
      out.push(cur);
      cur = [];
      size = 0;
    }
    cur.push(i);
    size += i.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

interface Tally {
  acknowledged: Set<string>;
  /** Acknowledged in this run (of the instances selected now). */
  stored: number;
  warning: number;
  /** De-identification refused them (burned-in annotation, burned_in: refuse): not sent, not an error. */
  refused: number;
  flagged: FlaggedCopies;
  failed: { uid: string; reason: string; outOfResources: boolean }[];
}

/** Why an instance's stored file cannot go as its index row describes it, or null when it can. */
async function fileProblem(objects: ObjectStore, loc: InstanceLocation): Promise<string | null> {
  try {
    const size = await objects.size(loc.path);
    return size === loc.size ? null : `its file is ${size} bytes, the index says ${loc.size} (pacs verify checks the archive)`;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return `its file is missing from the archive (${loc.path}; pacs verify checks the archive)`;
    return `cannot read its file: ${errorMessage(e)}`;
  }
}

interface BatchParts {
  parts: StowPart[];
  /** The UID the server answers with → the stored instance's (they differ when de-identified). */
  original: Map<string, string>;
  /** The de-identified copies' temporary files, removed once the batch is sent. */
  spooled: SpooledObject[];
}

/**
 * A batch's parts: the stored files as they are, or de-identified copies. A copy waits for its
 * request in a temporary file, not in memory: a batch is up to max_request_mb (64 MB by default)
 * and each job held a whole one while sending it.
 */
async function partsOf(batch: InstanceLocation[], objects: ObjectStore, deid: Deidentifier | null, t: Tally): Promise<BatchParts> {
  const out: BatchParts = { parts: [], original: new Map(), spooled: [] };
  for (const loc of batch) {
    if (!deid) {
      // Checked before the request: a file found missing or of another size while the body is
      // written breaks off the whole request, and the batch's other instances with it.
      const problem = await fileProblem(objects, loc);
      if (problem) {
        t.failed.push({ uid: loc.SOPInstanceUID, reason: `${loc.SOPInstanceUID}: ${problem}`, outOfResources: false });
        continue;
      }
      out.parts.push({ sopInstanceUID: loc.SOPInstanceUID, size: loc.size, open: () => objects.read(loc.path) });
      out.original.set(loc.SOPInstanceUID, loc.SOPInstanceUID);
      continue;
    }
    try {
      const d = await deid.deidentify(loc);
      let copy: SpooledObject;
      try {
        copy = await objects.spool(fileParts(d));
      } finally {
        d.release();
      }
      out.spooled.push(copy);
      t.flagged.add(d);
      out.parts.push({ sopInstanceUID: d.sopInstanceUID, size: copy.size, open: () => copy.read() });
      out.original.set(d.sopInstanceUID, loc.SOPInstanceUID);
    } catch (e) {
      if (e instanceof BurnedInRefused) t.refused++;
      else t.failed.push({ uid: loc.SOPInstanceUID, reason: `${loc.SOPInstanceUID}: not de-identified: ${errorMessage(e)}`, outOfResources: e instanceof PacsError && e.code === 'OUT_OF_RESOURCES' });
    }
  }
  return out;
}

/** Answers that refuse one request for what it holds (Bad Request, Unsupported Media Type, Unprocessable): its batch fails alone. */
const BATCH_REFUSALS = new Set([400, 415, 422]);

export function stowJobHandler(deps: StowJobDeps): JobHandler {
  return {
    async run({ job, signal, progress }) {
      const p = job.payload as Partial<StowPayload>;
      const level = checkLevel(p.level);
      const uids = checkUids(p.uids);
      const server = deps.servers().find((s) => s.name === p.server);
      if (!server) throw new PermanentJobError(`"${p.server}" is not one of dicomweb_servers (was it removed from the configuration?)`);
      const target = stowTargetOf(server);
      const instances = await selectionOrNothing(transferSelection(deps.index, level, uids, checkChanges(p.changes)));
      if (!Array.isArray(instances)) return instances;
      const t: Tally = { acknowledged: new Set(job.progress.acknowledged ?? []), stored: 0, warning: 0, refused: 0, flagged: new FlaggedCopies(), failed: [] };
      const before = instances.filter((i) => t.acknowledged.has(i.SOPInstanceUID)).length;
      const todo = instances.filter((i) => !t.acknowledged.has(i.SOPInstanceUID));
      const where = `${server.name} (STOW-RS)`;
      const report = (message: string): JobProgress => {
        const r: JobProgress = {
          total: instances.length,
          completed: before + t.stored - t.warning,
          warning: t.warning + t.refused,
          failed: t.failed.length,
          message,
          acknowledged: [...t.acknowledged],
          ...(t.failed.length ? { failedUids: t.failed.slice(0, FAILED_UIDS_KEPT).map((f) => f.uid) } : {}),
          ...t.flagged.progress(),
        };
        progress(r);
        return r;
      };
      report(`sending to ${where}`);
      const deid = p.deidentify ? new Deidentifier(deps.index.deid, deps.objects, p.deidentify) : null;
      /**
       * One request of `parts`, its answer recorded. An instance that cannot be read is left out
       * and the others sent again; a request too large for the receiver (413) goes in halves.
       */
      const send = async (parts: StowPart[], original: Map<string, string>): Promise<void> => {
        if (!parts.length || signal.aborted) return;
        let answer: StowResponse;
        try {
          answer = await postInstances(target, parts, signal);
        } catch (e) {
          if (signal.aborted) return;
          if (e instanceof StowPartError) {
            // Its file went or changed after the check: the request was broken off. Trying it
            // again would break it off again, so it fails alone and the others go without it.
            t.failed.push({ uid: original.get(e.sopInstanceUID) ?? e.sopInstanceUID, reason: e.message, outOfResources: false });
            return send(parts.filter((p) => p.sopInstanceUID !== e.sopInstanceUID), original);
          }
          if (e instanceof StowRequestError && e.httpStatus === 413) {
            // The receiver (or a proxy before it) takes no body this large: halves until they
            // fit, and an instance refused alone is refused for good, the others not with it.
            if (parts.length > 1) {
              const half = Math.ceil(parts.length / 2);
              await send(parts.slice(0, half), original);
              return send(parts.slice(half), original);
            }
            const part = parts[0]!;
            t.failed.push({ uid: original.get(part.sopInstanceUID)!, reason: `${part.sopInstanceUID}: ${where} refused its size (${part.size} bytes): ${e.message}`, outOfResources: false });
            return;
          }
          if (e instanceof StowRequestError && BATCH_REFUSALS.has(e.httpStatus ?? 0)) {
            // This request refused as it was (its content, not the server or our credentials):
            // its instances fail, the other batches still go (one bad batch stopped the job, and
            // what it never sent was counted nowhere).
            for (const part of parts) t.failed.push({ uid: original.get(part.sopInstanceUID)!, reason: `${part.sopInstanceUID}: ${where} refused the request: ${e.message}`, outOfResources: false });
            return;
          }
          // What was acknowledged so far is in the progress the queue records with the failure.
          report(`${where}: ${errorMessage(e)}`);
          if (e instanceof StowRequestError && !e.retryable) throw new PermanentJobError(`${where}: ${e.message}`);
          throw new RetryableJobError(`${where}: ${errorMessage(e)}`, e instanceof StowRequestError ? e.retryAfterMs : null);
        }
        for (const part of parts) {
          const uid = original.get(part.sopInstanceUID)!;
          const failure = answer.failed.get(part.sopInstanceUID);
          // 200 means every instance was stored, whether or not the answer lists them (an
          // answer whose dataset could not be read never comes here: postInstances threw).
          const stored = answer.stored.has(part.sopInstanceUID) || (answer.httpStatus === 200 && !failure);
          if (stored) {
            t.acknowledged.add(uid);
            t.stored++;
            if (answer.stored.get(part.sopInstanceUID) != null) t.warning++;
          } else {
            const reason = failure?.reason ?? `not in the answer (HTTP ${answer.httpStatus}${answer.text ? `: ${answer.text}` : ''})`;
            t.failed.push({ uid, reason: `${part.sopInstanceUID}: ${reason}`, outOfResources: isOutOfResources(failure?.status ?? null) });
          }
        }
      };
      for (const batch of batches(todo, server.max_instances_per_request, server.max_request_mb * 1024 * 1024)) {
        if (signal.aborted) break;
        const { parts, original, spooled } = await partsOf(batch, deps.objects, deid, t);
        try {
          await send(parts, original);
        } finally {
          await Promise.all(spooled.map((s) => s.remove()));
        }
        report(`sending to ${where}`);
      }
      if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('canceled');
      const refused = t.refused ? `, ${t.refused} refused by de-identification (burned-in annotation)` : '';
      if (t.failed.length) {
        const first = t.failed[0]!.reason;
        const message = `${t.failed.length} of ${instances.length} instances not stored by ${where}: ${first}`;
        report(message);
        // Only "out of resources" may pass with time; the server's other refusals stand.
        if (t.failed.every((f) => f.outOfResources)) throw new Error(message);
        throw new PermanentJobError(message);
      }
      const earlier = before ? `, ${before} acknowledged before` : '';
      return report(`sent to ${where}: ${t.stored} stored${earlier}${refused}${t.flagged.words}`);
    },
  };
}
