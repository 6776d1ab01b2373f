// One DICOM association over one socket, for either role. Everything that happens to it goes
// through the PS3.8 state machine (ul/machine.ts): PDUs and socket events become Evt3..Evt19,
// local requests become Evt1/7/8/9/11/14/15, and the table's effects are carried out here.
import type { Socket } from 'node:net';
import { errorMessage } from '../core/errors.js';
import { step } from './ul/machine.js';
import type { Effect, Event, State } from './ul/table.js';
import { MAX_CONTROL_PDU, PduFramer, type RawPdu } from './pdu/framer.js';
import { PduDecodeError, decodePdu, encodePDataFragments, encodePDataHeaders, encodePdu } from './pdu/codec.js';
import {
  AbortReason,
  AbortSource,
  type AssociateAC,
  type AssociateRJ,
  type AssociateRQ,
  type Pdu,
  type Pdv,
  PduType,
} from './pdu/types.js';
import { DimseAssembler, DimseProtocolError, type DatasetSink } from './dimse/assembler.js';
import { MIN_PEER_MAX_PDU } from './acse.js';
import { type Command, encodeCommand } from './dimse/command.js';

/** Bytes of P-DATA a message may queue on the socket before its sender waits for a drain. */
const QUEUED = 1024 * 1024;
/** Bytes of a message that restart the DIMSE timer (server.dimse_timeout): some 17 bytes a second at the default 60 s. */
const DIMSE_PROGRESS_BYTES = 1024;
/** The events of a PDU received (PS3.8 9.2.1). */
const RECEIVED_PDU_EVENTS = new Set(['Evt3', 'Evt4', 'Evt6', 'Evt10', 'Evt12', 'Evt13', 'Evt16']);
/** Unsent bytes, and messages waiting to be sent, past which the socket is no longer read (see updateReadHold). */
const READ_HOLD_AT = 8 * QUEUED;
const MAX_QUEUED_MESSAGES = 64;

export interface AcceptedContext {
  id: number;
  abstractSyntax: string;
  transferSyntax: string;
}

export interface AssociationTimeouts {
  /** ARTIM: how long to wait for an A-ASSOCIATE-RQ, or for the peer to close after release/abort. */
  artimMs: number;
  /** Abort an established association that sends nothing for this long (0 = never). */
  idleMs: number;
  /** Abort when a DIMSE message has begun and its next fragment is this late (0 = never). */
  dimseMs?: number;
  /**
   * Abort when the peer takes none of what we send for this long (0 = never): a peer that
   * accepts an association and stops reading would otherwise hold our send, and whatever
   * waits on it (a C-MOVE's sub-operations, a release), for ever.
   */
  sendStallMs?: number;
}

export type Outcome = 'released' | 'aborted-by-peer' | 'aborted-locally' | 'rejected' | 'connection-lost' | 'protocol-error' | 'open';

/** What the association tells its owner. Every callback is optional except onCommand. */
export interface AssociationUser {
  /** Acceptor: decide on an A-ASSOCIATE-RQ (Evt7 accept or Evt8 reject follows). */
  onAssociateRequest?(rq: AssociateRQ): Promise<AssociateAC | AssociateRJ> | AssociateAC | AssociateRJ;
  /** A complete DIMSE command; the returned sink receives its dataset. */
  onCommand(assoc: Association, contextId: number, command: Command): DatasetSink | null;
  /** Acceptor: the peer asked to release; resolve when in-flight operations have answered. */
  onReleaseRequested?(): Promise<void>;
  /**
   * True while an operation of the peer's is being worked on: the association is not idle
   * then, though neither side sends (a C-MOVE waiting on a slow sub-operation).
   */
  busy?(): boolean;
  onClosed?(assoc: Association): void;
}

export class AssociationError extends Error {
  constructor(
    message: string,
    readonly reject?: AssociateRJ,
  ) {
    super(message);
    this.name = 'AssociationError';
  }
}

