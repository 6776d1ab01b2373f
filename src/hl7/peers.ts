// Which hosts the HL7 listener takes connections from, and how many each may hold open
// (hl7.allowed_addresses, hl7.max_connections_per_address). Without them any host reaching the
// port could fill hl7.max_connections with bare idle connections, each held five minutes, and
// lock the RIS out all that time. Both are read at each new connection (live on reload); a
// connection already open stays.
import { addressAllowed } from '../scp/user-identity.js';
import { isLoopback, peerAddress } from '../core/addresses.js';
import { OncePer } from '../core/once-per.js';

/**
 * Said at start: the listener on more than loopback takes messages from any host. An ADT^A08
 * rewrites a patient's demographics and an ADT^A40 moves studies from one patient to another, for
 * whoever reaches the port.
 */
export function hl7StartWarning(host: string, allowed: readonly string[]): string | null {
  if (allowed.length || isLoopback(host)) return null;
  return `the HL7 listener on ${host} takes orders and patient updates and merges (ADT^A08, A40) from any host that reaches it: set hl7.allowed_addresses to the RIS's address, or bind hl7.host to 127.0.0.1 behind an interface engine`;
}

/** How long after a warn line about a refused address the next one is a debug line. */
const REFUSED_QUIET_MS = 60_000;
/** Addresses remembered for that: past this many the memory starts over (a scan of many hosts). */
const REFUSED_REMEMBERED = 10_000;

export { peerAddress };

export type Admission =
  | { admitted: true }
  /** `warn`: say it at warn level (else debug: a peer retrying must not flood the log). */
  | { admitted: false; reason: 'address not allowed' | 'too many connections from the address'; limit?: number; warn: boolean };

export interface PeerLimits {
  /** hl7.allowed_addresses: IPs or CIDR blocks; empty: any. */
  allowedAddresses: () => readonly string[];
  /** hl7.max_connections_per_address; 0: no limit. */
  maxPerAddress: () => number;
}

export class PeerGate {
  private readonly open = new Map<string, number>();
  /** Addresses at their limit whose refusal was said (said again once one of theirs closed). */
  private readonly fullSaid = new Set<string>();
  /** A refusal of an address not allowed is said at warn level once a minute per address. */
  private readonly refusedSaid = new OncePer(REFUSED_QUIET_MS, REFUSED_REMEMBERED);

  constructor(private readonly limits: PeerLimits) {}

  /** Connections open from `address` now. */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }

  /** Whether a new connection from `address` is taken; a taken one counts until `closed`. */
  admit(address: string, now = Date.now()): Admission {
    const allowed = this.limits.allowedAddresses();
    if (allowed.length > 0 && !addressAllowed(address, allowed)) {
      return { admitted: false, reason: 'address not allowed', warn: this.refusedSaid.first(address, now) };
    }
    const limit = this.limits.maxPerAddress();
    const open = this.count(address);
    if (limit > 0 && open >= limit) {
      const warn = !this.fullSaid.has(address);
      this.fullSaid.add(address);
      return { admitted: false, reason: 'too many connections from the address', limit, warn };
    }
    this.open.set(address, open + 1);
    return { admitted: true };
  }

  /** A connection `admit` took has closed. */
  closed(address: string): void {
    const open = this.count(address) - 1;
    if (open > 0) this.open.set(address, open);
    else this.open.delete(address);
    this.fullSaid.delete(address);
  }
}
