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

/** Collects frames from the bytes of a stream. */
export class MllpDecoder {
  private buf: Buffer = Buffer.alloc(0);

  /** The complete messages (without framing) in what has arrived so far. */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const out: Buffer[] = [];
    for (;;) {
      const start = this.buf.indexOf(VT);
      if (start < 0) {
        this.buf = Buffer.alloc(0);
        return out;
      }
      const end = this.buf.indexOf(FS, start + 1);
      if (end < 0) {
        this.buf = this.buf.subarray(start);
        if (this.buf.length > MAX_MESSAGE) throw new Error(`an MLLP frame longer than ${MAX_MESSAGE} bytes`);
        return out;
      }
      // FS must be followed by CR; a missing CR at the end of what we have yet is waited for.
      if (end + 1 >= this.buf.length) {
        this.buf = this.buf.subarray(start);
        return out;
      }
      out.push(Buffer.from(this.buf.subarray(start + 1, end)));
      this.buf = this.buf.subarray(this.buf[end + 1] === CR ? end + 2 : end + 1);
    }
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
