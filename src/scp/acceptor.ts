// What happens on each incoming association: the access rules decide A-ASSOCIATE-AC or -RJ,
// commands go to the provider of their SOP class, and one log line tells the whole story.
import type { Socket } from 'node:net';
import type { Association, AssociationUser } from '../net/association.js';
import { aeTitleMatches, buildAssociateAC, isAeTitle, presentationContextProblem, userInformationProblem } from '../net/acse.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import { type Command, CommandField, NO_DATASET, commandName } from '../net/dimse/command.js';
import { Status, errorComment, isPending, isSuccess, isWarning } from '../net/dimse/status.js';
import { permissionFor } from './permissions.js';
import type { AssociationRateLimiter } from './rate-limit.js';
import { type UserIdentityPolicy, addressAllowed, checkUserIdentity } from './user-identity.js';
import {
  type AssociateAC,
  type AssociateRJ,
  type AssociateRQ,
  DICOM_APPLICATION_CONTEXT,
  PduType,
  RejectReason,
  RejectResult,
  RejectSource,
} from '../net/pdu/types.js';
import type { EventBus } from '../core/events.js';
import { peerAddress } from '../core/addresses.js';
import type { FailedLogins } from '../core/failed-logins.js';
import type { Logger } from '../core/logging.js';
import type { AssociationStats, ScpContext, SopRegistry } from './registry.js';

/** The parts of the configuration that decide who gets in; read at each association (live reload). */
export interface AcceptPolicy {
  aeTitle: string;
  strictCalledAE: boolean;
  allowedAETitles: readonly string[];
  maxAssociations: number;
  maxAssociationsPerAE: number;
  /** Associations at once from one address (server.max_associations_per_address); 0 = no limit. */
  maxAssociationsPerAddress?: number;
  maxPduLength: number;
  /** New associations a calling AE title may open per minute (token bucket); 0 = no limit. */
  maxNewAssociationsPerMinutePerAE?: number;
  /** How long we wait for the answer to a request of ours (C-GET sub-operations); 0 = forever. */
  dimseTimeoutMs?: number;
  /** User Identity Negotiation (access_control.user_identity); undefined: not taking part. */
  userIdentity?: UserIdentityPolicy;
  /** The addresses a calling AE that is a known node may call from; null: anywhere. */
  addressesOf?: (callingAE: string) => readonly string[] | null;
  /** What a calling AE that is a known node may do (its `permissions`); null: not a known node, no restriction. */
  permissionsOf?: (callingAE: string) => readonly string[] | null;
}

export interface AcceptorDeps {
  registry: SopRegistry;
  policy: () => AcceptPolicy;
  /** Associations currently established or being negotiated, to enforce the limits. */
  active: () => Iterable<Association>;
  logger: Logger;
  events: EventBus;
  /** Shared by every association of the server, so the rate counts across connections. */
  rateLimiter?: AssociationRateLimiter;
  /** Wrong user identity passwords by address, shared by every association of the server. */
  failedLogins?: FailedLogins;
}

const reject = (result: number, source: number, reason: number): AssociateRJ => ({ type: PduType.AssociateRJ, result, source, reason });

export class AcceptorSession implements AssociationUser {
  private readonly stats: AssociationStats = { operations: {}, instances: 0, failures: 0, lastError: null };
  private readonly inFlight = new Set<Promise<unknown>>();
  /** What the peer waits for on this association without an operation of its own (keepOpen). */
  private readonly awaitedByPeer = new Set<Promise<unknown>>();
  /** Our own requests on this association (C-GET sub-operations), by Message ID. */
  private readonly awaiting = new Map<number, (response: Command) => void>();
  private nextMessageId = 0x8000; // apart from the peer's IDs, for readable logs
  private logger: Logger;
  /** Why we rejected the association, in words, for its log line. */
  private rejectedBecause: string | null = null;
  /** Requests in progress by Message ID: the operation and when it arrived (for its duration). */
  private readonly started = new Map<number, { operation: string; at: number }>();
  /** The user verified by User Identity Negotiation. */
  private user: string | null = null;
  private readonly remoteAddress: string;

