// The Minimal Lower Layer Protocol (HL7 v2.5.1 Appendix C.4): each message framed as
// <VT> message <FS><CR>. Bytes outside a frame are ignored (some senders put a newline
// between frames) and are no activity: a connection with nothing but them is closed when idle.
// A VT inside a frame starts a new one (the sender gave the first up and sent again).
// A frame longer than the limit, or one that would pass what all connections together may hold
// (MAX_BUFFERED), drops its connection instead of growing without end. Messages
// of one connection are handled one after the other, in order, as the original acknowledgment
// mode expects: the connection is not read while a message is handled, so a peer sending
// without waiting for ACKs waits in TCP, not in our memory. A message is answered with one ACK,
// or none when the handler has none for it (enhanced mode: the sender asked for none).
// Who may connect, and how many connections one address may hold, is peers.ts's.
import net from 'node:net';
import type { Logger } from '../core/logging.js';
import { errorMessage } from '../core/errors.js';
import { remoteText } from '../core/remote-text.js';
import { PeerGate, type PeerLimits, peerAddress } from './peers.js';

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
const MAX_MESSAGE = 16 * 1024 * 1024;
/**
 * Bytes of frames all connections together may hold, gathered or being handled: 16 MB on each
 * of hl7.max_connections (64 by default) was 1 GB a few peers could make us keep. Four messages
 * of the largest size, thousands of the usual few KB.
 */
export const MAX_BUFFERED = 64 * 1024 * 1024;
/**
 * Chunks kept for one frame before they are joined into one: a peer sending a frame a byte per
 * packet made a Buffer object (~100 bytes of heap) per byte, 16 MB of frame costing GBs.
 */
const MAX_PARTS = 1024;

/**
 * The bytes all connections' frames hold (MAX_BUFFERED). A decoder takes them as they arrive; a
 * message it hands out stays counted until its handler gives it back.
 */
export class MllpBudget {
  private used = 0;

  constructor(readonly limit: number = MAX_BUFFERED) {}

  get bytes(): number {
    return this.used;
  }

  /** Counts `n` bytes more; false (nothing counted) when that would pass the limit. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }
}
/**
 * How long a frame may take from its VT to its FS. The idle timer is reset by every byte, so
 * without this a peer trickling a byte now and then kept a connection and its frame forever.
 * HL7 messages are a few KB; in two minutes even one of 16 MB arrives over 1.2 Mbit/s.
 */
const FRAME_DEADLINE_MS = 120_000;

export const frame = (message: Buffer): Buffer => Buffer.concat([Buffer.from([VT]), message, Buffer.from([FS, CR])]);

/** What a decoder saw that a sender should hear of (the listener logs it). */
export interface MllpDecoderEvents {
  /** A start byte (VT) inside an unfinished frame: the `dropped` bytes gathered since its own VT are thrown away, a new frame starts there. */
  restarted?: (dropped: number) => void;
  /** Bytes outside any frame, ignored (one call per run of them, as a chunk holds it). */
  ignored?: (bytes: Buffer) => void;
}

/**
 * Collects frames from the bytes of a stream. Each chunk is scanned once and kept by reference
 * until its frame ends: a large message arriving in small pieces costs its size, not its size
 * times the number of pieces.
 */
export class MllpDecoder {
  /** The frame being gathered (the bytes after its VT), when inside one. */
  private parts: Buffer[] = [];
  /** parts[0..joined) are chunks joined already (see MAX_PARTS). */
  private joined = 0;
  private size = 0;
  private within = false;
  /** The frame's FS was the last byte so far: a CR may still follow. */
  private afterFs = false;
  private framed = false;

  constructor(
    private readonly events: MllpDecoderEvents = {},
    /** Shared by the connections of a listener; each decoder its own when none is given. */
    private readonly budget: MllpBudget = new MllpBudget(),
  ) {}

  /** The frame being gathered is dropped, its bytes given back (the connection closed). */
  dispose(): void {
    this.budget.give(this.size);
    this.drop();
  }

  private drop(): void {
    this.parts = [];
    this.joined = 0;
    this.size = 0;
  }

  /** A frame has begun and not ended yet. */
  get inFrame(): boolean {
    return this.within;
  }

  /** The last chunk held a byte of a frame (its start, content, end), not only bytes between frames. */
  get progressed(): boolean {
    return this.framed;
  }

  /**
   * The complete messages (without framing) in what has arrived so far; each stays counted in
   * the budget until given back. Throws when a frame passes the size limit or the budget, its
   * bytes and this chunk's messages given back.
   */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    try {
      this.scan(chunk, out);
    } catch (e) {
      for (const m of out) this.budget.give(m.length);
      this.dispose();
      throw e;
    }
    return out;
  }

