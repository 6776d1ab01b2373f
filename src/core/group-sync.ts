// Group commit for a sync that many callers need at once (a directory's entries, the index's
// write-ahead log): a sync already running may have started before a caller's change, so that
// caller waits for the next one, which everyone arriving meanwhile shares. N concurrent
// stores then cost two syncs, not N.

export class GroupSync {
  private current: Promise<void> | null = null;
  private queued: Promise<void> | null = null;

  /**
   * `run` performs one sync; its rejection reaches every caller that shared it. `onIdle` is
   * called when the last sync ends with none waiting (the holder may then drop this instance).
   */
  constructor(
    private readonly run: () => Promise<void>,
    private readonly onIdle?: () => void,
  ) {}

  /** No sync running or waiting. */
  get idle(): boolean {
    return this.current === null && this.queued === null;
  }

  /** Resolves once a sync that began after this call has completed. */
  sync(): Promise<void> {
    if (!this.current) return this.start();
    this.queued ??= this.current
      .catch(() => {})
      .then(() => {
        this.queued = null;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const p = this.run().finally(() => {
      if (this.current === p) this.current = null;
      if (this.idle) this.onIdle?.();
    });
    this.current = p;
    return p;
  }
}
