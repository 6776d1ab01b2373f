// The codec worker pool: frames are decoded, and rendered to images, off the event loop, on as
// many threads as the machine has cores. Workers start on first need, each loads its codecs once and then takes
// one task at a time; buffers travel transferred both ways. A worker that dies or overruns its
// time fails only the task it held and is replaced on the next need. Idle workers do not keep
// the process alive, and close() ends them all (server stop, end of a test). The queue is
// bounded: past it a frame is refused at once (UNAVAILABLE: try later) rather than waiting behind
// thousands. A caller that gives up (its AbortSignal: a client gone, a C-CANCEL) is answered
// ABORTED at once: its queued frames leave the queue, and one already on a worker runs to its
// end (ending the thread would cost more than the frame) with its result thrown away.
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { PacsError } from '../core/errors.js';
import type { FrameResult, FrameTask, RenderResult, RenderTask } from './frame.js';
import type { ReplyMessage, TaskMessage } from './worker-task.js';

export interface FrameDecoder {
  /** `signal`: the caller no longer wants the frame (a cancelled job, a client gone): it fails ABORTED at once, and leaves the queue. */
  decode(task: FrameTask, signal?: AbortSignal): Promise<FrameResult>;
}

export interface FrameRenderer {
  /** Decodes (when compressed), renders and encodes one frame as an image. */
  render(task: RenderTask, signal?: AbortSignal): Promise<RenderResult>;
}

export interface PoolOptions {
  /** Threads at most (default: os.availableParallelism()). */
  size?: number;
  /** One frame may take this long before its worker is ended (default 60 s). */
  taskTimeoutMs?: number;
  /** The worker script (tests substitute their own). */
  workerUrl?: URL;
  /** Frames waiting at most (default 1024): one more is refused with UNAVAILABLE. */
  maxQueued?: number;
}

/** Enough for every conversion's few frames in flight and a page of rendered images at once. */
const MAX_QUEUED = 1024;

type Job = { kind: 'decode'; task: FrameTask } | { kind: 'render'; task: RenderTask };

interface Pending {
  id: number;
  job: Job;
  resolve: (r: FrameResult | RenderResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  current: Pending | null;
  timer: ReturnType<typeof setTimeout> | null;
}

export class DecoderPool implements FrameDecoder, FrameRenderer {
  private readonly size: number;
  private readonly timeoutMs: number;
  private readonly url: URL;
  private readonly maxQueued: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  /** Workers that died (for tests and logs). */
  crashes = 0;
  /** Tasks handed to a worker since the pool was made. */
  private startedCount = 0;
  /** Tasks whose caller gave up (its AbortSignal) before their result. */
  private abandonedCount = 0;

  constructor(options: PoolOptions = {}) {
    this.size = Math.max(1, options.size ?? os.availableParallelism());
    this.timeoutMs = options.taskTimeoutMs ?? 60_000;
    this.url = options.workerUrl ?? new URL('./worker.js', import.meta.url);
    this.maxQueued = Math.max(1, options.maxQueued ?? MAX_QUEUED);
  }

  /** Decodes one frame on a worker; the task's frame buffer is transferred (detached here). */
  decode(task: FrameTask, signal?: AbortSignal): Promise<FrameResult> {
    return this.submit({ kind: 'decode', task }, signal) as Promise<FrameResult>;
  }

  /** Renders one frame to an image on a worker; the task's frame buffer is transferred (detached here). */
  render(task: RenderTask, signal?: AbortSignal): Promise<RenderResult> {
    return this.submit({ kind: 'render', task }, signal) as Promise<RenderResult>;
  }

  /** Frames waiting for a worker now. */
  get queued(): number {
    return this.queue.length;
  }

  /** Tasks on a worker now. */
  get running(): number {
    let n = 0;
    for (const s of this.slots) if (s.current) n++;
    return n;
  }

  /** Tasks handed to a worker since the pool was made: what tells a test whether work went on after its caller gave up. */
  get started(): number {
    return this.startedCount;
  }

  /** Tasks given up by their caller (its AbortSignal) since the pool was made, queued or running. */
  get abandoned(): number {
    return this.abandonedCount;
  }

