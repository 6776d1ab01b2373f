// STOW-RS as a user agent (PS3.18 10.5): one POST of instances to <service>/studies as
// multipart/related; type="application/dicom", streamed part by part from wherever the caller
// reads them (a file is never held whole unless the caller hands a buffer), with the length
// announced up front (Content-Length: some origin servers take no chunked request bodies).
// Knows nothing of the PACS: the caller picks the instances and decides what the answer means.
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorMessage } from '../core/errors.js';
import { REMOTE_TEXT_MAX, remoteText } from '../core/remote-text.js';
import { parseStowAnswer, type StowAnswer } from './stow-answer.js';

export interface StowTarget {
  /** The service's base URL, without a trailing slash: the request goes to `${url}/studies`. */
  url: string;
  /** The Authorization header's value (Basic or Bearer), if any. */
  authorization?: string;
  /** No byte sent or received for this long fails the request. */
  timeoutMs: number;
  /** Trusted CAs for https (PEM); absent: the system's. */
  ca?: Buffer;
  rejectUnauthorized: boolean;
}

export interface StowPart {
  /** The SOP Instance UID in the bytes sent (for the error raised when the bytes fall short). */
  sopInstanceUID: string;
  /** Exactly how many bytes `open` gives: it goes into Content-Length. */
  size: number;
  /** The Part 10 file, opened when its turn comes. */
  open(): Promise<Buffer | AsyncIterable<Buffer>> | Buffer | AsyncIterable<Buffer>;
}

export interface StowResponse extends StowAnswer {
  /** 200 (all stored), 202 (some failed) or 409 (none stored). */
  httpStatus: number;
  /** The answer's body when it listed no instance (cut short), for messages. */
  text: string;
}

/** An answer as it came: the body decoded as UTF-8, at most `limit` bytes of it. */
interface Answered {
  status: number;
  type: string;
  /** Content-Encoding, if any: we ask for none, so a body under one cannot be read. */
  encoding: string;
  text: string;
  /** Longer than `limit`: `text` is only its start. */
  cut: boolean;
  limit: number;
  /** The Retry-After header, if any (seconds or an HTTP date). */
  retryAfter: string;
}

/**
 * A request that got no usable answer. `retryable`: the network, a timeout, 408, 429, a 5xx, or
 * a 200 / 202 / 409 whose answer could not be read — the same request later may succeed; otherwise (401, 403, 404, 413, 415…, or a certificate we
 * do not trust) it will not until someone changes the configuration or the server — though a
 * 413 refuses only this body's size, so the caller may send fewer instances at a time.
 */
export class StowRequestError extends Error {
  override name = 'StowRequestError';
  constructor(
    message: string,
    readonly httpStatus: number | null,
    readonly retryable: boolean,
    /** A 429 or 503's Retry-After: the server asks not to be tried again before (ms from now). */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
  }
}

/** Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string, now = Date.now()): number | null {
  const v = value.trim();
  if (v === '') return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * A part that could not be read or whose bytes were not `size` long: the request is broken off
 * (Content-Length would lie). It names the instance, so the caller can send the others without it.
 */
export class StowPartError extends Error {
  override name = 'StowPartError';
  constructor(
    readonly sopInstanceUID: string,
    message: string,
  ) {
    super(`${sopInstanceUID}: ${message}`);
  }
}

/**
 * The longest answer read for a request of `parts` instances: 8 MB, or 8 KB an instance when
 * more (a request may hold 10,000; each is listed with its retrieve URL, and a pretty-printed
 * answer to that many was cut, taken as unreadable and sent again at every attempt).
 */
const answerLimit = (parts: number): number => Math.max(8 * 1024 * 1024, parts * 8 * 1024);
const CRLF = Buffer.from('\r\n');
const RETRYABLE_STATUS = new Set([408, 425, 429]);
/** TLS verification failures: retrying will not make the certificate trusted. */
const CERTIFICATE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME_INVALID/;