export class Association {
  state: State;
  readonly requestor: boolean;
  rq: AssociateRQ | null = null;
  ac: AssociateAC | null = null;
  rj: AssociateRJ | null = null;
  readonly contexts = new Map<number, AcceptedContext>();
  outcome: Outcome = 'open';
  /** Why the association ended abnormally, for the log line. */
  reason: string | null = null;
  bytesIn = 0;
  bytesOut = 0;
  readonly startedAt = Date.now();
  readonly remoteAddress: string;
  readonly remotePort: number;

  private readonly framer: PduFramer;
  private readonly assembler: DimseAssembler;
  private artim: NodeJS.Timeout | null = null;
  private idle: NodeJS.Timeout | null = null;
  private dimse: NodeJS.Timeout | null = null;
  private pendingPData: Buffer[] | null = null;
  /** The A-ASSOCIATE-AC as encoded when decided (encoding can fail; sending must not). */
  private acBytes: Buffer | null = null;
  private abortToSend: { source: number; reason: number } = { source: AbortSource.ServiceUser, reason: 0 };
  private paused = 0;
  private closedCalled = false;
  private establishedWaiters: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private readonly ending = new AbortController();
  /**
   * Aborted when the association is over (released, aborted, connection lost): work done for
   * it (a retrieve's conversions) stops, as nobody is left to take the result.
   */
  readonly ended: AbortSignal = this.ending.signal;
  private releaseWaiter: (() => void) | null = null;