  private scan(chunk: Buffer, out: Buffer[]): void {
    let at = 0;
    // Where the next FS of the chunk is (-1: none left), searched again only once passed: a
    // chunk of many restarts is not searched to its end once per restart.
    let fs = -2;
    this.framed = false;
    while (at < chunk.length) {
      if (this.afterFs) {
        this.afterFs = false;
        if (chunk[at] === CR) {
          at++;
          this.framed = true;
        }
        continue;
      }
      if (!this.within) {
        const start = chunk.indexOf(VT, at);
        if (start !== at) this.events.ignored?.(chunk.subarray(at, start < 0 ? chunk.length : start));
        if (start < 0) break; // bytes between frames are ignored
        this.within = true;
        at = start + 1;
        continue;
      }
      this.framed = true;
      if (fs !== -1 && fs < at) fs = chunk.indexOf(FS, at);
      const end = fs < 0 ? chunk.length : fs;
      // A VT before the frame's end: the sender gave the frame up and sent a message again on
      // the same connection. Read as part of the frame, the two made one message refused AR.
      const restart = chunk.subarray(at, end).indexOf(VT);
      if (restart >= 0) {
        this.events.restarted?.(this.size + restart);
        this.budget.give(this.size);
        this.drop();
        at += restart + 1;
        continue;
      }
      this.add(chunk.subarray(at, end));
      if (fs < 0) break;
      out.push(Buffer.concat(this.parts, this.size)); // its bytes stay counted: the handler's now
      this.drop();
      this.within = false;
      this.afterFs = true;
      at = end + 1;
    }
  }

  private add(bytes: Buffer): void {
    if (!bytes.length) return;
    if (this.size + bytes.length > MAX_MESSAGE) throw new Error(`an MLLP frame longer than ${MAX_MESSAGE} bytes`);
    if (!this.budget.take(bytes.length))
      throw new Error(`HL7 frames of all connections hold ${Math.round(this.budget.limit / 1048576)} MB already (this one ${this.size + bytes.length} bytes)`);
    this.size += bytes.length;
    this.parts.push(bytes);
    // Only the chunks since the last join are copied: each byte is copied once more at most.
    if (this.parts.length - this.joined >= MAX_PARTS) {
      const recent = this.parts.splice(this.joined);
      this.parts.push(Buffer.concat(recent));
      this.joined = this.parts.length;
    }
  }
}

export interface MllpServerOptions {
  host: string;
  port: number;
  /** The acknowledgment for a message, null for none (never throws: an error is an ACK too). */
  handle: (message: Buffer, remote: string) => Promise<Buffer | null>;
  logger: Logger;
  /** A connection that sends no frame byte and is sent no ACK this long is closed. */
  idleMs?: number;
  /** A frame not complete this long after it began closes its connection (tests shorten it). */
  frameMs?: number;
  /** Connections open at once (hl7.max_connections), read at each new one; past it one is closed unanswered. Unset: no limit. */
  maxConnections?: () => number;
  /** Who may connect and how many connections each address may hold (see peers.ts); unset: anyone, any number. */
  peers?: PeerLimits;
  /** Bytes all connections' frames may hold at once (MAX_BUFFERED; tests lower it). */
  maxBufferedBytes?: number;
}

export class MllpServer {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  /** Connections are being refused (hl7.max_connections reached), already logged. */
  private full = false;
  private readonly gate: PeerGate;
  private readonly budget: MllpBudget;

  constructor(private readonly options: MllpServerOptions) {
    this.gate = new PeerGate(options.peers ?? { allowedAddresses: () => [], maxPerAddress: () => 0 });
    this.budget = new MllpBudget(options.maxBufferedBytes ?? MAX_BUFFERED);
  }

  /** Bytes the connections' frames hold now, gathered or being handled. */
  get bufferedBytes(): number {
    return this.budget.bytes;
  }

