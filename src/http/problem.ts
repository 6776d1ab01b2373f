// HTTP problem responses (RFC 9457, application/problem+json): the one place where errors of
// every layer become an HTTP status with a readable detail.
import type { FastifyReply } from 'fastify';
import { PacsError } from '../core/errors.js';
import { QueryError } from '../index/query/types.js';

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
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

/** Status, title and detail for anything thrown by a handler. */
export function problemOf(e: unknown): { status: number; title: string; detail: string } {
  if (e instanceof HttpProblem) return { status: e.status, title: e.title, detail: e.message };
  if (e instanceof QueryError) return { status: 400, title: 'Bad query', detail: e.message };
  if (e instanceof PacsError) return { status: PACS_STATUS[e.code] ?? 500, title: e.code, detail: e.message };
  const fastifyStatus = (e as { statusCode?: number }).statusCode;
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500)
    return { status: fastifyStatus, title: 'Bad request', detail: e instanceof Error ? e.message : String(e) };
  return { status: 500, title: 'Internal error', detail: e instanceof Error ? e.message : String(e) };
}

export function sendProblem(reply: FastifyReply, status: number, title: string, detail: string): FastifyReply {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', status, title, detail });
}

export const notFound = (what: string): HttpProblem => new HttpProblem(404, 'Not found', what);
export const badRequest = (why: string): HttpProblem => new HttpProblem(400, 'Bad request', why);
export const notAcceptable = (why: string): HttpProblem => new HttpProblem(406, 'Not acceptable', why);

/**
 * A Warning header (RFC 9111 5.5) of code 299 for these texts. They may quote what the client
 * sent: anything but printable ASCII becomes "?" and double quotes become single ones, since a
 * header with other characters is refused by Node and would turn a good answer into a 500.
 */
export function warningHeader(texts: readonly string[]): string {
  return texts.map((t) => `299 pacs-server "${t.replace(/[^\x20-\x7e]/g, '?').replaceAll('"', "'")}"`).join(', ');
}
