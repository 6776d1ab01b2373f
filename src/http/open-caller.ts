// Who asks on an open route (role none: the health checks a load balancer polls). Nobody is
// refused there and nothing is rate limited, but only a caller with the read role is told more
// than a status and reason codes (status.ts): the errors' messages name database hosts and users
// and storage paths. Wrong passwords count against the address as on any route (login-limit.ts);
// over that limit, or misdirected (host-check.ts), the caller is simply nobody.
import type { FastifyRequest } from 'fastify';
import type { HttpConfig } from '../config/schema.js';
import { authenticate, callerAddress, type Caller } from './auth.js';
import { isMisdirected } from './host-check.js';
import type { FailedLogins } from './login-limit.js';

export async function openRouteCaller(req: FastifyRequest, c: HttpConfig, logins: FailedLogins): Promise<FastifyRequest['caller']> {
  if (isMisdirected(req)) return null;
  let verifying = false;
  let caller: Caller | null = null;
  try {
    caller = await authenticate(req.headers.authorization, c, async () => (verifying = logins.begin(req.ip) === 0), callerAddress(req));
  } finally {
    if (verifying) logins.end(req.ip, caller !== null && !('invalid' in caller));
  }
  return caller === null || 'invalid' in caller ? null : caller;
}
