// DNS rebinding: a page on an attacker's domain whose name is then re-resolved to this server's
// address is, to the browser, same-origin with us: it may read every answer and send any request,
// and csrf.ts cannot tell (Origin equals Host). The browser sends it none of the credentials it
// holds for our real name, so the attack works only through the anonymous role (by default
// admin when no users are configured). An anonymous request must therefore name this server:
// an IP literal, localhost, this machine's host name, or an http.allowed_hosts entry.
import os from 'node:os';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HttpConfig } from '../config/schema.js';
import { sendProblem } from './problem.js';

/** The name of a Host header value: lower case, without port and final dot; null when malformed. */
export function hostName(host: string): string | null {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    const rest = h.slice(end + 1);
    return end > 0 && isIP(h.slice(1, end)) === 6 && (rest === '' || /^:\d*$/.test(rest)) ? h.slice(0, end + 1) : null;
  }
  const m = /^([^:]*)(:\d*)?$/.exec(h);
  const name = m?.[1]?.replace(/\.$/, '');
  return name ? name : null;
}

/** `*.example.org` covers every name below example.org (not example.org itself, as in TLS). */
const matches = (name: string, pattern: string): boolean => {
  const p = pattern.toLowerCase().replace(/\.$/, '');
  return p.startsWith('*.') ? name.endsWith(p.slice(1)) && name.length > p.length - 1 : name === p;
};

/**
 * Whether an anonymous request for this Host may be answered. The machine's host name counts as
 * os.hostname() gives it and, when that is a dotted name, as its first label too (the short name
 * the local resolver completes with its search domains; nobody outside can register it). A
 * dotted name that merely starts with the short host name (pacs1.evil.example) does not count.
 */
export function hostAllowed(host: string, allowed: readonly string[], machine = os.hostname()): boolean {
  if (host === '') return true; // HTTP/1.0 without Host: not a browser, which always sends one
  const name = hostName(host);
  if (name === null) return false;
  if (name.startsWith('[') || isIP(name) === 4 || name === 'localhost') return true;
  const own = machine.toLowerCase().replace(/\.$/, '');
  if (own !== '' && (name === own || (own.includes('.') && name === own.split('.')[0]))) return true;
  return allowed.some((p) => p === '*' || matches(name, p));
}

/** Requests of open routes (role none) for a host not allowed: answered, but as if without any role. */
const misdirected = new WeakSet<FastifyRequest>();
export const isMisdirected = (req: FastifyRequest): boolean => misdirected.has(req);

/**
 * Refuses, first of all hooks, an anonymous request for a host that is not this server's:
 * 421 Misdirected Request. Requests with an Authorization header go on: a browser never sends
 * our credentials to another name, and a client that has them does not need rebinding.
 * `req.host` is X-Forwarded-Host only from a proxy in http.trust_proxy (fastify's trustProxy).
 */
export function registerHostCheck(app: FastifyInstance, config: () => HttpConfig): void {
  const warned = new Set<string>();
  app.addHook('onRequest', async (req, reply) => {
    // Credentials, not a header alone: an empty one (which a rebinding page may send) was let
    // through here and then taken as anonymous — the admin role of a server without users.
    if (req.method === 'OPTIONS' || (req.headers.authorization ?? '').trim() !== '') return;
    if (hostAllowed(req.host, config().allowed_hosts)) return;
    // A load balancer's health check may name the server as it likes; those routes are open
    // anyway and their details go only to callers with a role (status.ts).
    if (req.routeOptions.config?.role === 'none') return void misdirected.add(req);
    const shown = req.host.slice(0, 100);
    if (warned.size < 100 && !warned.has(shown)) {
      warned.add(shown);
      req.log.warn({ host: shown, from: req.ip }, 'a request without credentials for another host name was refused (421); if that is a name of this server, list it in http.allowed_hosts');
    }
    return sendProblem(reply, 421, `this server does not answer requests without credentials for the host name "${shown}" (a protection against DNS rebinding); if it is a name of this server, list it in http.allowed_hosts`);
  });
}
