// The jobs that move studies between this archive and other nodes: "send" (C-STORE of what we
// hold to a known node) and "pull" (C-MOVE to us, or C-GET, from a known node). Both run on
// the durable queue: they survive restarts, retry with back-off and report progress.
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass } from '../dicom/uids.js';
import { getStorageNegotiation } from '../dicom/common-storage.js';
import { Tag } from '../dicom/tags.js';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { decodeIdentifier, encodeIdentifier } from '../dicom/identifier.js';
import { CommandField, Priority, storeResponse, type Command } from '../net/dimse/command.js';
import { Status, errorComment, isFailure, storeFailureStatus } from '../net/dimse/status.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import { ScuAssociation, type Response } from '../net/client.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { JobProgress } from '../index/jobs.js';
import type { QueryLevel } from '../index/query/types.js';
import { selectInstances } from './retrieve.js';
import { connectForStore, runSubOperations, storeSender, type SendSource } from './send.js';
import { type NodeDirectory, reachOf } from './nodes.js';
import { Deidentifier, FlaggedCopies } from './deidentify.js';
import { deidentifiedSender } from './deidentify-send.js';
import type { DeidentifyProfileConfig } from '../config/rules-schema.js';
import type { StoreService } from './store.js';
import { type JobHandler, PermanentJobError } from './jobs.js';
import type { UnreachableNodes } from './unreachable.js';

export const LEVELS: readonly QueryLevel[] = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];
export const UNIQUE: Record<QueryLevel, string> = { PATIENT: 'PatientID', STUDY: 'StudyInstanceUID', SERIES: 'SeriesInstanceUID', IMAGE: 'SOPInstanceUID' };

/** Send: what `uids` name at `level` goes to the known node `destination`. */
export interface SendPayload {
  destination: string;
  level: QueryLevel;
  uids: string[];
  /** Send de-identified copies (a forward rule's `deidentify:`). */
  deidentify?: DeidentifyProfileConfig;
  /** Only what was stored or replaced since the rule last acted (a forward rule on a study that grew). */
  changes?: ChangeRange;
}

/**
 * The part of a study's change log a rule's job acts on: the instances stored or replaced by
 * changes in (after, upTo]. A rule that forwarded a study once forwards, when the study grows and
 * becomes stable again, only what is new (or was sent again), never the whole study twice.
 */
export interface ChangeRange {
  after: number;
  upTo: number;
}

export function checkChanges(v: unknown): ChangeRange | undefined {
  if (v === undefined || v === null) return undefined;
  const r = v as Partial<ChangeRange>;
  if (!Number.isSafeInteger(r.after) || !Number.isSafeInteger(r.upTo)) throw new PermanentJobError('changes must be { after, upTo } change sequence numbers');
  return { after: r.after!, upTo: r.upTo! };
}

/**
 * The studies a selection (level, uids) holds now, for a send job's payload: retention leaves a
 * study that a queued or running job names (JobStore.activeNaming reads the payload), and a
 * send of a series, an instance or a patient named only those UIDs — a series queued for a node
 * that was down did not hold its study back, which was deleted and the send failed for good.
 */
export async function studiesOf(index: ArchiveIndex, level: QueryLevel, uids: string[]): Promise<string[]> {
  if (level === 'STUDY') return uids;
  return [...new Set((await selected(index, level, uids)).map((l) => l.StudyInstanceUID))];
}

/** The instances a level and its UIDs name. */
const selected = (index: ArchiveIndex, level: QueryLevel, uids: string[]): Promise<InstanceLocation[]> =>
  selectInstances(index, level === 'PATIENT' ? 'PATIENT_ROOT' : 'STUDY_ROOT', level, [{ keyword: UNIQUE[level], value: uids.join('\\') }]);

/**
 * What a send or stow job transfers: everything `uids` name at `level`, or — with a change range —
 * only those of them stored or replaced in it (possibly none: the new instances were deleted since).
 */
