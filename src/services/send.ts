// Sending stored instances as C-STORE sub-operations: what C-MOVE, C-GET, "send to a node"
// jobs and (later) forwarding rules share. Each instance goes in its stored transfer syntax
// when the receiver accepted it, else converted (re-encoded, inflated or decompressed on the
// worker pool); the next few are read and converted while the current one is on the wire.
import { TS } from '../dicom/transfer-syntax.js';
import type { Command } from '../net/dimse/command.js';
import { isFailure, isWarning } from '../net/dimse/status.js';
import { ScuAssociation } from '../net/client.js';
import type { InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { canConvert, convertDataset } from '../codecs/convert.js';
import type { FrameDecoder } from '../codecs/pool.js';
import { errorMessage } from '../core/errors.js';
import { abortedBy, linkSignals } from '../core/abort.js';
import { openDataset, readDataset } from './retrieve.js';
import { ReadBuffers } from '../storage/read-buffers.js';
import { type KnownNodeView, reachOf } from './nodes.js';

/** `notSent`: a warning of our own (de-identification left the instance out), not the receiver's. */
export type Outcome = { kind: 'completed' } | { kind: 'warning'; notSent?: true } | { kind: 'failed'; reason: string };

/** An instance ready to go: the presentation context chosen and the dataset read (and converted) for it. */
export interface Ready {
  pcId: number;
  dataset: Buffer | AsyncIterable<Buffer>;
  /** Gives the dataset's read buffer back for the next instances, once its bytes are gone. */
  release?: () => void;
}

/**
 * A C-STORE sub-operation in two steps, so that the next instances can be read and decoded
 * (on the worker pool) while the current one is on the wire: `prepare` runs ahead of `send`.
 */
export interface SubOperation {
  prepare(loc: InstanceLocation): Promise<Ready | Outcome>;
  send(loc: InstanceLocation, ready: Ready): Promise<Outcome>;
}

export interface Counts {
  remaining: number;
  completed: number;
  failed: number;
  warning: number;
}

export interface SendSource {
  objects: ObjectStore;
  decoder: FrameDecoder;
}

/**
 * Instances prepared ahead of the one being sent: enough to keep two decoding threads busy, few
 * enough to bound memory. Large files are not read ahead (their frames keep the threads busy
 * by themselves, and their decoded size could be hundreds of MB).
 */
const LOOKAHEAD = 3;
const LOOKAHEAD_MAX_FILE = 16 * 1024 * 1024;

export function classify(rsp: Command): Outcome {
  const s = rsp.Status ?? 0xc000;
  if (isWarning(s)) return { kind: 'warning' };
  if (isFailure(s)) return { kind: 'failed', reason: `status 0x${s.toString(16).padStart(4, '0')}${rsp.ErrorComment ? `: ${rsp.ErrorComment}` : ''}` };
  return { kind: 'completed' };
}

/**
 * The dataset to send in `to`: as stored (read into one of `buffers` when given), re-encoded
 * between uncompressed syntaxes, inflated or decompressed. `signal`: whoever wanted it gave up;
 * a conversion stops (its frames leave the pool's queue) and fails ABORTED.
 */
export async function datasetIn(src: SendSource, loc: InstanceLocation, to: string, buffers?: ReadBuffers, signal?: AbortSignal): Promise<{ dataset: Buffer | AsyncIterable<Buffer>; release?: () => void }> {
  // Given up (a C-CANCEL, the requestor gone): not even read.
  if (signal?.aborted) throw abortedBy(signal, `sending ${loc.SOPInstanceUID}`);
  if (to === loc.transferSyntaxUID) return openDataset(src.objects, loc, buffers);
  return { dataset: await convertDataset(await readDataset(src.objects, loc), loc.transferSyntaxUID, to, src.decoder, signal ? { signal } : {}) };
}

/**
 * What an association that sends these instances proposes: each SOP class in exactly the
 * transfer syntax it is stored in, and for classes stored in a syntax we can convert
 * (uncompressed, deflated, or compressed with a codec we can decode) also one context of the
 * uncompressed syntaxes, so a receiver that takes only those still gets them.
 */
export function storeProposals(instances: InstanceLocation[]): { abstractSyntax: string; transferSyntaxes: string[] }[] {
  const pairs = new Map<string, [string, string]>();
  for (const i of instances) pairs.set(`${i.SOPClassUID}|${i.transferSyntaxUID}`, [i.SOPClassUID, i.transferSyntaxUID]);
  const exact = [...pairs.values()].map(([sopClass, ts]) => ({ abstractSyntax: sopClass, transferSyntaxes: [ts] }));
  const convertible = (ts: string): boolean => canConvert(ts, TS.ExplicitVRLittleEndian);
  const uncompressed = [...new Set(instances.filter((i) => convertible(i.transferSyntaxUID)).map((i) => i.SOPClassUID))].map((c) => ({
    abstractSyntax: c,
    transferSyntaxes: [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
  }));
  if (exact.length + uncompressed.length <= MAX_CONTEXTS) return [...exact, ...uncompressed];
  // More than an association holds (PS3.8: 128): cover every instance first — each class in the
  // uncompressed syntaxes (its convertible instances go converted), and the stored syntaxes that
  // cannot be converted — then, in the room left, stored syntaxes that spare a conversion. Cut
  // as they came, every instance past the 128th pair failed, the uncompressed fallbacks first.
  const needed = exact.filter((e) => !convertible(e.transferSyntaxes[0]!));
  const spare = exact.filter((e) => convertible(e.transferSyntaxes[0]!));
  return [...uncompressed, ...needed, ...spare].slice(0, MAX_CONTEXTS);
}

/** Presentation contexts one association may propose (PS3.8 9.3.2.2: odd IDs 1–255). */
const MAX_CONTEXTS = 128;

/**
 * C-STORE on an association we opened as SCU (a C-MOVE names its originator); `signal` (a job's,
 * a C-MOVE's) stops the decoding of instances prepared ahead once the sending is given up, and
 * so does the end of the association: with the destination gone, what is left fails at once
 * with the reason, neither read nor converted.
 */
export function storeSender(src: SendSource, scu: ScuAssociation, originator?: { aeTitle: string; messageId: number }, signal?: AbortSignal): SubOperation {
  const buffers = new ReadBuffers();
  // Unhooked by itself once aborted; else it lives as long as the association (this sender's).
  const stop = linkSignals(signal, scu.assoc.ended).signal;
  const lost = (): Outcome | null =>
    scu.assoc.ended.aborted ? { kind: 'failed', reason: `the association to the destination ended (${scu.assoc.outcome}${scu.assoc.reason ? `: ${scu.assoc.reason}` : ''})` } : null;
  return {
    async prepare(loc) {
      const gone = lost();
      if (gone) return gone;
      const pc =
        scu.contextFor(loc.SOPClassUID, loc.transferSyntaxUID) ??
        [...scu.assoc.contexts.values()].find((c) => c.abstractSyntax === loc.SOPClassUID && canConvert(loc.transferSyntaxUID, c.transferSyntax)) ??
        null;
      if (!pc) return { kind: 'failed', reason: `the destination accepted no context for ${loc.SOPClassUID} in ${loc.transferSyntaxUID} or a syntax it converts to` };
      try {
        return { pcId: pc.id, ...(await datasetIn(src, loc, pc.transferSyntax, buffers, stop)) };
      } catch (e) {
        // A conversion stopped by the destination's end fails for that reason, not as "given up".
        const gone = lost();
        if (gone) return gone;
        throw e;
      }
    },
    async send(loc, ready) {
      const extra = originator ? { MoveOriginatorApplicationEntityTitle: originator.aeTitle, MoveOriginatorMessageID: originator.messageId } : {};
      // The buffer goes back when the socket has taken the bytes, not at the response: a peer
      // may answer before it has read the whole dataset.
      return classify(await scu.store(ready.pcId, loc.SOPClassUID, loc.SOPInstanceUID, ready.dataset, extra, ready.release));
    },
  };
}

export interface RunResult {
  counts: Counts;
  failedUids: string[];
  firstReason: string;
  /** Instances not attempted because `cancelled()` turned true. */
  notAttempted: string[];
}

/** Runs the sub-operations in order with read-ahead; `after` sees each outcome (pending responses, progress). */
export async function runSubOperations(
  instances: InstanceLocation[],
  sub: SubOperation,
  hooks: { cancelled(): boolean; after(loc: InstanceLocation, outcome: Outcome, counts: Counts): Promise<void> | void },
): Promise<RunResult> {
  const counts: Counts = { remaining: instances.length, completed: 0, failed: 0, warning: 0 };
  const failedUids: string[] = [];
  let firstReason = '';
  const ahead: Promise<Ready | Outcome>[] = [];
  let next = 0;
  const prepareNext = (): void => {
    const loc = instances[next++]!;
    ahead.push(sub.prepare(loc).catch((e: unknown): Outcome => ({ kind: 'failed', reason: errorMessage(e) })));
  };
  try {
    for (const loc of instances) {
      if (hooks.cancelled()) break;
      while (ahead.length < LOOKAHEAD && next < instances.length && (ahead.length === 0 || instances[next]!.size <= LOOKAHEAD_MAX_FILE)) prepareNext();
      const prepared = await ahead.shift()!;
      if (hooks.cancelled()) {
        // Given up while it was being prepared: not attempted (its conversion's ABORTED is no
        // failure of the instance), and released with the rest below.
        ahead.unshift(Promise.resolve(prepared));
        break;
      }
      let outcome: Outcome;
      try {
        outcome = 'kind' in prepared ? prepared : await sub.send(loc, prepared);
      } catch (e) {
        outcome = { kind: 'failed', reason: errorMessage(e) };
      }
      counts.remaining--;
      counts[outcome.kind]++;
      if (outcome.kind === 'failed') {
        failedUids.push(loc.SOPInstanceUID);
        firstReason ||= outcome.reason;
      }
      await hooks.after(loc, outcome, counts);
    }
  } finally {
    // Instances prepared but never sent (cancel, a lost association): release their streams.
    for (const p of ahead.splice(0)) void p.then(discard);
  }
  return { counts, failedUids, firstReason, notAttempted: instances.slice(instances.length - counts.remaining).map((i) => i.SOPInstanceUID) };
}

function discard(r: Ready | Outcome): void {
  if ('kind' in r) return;
  // What it holds (a read buffer, a large de-identified file's turn) is given back.
  r.release?.();
  if (Buffer.isBuffer(r.dataset)) return;
  const stream = r.dataset as { destroy?: () => void };
  stream.destroy?.();
}

/**
 * Opens an association to the known node `dest` proposing what these instances need.
 * `dimseTimeoutMs`: for each answer, and for the peer to take what we send (0 = none; default
 * 60 s); `signal` gives up the connection while it is being made.
 */
export function connectForStore(dest: KnownNodeView, callingAE: string, instances: InstanceLocation[], dimseTimeoutMs?: number, signal?: AbortSignal): Promise<ScuAssociation> {
  return ScuAssociation.connect({ ...reachOf(dest), callingAETitle: callingAE, contexts: storeProposals(instances), ...(dimseTimeoutMs !== undefined ? { dimseTimeoutMs } : {}), ...(signal ? { signal } : {}) });
}
