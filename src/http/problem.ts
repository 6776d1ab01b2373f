// HTTP problem responses (RFC 9457, application/problem+json): the one place where errors of
// every layer become an HTTP status with a readable detail.
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { FastifyReply } from 'fastify';
import { PacsError, isPacsError } from '../core/errors.js';
import { QueryError } from '../index/query/types.js';

/** An answer of this status and detail (its title is the status's own: sendProblem). */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    detail: string,
  ) {
    super(detail);
  }
}

const PACS_STATUS: Record<string, number> = {
  NOT_FOUND: 404,
  CONFLICT: 409,
  BAD_ARGUMENT: 400,
  UNSUPPORTED: 406,
  DICOM_PARSE: 400,
  DICOM_MISSING_UID: 400,
  UID_MISMATCH: 400,
  DUPLICATE_INSTANCE: 409,
  OUT_OF_RESOURCES: 507,
  REJECTED_BY_HOOK: 403,
  CONFIG_INVALID: 400,
  UNAVAILABLE: 503,
  ABORTED: 499,
};

/** A file the answer needs is not in storage (deleted by hand, a volume not mounted). */
export const isMissingFile = (e: unknown): boolean => (e as NodeJS.ErrnoException | null)?.code === 'ENOENT';

/** The connection errors of a client that left before its request was read or answered. */
const GONE_CODES = new Set(['ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNABORTED', 'EPIPE']);

/**
 * Whether a request failed because its client went away (closed the connection mid-upload, or
 * before a conversion for it was done): no server fault, nobody left to answer, so neither a
 * 500 nor an error with a stack in the log.
 */
export function clientWentAway(raw: IncomingMessage, e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  // ABORTED: work given up because the client left (clientGone), a conversion on the codec pool.
  const aborted = (e instanceof Error && e.message === 'aborted') || (code !== undefined && GONE_CODES.has(code)) || isPacsError(e, 'ABORTED');
  return aborted && (raw.socket?.destroyed ?? true);
}

/**
 * Status and detail for anything thrown by a handler, and the error's code when it has one of
 * ours (NOT_FOUND, CONFLICT, BAD_VALUE...: for programs). The detail of an unexpected error
 * stays in the log (with its stack): its message may name files and directories of the server.
 */
export function problemOf(e: unknown): { status: number; detail: string; code?: string } {
  if (e instanceof HttpProblem) return { status: e.status, detail: e.message };
  if (e instanceof QueryError) return { status: 400, detail: e.message, code: e.code };
  if (e instanceof PacsError && PACS_STATUS[e.code] !== undefined) return { status: PACS_STATUS[e.code]!, detail: e.message, code: e.code };
  if (isMissingFile(e)) return { status: 404, detail: 'a file this answer needs is missing from storage (the server log names it)' };
  const fastifyStatus = (e as { statusCode?: number }).statusCode;
  // Fastify's own refusals (a body too large, an unknown content type, a schema): their messages
  // are about the request.
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) return { status: fastifyStatus, detail: e instanceof Error ? e.message : String(e) };
  return { status: 500, detail: 'the server failed to answer this request; its log has the details' };
}

/**
 * An application/problem+json answer (RFC 9457). Its type is about:blank, so its title is the
 * status's own phrase (9457 4.2.1), the same for every answer of that status: routes gave their
 * own ("Bad request", "Bad query", "NOT_FOUND") and a client could not rely on any.
 */
export function sendProblem(reply: FastifyReply, status: number, detail: string, code?: string): FastifyReply {
  const title = STATUS_CODES[status] ?? (status === 499 ? 'Client Closed Request' : 'Error');
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', status, title, detail, ...(code ? { code } : {}) });
}

export const notFound = (what: string): HttpProblem => new HttpProblem(404, what);
export const badRequest = (why: string): HttpProblem => new HttpProblem(400, why);
export const notAcceptable = (why: string): HttpProblem => new HttpProblem(406, why);

/**
 * A Warning header (RFC 9111 5.5) of code 299 for these texts. They may quote what the client
 * sent: anything but printable ASCII becomes "?" and double quotes become single ones, since a
 * header with other characters is refused by Node and would turn a good answer into a 500.
 */
export function warningHeader(texts: readonly string[]): string {
  return texts.map((t) => `299 pacs-server "${t.replace(/[^\x20-\x7e]/g, '?').replaceAll('"', "'")}"`).join(', ');
}
