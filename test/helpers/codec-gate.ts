// A codec pool whose worker holds every task until the test lets it through: a test can then
// see frames queued behind a busy pool, give up the request that asked for them, and watch
// (through the pool's counts) that they leave the queue and that no new one starts. The gate
// talks to the worker threads over a BroadcastChannel, the one thing both sides can name.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, afterEach, before, beforeEach } from 'node:test';
import type { DecoderPool } from '../../src/codecs/pool.js';
import { SAMPLES, run, storescuProfile } from './dcmtk.js';
import { startTestPacs, type TestPacs } from './pacs.js';

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

/** 512×512 XA, 12 frames, JPEG Lossless SV1: each copy is 12 frames to decode. */
export const GATED_SOURCE = path.join(SAMPLES, 'jpeg-lossless-decoder-js__jpeg_lossless_sel1-8bit.dcm');
export const GATED_STUDY = '999.999.1.19941016.083000';

/** A running server on the gated pool, its log's lines, the gate. */
export interface GatedArchive {
  pacs: TestPacs;
  pool: DecoderPool;
  gate: CodecGate;
  log: { stream: Writable; lines: LogLine[] };
}

/**
 * Registers, in the calling describe, a server whose codec pool runs on the gated worker and
 * which holds `copies` copies of GATED_SOURCE (SOP Instance UID `sop(i)`, more dcmodify
 * arguments from `modify`); the gate is shut before each test and the pool drained after it.
 */
export function gatedArchive(config: Record<string, unknown>, copies: number, sop: (i: number) => string, modify: string[] = []): GatedArchive {
  const archive = { gate: new CodecGate(), log: logLines() } as GatedArchive;
  before(async () => {
    archive.pacs = await startTestPacs({ ...config, logging: { level: 'info' } } as never, { decoderPool: { size: 1, workerUrl: GATED_WORKER }, logStream: archive.log.stream });
    archive.pool = archive.pacs.server.decoders;
    const files: string[] = [];
    for (let i = 1; i <= copies; i++) {
      const f = path.join(archive.pacs.dir, `xa-${i}.dcm`);
      fs.copyFileSync(GATED_SOURCE, f);
      fs.chmodSync(f, 0o644);
      execFileSync('dcmodify', ['-nb', '-m', `(0008,0018)=${sop(i)}`, ...modify, f]);
      files.push(f);
    }
    const r = await run('storescu', [...(await storescuProfile(files, archive.pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(archive.pacs.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    archive.gate.open();
    archive.gate.close();
    await archive.pacs.stop();
  });
  beforeEach(() => {
    archive.gate.shut();
    archive.log.lines.length = 0;
  });
  afterEach(() => drain(archive.pool, archive.gate));
  return archive;
}
