// A codec pool whose worker holds every task until the test lets it through: a test can then
// see frames queued behind a busy pool, give up the request that asked for them, and watch
// (through the pool's counts) that they leave the queue and that no new one starts. The gate
// talks to the worker threads over a BroadcastChannel, the one thing both sides can name.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { DecoderPool } from '../../src/codecs/pool.js';

export const GATE_CHANNEL = 'pacs-test-codec-gate';
/** To the workers: whether tasks may run; from a worker that starts: what is the gate now? */
export type GateMessage = { open: boolean } | { hello: true };

export const GATED_WORKER = new URL('./gated-worker.js', import.meta.url);

/** Shut at first. A worker that starts asks how the gate stands (a message sent before it listened would be lost). */
export class CodecGate {
  private readonly channel = new BroadcastChannel(GATE_CHANNEL);
  private isOpen = false;

  constructor() {
    this.channel.onmessage = (e: MessageEvent) => {
      if ('hello' in (e.data as GateMessage)) this.tell();
    };
  }

  private tell(): void {
    this.channel.postMessage({ open: this.isOpen } satisfies GateMessage);
  }

  /** Every task runs, held ones and new ones. */
  open(): void {
    this.isOpen = true;
    this.tell();
  }

  /** Tasks from now on wait (those running finish). */
  shut(): void {
    this.isOpen = false;
    this.tell();
  }

  close(): void {
    this.channel.close();
  }
}

/** Waits until `cond` holds, polling; fails with `what` past the deadline. */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pool's counts, for messages. */
export const poolState = (p: DecoderPool): string => `queued ${p.queued}, running ${p.running}, started ${p.started}, abandoned ${p.abandoned}`;

/** A log destination that keeps the parsed lines, for a test that checks what was logged. */
export function logLines(): { stream: Writable; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { stream, lines };
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** Log lines of level warn and above that would call a conversion given up a fault. */
export const GIVEN_UP = /no longer wanted|given up|ABORTED|ended abnormally|left out|broken off|sub-operation failed/;

/**
 * With a request's tasks in the pool (one held on the worker, at least `minQueued` queued),
 * `giveUp` abandons the request: every task must be given up (the queued leave the queue, the
 * held one's result is not waited for), and once the worker is let go, none may start.
 * `settle` is a request to the server made after the gate opens (anything submitted after
 * the abandon would have started by its answer). Nothing of level error, nor a warning that
 * matches `faults`, may be logged.
 */
export async function abandonWhileHeld(
  pool: DecoderPool,
  gate: CodecGate,
  o: { giveUp: () => void | Promise<void>; settle: () => Promise<void>; lines: readonly LogLine[]; minQueued?: number; faults?: RegExp },
): Promise<void> {
  await until(() => pool.running === 1 && pool.queued >= (o.minQueued ?? 1), `tasks of the request are in the pool (${poolState(pool)})`);
  const abandonedBefore = pool.abandoned;
  const inPool = pool.queued + pool.running;
  await o.giveUp();
  await until(() => pool.queued === 0 && pool.abandoned - abandonedBefore >= inPool, `every task in the pool is given up (${poolState(pool)}, abandoned ${pool.abandoned - abandonedBefore} of ${inPool})`);
  const started = pool.started;
  gate.open();
  await until(() => pool.running === 0, `the held task is done (${poolState(pool)})`);
  await o.settle();
  assert.equal(pool.started, started, 'no task started after the request was given up');
  assert.equal(pool.queued, 0);
  const faults = o.faults ?? GIVEN_UP;
  const noisy = o.lines.filter((l) => l.level >= 50 || (l.level >= 40 && faults.test(JSON.stringify(l))));
  assert.deepEqual(noisy, [], 'an abandoned conversion is not logged as a fault');
}

/** After a test: whatever is still held goes through, so the next test starts with an empty pool. */
export async function drain(pool: DecoderPool, gate: CodecGate): Promise<void> {
  gate.open();
  await until(() => pool.queued === 0 && pool.running === 0, `the pool is empty (${poolState(pool)})`);
  gate.shut();
}
