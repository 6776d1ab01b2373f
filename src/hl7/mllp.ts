// The Minimal Lower Layer Protocol (HL7 v2.5.1 Appendix C.4): each message framed as
// <VT> message <FS><CR>. Bytes outside a frame are ignored (some senders put a newline
// between frames); a frame longer than the limit drops the connection instead of growing
// without end. Messages of one connection are handled one after the other, in order, as the
// original acknowledgment mode expects.
import net from 'node:net';
import type { Logger } from '../core/logging.js';
import { errorMessage } from '../core/errors.js';

export const VT = 0x0b;
export const FS = 0x1c;
export const CR = 0x0d;
const MAX_MESSAGE = 16 * 1024 * 1024;

export const frame = (message: Buffer): Buffer => Buffer.concat([Buffer.from([VT]), message, Buffer.from([FS, CR])]);

/**
 * Collects frames from the bytes of a stream. Each chunk is scanned once and kept by reference
 * until its frame ends: a large message arriving in small pieces costs its size, not its size
 * times the number of pieces.
 */
export class MllpDecoder {
  /** The frame being gathered (the bytes after its VT), when inside one. */
  private parts: Buffer[] = [];
  private size = 0;
  private inFrame = false;
  /** The frame's FS was the last byte so far: a CR may still follow. */
  private afterFs = false;

  /** The complete messages (without framing) in what has arrived so far. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.afterFs) {
        this.afterFs = false;
        if (chunk[at] === CR) at++;
        continue;
      }
      if (!this.inFrame) {
        const start = chunk.indexOf(VT, at);
        if (start < 0) break; // bytes between frames are ignored
        this.inFrame = true;
        at = start + 1;
        continue;
      }
      const end = chunk.indexOf(FS, at);
      this.add(chunk.subarray(at, end < 0 ? chunk.length : end));
      if (end < 0) break;
      out.push(Buffer.concat(this.parts, this.size));
      this.parts = [];
      this.size = 0;
      this.inFrame = false;
      this.afterFs = true;
      at = end + 1;
    }
    return out;
  }

  private add(bytes: Buffer): void {
    if (!bytes.length) return;
    this.size += bytes.length;
    if (this.size > MAX_MESSAGE) throw new Error(`an MLLP frame longer than ${MAX_MESSAGE} bytes`);
    this.parts.push(bytes);
  }
}

export interface MllpServerOptions {
  host: string;
  port: number;
  /** The acknowledgment for a message (never throws: an error is an ACK too). */
  handle: (message: Buffer, remote: string) => Promise<Buffer>;
  logger: Logger;
  /** A connection silent this long is closed. */
  idleMs?: number;
}

export class MllpServer {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly options: MllpServerOptions) {}

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
    this.sockets.add(socket);
    socket.setTimeout(this.options.idleMs ?? 300_000, () => socket.end());
    const decoder = new MllpDecoder();
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch (e) {
        log.warn({ remote, error: errorMessage(e) }, 'HL7 connection dropped');
        socket.destroy();
        return;
      }
      for (const m of messages) {
        queue = queue.then(async () => {
          const ack = await this.options.handle(m, remote);
          if (!socket.destroyed) socket.write(frame(ack));
        }).catch((e: unknown) => log.error({ err: e, remote }, 'HL7 message handling failed'));
      }
    });
    socket.on('error', (e) => log.debug({ remote, error: e.message }, 'HL7 connection error'));
    socket.on('close', () => this.sockets.delete(socket));
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
