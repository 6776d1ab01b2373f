// Query/Retrieve Service Class, C-GET and C-MOVE SCP (PS3.4 C.4.2, C.4.3): the instances an
// identifier selects go out as C-STORE sub-operations — on the same association for C-GET,
// on a new one to a known node for C-MOVE — with a pending response after each one, C-CANCEL
// between them, and the failed SOP Instance UIDs in the final response.
import { TS } from '../dicom/transfer-syntax.js';
import { Tag } from '../dicom/tags.js';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { decodeIdentifier, encodeIdentifier } from '../dicom/identifier.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, Priority, type Command, hasDataset } from '../net/dimse/command.js';
import { Status, errorComment, isFailure, isWarning } from '../net/dimse/status.js';
import { ScuAssociation } from '../net/client.js';
import { SopClass } from '../dicom/uids.js';
import { INFORMATION_MODEL, type Operation, cancel, cancellable, queryRetrieveLevel } from './qr.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import { QueryError } from '../index/query/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { openDataset, readDataset, selectInstances } from '../services/retrieve.js';
import { canConvert, convertDataset } from '../codecs/convert.js';
import type { FrameDecoder } from '../codecs/pool.js';
import { errorMessage } from '../core/errors.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';


export interface MoveDestination {
  aeTitle: string;
  host: string;
  port: number;
}

export interface RetrieveDeps {
  index: ArchiveIndex;
  store: ObjectStore;
  aeTitle: () => string;
  /** The known node a C-MOVE may send to, by AE title (null = unknown: 0xA801). */
  destination: (aeTitle: string) => MoveDestination | null;
  /** Decodes compressed frames off the event loop, for receivers that did not accept the stored syntax. */
  decoder: FrameDecoder;
}

type Outcome = { kind: 'completed' } | { kind: 'warning' } | { kind: 'failed'; reason: string };

/** An instance ready to go: the presentation context chosen and the dataset read (and converted) for it. */
interface Ready {
  pcId: number;
  dataset: Buffer | AsyncIterable<Buffer>;
}

/**
 * A C-STORE sub-operation in two steps, so that the next instances can be read and decoded
 * (on the worker pool) while the current one is on the wire: `prepare` runs ahead of `send`.
 */
interface SubOperation {
  prepare(loc: InstanceLocation): Promise<Ready | Outcome>;
  send(loc: InstanceLocation, ready: Ready): Promise<Outcome>;
}

/**
 * Instances prepared ahead of the one being sent: enough to keep two decoding threads busy, few
 * enough to bound memory. Large files are not read ahead (their frames keep the threads busy
 * by themselves, and their decoded size could be hundreds of MB).
 */
const LOOKAHEAD = 3;
const LOOKAHEAD_MAX_FILE = 16 * 1024 * 1024;

function classify(rsp: Command): Outcome {
  const s = rsp.Status ?? 0xc000;
  if (isWarning(s)) return { kind: 'warning' };
  if (isFailure(s)) return { kind: 'failed', reason: `status 0x${s.toString(16).padStart(4, '0')}${rsp.ErrorComment ? `: ${rsp.ErrorComment}` : ''}` };
  return { kind: 'completed' };
}

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
      if (!hasDataset(cmd)) {
        void final(ctx, cmd, Status.IdentifierDoesNotMatchSOPClass, null, `${name}-RQ without an identifier`).catch(() => {});
        return null;
      }
      let done!: () => void;
      void ctx.track(new Promise<void>((r) => (done = r)));
      return new BufferSink(1024 * 1024, (err, data) => {
        // Registered before anything else, so a C-CANCEL reaches it even while instances are
        // selected or the destination is being connected.
        const work = err ? final(ctx, cmd, Status.OutOfResources, null, err.message) : cancellable(ctx.assoc, cmd.MessageID ?? 0, (op) => retrieve(deps, ctx, cmd, data, op));
        work.catch((e: unknown) => ctx.logger.warn({ err: e }, `${name} ended abnormally`)).finally(done);
      });
    },
  };
}

interface Counts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
}

const rspField = (cmd: Command): number => (cmd.CommandField === CommandField.C_GET_RQ ? CommandField.C_GET_RSP : CommandField.C_MOVE_RSP);

function counted(c: Counts, pending: boolean): Partial<Command> {
  return {
    ...(pending ? { NumberOfRemainingSuboperations: c.remaining } : {}),
    NumberOfCompletedSuboperations: c.completed,
    NumberOfFailedSuboperations: c.failed,
    NumberOfWarningSuboperations: c.warning,
  };
}

