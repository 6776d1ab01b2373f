// The SCU side: open an association, send requests, wait for their responses. Used by the CLI
// (pacs echo / store), by C-MOVE sub-associations and forwarding, and by the tests.
import net from 'node:net';
import tls from 'node:tls';
import { Association, AssociationError, type AssociationTimeouts } from './association.js';
import { type AssociateRequestOptions, buildAssociateRQ } from './acse.js';
import { BufferSink, type DatasetSink } from './dimse/assembler.js';
import { type Command, CommandField, NO_DATASET, Priority } from './dimse/command.js';
import { isPending } from './dimse/status.js';
import { SopClass } from '../dicom/uids.js';

export interface ConnectOptions extends Omit<AssociateRequestOptions, 'maxPduLength'> {
  host: string;
  port: number;
  maxPduLength?: number;
  connectTimeoutMs?: number;
  /** How long to wait for each response (the DIMSE timeout). */
  dimseTimeoutMs?: number;
  timeouts?: Partial<AssociationTimeouts>;
  /** DICOM TLS to the peer: trusted CAs, our client certificate, the name to check. */
  tls?: tls.ConnectionOptions;
  /** Requests the peer sends us on this association (C-STORE sub-operations of a C-GET). */
  onRequest?: (assoc: Association, contextId: number, command: Command) => DatasetSink | null;
  /**
   * Gives up the connection or the association request when aborted (a job canceled, the server
   * stopping): a peer that accepts TCP and never answers held the job for the whole ARTIM time.
   */
  signal?: AbortSignal;
}

export interface Response {
  command: Command;
  dataset: Buffer | null;
}

interface Waiter {
  onPending?: (r: Response) => void;
  resolve: (r: Response) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}


/** Whether connecting failed because the peer answered A-ASSOCIATE-RJ (it was reached). */
export const isAssociateReject = (e: unknown): boolean => e instanceof AssociationError && e.reject !== undefined;

export class ScuAssociation {
  private nextMessageId = 1;
  private readonly waiters = new Map<number, Waiter>();
  readonly assoc: Association;

  private constructor(
    socket: net.Socket,
    private readonly options: ConnectOptions,
  ) {
    this.assoc = new Association(
      socket,
      {
        onCommand: (assoc, ctx, cmd) => this.onCommand(assoc, ctx, cmd),
        onClosed: () => this.failAll(new AssociationError(`association closed (${this.assoc.outcome}${this.assoc.reason ? `: ${this.assoc.reason}` : ''})`)),
      },
      {
        requestor: true,
        maxPduLength: options.maxPduLength ?? 256 * 1024,
        timeouts: {
          artimMs: options.timeouts?.artimMs ?? 30_000,
          idleMs: options.timeouts?.idleMs ?? 0,
          // A peer that stops reading what we send fails the request as one that stops answering does.
          sendStallMs: options.timeouts?.sendStallMs ?? options.dimseTimeoutMs ?? 60_000,
        },
      },
    );
  }

