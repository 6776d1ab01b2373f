// Query/Retrieve Service Class, C-GET and C-MOVE SCP (PS3.4 C.4.2, C.4.3): the instances an
// identifier selects go out as C-STORE sub-operations — on the same association for C-GET,
// on a new one to a known node for C-MOVE — with a pending response after each one, C-CANCEL
// between them, and the failed SOP Instance UIDs in the final response.
import { TS } from '../dicom/transfer-syntax.js';
import { Tag } from '../dicom/tags.js';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { IdentifierError, decodeIdentifier, encodeIdentifier } from '../dicom/identifier.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, Priority, type Command, hasDataset } from '../net/dimse/command.js';
import { Status, errorComment } from '../net/dimse/status.js';
import type { ScuAssociation } from '../net/client.js';
import { SopClass } from '../dicom/uids.js';
import { INFORMATION_MODEL, type Operation, cancel, cancellable, queryRetrieveLevel } from './qr.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import { QueryError } from '../index/query/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { selectInstances } from '../services/retrieve.js';
import type { KnownNodeView } from '../services/nodes.js';
import { type Counts, type RunResult, type SendSource, type SubOperation, classify, connectForStore, datasetIn, runSubOperations, storeSender } from '../services/send.js';
import { canConvert } from '../codecs/convert.js';
import { ReadBuffers } from '../storage/read-buffers.js';
import type { FrameDecoder } from '../codecs/pool.js';
import { errorMessage } from '../core/errors.js';
import { linkSignals } from '../core/abort.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';


export interface RetrieveDeps {
  index: ArchiveIndex;
  store: ObjectStore;
  aeTitle: () => string;
  /** The known node a C-MOVE may send to, by AE title (null = unknown: 0xA801). */
  destination: (aeTitle: string) => Promise<KnownNodeView | null>;
  /** Decodes compressed frames off the event loop, for receivers that did not accept the stored syntax. */
  decoder: FrameDecoder;
  /** server.dimse_timeout for a C-MOVE's sub-association (answers, and the destination taking what we send); unset: 60 s. */
  dimseTimeoutMs?: () => number;
}

const sourceOf = (deps: RetrieveDeps): SendSource => ({ objects: deps.store, decoder: deps.decoder });

export function retrieveScp(deps: RetrieveDeps): ServiceClassProvider {
  return {
    name: 'retrieve',
    sopClasses: [SopClass.PatientRootMove, SopClass.StudyRootMove, SopClass.PatientRootGet, SopClass.StudyRootGet],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.C_GET_RQ, CommandField.C_MOVE_RQ, CommandField.C_CANCEL_RQ],
    // Relational retrieve (byte 1) is supported: a retrieve names instances by their keys anyway.
    extendedNegotiation: (_sopClass, info) => Buffer.from([info[0] === 1 ? 1 : 0]),
    handle(ctx, cmd) {
      if (cmd.CommandField === CommandField.C_CANCEL_RQ) {
        cancel(ctx.assoc, cmd.MessageIDBeingRespondedTo);
        return null;
      }
      const name = cmd.CommandField === CommandField.C_GET_RQ ? 'C-GET' : 'C-MOVE';
      ctx.stats.operations[name] = (ctx.stats.operations[name] ?? 0) + 1;
      // One provider serves both: a C-MOVE on a C-GET SOP class (or the reverse) is no operation of that class (PS3.7 C.4.2).
      const getClass = ctx.abstractSyntax === SopClass.PatientRootGet || ctx.abstractSyntax === SopClass.StudyRootGet;
      if ((cmd.CommandField === CommandField.C_GET_RQ) !== getClass) {
        void final(ctx, cmd, Status.UnrecognizedOperation, null, `${name} is not an operation of ${ctx.abstractSyntax}`).catch(() => {});
        return null;
      }
      if (!hasDataset(cmd)) {
        void final(ctx, cmd, Status.IdentifierDoesNotMatchSOPClass, null, `${name}-RQ without an identifier`).catch(() => {});
        return null;
      }
      let done!: () => void;
      void ctx.track(new Promise<void>((r) => (done = r)));
      return new BufferSink(1024 * 1024, (err, data) => {
        // Registered before anything else, so a C-CANCEL reaches it even while instances are
        // selected or the destination is being connected.
        // (0xA700 is no C-MOVE/C-GET status: tables C.4-2 and C.4-3 have A701, A702 and Cxxx.)
        const work = err ? final(ctx, cmd, Status.UnableToProcess, null, err.message) : cancellable(ctx.assoc, cmd.MessageID ?? 0, (op) => retrieve(deps, ctx, cmd, data, op));
        // Whatever went wrong, the SCU gets a final response rather than waiting for its own timeout.
        work
          .catch(async (e: unknown) => {
            // The requestor gone, nobody is left to answer: no fault of ours.
            if (ctx.assoc.ended.aborted) return ctx.logger.info({ reason: errorMessage(e) }, `${name} given up: its association ended`);
            ctx.logger.warn({ err: e }, `${name} ended abnormally`);
            await final(ctx, cmd, Status.UnableToProcess, null, `${name} failed: ${errorMessage(e)}`).catch(() => {});
          })
          .finally(done);
      });
    },
  };
}

