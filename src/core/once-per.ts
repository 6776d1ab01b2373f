// "Once per window per key": a warn line once a minute per address, one audit line for a read
// polled again. Remembers at most `max` keys: past that it starts over (a scan of many hosts).

export class OncePer {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly ms: number,
    private readonly max = 10_000,
  ) {}

  /** True the first time `key` comes, and again once `ms` has passed since it last was true. */
  first(key: string, now = Date.now()): boolean {
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.ms) return false;
    if (this.last.size >= this.max) this.last.clear();
    this.last.set(key, now);
    return true;
  }
}