  constructor(
    private readonly deps: AcceptorDeps,
    socket: Socket,
  ) {
    this.logger = deps.logger.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    this.remoteAddress = socket.remoteAddress ?? '';
  }

  async onAssociateRequest(rq: AssociateRQ): Promise<AssociateAC | AssociateRJ> {
    const p = this.deps.policy();
    this.logger = this.logger.child({ callingAE: rq.callingAETitle, calledAE: rq.calledAETitle });
    if (rq.applicationContext !== DICOM_APPLICATION_CONTEXT)
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.ApplicationContextNotSupported), `application context ${rq.applicationContext.slice(0, 64)} is not DICOM's`);
    const malformed = presentationContextProblem(rq) ?? userInformationProblem(rq);
    if (malformed) return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.NoReasonGiven), malformed);
    if (!isAeTitle(rq.callingAETitle))
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAETitleNotRecognized), 'the calling AE title is empty or holds characters an AE title may not');
    if (p.strictCalledAE && rq.calledAETitle !== p.aeTitle)
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAETitleNotRecognized), `called AE title ${rq.calledAETitle} is not ours (${p.aeTitle}; server.strict_called_ae)`);
    if (!p.allowedAETitles.some((pattern) => aeTitleMatches(pattern, rq.callingAETitle)))
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAETitleNotRecognized), `calling AE title ${rq.callingAETitle} is not in access_control.allowed_ae_titles`);
    const addresses = p.addressesOf?.(rq.callingAETitle) ?? null;
    if (addresses && !addressAllowed(this.remoteAddress, addresses))
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAETitleNotRecognized), `${rq.callingAETitle} may not call from ${this.remoteAddress} (its known_nodes addresses: ${addresses.join(', ')})`);
    // The rate is checked before anything costly and counts refused attempts too: a peer
    // retrying in a tight loop stays refused until it slows down.
    const perMinute = p.maxNewAssociationsPerMinutePerAE ?? 0;
    if (this.deps.rateLimiter && !this.deps.rateLimiter.take(rq.callingAETitle, perMinute))
      return this.refuse(
        reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded),
        `more than ${perMinute} new associations a minute from ${rq.callingAETitle} (server.max_new_associations_per_minute_per_ae); next in ${this.deps.rateLimiter.waitSeconds(rq.callingAETitle, perMinute)} s`,
      );
    // Checked after the rate, so the rate also bounds password guessing.
    const identity = await checkUserIdentity(rq.userInformation.userIdentity, p.userIdentity, this.deps.failedLogins ? { logins: this.deps.failedLogins, address: this.remoteAddress } : undefined);
    if (!identity.ok) {
      this.deps.events.emit('audit', { action: 'login-failed', outcome: 'failure', who: rq.callingAETitle, from: this.remoteAddress, what: { userIdentity: identity.why } });
      // PS3.7 D.3.3.7: refused by the service user; the reasons have no "authentication failed".
      return this.refuse(reject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.NoReasonGiven), identity.why);
    }
    this.user = identity.user;
    if (this.user) this.logger = this.logger.child({ user: this.user });
    // The limits count the other associations negotiating or established: not this one, not
    // connections that have yet to send an A-ASSOCIATE-RQ, not ones that are closing.
    const others = [...this.deps.active()].filter((a) => a.rq !== rq && a.rq !== null && a.state !== 'Sta13' && a.state !== 'Sta1');
    if (p.maxAssociations > 0 && others.length >= p.maxAssociations)
      return this.refuse(reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded), `${others.length} associations already (server.max_associations)`);
    if (p.maxAssociationsPerAE > 0 && others.filter((a) => a.callingAETitle === rq.callingAETitle).length >= p.maxAssociationsPerAE)
      return this.refuse(reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded), `${p.maxAssociationsPerAE} associations from ${rq.callingAETitle} already (server.max_associations_per_ae)`);
    // The calling AE title is the caller's to choose: one host opening max_associations under
    // as many titles locked every modality out. Its address is not.
    const perAddress = p.maxAssociationsPerAddress ?? 0;
    if (perAddress > 0 && others.filter((a) => peerAddress(a.remoteAddress) === peerAddress(this.remoteAddress)).length >= perAddress)
      return this.refuse(reject(RejectResult.Transient, RejectSource.ServiceProviderPresentation, RejectReason.LocalLimitExceeded), `${perAddress} associations from ${this.remoteAddress} already (server.max_associations_per_address)`);
    // For user name (and passcode) identities the positive response is empty (PS3.7 D.3.3.7.2).
    return buildAssociateAC(rq, this.deps.registry, { maxPduLength: p.maxPduLength }, identity.respond ? Buffer.alloc(0) : undefined);
  }

  private refuse(rj: AssociateRJ, why: string): AssociateRJ {
    this.rejectedBecause = why;
    return rj;
  }

  onCommand(assoc: Association, contextId: number, command: Command): DatasetSink | null {
    const pc = assoc.contexts.get(contextId)!;
    const ctx: ScpContext = {
      assoc,
      contextId,
      abstractSyntax: pc.abstractSyntax,
      transferSyntax: pc.transferSyntax,
      logger: this.logger,
      stats: this.stats,
      send: (cmd, dataset) => {
        // A final response ends its operation: its status class and duration go to the metrics.
        if (cmd.CommandField & 0x8000 && cmd.Status !== undefined && !isPending(cmd.Status)) {
          const req = this.started.get(cmd.MessageIDBeingRespondedTo ?? -1);
          if (req) {
            this.started.delete(cmd.MessageIDBeingRespondedTo!);
            const status = isSuccess(cmd.Status) ? 'success' : isWarning(cmd.Status) ? 'warning' : cmd.Status === Status.Cancel ? 'cancel' : 'failure';
            this.deps.events.emit('dimse.operation', { operation: req.operation, status, ms: performance.now() - req.at });
          }
        }
        return assoc.sendMessage(contextId, cmd, dataset);
      },
      track: (p) => {
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p)).catch(() => {});
        return p;
      },
      keepOpen: (p) => {
        this.awaitedByPeer.add(p);
        void p.finally(() => this.awaitedByPeer.delete(p)).catch(() => {});
      },
      // The user a user identity proved, beside the calling AE title (which the caller chooses).
      audit: (action, outcome, what) => this.deps.events.emit('audit', { action, outcome, who: assoc.callingAETitle, from: assoc.remoteAddress, what: this.user ? { user: this.user, ...what } : what }),
      subRequest: (ctxId, cmd, dataset) => {
        const id = this.nextMessageId;
        this.nextMessageId = this.nextMessageId >= 0xffff ? 0x8000 : this.nextMessageId + 1;
        // A peer that never answers must not hold the C-GET (and its association) forever:
        // as DCMTK does on a DIMSE timeout, the association is aborted, failing what is left.
        // The wait counts from the end of the request, as an SCU's does: a large instance to
        // a slow reader takes what it takes (one that reads nothing trips the send stall).
        const limit = this.deps.policy().dimseTimeoutMs ?? 0;
        let timer: NodeJS.Timeout | null = null;
        let settle!: (response: Command) => void;
        const answer = new Promise<Command>((resolve) => (settle = resolve));
        const waiter = (response: Command): void => {
          if (timer) clearTimeout(timer);
          settle(response);
        };
        this.awaiting.set(id, waiter);
        return assoc.sendMessage(ctxId, { ...cmd, MessageID: id, CommandDataSetType: 0x0000 }, dataset).then(
          () => {
            if (limit && this.awaiting.get(id) === waiter)
              timer = setTimeout(() => {
                this.awaiting.delete(id);
                settle({ CommandField: cmd.CommandField | 0x8000, MessageIDBeingRespondedTo: id, Status: 0xa702, ErrorComment: `no response within ${limit / 1000} s (server.dimse_timeout)` });
                assoc.abort(`no response to message ${id} within ${limit / 1000} s (server.dimse_timeout)`);
              }, limit);
            return answer;
          },
          (e: unknown) => {
            // Not sent: no answer to wait for.
            this.awaiting.delete(id);
            throw e;
          },
        );
      },
    };
    if (command.CommandField & 0x8000) {
      const waiter = this.awaiting.get(command.MessageIDBeingRespondedTo ?? -1);
      if (waiter) {
        this.awaiting.delete(command.MessageIDBeingRespondedTo!);
        waiter(command);
      }
      return null; // a response to nothing we asked: ignored (PS3.7 9.3.2.3)
    }
    // A Command Field no standard operation has is 'other' in the metrics: each made-up value
    // (0x0002, 0x0003...) became a label kept for ever.
    const known = commandName(command.CommandField);
    const operation = known.startsWith('0x') ? 'other' : known.replace(/-RQ$/, '');
    if (command.CommandField !== CommandField.C_CANCEL_RQ) this.started.set(command.MessageID ?? -1, { operation, at: performance.now() });
    const need = permissionFor(command.CommandField, pc.abstractSyntax);
    const allowed = need ? (this.deps.policy().permissionsOf?.(assoc.callingAETitle) ?? null) : null;
    if (need && allowed && !allowed.includes(need)) {
      const comment = `${assoc.callingAETitle} may not ${need} here (its known_nodes permissions: ${allowed.join(', ') || 'none'})`;
      this.stats.failures++;
      this.stats.lastError = comment;
      this.logger.warn({ operation: commandName(command.CommandField), error: comment }, 'operation refused');
      this.deps.events.emit('audit', { action: 'access-denied', outcome: 'failure', who: assoc.callingAETitle, from: assoc.remoteAddress, what: { operation: commandName(command.CommandField), reason: comment, ...(this.user ? { user: this.user } : {}) } });
      refuseCommand(ctx, command, pc.abstractSyntax, Status.NotAuthorized, comment);
      return null; // a dataset that follows is read and dropped
    }
    // A query or retrieve names its SOP class twice, in the command and by its presentation
    // context: they must agree (the identifier would be read under one model, answered as another).
    const query = command.CommandField === CommandField.C_FIND_RQ || command.CommandField === CommandField.C_GET_RQ || command.CommandField === CommandField.C_MOVE_RQ;
    if (query && command.AffectedSOPClassUID && command.AffectedSOPClassUID !== pc.abstractSyntax) {
      this.stats.failures++;
      refuseCommand(ctx, command, pc.abstractSyntax, Status.SOPClassNotSupported, `SOP class not the context's ${pc.abstractSyntax}`);
      return null;
    }
    const provider = this.deps.registry.providerFor(pc.abstractSyntax);
    if (provider?.commands.includes(command.CommandField)) return provider.handle(ctx, command);
    // A C-CANCEL for nothing in progress, or a response we never asked for: ignored (PS3.7 9.3.2.3).
    if ((command.CommandField & 0x8000) === 0 && command.CommandField !== CommandField.C_CANCEL_RQ) {
      // PS3.7 C.4.2: a DIMSE service we do not perform on this SOP class.
      this.stats.failures++;
      refuseCommand(ctx, command, pc.abstractSyntax, Status.UnrecognizedOperation, `${commandName(command.CommandField)} not supported on this SOP class`);
    }
    return null;
  }

  /** The association is gone: our outstanding requests will get no answer. */
  private failAwaiting(): void {
    for (const [id, w] of this.awaiting) w({ CommandField: 0x8001, MessageIDBeingRespondedTo: id, Status: 0xa702, ErrorComment: 'association ended before the response' });
    this.awaiting.clear();
  }

  busy(): boolean {
    return this.inFlight.size > 0 || this.awaitedByPeer.size > 0;
  }

  async onReleaseRequested(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }

  onClosed(assoc: Association): void {
    this.failAwaiting();
    const durationMs = Date.now() - assoc.startedAt;
    if (!assoc.rq) {
      // A connection that never asked for an association: a port probe or a health check of
      // a load balancer, unless it sent bytes that were not DICOM.
      const level = assoc.bytesIn > 0 ? 'warn' : 'debug';
      this.logger[level]({ event: 'connection', bytesIn: assoc.bytesIn, durationMs, outcome: assoc.outcome, ...(assoc.reason ? { reason: assoc.reason } : {}) }, 'connection closed without an association');
      return;
    }
    const line = {
      event: 'association',
      callingAE: assoc.callingAETitle,
      calledAE: assoc.calledAETitle,
      remote: `${assoc.remoteAddress}:${assoc.remotePort}`,
      contexts: assoc.contexts.size,
      operations: this.stats.operations,
      instances: this.stats.instances,
      failures: this.stats.failures,
      bytesIn: assoc.bytesIn,
      bytesOut: assoc.bytesOut,
      durationMs,
      outcome: assoc.outcome === 'open' ? 'connection-lost' : assoc.outcome,
      ...(assoc.rj ? { reject: { result: assoc.rj.result, source: assoc.rj.source, reason: assoc.rj.reason } } : {}),
      ...(assoc.reason ? { reason: assoc.reason } : {}),
      ...(this.rejectedBecause ? { rejectedBecause: this.rejectedBecause } : {}),
      ...(this.user ? { user: this.user } : {}),
      ...(this.stats.lastError ? { lastError: this.stats.lastError } : {}),
    };
    const level = assoc.outcome === 'released' && this.stats.failures === 0 ? 'info' : 'warn';
    this.deps.logger[level](line, 'association closed');
    this.deps.events.emit('association.closed', {
      callingAE: line.callingAE,
      calledAE: line.calledAE,
      remoteAddress: assoc.remoteAddress,
      outcome: line.outcome,
      instances: this.stats.instances,
      failures: this.stats.failures,
      lastError: this.stats.lastError,
      ...(this.rejectedBecause ? { rejectedBecause: this.rejectedBecause } : {}),
      ...(assoc.rj ? { rejectReason: rejectLabel(assoc.rj) } : {}),
      ...(this.user ? { user: this.user } : {}),
      operations: { ...this.stats.operations },
      bytesIn: assoc.bytesIn,
      bytesOut: assoc.bytesOut,
      durationMs,
    });
  }
}

