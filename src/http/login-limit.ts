// Password guessing over HTTP: wrong Basic passwords from one client address, at most
// FAILED_LOGINS_LIMIT a minute (core/failed-logins.ts), whatever http.rate_limit_per_minute says
// (0, no limit, by default). Beyond it every password that was not verified before is refused
// (429) until the minute is over, before it costs a scrypt. Credentials verified earlier
// (auth.ts keeps them) still work from there.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FAILED_LOGINS_LIMIT, type FailedLogins } from '../core/failed-logins.js';
import { sendProblem } from './problem.js';

export { FAILED_LOGINS_LIMIT, FailedLogins, clientKey } from '../core/failed-logins.js';

/** Before a password is hashed: true when it may be; otherwise the request is answered 429 here. */
export function mayVerifyPassword(logins: FailedLogins, req: FastifyRequest, reply: FastifyReply): boolean {
  const wait = logins.begin(req.ip);
  if (wait === 0) return true;
  reply.header('retry-after', String(wait));
  sendProblem(reply, 429, `more than ${FAILED_LOGINS_LIMIT} wrong passwords a minute from ${req.ip}: no password is checked from there for ${wait} s`);
  return false;
}