  private submit(job: Job, signal?: AbortSignal): Promise<FrameResult | RenderResult> {
    if (this.closed) return Promise.reject(new PacsError('ABORTED', 'the decoder pool is closed'));
    if (signal?.aborted) return Promise.reject(new PacsError('ABORTED', 'the frame was no longer wanted'));
    if (this.queue.length >= this.maxQueued) return Promise.reject(new PacsError('UNAVAILABLE', `${this.queue.length} frames are waiting to be decoded: try again later`));
    return new Promise<FrameResult | RenderResult>((resolve, reject) => {
      const p: Pending = { id: this.nextId++, job, resolve, reject };
      if (signal) {
        // Registered until the task settles: queued, it leaves the queue; on a worker, nobody
        // waits for it any more (the caller's request may end now) and finish() drops its result.
        const leave = (): void => {
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          this.abandonedCount++;
          reject(new PacsError('ABORTED', 'the frame was no longer wanted'));
        };
        signal.addEventListener('abort', leave, { once: true });
        const done = (): void => signal.removeEventListener('abort', leave);
        p.resolve = (r) => (done(), resolve(r));
        p.reject = (e) => (done(), reject(e));
      }
      this.queue.push(p);
      this.dispatch();
    });
  }

  /** Threads running now. */
  get threads(): number {
    return this.slots.size;
  }

  /** Ends every worker; queued and running tasks fail. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new PacsError('ABORTED', 'the decoder pool closed'));
    const ending = [...this.slots].map((s) => {
      this.finish(s, new PacsError('ABORTED', 'the decoder pool closed'));
      this.slots.delete(s);
      return s.worker.terminate();
    });
    await Promise.all(ending);
  }

  private dispatch(): void {
    while (this.queue.length) {
      let slot = [...this.slots].find((s) => !s.current);
      if (!slot) {
        if (this.slots.size >= this.size) return;
        try {
          slot = this.spawn();
        } catch (e) {
          // Out of threads or memory: the workers there are take the queue on; with none, it fails
          // now (this runs inside worker events, where a throw would end the process).
          if (this.slots.size) return;
          const why = new PacsError('UNAVAILABLE', `cannot start a decoding worker: ${e instanceof Error ? e.message : String(e)}`);
          for (const p of this.queue.splice(0)) p.reject(why);
          return;
        }
      }
      const p = this.queue.shift()!;
      this.startedCount++;
      slot.current = p;
      slot.worker.ref();
      slot.timer = setTimeout(() => this.kill(slot!, `${p.job.kind === 'render' ? 'rendering' : 'decoding'} took longer than ${this.timeoutMs / 1000} s`), this.timeoutMs);
      slot.worker.postMessage({ id: p.id, ...p.job } satisfies TaskMessage, [p.job.task.frame]);
    }
  }

  private spawn(): Slot {
    const worker = new Worker(this.url);
    const slot: Slot = { worker, current: null, timer: null };
    worker.unref();
    let lastError = '';
    worker.on('message', (m: ReplyMessage) => {
      if (!slot.current || slot.current.id !== m.id) return;
      if (m.ok) this.finish(slot, null, m.result);
      else this.finish(slot, new PacsError(m.code ?? 'DICOM_PARSE', m.error));
      this.dispatch();
    });
    worker.on('error', (e) => (lastError = e.message));
    worker.on('exit', (code) => {
      if (!this.slots.delete(slot)) return; // ended by us (close or kill), already settled
      this.crashes++;
      this.finish(slot, new PacsError('UNAVAILABLE', `the decoding worker died (exit code ${code}${lastError ? `: ${lastError}` : ''})`));
      this.dispatch();
    });
    this.slots.add(slot);
    return slot;
  }

  /** Ends a worker that holds a task too long; the task fails, another worker takes the queue. */
  private kill(slot: Slot, why: string): void {
    this.slots.delete(slot);
    this.crashes++;
    this.finish(slot, new PacsError('UNAVAILABLE', why));
    void slot.worker.terminate();
    this.dispatch();
  }

  private finish(slot: Slot, err: Error | null, result?: FrameResult | RenderResult): void {
    const p = slot.current;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.current = null;
    slot.worker.unref();
    if (!p) return;
    if (err) p.reject(err);
    else p.resolve(result!);
  }
}
