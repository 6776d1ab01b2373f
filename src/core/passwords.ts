// Configured passwords, shared by the web users (http.users) and the DICOM users of user
// identity negotiation (access_control.user_identity): plain text, or a scrypt hash that names
// its own cost, "scrypt$N$r$p$SALT$HASH" (base64), so the cost can be raised for new hashes
// while the old ones still verify. The first form, "scrypt:SALT:HASH", had Node's defaults
// (N=16384, r=8, p=1) implied and is still accepted.
import { scrypt, scryptSync, timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { Semaphore } from './semaphore.js';

/**
 * Scrypt checks at once. Each takes one thread of libuv's pool (4 by default) for tens of
 * milliseconds and megabytes of memory, and that pool also does every file read and write: a
 * burst of password guesses must not queue the archive's file I/O behind it.
 */
export const scryptSlots = new Semaphore(2);

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/**
 * New hashes (pacs hash-password): one of OWASP's equivalent scrypt minimums (N=2^17 r=8 p=1 is
 * another), the one that takes 16 MiB, not 128: two checks may run at once, and the server is
 * meant to run in about 150 MB. The work is the same: p runs the 16 MiB mix five times.
 */
export const SCRYPT_COST: ScryptCost = { N: 2 ** 14, r: 8, p: 5 };
/** What "scrypt:SALT:HASH" was made with (Node's defaults). */
const LEGACY_COST: ScryptCost = { N: 2 ** 14, r: 8, p: 1 };
/** The most memory a configured hash may make a check take (N=2^18, r=8): checks run two at once. */
const MAX_MEMORY = 256 * 1024 * 1024;

/** The memory a scrypt takes (OpenSSL: 128·r·(N+2) + 128·r·p), which maxmem must allow. */
const memoryOf = (c: ScryptCost): number => 128 * c.r * (c.N + 2) + 128 * c.r * c.p;

interface ScryptHash {
  cost: ScryptCost;
  salt: Buffer;
  hash: Buffer;
}

const B64 = '[A-Za-z0-9+/=]+';
const CURRENT = new RegExp(`^scrypt\\$(\\d{1,8})\\$(\\d{1,3})\\$(\\d{1,3})\\$(${B64})\\$(${B64})$`);
const LEGACY = new RegExp(`^scrypt:(${B64}):(${B64})$`);

/** A configured hash, or null when the text is not one (then it is a plain password). */
function parseHash(configured: string): ScryptHash | null {
  const legacy = LEGACY.exec(configured);
  if (legacy) return { cost: LEGACY_COST, salt: Buffer.from(legacy[1]!, 'base64'), hash: Buffer.from(legacy[2]!, 'base64') };
  const m = CURRENT.exec(configured);
  if (!m) return null;
  const cost = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  const hash = Buffer.from(m[5]!, 'base64');
  const valid = cost.N >= 2 && (cost.N & (cost.N - 1)) === 0 && cost.r >= 1 && cost.p >= 1 && cost.p <= 16 && memoryOf(cost) <= MAX_MEMORY && hash.length >= 16;
  return valid ? { cost, salt: Buffer.from(m[4]!, 'base64'), hash } : null;
}

/** Whether a configured password is a hash (else it is plain text, compared as it is). */
export const isPasswordHash = (configured: string): boolean => parseHash(configured) !== null;

/**
 * Why a configured password that looks like a hash ("scrypt$" or "scrypt:") is not a valid one,
 * or null: taken as plain text, a damaged hash would be a password anyone who reads it can use.
 */
export function badHash(configured: string): string | null {
  if (!configured.startsWith('scrypt$') && !configured.startsWith('scrypt:')) return null;
  if (parseHash(configured)) return null;
  return `expected a hash of pacs hash-password, scrypt$N$r$p$SALT$HASH (N a power of 2, at most ${MAX_MEMORY / 1048576} MiB of memory: 128·N·r bytes) or scrypt:SALT:HASH`;
}

/** Equal-time comparison of two secrets (hashed first, so lengths do not leak). */
export const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

const derive = (password: string, h: Pick<ScryptHash, 'cost' | 'salt'>, length: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    scrypt(password, h.salt, length, { ...h.cost, maxmem: memoryOf(h.cost) + 1024 * 1024 }, (e, key) => (e ? reject(e) : resolve(key))),
  );

/**
 * A password against its configured form: plain text or a scrypt hash. The scrypt runs in the
 * thread pool, at most two at once (scryptSlots): tens to hundreds of milliseconds each, which a
 * stream of wrong passwords would otherwise take from the event loop.
 */
export async function passwordMatches(given: string, configured: string): Promise<boolean> {
  const h = parseHash(configured);
  if (!h) return sameSecret(given, configured);
  const got = await scryptSlots.run(() => derive(given, h, h.hash.length));
  return timingSafeEqual(got, h.hash);
}

/** "scrypt$N$r$p$SALT$HASH" for the configuration (pacs hash-password). */
export function hashPassword(password: string, salt: Buffer, cost: ScryptCost = SCRYPT_COST): string {
  const hash = scryptSync(password, salt, 32, { ...cost, maxmem: memoryOf(cost) + 1024 * 1024 });
  return `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/**
 * A random stored password of the same kind and cost as `like` (a hash of the same form and
 * parameters, or plain text), which no password matches in practice: checked against for an
 * unknown user name, so the time of the answer does not tell which names exist.
 */
export function decoyLike(like: string | undefined): string {
  const h = like === undefined ? null : parseHash(like);
  if (!h) return randomBytes(24).toString('base64');
  const salt = randomBytes(h.salt.length || 16).toString('base64');
  const hash = randomBytes(h.hash.length).toString('base64');
  return like!.startsWith('scrypt:') ? `scrypt:${salt}:${hash}` : `scrypt$${h.cost.N}$${h.cost.r}$${h.cost.p}$${salt}$${hash}`;
}

/** The users whose password is configured in plain text (accepted, but readable by anyone who reads the file). */
export const plainTextUsers = (users: readonly { username: string; password?: string | undefined }[]): string[] =>
  users.filter((u) => u.password !== undefined && !isPasswordHash(u.password)).map((u) => u.username);

/** The warning at start for plain-text passwords under `key`. */
export const plainTextMessage = (key: string): string =>
  `${key} has passwords in plain text: anyone who reads the configuration file can use them; replace each with the hash \`pacs hash-password\` prints`;