const rspField = (cmd: Command): number => (cmd.CommandField === CommandField.C_GET_RQ ? CommandField.C_GET_RSP : CommandField.C_MOVE_RSP);

/**
 * The sub-operation counts are US in the response command (PS3.7 Annex C): 16 bits. A retrieve of more than 65,535 instances (a
 * patient's whole history) says 65,535 until the true number fits, rather than failing to
 * encode its first pending response.
 */
const US_MAX = 0xffff;
const us = (n: number): number => Math.min(n, US_MAX);

/** The counts of a response: Remaining in a pending one and a Cancel (PS3.4 tables C.4-2, C.4-3), not in others. */
export function subOperationCounts(c: Counts, withRemaining: boolean): Partial<Command> {
  return {
    ...(withRemaining ? { NumberOfRemainingSuboperations: us(c.remaining) } : {}),
    NumberOfCompletedSuboperations: us(c.completed),
    NumberOfFailedSuboperations: us(c.failed),
    NumberOfWarningSuboperations: us(c.warning),
  };
}

/**
 * The longest Failed SOP Instance UID List value we send: an explicit VR UI element has a 16-bit
 * length (PS3.5 7.1.2), so a C-GET of thousands of instances cancelled early cannot list them all.
 */
const MAX_FAILED_LIST_BYTES = 0xfffe;

/** The UIDs that fit in one Failed SOP Instance UID List, from the first. */
export function failedListFitting(uids: readonly string[]): string[] {
  const kept: string[] = [];
  let bytes = 0;
  for (const u of uids) {
    const next = bytes + (kept.length ? 1 : 0) + u.length;
    if (next > MAX_FAILED_LIST_BYTES) break;
    kept.push(u);
    bytes = next;
  }
  return kept;
}

function final(ctx: ScpContext, cmd: Command, status: number, counts: Counts | null, comment?: string, failedUids: string[] = [], offending?: number): Promise<void> {
  const listed = failedListFitting(failedUids);
  if (listed.length < failedUids.length) comment = `first ${listed.length} of ${failedUids.length} failed UIDs listed${comment ? `; ${comment}` : ''}`;
  const dataset = listed.length
    ? encodeIdentifier([{ tag: Tag.FailedSOPInstanceUIDList, vr: 'UI', value: listed.join('\\') }], ctx.transferSyntax, null)
    : undefined;
  return ctx.send(
    {
      CommandField: rspField(cmd),
      AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
      MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
      CommandDataSetType: dataset ? 0x0000 : NO_DATASET,
      Status: status,
      ...(counts ? subOperationCounts(counts, status === Status.Cancel) : {}),
      ...(comment ? { ErrorComment: errorComment(comment) } : {}),
      ...(offending !== undefined ? { OffendingElement: [offending] } : {}),
    },
    dataset,
  );
}

/**
 * A retrieve refused before any sub-operation: logged, counted, answered — with the counts and
 * the instances when they were selected already (all failed: the destination cannot be reached).
 */
function refusal(ctx: ScpContext, cmd: Command): (status: number, comment: string, offending?: number, failed?: string[]) => Promise<void> {
  return (status, comment, offending, failed) => {
    ctx.stats.failures++;
    ctx.stats.lastError = comment;
    ctx.logger.warn({ status: `0x${status.toString(16)}`, error: comment }, `${cmd.CommandField === CommandField.C_GET_RQ ? 'C-GET' : 'C-MOVE'} refused`);
    // Refused retrieves are in the audit trail too (a C-MOVE to an AE title not known, say).
    ctx.audit('retrieve', 'failure', { status: `0x${status.toString(16).padStart(4, '0')}`, reason: comment.slice(0, 200), ...(cmd.MoveDestination ? { destination: cmd.MoveDestination.trim().slice(0, 16) } : {}) });
    const counts = failed ? { remaining: 0, completed: 0, failed: failed.length, warning: 0 } : null;
    return final(ctx, cmd, status, counts, comment, failed, offending);
  };
}

