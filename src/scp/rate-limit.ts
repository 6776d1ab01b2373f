// New associations per calling AE title, as token buckets: each AE may open a burst of up to
// its per-minute allowance at once, then one more each 60/N seconds. A peer that reconnects in
// a loop (a misconfigured modality retrying, or a hostile one) is turned away cheaply at
// negotiation time instead of costing us an association each time.

interface Bucket {
  tokens: number;
  at: number;
}

/** Above this many AE titles, full buckets are forgotten: random AE titles must not grow memory. */
const PRUNE_ABOVE = 10_000;

export class AssociationRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Takes one token for `key`; false when none is left. `perMinute` 0 means no limit. */
  take(key: string, perMinute: number): boolean {
    if (perMinute <= 0) return true;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: perMinute, at: t };
    // Refill for the time since the last attempt; the allowance may have changed on reload.
    b.tokens = Math.min(perMinute, b.tokens + ((t - b.at) * perMinute) / 60_000);
    b.at = t;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.set(key, b);
    if (this.buckets.size > PRUNE_ABOVE) this.prune(t);
    return allowed;
  }

  /** Seconds until `key` may open another association (for the log line). */
  waitSeconds(key: string, perMinute: number): number {
    const b = this.buckets.get(key);
    if (!b || perMinute <= 0 || b.tokens >= 1) return 0;
    return Math.ceil(((1 - b.tokens) * 60) / perMinute);
  }

  private prune(t: number): void {
    // A bucket untouched for a minute is full again: forgetting it changes nothing.
    for (const [k, b] of this.buckets) if (t - b.at >= 60_000) this.buckets.delete(k);
  }

  get size(): number {
    return this.buckets.size;
  }
}
