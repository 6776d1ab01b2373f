// Who is calling, and may they: HTTP Basic users and Bearer tokens from the configuration,
// each with a role; requests without credentials get the anonymous role. Roles are ordered:
// read (GET), write (STOW, upload, send), admin (delete, configuration).
import { createHash } from 'node:crypto';
import { isLoopback } from '../core/addresses.js';
import { remoteText } from '../core/remote-text.js';
import { decoyLike, isPasswordHash, passwordMatches, sameSecret } from '../core/passwords.js';
import type { HttpConfig, HttpRole } from '../config/schema.js';

const RANK: Record<HttpRole, number> = { none: 0, read: 1, write: 2, admin: 3 };

export const roleAllows = (have: HttpRole, need: HttpRole): boolean => RANK[have] >= RANK[need];


/**
 * The role of a request without credentials, from `from` (the caller's address, as
 * http.trust_proxy reads it; left out: the role a caller on this machine gets). With neither users
 * nor tokens nor http.anonymous_role configured, a fresh install: administrator on this machine,
 * nothing from any other — anyone on the network could otherwise delete studies or add a node
 * and send the archive to it.
 */
export const anonymousRole = (c: HttpConfig, from?: string): HttpRole =>
  c.anonymous_role ?? (c.users.length || c.tokens.length ? 'read' : from === undefined || isLoopback(from) ? 'admin' : 'none');

/**
 * The address judged for the anonymous role: the connection's own, unless it comes from this
 * machine with forwarding headers — a proxy beside us (nginx, a TLS terminator, a tunnel). Then
 * the client a trusted proxy names (req.ip, http.trust_proxy), and never this machine: a proxy
 * left out of trust_proxy made every remote client 127.0.0.1, and one passing the client's own
 * X-Forwarded-For through let it claim 127.0.0.1. A proxy on another machine is judged itself.
 */
export const callerAddress = (req: { ip: string; socket: { remoteAddress?: string | undefined }; headers: Record<string, unknown> }): string => {
  const socket = req.socket.remoteAddress ?? '';
  if (!isLoopback(socket)) return socket;
  const forwarded = req.headers['x-forwarded-for'] !== undefined || req.headers.forwarded !== undefined || req.headers['x-real-ip'] !== undefined;
  if (!forwarded) return socket;
  return isLoopback(req.ip) ? 'forwarded' : req.ip;
};

/** Nothing configured, and a caller from another machine: refused until accounts or an anonymous role are set. */
export const remoteUnconfigured = (c: HttpConfig, from: string): boolean => c.anonymous_role === undefined && !c.users.length && !c.tokens.length && !isLoopback(from);


export type Caller = { role: HttpRole; name: string | null } | { invalid: string };

/**
 * Basic credentials already verified, per configuration (a reload starts afresh): a scrypt check
 * costs tens of milliseconds of the event loop, and a viewer sends hundreds of requests with the
 * same header. Keyed by a hash of the header, so no password is kept in memory.
 */
const verified = new WeakMap<HttpConfig, Map<string, Caller>>();
const VERIFIED_MAX = 1000;

/**
 * The caller an Authorization header names (undefined header: anonymous). `beforeHashing` runs
 * before a password is checked against its scrypt hash (not for credentials verified before):
 * false from it ends the check there (the caller's address is over its rate limit, say).
 */
export async function authenticate(header: string | undefined, c: HttpConfig, beforeHashing?: () => Promise<boolean>, from?: string): Promise<Caller | null> {
  if (header === undefined) return { role: anonymousRole(c, from), name: null };
  // An empty header is no credentials: refused, not taken for an anonymous request.
  if (header.trim() === '') return { invalid: 'an empty Authorization header' };
  // Every Basic header (a bare "Basic" too) passes the failed-login limit before any hashing.
  if (!/^basic(\s|$)/i.test(header)) return check(header, c);
  const key = createHash('sha256').update(header).digest('base64');
  let known = verified.get(c);
  const hit = known?.get(key);
  if (hit) return hit;
  if (beforeHashing && !(await beforeHashing())) return null;
  const caller = await check(header, c);
  if (!('invalid' in caller)) {
    if (!known) verified.set(c, (known = new Map()));
    if (known.size >= VERIFIED_MAX) known.clear();
    known.set(key, caller);
  }
  return caller;
}

/**
 * A stored password of the same form as the configured users' (a scrypt hash of the same form
 * and cost, or plain text) that no password matches in practice: checked against for unknown
 * user names.
 */
const decoys = new WeakMap<HttpConfig, string>();
function decoyPassword(c: HttpConfig): string {
  let decoy = decoys.get(c);
  if (decoy === undefined) {
    decoy = decoyLike(c.users.find((u) => isPasswordHash(u.password))?.password);
    decoys.set(c, decoy);
  }
  return decoy;
}

async function check(header: string, c: HttpConfig): Promise<Caller> {
  const [scheme, value = ''] = header.split(/\s+/, 2);
  if (/^basic$/i.test(scheme ?? '')) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // No user name, or no password: nothing to hash (user names are not told apart by it).
    if (colon <= 0) return { invalid: 'wrong user name or password' };
    const username = colon < 0 ? decoded : decoded.slice(0, colon);
    const password = colon < 0 ? '' : decoded.slice(colon + 1);
    const user = c.users.find((u) => u.username === username);
    // An unknown user name costs the same hashing as a known one: answering it at once would
    // tell, by the time taken, which user names exist.
    const matches = await passwordMatches(password, user?.password ?? decoyPassword(c));
    if (user && matches) return { role: user.role, name: username };
    return { invalid: 'wrong user name or password' };
  }
  if (/^bearer$/i.test(scheme ?? '')) {
    const token = c.tokens.find((t) => sameSecret(t.token, value));
    return token ? { role: token.role, name: token.name } : { invalid: 'unknown token' };
  }
  return { invalid: `unsupported authorization scheme ${scheme ?? ''}` };
}

/** The role a request needs by method: reading is read, deleting is admin, the rest write. */
export const roleForMethod = (method: string): HttpRole =>
  method === 'GET' || method === 'HEAD' || method === 'OPTIONS' ? 'read' : method === 'DELETE' ? 'admin' : 'write';

/** The user name of a Basic Authorization header (its text before the colon, cut to 64 characters), or null. */
export function basicUserName(header: string | undefined): string | null {
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : remoteText(decoded.slice(0, colon), 64);
}
