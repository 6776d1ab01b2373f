// Known nodes that could not be reached a moment ago. A node that accepts TCP and never answers
// held each send or pull job to it for the connect timeout and ARTIM (up to 40 s): with a
// hundred forwards queued during its outage, every worker sat waiting on it in turn and the
// exports and sends to other places waited hours. After a failed connection, the node's other
// jobs fail at once, without a connection, until the hold is over; they wait out their back-off,
// no shorter than what is left of the hold, as the first one does. A node that answered with
// A-ASSOCIATE-RJ was reached (a transient "no free association" is not an outage), and a node's
// address corrected ends the hold (held by AE title and address).
import { isAssociateReject } from '../net/client.js';
import { RetryableJobError } from './jobs.js';

/** A node as the hold knows it: a changed host or port is another. */
export interface NodeAddress {
  ae_title: string;
  host: string;
  port: number;
}

const keyOf = (n: NodeAddress): string => `${n.ae_title}@${n.host}:${n.port}`;

export class UnreachableNodes {
  private readonly down = new Map<string, { until: number; why: string }>();

  /** `holdMs`: how long a node that could not be reached is not tried again (jobs.backoff_seconds: no sooner than a retry would be). */
  constructor(private readonly holdMs: () => number) {}

  /** Throws, without trying, while `node` is held after a failed connection. */
  check(node: NodeAddress): void {
    const key = keyOf(node);
    const held = this.down.get(key);
    if (!held) return;
    const left = held.until - Date.now();
    if (left <= 0) {
      this.down.delete(key);
      return;
    }
    throw new RetryableJobError(`${node.ae_title} could not be reached moments ago (${held.why}); not tried again for ${Math.ceil(left / 1000)} s`, left);
  }

  /** Opens `connect` to `node`: a failure to reach it holds the node, a success ends a hold. */
  async connect<T>(node: NodeAddress, connect: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.check(node);
    const key = keyOf(node);
    try {
      const connected = await connect();
      this.down.delete(key);
      return connected;
    } catch (e) {
      // Our own cancel or stop says nothing about the node, nor does its answer (a rejection).
      const answered = isAssociateReject(e);
      if (!signal?.aborted && !answered) this.down.set(key, { until: Date.now() + this.holdMs(), why: e instanceof Error ? e.message : String(e) });
      throw e;
    }
  }
}