function partHead(boundary: string): Buffer {
  return Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`);
}

async function* multipartBody(boundary: string, parts: readonly StowPart[]): AsyncGenerator<Buffer> {
  const head = partHead(boundary);
  for (const part of parts) {
    yield head;
    yield* partBytes(part);
    yield CRLF;
  }
  yield Buffer.from(`--${boundary}--\r\n`);
}

/** A part's bytes, checked against its announced size; a read failure names the instance. */
async function* partBytes(part: StowPart): AsyncGenerator<Buffer> {
  let sent = 0;
  try {
    const data = await part.open();
    if (Buffer.isBuffer(data)) {
      sent = data.length;
      if (sent === part.size) yield data;
    } else {
      for await (const chunk of data) {
        sent += chunk.length;
        if (sent > part.size) break;
        yield chunk;
      }
    }
  } catch (e) {
    throw e instanceof StowPartError ? e : new StowPartError(part.sopInstanceUID, `cannot read it: ${errorMessage(e)}`);
  }
  if (sent !== part.size) throw new StowPartError(part.sopInstanceUID, `its file is ${sent > part.size ? 'longer' : 'shorter'} than the ${part.size} bytes expected`);
}

/** Content-Length of the body multipartBody writes. */
function bodyLength(boundary: string, parts: readonly StowPart[]): number {
  const perPart = partHead(boundary).length + CRLF.length;
  return parts.reduce((n, p) => n + perPart + p.size, 0) + Buffer.byteLength(`--${boundary}--\r\n`);
}

/** The problem detail (RFC 9457) or the start of a text body, for error messages: short, on one line. */
function describeBody(text: string): string {
  try {
    const j = JSON.parse(text) as { detail?: unknown; title?: unknown };
    if (typeof j.detail === 'string') return remoteText(j.detail);
    if (typeof j.title === 'string') return remoteText(j.title);
  } catch {
    // not JSON: the text itself
  }
  // An HTML page's text without its tags; what follows the first few KB is never shown.
  return remoteText(text.slice(0, 8 * REMOTE_TEXT_MAX).replace(/<[^>]*>/g, ' '));
}

/** POSTs `parts` to `${target.url}/studies`; the origin server's answer, or a StowRequestError. */
export async function postInstances(target: StowTarget, parts: readonly StowPart[], signal?: AbortSignal): Promise<StowResponse> {
  const boundary = `pacs-${randomBytes(12).toString('hex')}`;
  const url = new URL(`${target.url}/studies`);
  const secure = url.protocol === 'https:';
  const headers: http.OutgoingHttpHeaders = {
    'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
    'Content-Length': bodyLength(boundary, parts),
    Accept: 'application/dicom+json, application/json;q=0.9, */*;q=0.1',
    ...(target.authorization ? { Authorization: target.authorization } : {}),
  };
  const req = (secure ? https : http).request(url, {
    method: 'POST',
    headers,
    timeout: target.timeoutMs,
    ...(secure ? { rejectUnauthorized: target.rejectUnauthorized, ...(target.ca ? { ca: target.ca } : {}) } : {}),
    ...(signal ? { signal } : {}),
  });
  req.on('timeout', () => req.destroy(new StowRequestError(`no answer from ${url.host} within ${target.timeoutMs / 1000} s`, null, true)));
  const limit = answerLimit(parts.length);
  const answered = new Promise<Answered>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = (): void => {
        clearTimeout(deadline);
        const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), encoding: encoding === 'identity' ? '' : encoding, text: Buffer.concat(chunks).toString('utf8'), cut: size > limit, limit, retryAfter: String(res.headers['retry-after'] ?? '') });
      };
      // The idle timeout does not stop a server that trickles its answer a byte at a time: once
      // it has begun, the answer has `timeout` seconds in all to come.
      const deadline = setTimeout(() => {
        const e = new StowRequestError(`the answer of ${url.host} did not complete within ${target.timeoutMs / 1000} s`, null, true);
        res.destroy(e);
        reject(e);
      }, target.timeoutMs);
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= limit) chunks.push(c);
        else {
          // Longer than any answer we read: what came is enough, the rest is not read at all.
          res.destroy();
          done();
        }
      });
      res.on('end', done);
      res.on('error', (e) => {
        clearTimeout(deadline);
        reject(e);
      });
    });
    req.on('error', reject);
  });
  // An origin server may answer (401, 413) before it has read the body and close the
  // connection: the write then fails, and the answer, when one came, says more than the error.
  const sent = pipeline(Readable.from(multipartBody(boundary, parts)), req).then(
    () => null,
    (e: unknown) => e,
  );
  let got: Answered;
  try {
    got = await answered;
  } catch (e) {
    const writeError = await sent;
    throw requestFailure(writeError instanceof StowPartError ? writeError : e, url, signal);
  }
  // An answer before the whole body was taken (401, 413): the rest is not wanted, and a server
  // that stopped reading would leave the write waiting for ever.
  if (!req.writableFinished) req.destroy();
  await sent;
  return interpret(got, url);
}

function requestFailure(e: unknown, url: URL, signal: AbortSignal | undefined): Error {
  if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error('canceled');
  if (e instanceof StowRequestError || e instanceof StowPartError) return e;
  const code = (e as NodeJS.ErrnoException).code ?? '';
  // The message may quote the server's certificate (its names): kept short and on one line too.
  const message = remoteText(errorMessage(e), 2 * REMOTE_TEXT_MAX);
  if (CERTIFICATE.test(code)) return new StowRequestError(`${url.host}: its TLS certificate is not trusted (${code}: ${message}); set ca_path`, null, false);
  return new StowRequestError(`${url.host}: ${message}${code && !message.includes(code) ? ` (${code})` : ''}`, null, true);
}

/**
 * The answer's JSON; `none` when it has no JSON body (no body, or another type); or in words why
 * it cannot be read: encoded unasked, cut at its limit, or JSON that does not parse.
 */
function answerJson(got: Answered): { json: unknown } | { none: true } | { unreadable: string } {
  if (got.encoding) return { unreadable: `its body is ${remoteText(got.encoding, 40)}-encoded, which was not asked for` };
  if (!/json/i.test(got.type) && !/^\s*[[{]/.test(got.text)) return { none: true };
  if (got.cut) return { unreadable: `it is longer than ${(got.limit / 1024 / 1024).toFixed(0)} MB` };
  try {
    return { json: JSON.parse(got.text) };
  } catch {
    return { unreadable: `not valid JSON: ${describeBody(got.text)}` };
  }
}

const isObject = (v: unknown): boolean => v !== null && typeof v === 'object' && !Array.isArray(v);
/** A dataset, alone or in an array, as parseStowAnswer reads it. */
const isDataset = (v: unknown): boolean => (Array.isArray(v) ? v.some(isObject) : isObject(v));

function interpret(got: Answered, url: URL): StowResponse {
  const { status, text } = got;
  const what = `${url.host} answered HTTP ${status}${http.STATUS_CODES[status] ? ` ${http.STATUS_CODES[status]}` : ''}`;
  if (status === 200 || status === 202 || status === 409) {
    const body = answerJson(got);
    // 200 says by itself that every instance was stored; 202 and 409 say which only in their
    // dataset. An answer whose dataset cannot be read says nothing of either (a 409 unread is
    // not "none stored", a 200 may list failures): the request failed, and may be sent again.
    let unreadable = 'unreadable' in body ? body.unreadable : null;
    if (status !== 200 && 'none' in body) unreadable = text.trim() ? `no DICOM JSON but ${remoteText(got.type) || 'a body without Content-Type'}` : 'it has no body';
    if (status !== 200 && 'json' in body && !isDataset(body.json)) unreadable = 'its JSON is no Store Instances Response';
    if (unreadable !== null) throw new StowRequestError(`${what}, but its answer could not be read (${unreadable}): which instances it stored is not known`, status, true);
    const answer = parseStowAnswer('json' in body ? body.json : null);
    const listed = answer.stored.size > 0 || answer.failed.size > 0;
    return { httpStatus: status, ...answer, text: listed ? '' : describeBody(text) };
  }
  const detail = got.encoding ? '' : describeBody(text);
  const message = `${what}${detail ? `: ${detail}` : ''}`;
  if (status === 401 || status === 403) throw new StowRequestError(`${message} (check username/password or token)`, status, false);
  // A server busy (429) or down for maintenance (503) may say when to come back: the retry waits that long at least.
  const later = status === 429 || status === 503 ? retryAfterMs(got.retryAfter) : null;
  throw new StowRequestError(message, status, status >= 500 || RETRYABLE_STATUS.has(status), later);
}
