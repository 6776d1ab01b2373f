// An AbortSignal for the work of one HTTP answer, aborted when the client goes away first (the
// connection closes before the response is finished), so that what was asked of the codec
// pool for it (conversions, renderings) leaves the queue and no more is started. Read from the
// response, not the request: the request's 'close' means only that its body was read, and
// fastify's request.signal stops listening once a handler hijacks the reply (WADO-RS does).
import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { PacsError } from '../core/errors.js';

const signals = new WeakMap<ServerResponse, AbortSignal>();

/** One signal per response, however many parts of the handler ask. */
export function clientGone(reply: FastifyReply): AbortSignal {
  const res = reply.raw;
  const known = signals.get(res);
  if (known) return known;
  const controller = new AbortController();
  const gone = (): void => controller.abort(new PacsError('ABORTED', 'the client closed the connection'));
  if (res.destroyed && !res.writableFinished) gone();
  else res.once('close', () => res.writableFinished || gone());
  signals.set(res, controller.signal);
  return controller.signal;
}