async function retrieve(deps: RetrieveDeps, ctx: ScpContext, cmd: Command, data: Buffer, op: Operation): Promise<void> {
  const refuse = refusal(ctx, cmd);
  // A C-MOVE to nowhere is refused before its selection: a large one is not read for nothing.
  let dest: KnownNodeView | null = null;
  if (cmd.CommandField !== CommandField.C_GET_RQ) {
    const destAE = (cmd.MoveDestination ?? '').trim();
    dest = await deps.destination(destAE);
    if (!dest) return refuse(Status.MoveDestinationUnknown, `move destination "${destAE}" is not a known node`);
  }
  let id;
  try {
    id = await decodeIdentifier(data, ctx.transferSyntax, { strict: true });
  } catch (e) {
    return refuse(Status.IdentifierDoesNotMatchSOPClass, `identifier cannot be parsed: ${errorMessage(e)}`, e instanceof IdentifierError ? e.tag : undefined);
  }
  let instances: InstanceLocation[];
  try {
    const model = INFORMATION_MODEL[ctx.abstractSyntax]!;
    const parsed = queryRetrieveLevel(id.elements);
    if ('invalid' in parsed || (parsed.level === 'PATIENT' && model === 'STUDY_ROOT'))
      return refuse(Status.IdentifierDoesNotMatchSOPClass, `unknown Query/Retrieve Level "${'invalid' in parsed ? parsed.invalid : parsed.level}"`, Tag.QueryRetrieveLevel);
    const keys = id.elements.filter((e) => e.keyword && e.value).map((e) => ({ keyword: e.keyword!, value: e.value! }));
    instances = await selectInstances(deps.index, model, parsed.level, keys);
  } catch (e) {
    if (e instanceof QueryError) return refuse(Status.IdentifierDoesNotMatchSOPClass, e.message, e.keyword ? tagOfKeyword(e.keyword) : undefined);
    return refuse(Status.UnableToProcess, `cannot select the instances: ${errorMessage(e)}`);
  }

  // Canceled before any sub-operation: every one remains, none attempted (they are the list).
  if (op.cancelled) return final(ctx, cmd, Status.Cancel, notAttempted(instances), undefined, instances.map((i) => i.SOPInstanceUID));
  // The instances' conversions stop, and no new one starts, once nobody wants them: on a
  // C-CANCEL, or when the requestor's association ends (for a C-MOVE also the destination's,
  // which storeSender adds).
  const stop = linkSignals(op.signal, ctx.assoc.ended);
  try {
    return await subOperations(deps, ctx, cmd, op, instances, dest, stop.signal);
  } finally {
    stop.dispose();
  }
}

