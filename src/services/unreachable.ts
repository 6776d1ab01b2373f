// Known nodes that could not be reached a moment ago. A node that accepts TCP and never answers
// held each send or pull job to it for the connect timeout and ARTIM (up to 40 s): with a
// hundred forwards queued during its outage, every worker sat waiting on it in turn and the
// exports and sends to other places waited hours. After a failed connection, the node's other
// jobs fail at once, without a connection, until the hold is over; they wait out their back-off,
// no shorter than what is left of the hold, as the first one does.
import { RetryableJobError } from './jobs.js';

export class UnreachableNodes {
  private readonly down = new Map<string, { until: number; why: string }>();

  /** `holdMs`: how long a node that could not be reached is not tried again (jobs.backoff_seconds: no sooner than a retry would be). */
  constructor(private readonly holdMs: () => number) {}

  /** Throws, without trying, while `aeTitle` is held after a failed connection. */
  check(aeTitle: string): void {
    const held = this.down.get(aeTitle);
    if (!held) return;
    const left = held.until - Date.now();
    if (left <= 0) {
      this.down.delete(aeTitle);
      return;
    }
    throw new RetryableJobError(`${aeTitle} could not be reached moments ago (${held.why}); not tried again for ${Math.ceil(left / 1000)} s`, left);
  }

  /** Opens `connect` to `aeTitle`: a failure holds the node, a success ends a hold. */
  async connect<T>(aeTitle: string, connect: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.check(aeTitle);
    try {
      const connected = await connect();
      this.down.delete(aeTitle);
      return connected;
    } catch (e) {
      // Our own cancel or stop says nothing about the node.
      if (!signal?.aborted) this.down.set(aeTitle, { until: Date.now() + this.holdMs(), why: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }
}
