// Streamed request bodies (STOW-RS, uploads) each hold an ingest session, a staged file and
// its descriptor while they arrive. Two limits keep a few clients from holding them all, the
// way a web server's own client_body_timeout and connection limits would:
//  - UploadSlots: at most http.max_concurrent_uploads bodies at once; the next is answered
//    503 with Retry-After, before anything is staged.
//  - BodyPace: a body must bring http.upload_min_kb_per_s over each http.upload_timeout_s the
//    server spends waiting for it (time the server itself paused the body, writing to disk or
//    the index, does not count). The connection's own timeout (5 minutes) is between two bytes:
//    a byte every few minutes — a slow-loris — held a session for ever.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HttpProblem } from './problem.js';

/** A body that came too slowly: answered 408, and the connection closed. */
export class TooSlowError extends Error {
  constructor(readonly bytes: number, readonly seconds: number, readonly minPerSecond: number) {
    super(
      `the request body came too slowly: ${bytes} bytes in ${Math.round(seconds)} s of waiting, ` +
        `at least ${minPerSecond > 0 ? `${minPerSecond} bytes/s` : 'one byte'} needed (http.upload_min_kb_per_s, http.upload_timeout_s)`,
    );
  }
}

export interface PaceLimits {
  /** The window of waiting time over which the rate is judged, in seconds. */
  timeoutSeconds: number;
  /** Bytes per second the body must average over each window; 0: at least one byte a window. */
  minBytesPerSecond: number;
}

/**
 * Time spent waiting for the client and the bytes it brought, judged once per window of waiting:
 * on a chunk's arrival, and by a timer while waiting (a client sending nothing brings no chunk).
 */
export class BodyPace {
  private waitedMs = 0;
  private waitingSince = 0;
  private bytes = 0;
  private readonly timer: NodeJS.Timeout;
  private failure: TooSlowError | null = null;
  private onFail: ((e: TooSlowError) => void) | null = null;

  constructor(private readonly limits: PaceLimits) {
    const windowMs = limits.timeoutSeconds * 1000;
    // Checked ten times a window: a stalled body is cut off at most a tenth of a window late.
    this.timer = setInterval(() => this.judge(), Math.max(50, windowMs / 10));
    this.timer.unref();
  }

  /** The server waits for the client's next bytes from now. */
  waiting(): void {
    if (!this.waitingSince) this.waitingSince = Date.now();
  }

  /** Bytes arrived: the wait (if any) ends. */
  got(bytes: number): void {
    if (this.waitingSince) {
      this.waitedMs += Date.now() - this.waitingSince;
      this.waitingSince = 0;
    }
    this.bytes += bytes;
    this.judge();
  }

  /** Called once, with the error, when the body is judged too slow. */
  whenTooSlow(fail: (e: TooSlowError) => void): void {
    if (this.failure) fail(this.failure);
    else this.onFail = fail;
  }

  /** Judged too slow. */
  get failed(): boolean {
    return this.failure !== null;
  }

  stop(): void {
    clearInterval(this.timer);
    this.onFail = null;
  }

  private judge(): void {
    if (this.failure) return;
    const now = Date.now();
    const waited = this.waitedMs + (this.waitingSince ? now - this.waitingSince : 0);
    if (waited < this.limits.timeoutSeconds * 1000) return;
    const need = Math.max(1, (this.limits.minBytesPerSecond * waited) / 1000);
    if (this.bytes >= need) {
      // Fast enough: a new window starts (a fast start earns no credit for a trickle later).
      this.waitedMs = 0;
      this.bytes = 0;
      if (this.waitingSince) this.waitingSince = now;
      return;
    }
    this.failure = new TooSlowError(this.bytes, waited / 1000, this.limits.minBytesPerSecond);
    clearInterval(this.timer);
    this.onFail?.(this.failure);
  }
}

/** The pace limits of the configuration's http section. */
export function paceLimits(http: { upload_timeout_s: number; upload_min_kb_per_s: number }): PaceLimits {
  return { timeoutSeconds: http.upload_timeout_s, minBytesPerSecond: http.upload_min_kb_per_s * 1024 };
}

/**
 * `source`'s chunks, paced: the time between asking for the next chunk and getting it is the
 * waiting; a body too slow throws TooSlowError from the pending read. The source is left
 * undestroyed when the reading stops (its own iterator decides, see stow.ts).
 */
export async function* paced(source: AsyncIterable<Buffer>, pace: BodyPace): AsyncGenerator<Buffer> {
  const it = source[Symbol.asyncIterator]();
  // A promise per read, settled by the read or by the pace: one raced on every read for the
  // whole body kept each read's result (its chunk) reachable until the end — a 2 GB STOW-RS
  // held in memory.
  let failure: TooSlowError | null = null;
  let failRead: ((e: TooSlowError) => void) | null = null;
  pace.whenTooSlow((e) => {
    failure = e;
    failRead?.(e);
  });
  let reading = false;
  try {
    for (;;) {
      if (failure) throw failure;
      pace.waiting();
      reading = true;
      const r = await new Promise<IteratorResult<Buffer>>((resolve, reject) => {
        failRead = reject;
        it.next().then(resolve, reject);
      });
      failRead = null;
      reading = false;
      if (r.done) return;
      pace.got(r.value.length);
      yield r.value;
    }
  } finally {
    pace.stop();
    // A stream's iterator runs its return after the read in progress: awaited while one still
    // waits on the slow client, it would wait as long. It ends when the connection closes.
    const ended = it.return?.();
    if (reading) ended?.catch(() => {});
    else await ended;
  }
}

/**
 * The answer to a body that came too slowly: 408, and the connection closed after it (reading
 * the rest away would wait on the same slow client).
 */
export function tooSlow(req: FastifyRequest, reply: FastifyReply, e: TooSlowError): HttpProblem {
  req.log.warn({ url: req.url, from: req.ip, bytes: e.bytes, seconds: Math.round(e.seconds) }, 'an upload came too slowly: answered 408 and closed');
  reply.header('connection', 'close');
  return new HttpProblem(408, e.message);
}

/** Upload bodies being received now, at most `limit()` of them. */
export class UploadSlots {
  private taken = 0;

  constructor(private readonly limit: () => number) {}

  /**
   * Takes a slot until `done` (the response) closes — whatever way it ends, answered or the client
   * gone; false when all are taken.
   */
  take(done: { once(event: 'close', f: () => void): unknown }): boolean {
    if (this.taken >= this.limit()) return false;
    this.taken++;
    done.once('close', () => this.taken--);
    return true;
  }

  get active(): number {
    return this.taken;
  }
}