/** The C-STORE sub-operations of a retrieve, its pending responses and its final one; `stop` ends their conversions. */
async function subOperations(
  deps: RetrieveDeps,
  ctx: ScpContext,
  cmd: Command,
  op: Operation,
  instances: InstanceLocation[],
  dest: KnownNodeView | null,
  stop: AbortSignal,
): Promise<void> {
  const isGet = cmd.CommandField === CommandField.C_GET_RQ;
  const none: Counts = { remaining: 0, completed: 0, failed: 0, warning: 0 };
  let send: SubOperation;
  let close = async (): Promise<void> => {};
  // dest: the C-MOVE's destination (known: checked before the selection); null for a C-GET.
  if (!dest) send = getSender(deps, ctx, stop);
  else {
    const destAE = dest.ae_title;
    if (!instances.length) return final(ctx, cmd, Status.Success, none);
    let scu: ScuAssociation;
    try {
      scu = await connectForStore(dest, deps.aeTitle(), instances, deps.dimseTimeoutMs?.(), stop);
    } catch (e) {
      const uids = instances.map((i) => i.SOPInstanceUID);
      // A C-CANCEL while the destination was being called is a cancel, not a failure to reach it.
      if (op.cancelled) return final(ctx, cmd, Status.Cancel, notAttempted(instances), undefined, uids);
      // Every sub-operation failed (PS3.4 C.4.2.3.1: A702, with the counts and the list, as
      // dcmqrscp answers): the requestor learns which instances did not go, not only that.
      return refusal(ctx, cmd)(Status.OutOfResourcesSubOperations, `cannot open an association to ${destAE} (${dest.host}:${dest.port}): ${errorMessage(e)}`, undefined, uids);
    }
    send = storeSender(sourceOf(deps), scu, { aeTitle: ctx.assoc.callingAETitle, messageId: cmd.MessageID ?? 0 }, stop);
    close = () => scu.release().catch(() => {});
  }

  let result: RunResult;
  try {
    result = await runSubOperations(instances, send, {
      // The requestor gone, what is left is for nobody: stop as for a C-CANCEL.
      cancelled: () => op.cancelled || ctx.assoc.ended.aborted,
      after: async (loc, outcome, counts) => {
        // A sub-operation cut short by the requestor's end is no fault of the instance.
        if (outcome.kind === 'failed') ctx.logger[ctx.assoc.ended.aborted ? 'debug' : 'warn']({ sopInstanceUID: loc.SOPInstanceUID, reason: outcome.reason }, 'retrieve sub-operation failed');
        else ctx.stats.instances++;
        if (counts.remaining > 0 && !op.cancelled && !ctx.assoc.ended.aborted)
          await ctx.send({
            CommandField: rspField(cmd),
            AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
            MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
            CommandDataSetType: NO_DATASET,
            Status: Status.Pending,
            ...subOperationCounts(counts, true),
          });
      },
    });
  } finally {
    await close();
  }
  const { counts, failedUids, firstReason } = result;
  ctx.audit('retrieve', counts.failed ? 'failure' : 'success', {
    operation: isGet ? 'C-GET' : 'C-MOVE',
    ...(isGet ? {} : { destination: (cmd.MoveDestination ?? '').trim() }),
    studies: [...new Set(instances.map((i) => i.StudyInstanceUID))],
    patients: [...new Set(instances.map((i) => i.PatientID))],
    instances: counts.completed + counts.warning,
    failed: counts.failed,
  });
  if (ctx.assoc.ended.aborted) {
    ctx.logger.info({ completed: counts.completed, notAttempted: result.notAttempted.length }, `${isGet ? 'C-GET' : 'C-MOVE'} given up: its association ended`);
    return;
  }
  if (op.cancelled) return final(ctx, cmd, Status.Cancel, { ...counts, remaining: result.notAttempted.length }, undefined, [...failedUids, ...result.notAttempted]);
  // All failed: a failure (PS3.4 C.4.2.3.1, C.4.3.3.1), A702 as dcmqrscp answers — a warning
  // with nothing completed read as partly done to many requestors.
  const allFailed = counts.failed > 0 && counts.completed === 0 && counts.warning === 0;
  const status = allFailed ? Status.OutOfResourcesSubOperations : counts.failed || counts.warning ? Status.SubOperationsCompleteWithFailures : Status.Success;
  return final(ctx, cmd, status, counts, counts.failed ? `${counts.failed} of ${instances.length} sub-operations failed: ${firstReason}` : undefined, failedUids);
}

/** Counts of a retrieve canceled before its first sub-operation. */
const notAttempted = (instances: readonly InstanceLocation[]): Counts => ({ remaining: instances.length, completed: 0, failed: 0, warning: 0 });

/** C-GET: C-STORE on this association, on a context the SCU accepted us to use as SCU; `stop` ends the conversions. */
function getSender(deps: RetrieveDeps, ctx: ScpContext, stop: AbortSignal): SubOperation {
  const buffers = new ReadBuffers();
  const scpRoleGranted = (sopClass: string): boolean =>
    ctx.assoc.ac?.userInformation.roleSelections.some((r) => r.sopClass === sopClass && r.scpRole) ?? false;
  return {
    async prepare(loc) {
      const forClass = [...ctx.assoc.contexts.values()].filter((c) => c.abstractSyntax === loc.SOPClassUID);
      const pc =
        forClass.find((c) => c.transferSyntax === loc.transferSyntaxUID) ?? forClass.find((c) => canConvert(loc.transferSyntaxUID, c.transferSyntax));
      if (!pc || !scpRoleGranted(loc.SOPClassUID))
        return { kind: 'failed', reason: `no presentation context with SCP role for ${loc.SOPClassUID} in ${loc.transferSyntaxUID} or a syntax it converts to` };
      return { pcId: pc.id, ...(await datasetIn(sourceOf(deps), loc, pc.transferSyntax, buffers, stop)) };
    },
    async send(loc, ready) {
      // subRequest settles after the request has left: the buffer is free then, whatever the outcome.
      const rsp = await ctx.subRequest(ready.pcId, { CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: loc.SOPClassUID, AffectedSOPInstanceUID: loc.SOPInstanceUID, Priority: Priority.Medium }, ready.dataset).finally(() => ready.release?.());
      return classify(rsp);
    },
  };
}