  /** Connections open now (against hl7.max_connections). */
  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<{ port: number }> {
    const server = net.createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.options.logger.error({ err: e }, 'HL7 listener error'));
    this.server = server;
    const address = server.address();
    return { port: typeof address === 'object' && address ? address.port : this.options.port };
  }

  private accept(socket: net.Socket): void {
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const log = this.options.logger;
    // Checked before the total: a host refused by address or by its own count takes no place
    // under hl7.max_connections, even for a moment.
    const address = peerAddress(socket.remoteAddress);
    const admission = this.gate.admit(address);
    if (!admission.admitted) {
      const text =
        admission.reason === 'address not allowed'
          ? `HL7 connection refused: ${address} is not in hl7.allowed_addresses`
          : `HL7 connection refused: ${address} has hl7.max_connections_per_address open`;
      log[admission.warn ? 'warn' : 'debug']({ remote, address, ...(admission.limit ? { limit: admission.limit } : {}) }, text);
      socket.destroy();
      return;
    }
    const limit = this.options.maxConnections?.() ?? 0;
    if (limit > 0 && this.sockets.size >= limit) {
      this.gate.closed(address);
      // Said once while full: a flood of connections must not become a flood of log lines.
      if (!this.full) log.warn({ remote, limit }, 'HL7 connections refused: hl7.max_connections are open');
      this.full = true;
      socket.destroy();
      return;
    }
    this.full = false;
    this.sockets.add(socket);
    // Our own idle timer, not socket.setTimeout: that one counts every byte as activity, so a
    // peer sending a byte between frames now and then (bytes we ignore) held its connection, and
    // a place under hl7.max_connections, for ever. Activity is a byte of a frame, or an ACK sent.
    // destroySoon, not end: a peer that never closes its side would still count against the limit.
    // A write still waiting (a peer that reads no ACKs) would hold destroySoon for ever: destroyed.
    const idleMs = this.options.idleMs ?? 300_000;
    let idle: NodeJS.Timeout | undefined;
    const active = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        log.info({ remote, idleSeconds: idleMs / 1000 }, 'HL7 connection closed: idle');
        if (socket.writableLength > 0) socket.destroy();
        else socket.destroySoon();
      }, idleMs);
    };
    active();
    const decoder = new MllpDecoder(this.decoderLog(remote), this.budget);
    const pending: Buffer[] = [];
    let handling = false;
    let deadline: NodeJS.Timeout | undefined;
    // Runs from a frame's first bytes to its end while we read; a new frame gets its own time.
    // Stopped while we handle a message (the wait is ours, not the peer's) and started again after.
    const watchFrame = (frameEnded: boolean): void => {
      if (deadline && (frameEnded || handling || !decoder.inFrame)) {
        clearTimeout(deadline);
        deadline = undefined;
      }
      if (deadline || handling || !decoder.inFrame) return;
      deadline = setTimeout(() => {
        log.warn({ remote }, 'HL7 connection dropped: a frame was not complete in time');
        socket.destroy();
      }, this.options.frameMs ?? FRAME_DEADLINE_MS);
    };
    const next = (): void => {
      const message = pending.shift();
      handling = message !== undefined;
      watchFrame(false);
      if (!message) {
        socket.resume();
        return;
      }
      socket.pause();
      void this.options.handle(message, remote).finally(() => this.budget.give(message.length)).then(
        (ack) => {
          if (!socket.writable) {
            socket.destroy(); // closed by the idle timer meanwhile: the sender will resend
            return;
          }
          // Nothing to send (the sender asked for no ACK): on to the next message, the connection
          // kept. Not activity: the frame's bytes were, and a silent exchange is no more.
          if (!ack) {
            next();
            return;
          }
          // Read on once the ACK is with TCP: a peer that does not read its ACKs stops being read too.
          active();
          socket.write(frame(ack), (e) => {
            if (e) return;
            active();
            next();
          });
        },
        (e: unknown) => {
          log.error({ err: e, remote }, 'HL7 message handling failed');
          next();
        },
      );
    };
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        log.warn({ remote, error: errorMessage(e) }, 'HL7 connection dropped');
        socket.destroy();
        return;
      }
      if (decoder.progressed) active();
      pending.push(...messages);
      watchFrame(messages.length > 0);
      if (!handling && pending.length) next();
    });
    socket.on('error', (e) => log.debug({ remote, error: e.message }, 'HL7 connection error'));
    socket.on('close', () => {
      clearTimeout(deadline);
      clearTimeout(idle);
      decoder.dispose();
      for (const m of pending.splice(0)) this.budget.give(m.length);
      this.sockets.delete(socket);
      this.gate.closed(address);
    });
  }

  /**
   * What a connection's decoder tells the log: each kind once per connection at warn, later ones
   * at debug, so a peer sending nothing but junk (or VTs) does not flood the log. Line breaks
   * between frames are common and harmless: not logged.
   */
  private decoderLog(remote: string): MllpDecoderEvents {
    const log = this.options.logger;
    let ignoredSaid = false;
    let restartSaid = false;
    return {
      ignored: (bytes) => {
        if (ignoredSaid || bytes.every((b) => b === CR || b === 0x0a)) return;
        ignoredSaid = true;
        // latin1: one character per byte, so the first 32 bytes show as 32 characters (control ones escaped).
        log.warn({ remote, bytes: bytes.length, start: remoteText(bytes.subarray(0, 32).toString('latin1')) }, 'HL7 bytes outside an MLLP frame ignored (said once per connection)');
      },
      restarted: (dropped) => {
        if (restartSaid) log.debug({ remote, dropped }, 'HL7 frame restarted');
        else log.warn({ remote, dropped }, 'HL7 frame restarted: a start byte (VT) came inside an unfinished frame, whose bytes were dropped');
        restartSaid = true;
      },
    };
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.end();
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 1000).unref();
    await closed;
  }
}