/**
 * The failure response to a request refused before any service class saw it: no dataset, the
 * request's SOP class (the context's when the request named none) and instance, a comment cut
 * to the 64 characters Error Comment holds. A dataset that follows the request is read and dropped.
 */
function refuseCommand(ctx: ScpContext, command: Command, contextSopClass: string, status: number, comment: string): void {
  void ctx
    .send({
      CommandField: command.CommandField | 0x8000,
      AffectedSOPClassUID: command.AffectedSOPClassUID ?? contextSopClass,
      ...(command.AffectedSOPInstanceUID ? { AffectedSOPInstanceUID: command.AffectedSOPInstanceUID } : {}),
      MessageIDBeingRespondedTo: command.MessageID ?? 0,
      CommandDataSetType: NO_DATASET,
      Status: status,
      ErrorComment: errorComment(comment),
    })
    .catch(() => {});
}

/** A short, bounded label for an A-ASSOCIATE-RJ (a metric label must not carry free text). */
function rejectLabel(rj: AssociateRJ): string {
  if (rj.source === RejectSource.ServiceUser) {
    if (rj.reason === RejectReason.CallingAETitleNotRecognized) return 'calling-ae-not-recognized';
    if (rj.reason === RejectReason.CalledAETitleNotRecognized) return 'called-ae-not-recognized';
    if (rj.reason === RejectReason.ApplicationContextNotSupported) return 'application-context';
    return 'refused';
  }
  if (rj.source === RejectSource.ServiceProviderPresentation) return rj.reason === RejectReason.LocalLimitExceeded ? 'local-limit-exceeded' : 'congestion';
  return 'protocol-version';
}