function final(ctx: ScpContext, cmd: Command, status: number, counts: Counts | null, comment?: string, failedUids: string[] = [], offending?: number): Promise<void> {
  const dataset = failedUids.length
    ? encodeIdentifier([{ tag: Tag.FailedSOPInstanceUIDList, vr: 'UI', value: failedUids.join('\\') }], ctx.transferSyntax, null)
    : undefined;
  return ctx.send(
    {
      CommandField: rspField(cmd),
      AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
      MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
      CommandDataSetType: dataset ? 0x0000 : NO_DATASET,
      Status: status,
      ...(counts ? counted(counts, false) : {}),
      ...(comment ? { ErrorComment: errorComment(comment) } : {}),
      ...(offending !== undefined ? { OffendingElement: [offending] } : {}),
    },
    dataset,
  );
}

async function retrieve(deps: RetrieveDeps, ctx: ScpContext, cmd: Command, data: Buffer, op: Operation): Promise<void> {
  const isGet = cmd.CommandField === CommandField.C_GET_RQ;
  const refuse = (status: number, comment: string, offending?: number): Promise<void> => {
    ctx.stats.failures++;
    ctx.stats.lastError = comment;
    ctx.logger.warn({ status: `0x${status.toString(16)}`, error: comment }, `${isGet ? 'C-GET' : 'C-MOVE'} refused`);
    return final(ctx, cmd, status, null, comment, [], offending);
  };
  let instances: InstanceLocation[];
  try {
    const id = await decodeIdentifier(data, ctx.transferSyntax);
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

  const none: Counts = { remaining: 0, completed: 0, failed: 0, warning: 0 };
  if (op.cancelled) return final(ctx, cmd, Status.Cancel, none, undefined, instances.map((i) => i.SOPInstanceUID));
  let send: SubOperation;
  let close = async (): Promise<void> => {};
  if (isGet) send = getSender(deps, ctx);
  else {
    const destAE = (cmd.MoveDestination ?? '').trim();
    const dest = deps.destination(destAE);
    if (!dest) return refuse(Status.MoveDestinationUnknown, `move destination "${destAE}" is not a known node`);
    if (!instances.length) return final(ctx, cmd, Status.Success, none);
    let scu: ScuAssociation;
    try {
      scu = await ScuAssociation.connect({
        host: dest.host,
        port: dest.port,
        callingAETitle: deps.aeTitle(),
        calledAETitle: dest.aeTitle,
        contexts: proposals(instances),
      });
    } catch (e) {
      return refuse(Status.OutOfResourcesSubOperations, `cannot open an association to ${destAE} (${dest.host}:${dest.port}): ${errorMessage(e)}`);
    }
    send = moveSender(deps, scu, ctx.assoc.callingAETitle, cmd.MessageID ?? 0);
    close = () => scu.release().catch(() => {});
  }

  const counts: Counts = { remaining: instances.length, completed: 0, failed: 0, warning: 0 };
  const failedUids: string[] = [];
  let firstReason = '';
  const ahead: Promise<Ready | Outcome>[] = [];
  let next = 0;
  const prepareNext = (): void => {
    const loc = instances[next++]!;
    ahead.push(send.prepare(loc).catch((e: unknown): Outcome => ({ kind: 'failed', reason: errorMessage(e) })));
  };
  try {
    for (const loc of instances) {
      if (op.cancelled) break;
      while (ahead.length < LOOKAHEAD && next < instances.length && (ahead.length === 0 || instances[next]!.size <= LOOKAHEAD_MAX_FILE)) prepareNext();
      const prepared = await ahead.shift()!;
      let outcome: Outcome;
      try {
        outcome = 'kind' in prepared ? prepared : await send.send(loc, prepared);
      } catch (e) {
        outcome = { kind: 'failed', reason: errorMessage(e) };
      }
      counts.remaining--;
      counts[outcome.kind]++;
      if (outcome.kind === 'failed') {
        failedUids.push(loc.SOPInstanceUID);
        firstReason ||= outcome.reason;
        ctx.logger.warn({ sopInstanceUID: loc.SOPInstanceUID, reason: outcome.reason }, 'retrieve sub-operation failed');
      } else ctx.stats.instances++;
      if (counts.remaining > 0 && !op.cancelled)
        await ctx.send({
          CommandField: rspField(cmd),
          AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
          MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
          CommandDataSetType: NO_DATASET,
          Status: Status.Pending,
          ...counted(counts, true),
        });
    }
  } finally {
    // Instances prepared but never sent (cancel, a lost association): release their streams.
    for (const p of ahead.splice(0)) void p.then(discard);
    await close();
  }
  if (op.cancelled) return final(ctx, cmd, Status.Cancel, counts, undefined, [...failedUids, ...instances.slice(instances.length - counts.remaining).map((i) => i.SOPInstanceUID)]);
  const status = counts.failed || counts.warning ? Status.SubOperationsCompleteWithFailures : Status.Success;
  return final(ctx, cmd, status, counts, counts.failed ? `${counts.failed} of ${instances.length} sub-operations failed: ${firstReason}` : undefined, failedUids);
}

function discard(r: Ready | Outcome): void {
  if ('kind' in r || Buffer.isBuffer(r.dataset)) return;
  const stream = r.dataset as { destroy?: () => void };
  stream.destroy?.();
}

/**
 * What a C-MOVE proposes: each SOP class in exactly the transfer syntax it is stored in, and
 * for classes stored in a syntax we can convert (uncompressed, deflated, or compressed with a
 * codec we can decode) also one context of the uncompressed syntaxes, so a receiver that
 * takes only those still gets them.
 */
function proposals(instances: InstanceLocation[]): { abstractSyntax: string; transferSyntaxes: string[] }[] {
  const exact = distinctPairs(instances).map(([sopClass, ts]) => ({ abstractSyntax: sopClass, transferSyntaxes: [ts] }));
  const convertible = (ts: string): boolean => canConvert(ts, TS.ExplicitVRLittleEndian);
  const uncompressed = [...new Set(instances.filter((i) => convertible(i.transferSyntaxUID)).map((i) => i.SOPClassUID))].map((c) => ({
    abstractSyntax: c,
    transferSyntaxes: [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
  }));
  return [...exact, ...uncompressed].slice(0, 128);
}

/** The dataset to send in `to`: as stored, re-encoded between uncompressed syntaxes, inflated or decompressed. */
async function datasetIn(deps: RetrieveDeps, loc: InstanceLocation, to: string): Promise<Buffer | AsyncIterable<Buffer>> {
  if (to === loc.transferSyntaxUID) return openDataset(deps.store, loc);
  return convertDataset(await readDataset(deps.store, loc), loc.transferSyntaxUID, to, deps.decoder);
}

function distinctPairs(instances: InstanceLocation[]): [string, string][] {
  const seen = new Map<string, [string, string]>();
  for (const i of instances) seen.set(`${i.SOPClassUID}|${i.transferSyntaxUID}`, [i.SOPClassUID, i.transferSyntaxUID]);
  return [...seen.values()];
}

/** C-GET: C-STORE on this association, on a context the SCU accepted us to use as SCU. */
function getSender(deps: RetrieveDeps, ctx: ScpContext): SubOperation {
  const scpRoleGranted = (sopClass: string): boolean =>
    ctx.assoc.ac?.userInformation.roleSelections.some((r) => r.sopClass === sopClass && r.scpRole) ?? false;
  return {
    async prepare(loc) {
      const forClass = [...ctx.assoc.contexts.values()].filter((c) => c.abstractSyntax === loc.SOPClassUID);
      const pc =
        forClass.find((c) => c.transferSyntax === loc.transferSyntaxUID) ?? forClass.find((c) => canConvert(loc.transferSyntaxUID, c.transferSyntax));
      if (!pc || !scpRoleGranted(loc.SOPClassUID))
        return { kind: 'failed', reason: `no presentation context with SCP role for ${loc.SOPClassUID} in ${loc.transferSyntaxUID} or a syntax it converts to` };
      return { pcId: pc.id, dataset: await datasetIn(deps, loc, pc.transferSyntax) };
    },
    async send(loc, ready) {
      const rsp = await ctx.subRequest(ready.pcId, { CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: loc.SOPClassUID, AffectedSOPInstanceUID: loc.SOPInstanceUID, Priority: Priority.Medium }, ready.dataset);
      return classify(rsp);
    },
  };
}

/** C-MOVE: C-STORE on the sub-association, naming the move originator. */
function moveSender(deps: RetrieveDeps, scu: ScuAssociation, originatorAE: string, originatorMessageID: number): SubOperation {
  return {
    async prepare(loc) {
      const pc =
        scu.contextFor(loc.SOPClassUID, loc.transferSyntaxUID) ??
        [...scu.assoc.contexts.values()].find((c) => c.abstractSyntax === loc.SOPClassUID && canConvert(loc.transferSyntaxUID, c.transferSyntax)) ??
        null;
      if (!pc) return { kind: 'failed', reason: `the destination accepted no context for ${loc.SOPClassUID} in ${loc.transferSyntaxUID} or a syntax it converts to` };
      return { pcId: pc.id, dataset: await datasetIn(deps, loc, pc.transferSyntax) };
    },
    async send(loc, ready) {
      const rsp = await scu.store(ready.pcId, loc.SOPClassUID, loc.SOPInstanceUID, ready.dataset, {
        MoveOriginatorApplicationEntityTitle: originatorAE,
        MoveOriginatorMessageID: originatorMessageID,
      });
      return classify(rsp);
    },
  };
}