  constructor(
    readonly socket: Socket,
    readonly user: AssociationUser,
    readonly options: { requestor: boolean; maxPduLength: number; timeouts: AssociationTimeouts },
  ) {
    this.requestor = options.requestor;
    this.state = 'Sta1';
    // Until there is an association a P-DATA-TF is an error (AA-1) however long: it may not make
    // us buffer more than a control PDU (the acceptor's many connections waiting on ARTIM would
    // each hold up to max_pdu_length). The announced maximum applies from Sta6 (handle).
    this.framer = new PduFramer(Math.min(options.maxPduLength || MAX_CONTROL_PDU, MAX_CONTROL_PDU));
    this.assembler = new DimseAssembler({ onCommand: (ctx, cmd) => this.user.onCommand(this, ctx, cmd) });
    this.remoteAddress = socket.remoteAddress ?? '';
    this.remotePort = socket.remotePort ?? 0;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => this.updateReadHold());
    socket.on('error', (e) => {
      this.reason ??= e.message;
    });
    socket.on('close', () => this.handle('Evt17'));
  }

  // --- local primitives ----------------------------------------------------------------------

  /** Acceptor: a transport connection has been accepted (Evt5). */
  acceptTransport(): void {
    this.handle('Evt5');
  }

  /** Requestor: the socket is connected; send the A-ASSOCIATE-RQ and wait for the answer. */
  requestAssociation(rq: AssociateRQ): Promise<void> {
    this.rq = rq;
    const done = new Promise<void>((resolve, reject) => (this.establishedWaiters = { resolve, reject }));
    this.state = 'Sta4'; // Evt1/AE-1 happened when the caller opened the socket
    this.handle('Evt2');
    return done;
  }

  get peerMaxPduLength(): number {
    const ui = this.requestor ? this.ac?.userInformation : this.rq?.userInformation;
    return ui?.maxPduLength ?? 0;
  }

  get callingAETitle(): string {
    return this.rq?.callingAETitle ?? '';
  }
  get calledAETitle(): string {
    return this.rq?.calledAETitle ?? '';
  }

  /**
   * Sends one DIMSE message: its command, then its dataset fragmented to the peer's maximum.
   * Messages are sent one after another: fragments of two messages never interleave.
   */
  sendMessage(contextId: number, command: Command, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    this.queuedMessages++;
    this.updateReadHold();
    const run = this.sending.then(() => this.sendNow(contextId, command, dataset));
    this.sending = run
      .catch(() => {})
      .finally(() => {
        this.queuedMessages--;
        this.updateReadHold();
      });
    return run.catch((e: unknown) => {
      // An unread stream must not keep its file open.
      if (dataset && !Buffer.isBuffer(dataset)) (dataset as { destroy?: () => void }).destroy?.();
      throw e;
    });
  }

  private sending: Promise<void> = Promise.resolve();

  /**
   * Resolves when the socket can take more, or when it is gone (then the next write fails).
   * A peer that takes nothing for sendStallMs is aborted: Node counts a write as taken when
   * the kernel has all of it, so "nothing" is no write finished (one is at most a chunk of a
   * dataset's PDUs, ~1 MB: a link would have to be slower than ~17 KB/s to trip 60 s).
   */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const ms = this.options.timeouts.sendStallMs ?? 0;
      let left = this.socket.writableLength;
      const stall = ms
        ? setInterval(() => {
            const now = this.socket.writableLength;
            if (now < left) left = now;
            else {
              done();
              this.abort(`the peer took nothing of what we sent for ${ms / 1000} s`);
              // The A-ABORT queued behind what it does not read will not reach it either:
              // no ARTIM wait for a peer that is not listening.
              this.socket.destroy();
            }
          }, ms)
        : null;
      const done = (): void => {
        if (stall) clearInterval(stall);
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  private async sendNow(contextId: number, command: Command, dataset?: Buffer | AsyncIterable<Buffer>): Promise<void> {
    const max = this.maxPdvData();
    const cmd = encodeCommand(command);
    const peer = this.peerMaxPduLength || 256 * 1024;
    if (Buffer.isBuffer(dataset) && dataset.length % 2 === 0 && 6 + cmd.length + 6 + dataset.length <= peer) {
      // A small message (a C-FIND answer, an N-* payload) goes as one PDU with two PDVs
      // (PS3.8 9.3.5): half the writes for us and half the reads for the peer.
      if (this.state !== 'Sta6' && this.state !== 'Sta8') throw new AssociationError(`association is no longer established (${this.outcome})`);
      this.pendingPData = encodePDataHeaders([
        { contextId, command: true, last: true, data: cmd },
        { contextId, command: false, last: true, data: dataset },
      ]);
      this.handle('Evt9');
      if (this.socket.writableNeedDrain) await this.drained();
      return;
    }
    await this.sendFragments(contextId, true, [cmd], max);
    if (!dataset) return;
    try {
      await this.sendFragments(contextId, false, Buffer.isBuffer(dataset) ? [dataset] : dataset, max);
    } catch (e) {
      // The command (and maybe some fragments) went out: the peer now waits for the rest of
      // this dataset, and would take our next command for a protocol error. Only an abort
      // ends the message (PS3.8 has no way to cancel a P-DATA sequence).
      if (this.state === 'Sta6' || this.state === 'Sta8') this.abort(`a dataset could not be sent to its end: ${errorMessage(e)}`);
      throw e;
    }
  }

  /**
   * Requestor: A-RELEASE request (Evt11), once every message queued before it has gone out;
   * resolves when the peer confirmed and closed. An answer queued just before (the
   * N-EVENT-REPORT-RSP to a storage commitment report, sent as the report is taken) went out
   * after the release request, and the peer took its report for refused and sent it again.
   */
  async release(): Promise<void> {
    await this.sending;
    if (this.state !== 'Sta6') return;
    const p = new Promise<void>((resolve) => (this.releaseWaiter = resolve));
    this.handle('Evt11');
    return p;
  }

  /** A-ABORT request (Evt15). */
  abort(why = 'aborted locally'): void {
    this.reason ??= why;
    // Table 9-10 has no A-ABORT request before an association exists (Sta2) or once it is
    // going (Sta13): there is nobody to tell, so the connection just closes.
    if (this.state === 'Sta1' || this.state === 'Sta2' || this.state === 'Sta13') {
      this.socket.destroy();
      return;
    }
    this.outcome = 'aborted-locally';
    this.abortToSend = { source: AbortSource.ServiceUser, reason: 0 };
    this.handle('Evt15');
    // Over for whatever works for it now, not when the peer closes the connection (ARTIM, Sta13).
    this.markEnded();
    // A requestor still waiting for its A-ASSOCIATE-AC learns now, not when ARTIM ends Sta13.
    this.establishedWaiters?.reject(new AssociationError(`association aborted: ${why}`));
    this.establishedWaiters = null;
  }

  get established(): boolean {
    return this.state === 'Sta6';
  }

  // --- the state machine ---------------------------------------------------------------------

  private handle(event: Event, pdu?: Pdu): void {
    const s = step(this.state, event, { requestor: this.requestor, acceptable: this.acceptable(pdu) });
    if (!s) {
      // A local primitive in a state where the table allows none: a bug or a race with the
      // peer (e.g. sending after its abort). Nothing on the wire changes.
      if (event === 'Evt9') throw new AssociationError(`cannot send data in state ${this.state}`);
      return;
    }
    // AA-1 on a PDU received before the association (a P-DATA-TF, a release, an AC as the first
    // PDU): the provider refuses it as unexpected, as the conformance statement says — it went
    // out as source 0, reason 0.
    if (s.action === 'AA-1' && RECEIVED_PDU_EVENTS.has(event)) {
      this.abortToSend = { source: AbortSource.ServiceProvider, reason: AbortReason.UnexpectedPdu };
      this.reason ??= `unexpected PDU (${event}) in ${this.state}`;
    }
    if (s.action === 'AA-8' && event !== 'Evt19') {
      // A valid PDU at the wrong time (PS3.8 9.3.8: reason "unexpected PDU").
      this.abortToSend = { source: AbortSource.ServiceProvider, reason: AbortReason.UnexpectedPdu };
      this.reason ??= `unexpected PDU (${event}) in ${this.state}`;
    }
    this.state = s.next;
    if (this.state === 'Sta6') this.framer.maxPDataLength = this.options.maxPduLength;
    for (const e of s.effects) this.effect(e, pdu);
    if (this.state === 'Sta1') this.finish();
  }

  /** AE-6: the provider refuses only what it cannot speak: another protocol version. */
  private acceptable(pdu?: Pdu): boolean {
    return !(pdu && pdu.type === PduType.AssociateRQ && (pdu.protocolVersion & 1) === 0);
  }

  private effect(e: Effect, pdu?: Pdu): void {
    switch (e) {
      case 'connect-transport':
        break; // the requestor's socket is opened by the caller before requestAssociation
      case 'send-associate-rq':
        this.write(encodePdu(this.rq!));
        break;
      case 'send-associate-ac':
        this.write(this.acBytes ?? encodePdu(this.ac!));
        this.armIdle(); // now in Sta6: a peer that never sends anything must time out too
        break;
      case 'send-associate-rj':
        this.rj ??= { type: PduType.AssociateRJ, result: 1, source: 2, reason: 2 }; // AE-6 else: protocol version
        this.outcome = 'rejected';
        this.write(encodePdu(this.rj));
        break;
      case 'send-pdata':
        if (this.pendingPData) this.writev(this.pendingPData);
        this.pendingPData = null;
        break;
      case 'send-release-rq':
        this.write(encodePdu({ type: PduType.ReleaseRQ }));
        break;
      case 'send-release-rp':
        this.write(encodePdu({ type: PduType.ReleaseRP }));
        this.outcome = 'released';
        break;
      case 'send-abort':
        this.write(encodePdu({ type: PduType.Abort, ...this.abortToSend }));
        break;
      case 'send-abort-provider':
        this.outcome = 'protocol-error';
        this.write(encodePdu({ type: PduType.Abort, source: AbortSource.ServiceProvider, reason: this.abortToSend.reason }));
        break;
      case 'indicate-associate':
        this.onAssociateIndication(pdu as AssociateRQ);
        break;
      case 'confirm-associate-accept':
        this.onAccepted(pdu as AssociateAC);
        break;
      case 'confirm-associate-reject':
        this.rj = pdu as AssociateRJ;
        this.outcome = 'rejected';
        this.establishedWaiters?.reject(new AssociationError(describeReject(this.rj), this.rj));
        this.establishedWaiters = null;
        break;
      case 'indicate-pdata':
        this.onPData((pdu as { pdvs: Pdv[] }).pdvs);
        break;
      case 'indicate-release':
        this.onReleaseIndication();
        break;
      case 'confirm-release':
        this.outcome = 'released';
        this.releaseWaiter?.();
        this.releaseWaiter = null;
        break;
      case 'indicate-abort':
        this.outcome = 'aborted-by-peer';
        this.dropInFlight('association aborted by peer');
        break;
      case 'indicate-p-abort':
        if (this.outcome === 'open') this.outcome = 'connection-lost';
        this.dropInFlight(this.reason ?? 'connection lost');
        break;
      case 'start-artim':
        this.stopTimer('artim');
        this.artim = setTimeout(() => this.handle('Evt18'), this.options.timeouts.artimMs);
        break;
      case 'stop-artim':
        this.stopTimer('artim');
        break;
      case 'close-transport':
        this.socket.end();
        break;
    }
  }

  private onAssociateIndication(rq: AssociateRQ): void {
    this.rq = rq;
    const decide = this.user.onAssociateRequest;
    if (!decide) throw new Error('acceptor without onAssociateRequest');
    Promise.resolve()
      .then(() => decide.call(this.user, rq))
      .then(
        (answer) => {
          if (this.state !== 'Sta3') return;
          if (answer.type === PduType.AssociateAC) {
            let bytes: Buffer;
            try {
              bytes = encodePdu(answer);
            } catch (e) {
              // An answer that cannot be put on the wire (an item over 64 KB echoed from a
              // huge request): refused in words, not left in Sta3 with no timer running.
              this.reason = `the A-ASSOCIATE-AC cannot be encoded: ${errorMessage(e)}`;
              this.rj = { type: PduType.AssociateRJ, result: 1, source: 1, reason: 1 };
              this.handle('Evt8');
              return;
            }
            this.ac = answer;
            this.acBytes = bytes;
            this.recordContexts(rq, answer);
            this.handle('Evt7');
          } else {
            this.rj = answer;
            this.handle('Evt8');
          }
        },
        (err: unknown) => {
          this.reason = `negotiation failed: ${String(err)}`;
          if (this.state === 'Sta3') {
            this.rj = { type: PduType.AssociateRJ, result: 2, source: 1, reason: 1 };
            this.handle('Evt8');
          }
        },
      );
  }

  private onAccepted(ac: AssociateAC): void {
    this.ac = ac;
    const max = ac.userInformation.maxPduLength;
    if (max > 0 && max < MIN_PEER_MAX_PDU) {
      // The floor the acceptor side sets a requestor: below it every few bytes are a PDU of their
      // own (and below 8 no P-DATA fits at all, PS3.8 D.1).
      const why = `the peer's maximum PDU length ${max} is below ${MIN_PEER_MAX_PDU}`;
      this.establishedWaiters?.reject(new AssociationError(why));
      this.establishedWaiters = null;
      queueMicrotask(() => this.abort(why)); // not from inside this transition
      return;
    }
    this.recordContexts(this.rq!, ac);
    this.armIdle();
    this.establishedWaiters?.resolve();
    this.establishedWaiters = null;
  }

  private recordContexts(rq: AssociateRQ, ac: AssociateAC): void {
    for (const pc of ac.presentationContexts) {
      if (pc.result !== 0) continue;
      const asked = rq.presentationContexts.find((p) => p.id === pc.id);
      // Accepted in a transfer syntax we did not offer for it (or none): not usable, as if
      // refused — data would be encoded, or received data labelled, in a syntax never agreed.
      if (asked?.transferSyntaxes.includes(pc.transferSyntax)) this.contexts.set(pc.id, { id: pc.id, abstractSyntax: asked.abstractSyntax, transferSyntax: pc.transferSyntax });
    }
    this.armIdle();
  }

  private onPData(pdvs: Pdv[]): void {
    try {
      for (const pdv of pdvs) {
        if (!this.contexts.has(pdv.contextId)) throw new DimseProtocolError(`PDV on presentation context ${pdv.contextId}, which was not accepted`);
        const slow = this.assembler.push(pdv);
        if (slow) this.pauseUntilDrained(slow);
      }
    } catch (e) {
      this.reason = e instanceof Error ? e.message : String(e);
      this.abortToSend = { source: AbortSource.ServiceProvider, reason: AbortReason.UnexpectedPduParameter };
      this.outcome = 'protocol-error';
      this.handle('Evt15');
    }
  }

  /** Backpressure: the sink is behind; stop reading the socket until it drains. */
  private pauseUntilDrained(sink: DatasetSink): void {
    this.paused++;
    this.socket.pause();
    sink.onDrain(() => {
      if (--this.paused === 0 && !this.socket.destroyed) this.socket.resume();
    });
  }

  private onReleaseIndication(): void {
    if (this.assembler.midMessage) {
      // The rest of that message will never come (the peer is done sending), and the release
      // waits for the work in flight, which waits for it: without this, the association would
      // sit in Sta8 forever, holding its temporary file and its place under max_associations.
      this.reason = 'A-RELEASE-RQ in the middle of a DIMSE message';
      this.abortToSend = { source: AbortSource.ServiceProvider, reason: AbortReason.UnexpectedPdu };
      this.outcome = 'protocol-error';
      this.handle('Evt15');
      return;
    }
    const ready = this.user.onReleaseRequested?.() ?? Promise.resolve();
    void ready.then(() => {
      if (this.state === 'Sta8' || this.state === 'Sta9' || this.state === 'Sta12') this.handle('Evt14');
    });
  }

  private markEnded(): void {
    if (!this.ending.signal.aborted) this.ending.abort(new AssociationError(`association ended (${this.outcome}${this.reason ? `: ${this.reason}` : ''})`));
  }

  private dropInFlight(why: string): void {
    this.assembler.abort(new Error(why));
    this.establishedWaiters?.reject(new AssociationError(why));
    this.establishedWaiters = null;
    this.releaseWaiter?.();
    this.releaseWaiter = null;
  }

  private finish(): void {
    this.stopTimer('artim');
    this.stopTimer('idle');
    this.stopTimer('dimse');
    if (!this.socket.destroyed) this.socket.destroy();
    if (this.closedCalled) return;
    this.closedCalled = true;
    this.dropInFlight(this.reason ?? 'association closed');
    this.markEnded();
    this.user.onClosed?.(this);
  }

  // --- transport -----------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    const pdus: RawPdu[] = [];
    const err = this.framer.push(chunk, pdus);
    // Only whole PDUs count as activity: a peer trickling the bytes of a PDU it never finishes
    // (slow loris) must not hold the association past the idle timeout.
    if (pdus.length) this.armIdle();
    const fed = this.assembler.bytesFed;
    for (const raw of pdus) {
      if (this.state === 'Sta1') return;
      let pdu: Pdu;
      try {
        pdu = decodePdu(raw.type, raw.body);
      } catch (e) {
        this.invalidPdu(e instanceof PduDecodeError ? e.abortReason : AbortReason.InvalidPduParameterValue, String(e instanceof Error ? e.message : e));
        return;
      }
      this.handle(eventOf(pdu), pdu);
    }
    // In the middle of a message, only bytes of it are progress, and at least DIMSE_PROGRESS_BYTES
    // of them a timeout: P-DATA PDUs of empty fragments, or of two bytes, sent every minute held
    // a C-STORE, its staged file and its association for ever.
    if (this.assembler.bytesFed > fed && this.assembler.bytesFed - this.dimseProgressAt >= DIMSE_PROGRESS_BYTES) {
      this.dimseProgressAt = this.assembler.bytesFed;
      this.armDimse(true);
    } else this.armDimse(false);
    if (err) {
      const msg =
        err.kind === 'unrecognized'
          ? `unrecognized PDU type 0x${err.type.toString(16)}`
          : `PDU of ${err.length} bytes exceeds the maximum of ${err.limit}`;
      this.invalidPdu(err.kind === 'unrecognized' ? AbortReason.UnrecognizedPdu : AbortReason.InvalidPduParameterValue, msg);
    }
  }

  private invalidPdu(reason: number, message: string): void {
    this.reason = message;
    this.abortToSend = { source: AbortSource.ServiceProvider, reason };
    this.outcome = 'protocol-error';
    this.socket.pause(); // nothing after an invalid PDU is meaningful
    this.handle('Evt19');
  }

  private write(buf: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.idle?.refresh(); // an association that sends (a long retrieve) is not idle
    this.bytesOut += buf.length;
    this.socket.write(buf);
    this.updateReadHold();
  }

  private writev(bufs: Buffer[]): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.idle?.refresh();
    this.socket.cork();
    for (const b of bufs) {
      this.bytesOut += b.length;
      this.socket.write(b);
    }
    process.nextTick(() => this.socket.uncork());
    this.updateReadHold();
  }

  /**
   * Nothing more is read while our answers back up: more than MAX_QUEUED_MESSAGES messages
   * waiting their turn to be sent, or READ_HOLD_AT bytes unsent on the socket. A peer that sends
   * requests and reads none of the answers (C-ECHOs by the million, each answered at once) had
   * them pile up in memory until the send stall timeout; it now fills its own buffers and stops.
   * Our own long sends wait at QUEUED bytes already (sendFragments).
   */
  private updateReadHold(): void {
    const backlog = this.queuedMessages > MAX_QUEUED_MESSAGES || this.socket.writableLength >= READ_HOLD_AT;
    if (backlog === this.readsHeld) return;
    this.readsHeld = backlog;
    if (backlog) {
      this.paused++;
      this.socket.pause();
    } else if (--this.paused === 0 && !this.socket.destroyed) this.socket.resume();
  }

  private readsHeld = false;
  /** assembler.bytesFed when the DIMSE timer was last restarted by progress. */
  private dimseProgressAt = 0;
  /** Messages handed to sendMessage and not yet sent whole. */
  private queuedMessages = 0;

  private maxPdvData(): number {
    const peer = this.peerMaxPduLength;
    // PS3.8 D.1: the maximum covers the PDU's variable field: PDV header (6) + data.
    return peer > 0 ? Math.max(peer - 6, 1) : 256 * 1024;
  }

  private async sendFragments(contextId: number, command: boolean, source: Iterable<Buffer> | AsyncIterable<Buffer>, maxData: number): Promise<void> {
    // Fragments of even length (PS3.5 7.1: values, hence datasets, have even length; DCMTK
    // aborts on an odd fragment).
    const max = Math.max(2, maxData - (maxData % 2));
    // The PDUs of bytes already in memory go out together: one P-DATA request for all the
    // fragments of a chunk, their headers in one buffer, written in one writev — not a system
    // call, a drain and two header allocations per PDU (a receiver's 16 KB PDUs made that 32
    // of each per 0.5 MB instance, most of a retrieve's CPU). Bounded: past QUEUED bytes on the
    // socket we wait for it to drain before the next chunk.
    // A write request is at most QUEUED bytes too (a 16 MB instance read whole is sixteen):
    // the send stall timeout sees progress by write requests finished.
    const send = async (fragments: Buffer[], last: boolean): Promise<void> => {
      for (let i = 0; i < fragments.length; ) {
        let j = i;
        for (let bytes = 0; j < fragments.length && (j === i || bytes + fragments[j]!.length <= QUEUED); j++) bytes += fragments[j]!.length;
        if (this.state !== 'Sta6' && this.state !== 'Sta8') throw new AssociationError(`association is no longer established (${this.outcome})`);
        this.pendingPData = encodePDataFragments(contextId, command, fragments.slice(i, j), last && j === fragments.length);
        this.handle('Evt9');
        if (this.socket.writableLength >= QUEUED) await this.drained();
        i = j;
      }
    };
    let held: Buffer | null = null; // the latest fragment: which one is last is known at the end
    let carry: Buffer | null = null; // an odd last byte of a chunk, sent with the next one
    for await (const input of source) {
      let chunk: Buffer = carry ? Buffer.concat([carry, input]) : input;
      carry = null;
      if (chunk.length % 2) {
        carry = chunk.subarray(chunk.length - 1);
        chunk = chunk.subarray(0, chunk.length - 1);
      }
      const fragments: Buffer[] = held ? [held] : [];
      for (let off = 0; off < chunk.length; off += max) fragments.push(chunk.subarray(off, off + max));
      held = fragments.pop() ?? null;
      await send(fragments, false);
    }
    if (carry) {
      // The whole is odd: only a deflated dataset can be; inflaters ignore the pad byte.
      await send(held ? [held] : [], false);
      held = Buffer.concat([carry, Buffer.alloc(1)]);
    }
    await send([held ?? Buffer.alloc(0)], true);
    // The message is handed over when the socket has taken it (back-pressure for the caller).
    if (this.socket.writableNeedDrain) await this.drained();
  }

  private armIdle(): void {
    if (!this.options.timeouts.idleMs || this.state !== 'Sta6') return;
    if (this.idle) this.idle.refresh();
    else
      this.idle = setTimeout(() => {
        this.idle = null;
        // An operation being worked on while the peer waits for us is not idleness; its own
        // timeouts (DIMSE, send stall, its sub-associations') bound it. A peer that stopped
        // half-way through a message of its own is idle all the same.
        const peerMidway = this.assembler.midMessage || this.framer.pendingBytes > 0;
        if (!peerMidway && this.user.busy?.()) this.armIdle();
        else if (this.state === 'Sta6') this.abort(`idle for ${this.options.timeouts.idleMs / 1000} s`);
      }, this.options.timeouts.idleMs);
  }

  /**
   * The DIMSE timeout: a peer that began a message (a command in fragments, or a dataset) and
   * stops sending in the middle holds a sink and a temporary file; it gets dimseMs, not the
   * (usually longer) idle timeout. Time spent paused because our own sink is behind is not
   * the peer's fault and does not count.
   */
  private armDimse(progress: boolean): void {
    const ms = this.options.timeouts.dimseMs ?? 0;
    const midway = (): boolean => this.assembler.midMessage || this.framer.pendingBytes > 0;
    if (!ms || this.state !== 'Sta6' || !midway()) {
      this.stopTimer('dimse');
      return;
    }
    // Refreshed by whole PDUs that carry message bytes only: trickled bytes are no progress.
    if (this.dimse) {
      if (progress) this.dimse.refresh();
    } else
      this.dimse = setTimeout(() => {
        this.dimse = null;
        if (this.paused > 0) this.armDimse(true);
        else if (this.state === 'Sta6' && midway()) this.abort(`no DIMSE fragment for ${ms / 1000} s in the middle of a message`);
      }, ms);
  }

  private stopTimer(which: 'artim' | 'idle' | 'dimse'): void {
    const t = which === 'artim' ? this.artim : which === 'idle' ? this.idle : this.dimse;
    if (t) clearTimeout(t);
    if (which === 'artim') this.artim = null;
    else if (which === 'idle') this.idle = null;
    else this.dimse = null;
  }
}

function eventOf(pdu: Pdu): Event {
  switch (pdu.type) {
    case PduType.AssociateRQ:
      return 'Evt6';
    case PduType.AssociateAC:
      return 'Evt3';
    case PduType.AssociateRJ:
      return 'Evt4';
    case PduType.PDataTF:
      return 'Evt10';
    case PduType.ReleaseRQ:
      return 'Evt12';
    case PduType.ReleaseRP:
      return 'Evt13';
    case PduType.Abort:
      return 'Evt16';
  }
}

export function describeReject(rj: AssociateRJ): string {
  const result = rj.result === 1 ? 'rejected-permanent' : 'rejected-transient';
  const reasons: Record<number, Record<number, string>> = {
    1: { 1: 'no reason given', 2: 'application context not supported', 3: 'calling AE title not recognized', 7: 'called AE title not recognized' },
    2: { 1: 'no reason given', 2: 'protocol version not supported' },
    3: { 1: 'temporary congestion', 2: 'local limit exceeded' },
  };
  return `association ${result}: ${reasons[rj.source]?.[rj.reason] ?? `source ${rj.source} reason ${rj.reason}`}`;
}
