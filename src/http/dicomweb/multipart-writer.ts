// A multipart/related answer written straight to the HTTP response, part by part. Unlike
// multipartStream (a Readable piped by fastify), the writer knows when the socket has taken a
// part's bytes, so the buffer a file was read into can be reused for the next file: a study
// retrieve then allocates a handful of buffers instead of one per instance (300 fresh 0.5 MB
// buffers per study kept V8's collector busy on both cores for as long as the download took).
import type { ServerResponse } from 'node:http';
import type { OutPart } from './multipart.js';

export interface SentPart extends OutPart {
  /** Called once the socket has taken the body's bytes (never if the connection closes first). */
  release?: () => void;
}

const CRLF = Buffer.from('\r\n');

/** Closes a part's body that is a stream and will not be read: it would keep its file open. */
export function disposePart(part: Pick<SentPart, 'body'>): void {
  const body = part.body as unknown;
  if (!Buffer.isBuffer(body) && typeof (body as { destroy?: unknown }).destroy === 'function') (body as { destroy(): void }).destroy();
}

/** Resolves true once `res` can take more, false if the connection closed instead. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => (): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Writes the parts and the closing delimiter, then ends `res` (whose status and headers the
 * caller has written). Each part's header line, body and CRLF go out corked, as one writev.
 * Stops early, without error, when the client goes away.
 */
export async function writeMultipart(res: ServerResponse, boundary: string, parts: AsyncIterable<SentPart>): Promise<void> {
  // Bodies written since the response's buffer was last empty. Empty (writableLength counts
  // the socket's unfinished writes too) means the kernel has every byte written so far, so
  // their buffers may be reused: one check per part, on loopback usually true right after
  // write(), else after 'drain'.
  let unreleased: (() => void)[] = [];
  const flushed = (): void => {
    for (const release of unreleased) release();
    unreleased = [];
  };
  for await (const p of parts) {
    if (res.destroyed) {
      disposePart(p); // never to be read
      return;
    }
    const extra = Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const head = Buffer.from(`--${boundary}\r\nContent-Type: ${p.contentType}\r\n${extra}\r\n`);
    // What write() returns, not writableNeedDrain: fastify's inject() answers true and never emits 'drain'.
    let more: boolean;
    if (Buffer.isBuffer(p.body)) {
      res.cork();
      res.write(head);
      res.write(p.body);
      if (p.release) unreleased.push(p.release);
      more = res.write(CRLF);
      res.uncork();
    } else {
      res.write(head);
      for await (const c of p.body) if (!res.write(c as Buffer) && !(await drained(res))) return;
      more = res.write(CRLF);
    }
    if (!more && !(await drained(res))) return;
    if (res.writableLength === 0) flushed();
  }
  res.end(`--${boundary}--\r\n`);
}
