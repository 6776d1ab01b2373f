// multipart/related (RFC 2387) both ways: writing WADO-RS answers part by part as a stream,
// and reading STOW-RS requests part by part without holding the body (each part's bytes go to
// a sink as they arrive, so a 1 GB upload costs no more memory than a 1 MB one).
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const newBoundary = (): string => `pacs-${randomBytes(12).toString('hex')}`;

export interface OutPart {
  contentType: string;
  headers?: Record<string, string>;
  body: Buffer | Readable;
}

/** A multipart/related body streamed from parts produced one at a time. */
export function multipartStream(boundary: string, parts: AsyncIterable<OutPart>): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for await (const p of parts) {
      const extra = Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      yield Buffer.from(`--${boundary}\r\nContent-Type: ${p.contentType}\r\n${extra}\r\n`);
      if (Buffer.isBuffer(p.body)) yield p.body;
      else for await (const c of p.body) yield c as Buffer;
      yield Buffer.from('\r\n');
    }
    yield Buffer.from(`--${boundary}--\r\n`);
  }
  return Readable.from(generate(), { objectMode: false });
}

/** The boundary parameter of a Content-Type header, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m ? (m[1] ?? m[2] ?? null) : null;
}

export interface InPartSink {
  write(chunk: Buffer): Promise<void> | void;
  /** The part is complete. */
  end(): Promise<void> | void;
  /** The body broke off inside the part: keep nothing of it. */
  abort(): Promise<void> | void;
}

/**
 * Reads a multipart body. For each part, `onPart(headers)` returns where its bytes go. The
 * delimiter is searched across chunk boundaries by keeping back as many bytes as it is long.
 */
/** The body passed the size limit (answered 413). */
export class TooLargeError extends Error {}

/** The body holds more parts than allowed. */
export class TooManyPartsError extends Error {}

export async function readMultipart(
  body: AsyncIterable<Buffer>,
  boundary: string,
  onPart: (headers: Record<string, string>) => InPartSink,
  maxBytes: number,
  maxParts = Number.POSITIVE_INFINITY,
): Promise<void> {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may come without the CRLF before it: pretend there was one.
  let buf: Buffer = Buffer.from('\r\n');
  let state: 'preamble' | 'headers' | 'body' | 'done' = 'preamble';
  let sink: InPartSink | null = null;
  let total = 0;
  let parts = 0;
  try {
    for await (const chunk of body) {
      total += chunk.length;
      if (total > maxBytes) throw new TooLargeError(`the request is larger than ${maxBytes} bytes (http.max_upload_mb)`);
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      for (;;) {
        if (state === 'preamble' || state === 'body') {
          const at = buf.indexOf(delimiter);
          if (at < 0) {
            // Keep what could be the start of a delimiter.
            const keep = Math.min(buf.length, delimiter.length - 1);
            if (state === 'body' && buf.length > keep) await sink!.write(buf.subarray(0, buf.length - keep));
            buf = buf.subarray(buf.length - keep);
            break;
          }
          if (state === 'body') {
            if (at > 0) await sink!.write(buf.subarray(0, at));
            await sink!.end();
            sink = null;
          }
          // After the delimiter: "--" ends the body, else CRLF and the next part's headers.
          if (buf.length < at + delimiter.length + 2) {
            buf = buf.subarray(at);
            if (state === 'body') state = 'preamble'; // the part is closed; wait for more bytes
            break;
          }
          const after = buf.subarray(at + delimiter.length, at + delimiter.length + 2).toString('latin1');
          if (after === '--') {
            state = 'done';
            buf = Buffer.alloc(0);
            break;
          }
          buf = buf.subarray(at + delimiter.length);
          state = 'headers';
        }
        if (state === 'headers') {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > 64 * 1024) throw new Error('part headers longer than 64 KB');
            break;
          }
          const headers: Record<string, string> = {};
          for (const line of buf.subarray(0, end).toString('latin1').split('\r\n')) {
            const colon = line.indexOf(':');
            if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
          }
          buf = buf.subarray(end + 4);
          if (++parts > maxParts) throw new TooManyPartsError(`the request has more than ${maxParts} parts`);
          sink = onPart(headers);
          // The body starts right after the headers: the delimiter search needs a CRLF before it.
          state = 'body';
          continue;
        }
        if (state === 'done') break;
      }
      if (state === 'done') break;
    }
  } catch (e) {
    if (sink) await sink.abort();
    throw e;
  }
  if (state !== 'done') {
    if (sink) await sink.abort();
    throw new Error('the multipart body ended without its closing delimiter');
  }
}
