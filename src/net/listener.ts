// Accepts TCP connections and turns each into an acceptor Association. Knows nothing of the
// PACS: the owner supplies the AssociationUser for each connection.
import net from 'node:net';
import tls from 'node:tls';
import { Association, type AssociationTimeouts, type AssociationUser } from './association.js';

export interface ListenerOptions {
  host: string;
  port: number;
  maxPduLength: number;
  /** Read for each new connection, so a reload applies to the next association. */
  timeouts: () => AssociationTimeouts;
  /** Builds the user for a new connection (the SCP layer: negotiation, services, logging). */
  userFor(socket: net.Socket): AssociationUser;
  /** DICOM TLS (PS3.15 B.1): associations start after the handshake; a failed handshake never reaches the SCP layer. */
  tls?: tls.TlsOptions;
  /** Called when a TLS handshake fails (no certificate, an untrusted one, not TLS at all). */
  onTlsError?: (error: Error, remoteAddress: string | undefined) => void;
  /** Associations of every listener of the server, so limits count them together. */
  active?: Set<Association>;
  /**
   * Connections open at once (associations and those not yet associated), read at each new one;
   * past it a connection is closed at once. Unset: no limit.
   */
  maxConnections?: () => number;
  /** An error of the listening socket once it listens (an accept failing: out of descriptors). */
  onError?: (error: Error) => void;
  /**
   * A connection closed unanswered by a limit (maxConnections, or too many not yet associated
   * from its address): a modality locked out this way was invisible to the operator.
   */
  onRefused?: (remoteAddress: string, why: 'too many connections' | 'too many connections not associated from the address') => void;
}

/**
 * Connections from one address that have not (yet) become associations, at once: a quarter of
 * the least connection limit (1,024), so one host sending nothing cannot take them all.
 */
export const MAX_UNASSOCIATED_PER_ADDRESS = 256;

export class DicomListener {
  private server: net.Server | null = null;
  readonly active: Set<Association>;

  constructor(private readonly options: ListenerOptions) {
    this.active = options.active ?? new Set<Association>();
  }

  start(): Promise<{ port: number }> {
    const o = this.options;
    // A handshake gets as long as an A-ASSOCIATE-RQ would (ARTIM), not Node's 120 s: connections
    // still handshaking are not counted by maxConnections, so slow ones could pile up.
    const server = o.tls
      ? tls
          .createServer({ ...o.tls, noDelay: true, handshakeTimeout: o.timeouts().artimMs }, (socket) => this.accept(socket))
          .on('tlsClientError', (e, socket) => o.onTlsError?.(e, socket.remoteAddress))
      : net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        // Without a listener, an 'error' event ends the process.
        server.on('error', (e) => o.onError?.(e));
        const addr = server.address();
        resolve({ port: typeof addr === 'object' && addr ? addr.port : this.options.port });
      });
    });
  }

  private accept(socket: net.Socket): void {
    const limit = this.options.maxConnections?.() ?? 0;
    if (limit > 0 && this.active.size >= limit) {
      this.options.onRefused?.(socket.remoteAddress ?? '?', 'too many connections');
      socket.destroy();
      return;
    }
    // Connections of one address not (yet) associated: a host opening connections and sending
    // nothing took every place of maxConnections for ARTIM each, and no modality got in.
    let waiting = 0;
    for (const a of this.active) if (!a.established && a.remoteAddress === socket.remoteAddress) waiting++;
    if (waiting >= MAX_UNASSOCIATED_PER_ADDRESS) {
      this.options.onRefused?.(socket.remoteAddress ?? '?', 'too many connections not associated from the address');
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const user = this.options.userFor(socket);
    const onClosed = user.onClosed?.bind(user);
    const assoc = new Association(
      socket,
      {
        ...user,
        onAssociateRequest: user.onAssociateRequest?.bind(user),
        onCommand: user.onCommand.bind(user),
        onReleaseRequested: user.onReleaseRequested?.bind(user),
        busy: user.busy?.bind(user),
        onClosed: (a) => {
          this.active.delete(a);
          onClosed?.(a);
        },
      },
      { requestor: false, maxPduLength: this.options.maxPduLength, timeouts: this.options.timeouts() },
    );
    this.active.add(assoc);
    assoc.acceptTransport();
  }

  /** Stops accepting; resolves once every open association has ended or `graceMs` passed (then aborts them). */
  async stop(graceMs: number): Promise<void> {
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    const deadline = Date.now() + graceMs;
    while (this.active.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const a of this.active) a.abort('server shutting down');
    while (this.active.size && Date.now() < deadline + 2000) await new Promise((r) => setTimeout(r, 20));
    for (const a of this.active) a.socket.destroy();
    await closed;
  }
}
