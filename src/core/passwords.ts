// Configured passwords, shared by the web users (http.users) and the DICOM users of user
// identity negotiation (access_control.user_identity): plain text, or "scrypt:SALT:HASH".
import { scrypt, scryptSync, timingSafeEqual, createHash } from 'node:crypto';
import { Semaphore } from './semaphore.js';

/**
 * Scrypt checks at once. Each takes one thread of libuv's pool (4 by default) for tens of
 * milliseconds and megabytes of memory, and that pool also does every file read and write: a
 * burst of password guesses must not queue the archive's file I/O behind it.
 */
export const scryptSlots = new Semaphore(2);

/** Equal-time comparison of two secrets (hashed first, so lengths do not leak). */
export const sameSecret = (a: string, b: string): boolean =>
  timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());

/**
 * A password against its configured form: plain text or "scrypt:SALT:HASH" (base64). The scrypt
 * runs in the thread pool: tens of milliseconds each, which a stream of wrong passwords would
 * otherwise take from the event loop.
 */
export async function passwordMatches(given: string, configured: string): Promise<boolean> {
  const m = /^scrypt:([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(configured);
  if (!m) return sameSecret(given, configured);
  const expected = Buffer.from(m[2]!, 'base64');
  const got = await scryptSlots.run(() => new Promise<Buffer>((resolve, reject) => scrypt(given, Buffer.from(m[1]!, 'base64'), expected.length, (e, key) => (e ? reject(e) : resolve(key)))));
  return timingSafeEqual(got, expected);
}

/** "scrypt:SALT:HASH" for the configuration (pacs hash-password). */
export function hashPassword(password: string, salt: Buffer): string {
  return `scrypt:${salt.toString('base64')}:${scryptSync(password, salt, 32).toString('base64')}`;
}