export async function transferSelection(index: ArchiveIndex, level: QueryLevel, uids: string[], changes: ChangeRange | undefined): Promise<InstanceLocation[]> {
  const all = await selected(index, level, uids);
  if (!changes) {
    if (!all.length) throw new PermanentJobError(`nothing stored matches ${UNIQUE[level]} ${uids.join(', ')}`);
    return all;
  }
  // A rule's job for a study deleted (by hand, by retention) before it ran: nothing is wrong,
  // but its record says so rather than "nothing new".
  if (!all.length) throw new NothingStoredError(`nothing to send: ${UNIQUE[level]} ${uids.join(', ')} is no longer stored (deleted before the job ran)`);
  const changed = new Set<string>();
  for (const study of new Set(all.map((l) => l.StudyInstanceUID))) {
    const uids = await index.cursors.changedInstances(study, changes.after, changes.upTo);
    // The log no longer reaches back that far (pruned): the whole study, rather than miss a part.
    const add = uids === null ? all.filter((l) => l.StudyInstanceUID === study).map((l) => l.SOPInstanceUID) : uids;
    for (const uid of add) changed.add(uid);
  }
  return all.filter((l) => changed.has(l.SOPInstanceUID));
}

/** A rule's job whose study or series is no longer stored: it ends, successfully, with this message. */
export class NothingStoredError extends Error {
  override name = 'NothingStoredError';
}

/** What a send or STOW-RS job that has nothing to send records: a success, saying why. */
export async function selectionOrNothing(select: Promise<InstanceLocation[]>): Promise<InstanceLocation[] | JobProgress> {
  try {
    const instances = await select;
    return instances.length ? instances : { total: 0, completed: 0, failed: 0, warning: 0, message: 'nothing new to send' };
  } catch (e) {
    if (e instanceof NothingStoredError) return { total: 0, completed: 0, failed: 0, warning: 0, message: e.message };
    throw e;
  }
}

/** Pull: the node `source` sends us what `uids` name at `level`, by C-MOVE (to our AE title) or C-GET. */
export interface PullPayload {
  source: string;
  level: QueryLevel;
  uids: string[];
  method: 'move' | 'get';
}

export const FAILED_UIDS_KEPT = 20;

export function checkLevel(level: unknown): QueryLevel {
  if (typeof level === 'string' && (LEVELS as string[]).includes(level)) return level as QueryLevel;
  throw new PermanentJobError(`level must be one of ${LEVELS.join(', ')}`);
}

export function checkUids(uids: unknown): string[] {
  if (!Array.isArray(uids) || !uids.length || !uids.every((u) => typeof u === 'string' && u && !/[*?\\]/.test(u)))
    throw new PermanentJobError('uids must be a non-empty list of identifiers without wildcards');
  return uids as string[];
}

export interface SendJobDeps extends SendSource {
  index: ArchiveIndex;
  nodes: NodeDirectory;
  aeTitle: () => string;
  /** Nodes that could not be reached a moment ago, shared by the send and pull jobs. */
  unreachable: UnreachableNodes;
}

/**
 * The send job (and a forward rule's C-STORE forward). What the destination acknowledged
 * (success or warning) is kept in the job's progress, as the STOW-RS job does: a retry — after a
 * refused instance, a lost association, a restart, or by hand — sends only the rest.
 */
