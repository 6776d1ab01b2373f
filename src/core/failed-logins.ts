// Password guessing: wrong passwords from one client address — HTTP Basic (http/login-limit.ts)
// or a DICOM user identity (scp/user-identity.ts) — at most FAILED_LOGINS_LIMIT a minute. Beyond
// it every password is refused until the minute is over, before it costs a scrypt.
import { isIP } from 'node:net';

export const FAILED_LOGINS_LIMIT = 10;
const WINDOW_MS = 60_000;
/** Addresses tracked at once (about 100 bytes each); beyond, the oldest window is dropped. */
const MAX_ADDRESSES = 10_000;

/**
 * The client a counter is for: an IPv4 address, or the /64 of an IPv6 one (a single host is
 * usually given a whole /64 and could otherwise guess from each of its addresses in turn).
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (isIP(ip) !== 6) return ip;
  const address = ip.split('%')[0]!;
  const [head = '', tail] = address.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${all.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

interface Window {
  /** Failed (and in-flight) verifications in this window. */
  count: number;
  until: number;
}

export class FailedLogins {
  // In order of their windows' ends: each window is as long and a new one goes to the end.
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit = FAILED_LOGINS_LIMIT,
    private readonly maxAddresses = MAX_ADDRESSES,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Before a password is verified: 0 when it may be (it then counts as failed until `end` says
   * otherwise, so parallel guesses cannot all slip in before the first fails), else the seconds
   * until the address may try again.
   */
  begin(ip: string): number {
    const now = this.now();
    this.expire(now);
    const key = clientKey(ip);
    const w = this.windows.get(key);
    if (w && w.count >= this.limit) return Math.max(1, Math.ceil((w.until - now) / 1000));
    if (w) w.count++;
    else {
      if (this.windows.size >= this.maxAddresses) this.windows.delete(this.windows.keys().next().value!);
      this.windows.set(key, { count: 1, until: now + WINDOW_MS });
    }
    return 0;
  }

  /** After the verification: a right password is not a failure. */
  end(ip: string, ok: boolean): void {
    const w = this.windows.get(clientKey(ip));
    if (ok && w && w.count > 0) w.count--;
  }

  get size(): number {
    return this.windows.size;
  }

  private expire(now: number): void {
    for (const [key, w] of this.windows) {
      if (w.until > now) break;
      this.windows.delete(key);
    }
  }
}
