// User Identity Negotiation (PS3.7 D.3.3.7) checked against access_control.user_identity, and
// the source addresses a known node may call from (known_nodes[].addresses).
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import { decoyLike, isPasswordHash, passwordMatches } from '../core/passwords.js';
import { FAILED_LOGINS_LIMIT, type FailedLogins } from '../core/failed-logins.js';
import type { UserIdentityRQ } from '../net/pdu/types.js';

export interface DicomUser {
  username: string;
  /** Plain text or a scrypt hash (passwords.ts); absent: the user name alone (identity type 1) suffices. */
  password?: string | undefined;
}

export interface UserIdentityPolicy {
  /** Refuse associations that do not identify a user. */
  required: boolean;
  users: readonly DicomUser[];
}

export type IdentityVerdict =
  /** A configured user, verified; `respond` when the requestor asked for a positive response. */
  | { ok: true; user: string | null; respond: boolean }
  | { ok: false; why: string };

const USERNAME = 1;
const USERNAME_PASSCODE = 2;

/** A stored password of the users' form that nothing matches: what an unknown user name is checked against. */
const decoys = new WeakMap<readonly DicomUser[], string>();
function decoyOf(users: readonly DicomUser[]): string {
  let decoy = decoys.get(users);
  if (decoy === undefined) decoys.set(users, (decoy = decoyLike(users.find((u) => u.password !== undefined && isPasswordHash(u.password))?.password)));
  return decoy;
}

/**
 * Checks the identity an A-ASSOCIATE-RQ carries; a password's scrypt runs in the thread pool.
 * `guard`: the failed passwords of the peer's address (as over HTTP): past the limit, none is
 * checked — the calling AE title, which the peer chooses, bounded nothing.
 */
export async function checkUserIdentity(id: UserIdentityRQ | null, policy: UserIdentityPolicy | undefined, guard?: { logins: FailedLogins; address: string }): Promise<IdentityVerdict> {
  // Without a policy we do not take part in the negotiation: no response item (PS3.7 D.3.3.7.2).
  if (!policy) return { ok: true, user: null, respond: false };
  if (!id) return policy.required ? { ok: false, why: 'no user identity sent (access_control.user_identity.required)' } : { ok: true, user: null, respond: false };
  if (id.type !== USERNAME && id.type !== USERNAME_PASSCODE) {
    // Kerberos, SAML and JWT are not verified here: such an identity counts as none.
    return policy.required
      ? { ok: false, why: `user identity type ${id.type} is not supported (only user name and user name with passcode)` }
      : { ok: true, user: null, respond: false };
  }
  const username = id.primaryField.toString('utf8');
  const user = policy.users.find((u) => u.username === username);
  // Wrong credentials are refused even when identification is optional: they are a failed
  // login, not an anonymous peer. The name is quoted at most 64 characters long: it goes to the
  // log and twice to the audit trail, and a peer may send 64 KB of it with every attempt.
  const passcode = id.type === USERNAME_PASSCODE ? id.secondaryField.toString('utf8') : null;
  const stored = user ? user.password : passcode !== null ? decoyOf(policy.users) : undefined;
  if (stored !== undefined && passcode !== null && guard) {
    const wait = guard.logins.begin(guard.address);
    if (wait) return { ok: false, why: `more than ${FAILED_LOGINS_LIMIT} wrong passwords a minute from ${guard.address}: none is checked from there for ${wait} s` };
  }
  // An unknown user name with a password costs the same hashing as a known one's wrong
  // password: refused at once, it told by the time taken which user names exist.
  const matches = stored !== undefined && passcode !== null ? await passwordMatches(passcode, stored) : false;
  if (stored !== undefined && passcode !== null) guard?.logins.end(guard.address, matches && user !== undefined);
  if (!user) return { ok: false, why: `unknown user ${JSON.stringify(username.length > 64 ? `${username.slice(0, 64)}…` : username)}` };
  if (user.password !== undefined) {
    if (passcode === null) return { ok: false, why: `user ${username} needs a password` };
    if (!matches) return { ok: false, why: `wrong password for user ${username}` };
  }
  return { ok: true, user: username, respond: id.positiveResponseRequested };
}

/**
 * Whether `address` is one of `allowed` (IPs or CIDR blocks, IPv4 or IPv6). IPv4 peers on a
 * dual-stack socket show as ::ffff:a.b.c.d and are matched as IPv4.
 */
export function addressAllowed(address: string, allowed: readonly string[]): boolean {
  const list = new BlockList();
  for (const entry of allowed) {
    const [ip = '', bits] = entry.split('/');
    const type = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : null;
    if (!type) continue; // refused by the configuration schema already
    if (bits === undefined) list.addAddress(ip, type);
    else list.addSubnet(ip, Number(bits), type);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  return isIPv4(ip) ? list.check(ip, 'ipv4') : isIPv6(ip) ? list.check(ip, 'ipv6') : false;
}