export function sendJobHandler(deps: SendJobDeps): JobHandler {
  return {
    async run({ job, signal, progress }) {
      const p = job.payload as Partial<SendPayload>;
      const level = checkLevel(p.level);
      const uids = checkUids(p.uids);
      const node = await deps.nodes.find(String(p.destination ?? ''));
      if (!node) throw new PermanentJobError(`destination "${p.destination}" is not a known node`);
      const instances = await selectionOrNothing(transferSelection(deps.index, level, uids, checkChanges(p.changes)));
      if (!Array.isArray(instances)) return instances;
      // One list, appended to and handed to every report as it is: copying it per instance made a
      // large study's send quadratic. A report is saved at the next heartbeat, whole.
      const acknowledged = [...(job.progress.acknowledged ?? [])];
      const sentBefore = new Set(acknowledged);
      const todo = instances.filter((i) => !sentBefore.has(i.SOPInstanceUID));
      const before = instances.length - todo.length;
      const earlier = before ? `, ${before} acknowledged before` : '';
      // Every report carries the acknowledged UIDs: the queue records the last one with a failure too.
      const report = (r: Omit<JobProgress, 'total' | 'acknowledged'>): JobProgress => {
        const shown: JobProgress = { total: instances.length, ...r, completed: before + (r.completed ?? 0), acknowledged };
        progress(shown);
        return shown;
      };
      if (!todo.length) return report({ completed: 0, failed: 0, warning: 0, message: `sent to ${node.ae_title}: nothing left to send${earlier}` });
      report({ completed: 0, failed: 0, warning: 0, message: `connecting to ${node.ae_title}` });
      const scu = await deps.unreachable.connect(node, () => connectForStore(node, deps.aeTitle(), todo, undefined, signal), signal);
      const abort = (): void => scu.abort();
      signal.addEventListener('abort', abort, { once: true });
      try {
        // Rules with `deidentify:` send de-identified copies; the profile travels in the payload.
        const flagged = new FlaggedCopies();
        const sub = p.deidentify ? deidentifiedSender(new Deidentifier(deps.index.deid, deps.objects, p.deidentify), scu, flagged) : storeSender(deps, scu, undefined, signal);
        const r = await runSubOperations(todo, sub, {
          cancelled: () => signal.aborted,
          after: (loc, o, c) => {
            if (o.kind === 'completed' || (o.kind === 'warning' && !o.notSent)) acknowledged.push(loc.SOPInstanceUID); // each of todo is sent once
            report({ completed: c.completed, failed: c.failed, warning: c.warning, message: `sending to ${node.ae_title}` });
          },
        });
        const final = report({
          completed: r.counts.completed,
          failed: r.counts.failed,
          warning: r.counts.warning,
          failedUids: r.failedUids.slice(0, FAILED_UIDS_KEPT),
          ...flagged.progress(),
          message: r.counts.failed ? `${r.counts.failed} failed: ${r.firstReason}` : `sent to ${node.ae_title}${earlier}${flagged.words}`,
        });
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('canceled');
        if (r.counts.failed) throw new Error(`${r.counts.failed} of ${instances.length} instances failed: ${r.firstReason}`);
        return final;
      } finally {
        signal.removeEventListener('abort', abort);
        await scu.release().catch(() => {});
      }
    },
  };
}

export interface PullJobDeps {
  nodes: NodeDirectory;
  store: StoreService;
  aeTitle: () => string;
  unreachable: UnreachableNodes;
}