  static async connect(options: ConnectOptions): Promise<ScuAssociation> {
    const { signal } = options;
    const stopped = (): Error => (signal?.reason instanceof Error ? signal.reason : new AssociationError('canceled'));
    if (signal?.aborted) throw stopped();
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s: net.Socket = options.tls ? tls.connect({ ...options.tls, host: options.host, port: options.port }) : net.connect({ host: options.host, port: options.port, noDelay: true });
      s.setNoDelay(true);
      const settle = (): void => {
        clearTimeout(t);
        signal?.removeEventListener('abort', abort);
      };
      const abort = (): void => {
        settle();
        s.destroy();
        reject(stopped());
      };
      const t = setTimeout(() => {
        settle();
        s.destroy();
        reject(new AssociationError(`cannot connect to ${options.host}:${options.port}: timed out`));
      }, options.connectTimeoutMs ?? 10_000);
      signal?.addEventListener('abort', abort, { once: true });
      // With TLS the association starts once the handshake is done (the peer's certificate checked).
      s.once(options.tls ? 'secureConnect' : 'connect', () => {
        settle();
        resolve(s);
      });
      s.once('error', (e) => {
        settle();
        reject(new AssociationError(`cannot connect to ${options.host}:${options.port}: ${e.message}`));
      });
    });
    const scu = new ScuAssociation(socket, options);
    // Table 9-10 runs no timer while the requestor waits for A-ASSOCIATE-AC (Sta5): a peer
    // that accepts TCP and then says nothing must not hold us forever.
    const limit = options.timeouts?.artimMs ?? 30_000;
    const timer = setTimeout(() => scu.assoc.abort(`no A-ASSOCIATE-AC within ${limit / 1000} s`), limit);
    const abort = (): void => scu.assoc.abort('canceled while waiting for A-ASSOCIATE-AC');
    signal?.addEventListener('abort', abort, { once: true });
    try {
      await scu.assoc.requestAssociation(buildAssociateRQ({ ...options, maxPduLength: options.maxPduLength ?? 256 * 1024 }));
    } catch (e) {
      throw signal?.aborted ? stopped() : e;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
    }
    return scu;
  }

  /** The accepted presentation context for an abstract syntax and (optionally) transfer syntax. */
  contextFor(abstractSyntax: string, transferSyntax?: string): { id: number; transferSyntax: string } | null {
    for (const c of this.assoc.contexts.values())
      if (c.abstractSyntax === abstractSyntax && (!transferSyntax || c.transferSyntax === transferSyntax)) return c;
    return null;
  }

  /**
   * Sends a request and resolves with its final response; pending ones go to onPending.
   * `onSent` is called once the request has left (or failed to), which may be after the response.
   */
  request(
    contextId: number,
    command: Omit<Command, 'MessageID'>,
    dataset?: Buffer | AsyncIterable<Buffer>,
    onPending?: (r: Response) => void,
    onSent?: () => void,
  ): Promise<Response> {
    const id = this.nextMessageId;
    this.nextMessageId = (this.nextMessageId % 0xffff) + 1;
    const cmd: Command = { ...command, MessageID: id, CommandDataSetType: dataset ? 0x0000 : NO_DATASET } as Command;
    let waiter!: Waiter;
    const result = new Promise<Response>((resolve, reject) => {
      waiter = { resolve, reject, timer: null };
      if (onPending) waiter.onPending = onPending;
      this.waiters.set(id, waiter);
    });
    // The DIMSE timeout counts from the end of the request: a large dataset takes what it takes.
    this.assoc.sendMessage(contextId, cmd, dataset).then(
      () => {
        onSent?.();
        if (this.waiters.get(id) === waiter && !waiter.timer) this.armTimer(id, waiter);
      },
      (e: unknown) => {
        onSent?.();
        this.settle(id, e instanceof Error ? e : new Error(String(e)));
      },
    );
    return result;
  }

  async echo(): Promise<number> {
    const ctx = this.contextFor(SopClass.Verification);
    if (!ctx) throw new AssociationError('the peer did not accept the Verification SOP class');
    const r = await this.request(ctx.id, { CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: SopClass.Verification });
    return r.command.Status ?? -1;
  }

  /** C-STORE of one instance whose dataset bytes (in the context's transfer syntax) are streamed; `onSent` as for request(). */
  async store(contextId: number, sopClassUID: string, sopInstanceUID: string, dataset: Buffer | AsyncIterable<Buffer>, extra: Partial<Command> = {}, onSent?: () => void): Promise<Command> {
    const r = await this.request(
      contextId,
      { CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: sopClassUID, AffectedSOPInstanceUID: sopInstanceUID, Priority: Priority.Medium, ...extra },
      dataset,
      undefined,
      onSent,
    );
    return r.command;
  }

  /** A-RELEASE; a peer that never answers it (Sta7 has no timer) is cut off after ARTIM. */
  release(): Promise<void> {
    const limit = this.options.timeouts?.artimMs ?? 30_000;
    let timer: NodeJS.Timeout | null = null;
    const cut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        this.assoc.socket.destroy();
        resolve();
      }, limit);
    });
    return Promise.race([this.assoc.release(), cut]).finally(() => {
      if (timer) clearTimeout(timer);
    });
  }

  abort(): void {
    this.assoc.abort('aborted by the SCU');
  }

  // ---------------------------------------------------------------------------------------------

  private onCommand(assoc: Association, contextId: number, command: Command): DatasetSink | null {
    const isResponse = (command.CommandField & 0x8000) !== 0;
    if (!isResponse) return this.options.onRequest?.(assoc, contextId, command) ?? null;
    const id = command.MessageIDBeingRespondedTo ?? -1;
    const w = this.waiters.get(id);
    if (!w) return null;
    const deliver = (dataset: Buffer | null): void => {
      const r: Response = { command, dataset };
      if (isPending(command.Status ?? 0)) {
        this.armTimer(id, w);
        w.onPending?.(r);
      } else this.settle(id, null, r);
    };
    if (command.CommandDataSetType === undefined || command.CommandDataSetType === NO_DATASET) {
      deliver(null);
      return null;
    }
    return new BufferSink(64 * 1024 * 1024, (err, data) => (err ? this.settle(id, err) : deliver(data)));
  }

  private armTimer(id: number, w: Waiter): void {
    if (w.timer) clearTimeout(w.timer);
    const ms = this.options.dimseTimeoutMs ?? 60_000;
    w.timer = ms
      ? setTimeout(() => {
          const why = `no response to message ${id} within ${ms / 1000} s`;
          this.settle(id, new AssociationError(why));
          // The peer still owes that answer: without a negotiated window one operation may be
          // outstanding (PS3.7 D.3.3.3), so the next request may not go on this association,
          // and a late answer would count a stored instance as failed. Given up, as DCMTK does.
          this.assoc.abort(why);
        }, ms)
      : null;
  }

  private settle(id: number, err: Error | null, r?: Response): void {
    const w = this.waiters.get(id);
    if (!w) return;
    this.waiters.delete(id);
    if (w.timer) clearTimeout(w.timer);
    if (err) w.reject(err);
    else w.resolve(r!);
  }

  private failAll(e: Error): void {
    for (const id of [...this.waiters.keys()]) this.settle(id, e);
  }
}
