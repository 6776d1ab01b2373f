// HTTP rate limit (http.rate_limit_per_minute), with @fastify/rate-limit's store: requests a
// minute per user once authenticated, per client address otherwise. Wrong credentials count
// against the address, so guessing passwords is slowed down like any other flood.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { HttpConfig } from '../config/schema.js';
import { sendProblem } from './problem.js';

/** The check each request goes through, from the authentication hook (it knows the user). */
export type RateCheck = (req: FastifyRequest, reply: FastifyReply, user: string | null) => Promise<boolean>;

export async function registerRateLimit(app: FastifyInstance, config: () => HttpConfig): Promise<RateCheck> {
  // global: false: the plugin adds no hook of its own; we call it where the user is known.
  await app.register(rateLimit, { global: false });
  const keys = new WeakMap<FastifyRequest, string>();
  const check = app.createRateLimit({
    // A function, so a reload of http.rate_limit_per_minute applies to the next request.
    max: async () => config().rate_limit_per_minute,
    timeWindow: 60_000,
    keyGenerator: (req) => keys.get(req) ?? `address:${req.ip}`,
  });
  return async (req, reply, user) => {
    if (config().rate_limit_per_minute <= 0) return true;
    keys.set(req, user === null ? `address:${req.ip}` : `user:${user}`);
    const r = await check(req);
    if (r.isAllowed || !r.isExceeded) return true;
    reply.header('retry-after', String(r.ttlInSeconds));
    sendProblem(reply, 429, `more than ${r.max} requests a minute from ${user ?? req.ip} (http.rate_limit_per_minute); retry in ${r.ttlInSeconds} s`);
    return false;
  };
}