export function pullJobHandler(deps: PullJobDeps): JobHandler {
  return {
    async run({ job, signal, progress }) {
      const p = job.payload as Partial<PullPayload>;
      const level = checkLevel(p.level);
      const uids = checkUids(p.uids);
      const method = p.method === 'get' ? 'get' : 'move';
      const node = await deps.nodes.find(String(p.source ?? ''));
      if (!node) throw new PermanentJobError(`source "${p.source}" is not a known node`);
      const model = level === 'PATIENT' ? 'P' : 'S';
      const sopClass = method === 'move' ? (model === 'P' ? SopClass.PatientRootMove : SopClass.StudyRootMove) : model === 'P' ? SopClass.PatientRootGet : SopClass.StudyRootGet;
      let received = 0;
      const connect = (): Promise<ScuAssociation> =>
        ScuAssociation.connect({
          ...reachOf(node),
          callingAETitle: deps.aeTitle(),
          dimseTimeoutMs: 600_000,
          signal,
          contexts: [
            { abstractSyntax: sopClass, transferSyntaxes: [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian] },
            ...(method === 'get' ? getStorageNegotiation().contexts : []),
          ],
          ...(method === 'get'
            ? {
                roleSelections: getStorageNegotiation().roleSelections,
                onRequest: (assoc, contextId, cmd): DatasetSink | null => {
                  if (cmd.CommandField !== CommandField.C_STORE_RQ) return null;
                  const pc = assoc.contexts.get(contextId)!;
                  return storeIncoming(deps.store, cmd, pc.transferSyntax, { callingAE: node.ae_title, calledAE: deps.aeTitle(), remoteAddress: assoc.remoteAddress }, (status, comment) => {
                    if (status === Status.Success) received++;
                    void assoc.sendMessage(contextId, storeResponse(cmd, status, comment ? errorComment(comment) : undefined)).catch(() => {});
                  });
                },
              }
            : {}),
        });
      const scu = await deps.unreachable.connect(node, connect, signal);
      const abort = (): void => scu.abort();
      signal.addEventListener('abort', abort, { once: true });
      try {
        const ctx = scu.contextFor(sopClass);
        if (!ctx) throw new PermanentJobError(`${node.ae_title} does not accept C-${method.toUpperCase()} (${sopClass})`);
        const identifier = encodeIdentifier(
          [
            { tag: Tag.QueryRetrieveLevel, vr: 'CS', value: level },
            { tag: tagOfKeyword(UNIQUE[level])!, vr: level === 'PATIENT' ? 'LO' : 'UI', value: uids.join('\\') },
          ],
          ctx.transferSyntax,
          null,
        );
        const counts = (c: Command, total?: number): JobProgress => {
          const done = (c.NumberOfCompletedSuboperations ?? 0) + (c.NumberOfFailedSuboperations ?? 0) + (c.NumberOfWarningSuboperations ?? 0);
          return {
            total: total ?? done + (c.NumberOfRemainingSuboperations ?? 0),
            completed: c.NumberOfCompletedSuboperations ?? received,
            failed: c.NumberOfFailedSuboperations ?? 0,
            warning: c.NumberOfWarningSuboperations ?? 0,
            message: `retrieving from ${node.ae_title} by C-${method.toUpperCase()}`,
          };
        };
        let total: number | undefined;
        const rsp: Response = await scu.request(
          ctx.id,
          {
            CommandField: method === 'move' ? CommandField.C_MOVE_RQ : CommandField.C_GET_RQ,
            AffectedSOPClassUID: sopClass,
            Priority: Priority.Medium,
            ...(method === 'move' ? { MoveDestination: deps.aeTitle() } : {}),
          },
          identifier,
          (r) => {
            const c = counts(r.command);
            total ??= c.total;
            progress(c);
          },
        );
        const status = rsp.command.Status ?? 0xc000;
        const final = counts(rsp.command, total);
        if (rsp.dataset) {
          const failed = (await decodeIdentifier(rsp.dataset, ctx.transferSyntax)).elements.find((e) => e.tag === Tag.FailedSOPInstanceUIDList)?.value;
          if (failed) final.failedUids = failed.split('\\').slice(0, FAILED_UIDS_KEPT);
        }
        final.message = `C-${method.toUpperCase()} from ${node.ae_title}: status 0x${status.toString(16).padStart(4, '0')}${rsp.command.ErrorComment ? ` (${rsp.command.ErrorComment})` : ''}`;
        progress(final);
        if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('canceled');
        if (status === Status.MoveDestinationUnknown) throw new PermanentJobError(`${node.ae_title} does not know our AE title ${deps.aeTitle()} as a move destination: add it there, or pull with method "get"`);
        if (isFailure(status) || (final.failed ?? 0) > 0) throw new Error(final.message);
        if (final.total === 0) final.message = `${node.ae_title} holds nothing that matches`;
        return final;
      } finally {
        signal.removeEventListener('abort', abort);
        await scu.release().catch(() => {});
      }
    },
  };
}

/** A C-STORE sub-operation of our C-GET, into the store pipeline; `answer` sends the response. */
function storeIncoming(
  store: StoreService,
  cmd: Command,
  transferSyntaxUID: string,
  from: { callingAE: string; calledAE: string; remoteAddress: string },
  answer: (status: number, comment?: string) => void,
): DatasetSink {
  const session = store.begin({
    sopClassUID: cmd.AffectedSOPClassUID ?? '',
    sopInstanceUID: cmd.AffectedSOPInstanceUID ?? '',
    transferSyntaxUID,
    provenance: { ...from, source: 'dimse' },
  });
  return {
    write: (chunk) => session.write(chunk),
    onDrain: (cb) => session.onDrain(cb),
    end: () => {
      session.end().then(
        () => answer(Status.Success),
        (e: unknown) => {
          const { status, comment } = storeFailureStatus(e);
          answer(status, comment);
        },
      );
    },
    abort: () => void session.abort(),
  };
}
