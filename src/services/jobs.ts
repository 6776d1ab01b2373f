// The job runner: claims due jobs from the index's durable queue and runs them with the
// handler registered for their type, a few at a time. A job's lease is renewed while it runs
// (and its progress saved with it); a server that dies leaves the lease to run out, and the
// job runs again — on this server after a restart, or on another sharing the index. Failures
// are retried with exponential back-off until the job's attempts are spent.
//
// Each claim has a name of its own (the process's owner name and a claim number): a run whose
// lease ran out (the index unreachable for longer than the lease) may still be inside its
// handler — stuck in a file copy or a C-STORE that ignores the abort — when the job is claimed
// again, and its late heartbeat or outcome must not count for the claim that replaced it. Nor
// is a job this process still runs ever claimed by it again until its handler has returned.
//
// A lease that cannot be renewed — the heartbeat fails, or hangs unanswered (a network
// partition) — stops the run before it ends, not after: once the last renewal is three quarters
// of a lease old, the handler is aborted, so it is winding down by the time another server may
// take the job.
import { isAlive } from '../core/process-alive.js';
import { hostname } from 'node:os';
import { readlinkSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { type Job, type JobOutcome, type JobProgress, type JobStore, shownProgress } from '../index/jobs.js';
import type { Logger } from '../core/logging.js';
import { errorMessage, PacsError } from '../core/errors.js';

/**
 * This machine, as lease owners name it: a digest of the host name and of the PID namespace (no
 * ':' in it, whatever the name holds). Two containers on one host share its host name (host
 * networking) and often pid 1: by the host name alone, a restarting one judged the other's
 * process dead (a pid it cannot see) and took its live jobs, which then ran twice at once.
 */
const MACHINE = createHash('sha256').update(hostname()).update(pidNamespace()).digest('hex').slice(0, 12);

/** The PID namespace of this process ("pid:[4026531836]"), where Linux says; '' elsewhere. */
function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return '';
  }
}

export interface JobContext {
  job: Job;
  /** Aborted when the job is canceled or the server stops. */
  signal: AbortSignal;
  /** Records progress (saved with the next lease renewal, and at the end). */
  progress(p: JobProgress): void;
  logger: Logger;
}

export interface JobHandler {
  /** Resolves with the final progress; throws to fail this attempt (PermanentJobError: no retry). */
  run(ctx: JobContext): Promise<JobProgress | void>;
}

/** Why a job queued earlier is no longer wanted (the rule that queued it removed or disabled), or null to run it. */
export type WithdrawnCheck = (job: Job) => string | null;

/** A failure that another attempt cannot fix (an unknown node, a bad payload). */
export class PermanentJobError extends Error {
  override name = 'PermanentJobError';
}

/** A failure to try again, not before `notBeforeMs` from now when given (a server's Retry-After). */
export class RetryableJobError extends Error {
  override name = 'RetryableJobError';
  constructor(
    message: string,
    readonly notBeforeMs: number | null,
  ) {
    super(message);
  }
}

export interface JobSettings {
  workers: number;
  maxAttempts: number;
  backoffSeconds: number;
  keepDays: number;
  /** How long a claimed job stays this server's without a renewal: how soon another takes over from a dead one. */
  leaseSeconds: number;
}

/** Leases are renewed this often, or three times per lease when leases are shorter. */
const HEARTBEAT_MS = 5_000;
/**
 * A run whose lease has not been renewed is aborted this share of a lease before the lease ends:
 * time for the handler to stop (an association to abort, a copy to give up) before another
 * server may claim the job, and some room for clocks that differ between servers.
 */
const LEASE_MARGIN = 0.25;
const POLL_MS = 1_000;
const MAX_BACKOFF_MS = 3_600_000;

/** The wait before the next try after `attempts` failed ones: base × 2^(attempts−1), at most an hour. */
export const backoffMs = (attempts: number, baseSeconds: number): number => Math.min(MAX_BACKOFF_MS, baseSeconds * 1000 * 2 ** (Math.max(1, attempts) - 1));

interface Running {
  job: Job;
  /** The lease owner of this run's claim: its heartbeats and finish count only under it. */
  claim: string;
  abort: AbortController;
  progress: JobProgress;
  dirty: boolean;
  /** When our lease runs out unless renewed (ms): past it, another server may take the job. */
  leaseUntil: number;
  /** A heartbeat of this run not answered yet: no other is sent beside it. */
  renewing: boolean;
  /** Aborts the run when its lease nears its end unrenewed; set again at each renewal. */
  watchdog: NodeJS.Timeout | null;
}

export class JobService {
  /** This process's name on the leases it holds: node:pid:random, and :n for the n-th claim. */
  readonly owner: string;
  /** The server's name in the cluster (server.node_name, by default the host name). */
  private readonly node: string;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly withdrawnChecks: WithdrawnCheck[] = [];
  /** Types a peer is waiting on (see register): they have a worker of their own besides `workers`. */
  private readonly prompt = new Set<string>();
  /** Runs whose handler has not returned yet, aborted ones included. */
  private readonly running = new Map<number, Running>();
  private claims = 0;
  /** Every run until its outcome is recorded (stop waits for them). */
  private readonly runs = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** The claiming under way (wake), awaited by stop: a job it claims after stop must not slip past. */
  private polling: Promise<void> | null = null;
  private stopped = true;
  private lastPrune = 0;

  constructor(
    private readonly store: JobStore,
    private readonly settings: () => JobSettings,
    private readonly logger: Logger,
    nodeName?: string,
  ) {
    this.node = nodeName ?? hostname();
    // The machine is in the name too: two servers given one node_name on two hosts each took
    // the other's live jobs back at a restart (its pid is not alive here), and ran them twice.
    this.owner = `${this.node}:${process.pid}:${randomBytes(3).toString('hex')}:${MACHINE}`;
  }

  /**
   * `prompt`: a peer is waiting on these jobs (a Storage Commitment requester for its report, a
   * RIS for the MPPS), and each is short. Besides the `workers` any job may take, one more worker
   * runs only them, so hours of sends or exports filling the queue do not hold them back.
   */
  register(type: string, handler: JobHandler, options: { prompt?: boolean } = {}): void {
    this.handlers.set(type, handler);
    if (options.prompt) this.prompt.add(type);
  }

  /**
   * A check made before each attempt: a job it gives a reason for is not run and ends canceled
   * with that reason (a retry runs it once the reason is gone: the rule enabled again).
   */
  checkBeforeRun(check: WithdrawnCheck): void {
    this.withdrawnChecks.push(check);
  }

  /** Queues a job (or returns the one with the same dedupe key) and wakes the runner. */
  async enqueue(type: string, payload: Record<string, unknown>, options: { dedupeKey?: string; maxAttempts?: number } = {}): Promise<Job> {
    if (!this.handlers.has(type)) throw new PermanentJobError(`no handler for jobs of type ${type}`);
    const { job } = await this.store.enqueue({ type, payload, maxAttempts: options.maxAttempts ?? this.settings().maxAttempts, dedupeKey: options.dedupeKey ?? null });
    this.wake();
    return job;
  }

  /** The job queued with this dedupe key, if it is still kept. */
  find(dedupeKey: string): Promise<Job | null> {
    return this.store.byDedupeKey(dedupeKey);
  }

  async cancel(id: number): Promise<Job | null> {
    const job = checkCanceled(await this.store.cancel(id));
    this.running.get(id)?.abort.abort(new CanceledError());
    return job;
  }

  async retry(id: number): Promise<Job | null> {
    const job = checkRetried(await this.store.retry(id));
    this.wake();
    return job;
  }

  /** Progress of a job running here, fresher than the stored copy. */
  liveProgress(id: number): JobProgress | null {
    return this.running.get(id)?.progress ?? null;
  }

  get active(): number {
    return this.running.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.releaseDeadOwners().finally(() => this.wake());
    this.timer = setInterval(() => this.wake(), POLL_MS);
    this.timer.unref();
    this.scheduleHeartbeats();
    this.wake();
  }

  /**
   * Stops claiming, aborts what runs and waits (up to `graceMs`) for the handlers to return.
   * Aborted jobs go back to the queue at once: the next start (or another server) resumes them.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    for (const r of this.running.values()) r.abort.abort(new Error('the server is stopping'));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    // A claim in flight finishes first (within the grace: an index that stalls must not hold the
    // stop); the job it took is handed back unrun (run() sees stopped).
    await Promise.race([this.polling, grace]);
    await Promise.race([Promise.all(this.runs), grace]);
    clearTimeout(timer);
  }

  /** Claims jobs until the workers are busy or nothing is due. */
  private wake(): void {
    if (this.stopped || this.polling) return;
    this.polling = this.fill()
      .catch((e: unknown) => this.logger.error({ err: e }, 'job queue: cannot claim jobs'))
      .finally(() => (this.polling = null));
  }

  private async fill(): Promise<void> {
    const all = [...this.handlers.keys()];
    while (!this.stopped && this.running.size < this.settings().workers && (await this.claimOne(all)));
    // The prompt types' own worker: one of them more than the workers may run at a time.
    const prompt = [...this.prompt];
    while (!this.stopped && prompt.length && this.running.size < this.settings().workers + 1 && (await this.claimOne(prompt)));
    await this.prune();
  }

  /** Claims and starts one due job of these types; false when none is due. */
  private async claimOne(types: readonly string[]): Promise<boolean> {
    const now = new Date();
    const claim = `${this.owner}:${++this.claims}`;
    // A job whose handler still runs here (aborted when its lease ran out, and not yet back)
    // is not taken again: that would run it twice at once in this process.
    const job = await this.store.claim(claim, now, new Date(now.getTime() + this.leaseMs), types, [...this.running.keys()]);
    if (!job) return false;
    const run = this.run(job, claim);
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
    return true;
  }

  private async run(job: Job, claim: string): Promise<void> {
    const abort = new AbortController();
    const r: Running = { job, claim, abort, progress: job.progress, dirty: false, leaseUntil: job.leaseUntil?.getTime() ?? Date.now() + this.leaseMs, renewing: false, watchdog: null };
    this.running.set(job.id, r);
    this.watch(r);
    const logger = this.logger.child({ job: job.id, type: job.type });
    logger.info({ attempt: job.attempts, of: job.maxAttempts }, 'job started');
    let outcome: JobOutcome;
    try {
      if (job.cancelRequested) throw new CanceledError();
      const withdrawn = this.withdrawnChecks.map((check) => check(job)).find((why) => why !== null);
      if (withdrawn) throw new WithdrawnError(withdrawn);
      if (this.stopped) throw new Error('the server is stopping'); // claimed as stop began: back to the queue, its attempt returned
      const handler = this.handlers.get(job.type)!;
      const final = await handler.run({
        job,
        signal: abort.signal,
        logger,
        progress: (p) => {
          r.progress = p;
          r.dirty = true;
        },
      });
      // A handler that returned did its work: an abort that came meanwhile (a stop, a lease
      // renewal that failed) must not throw it away to be done again — a program run twice, an
      // export rewritten. Only a cancel asked for overrides it. (finish is under the claim: if the
      // job was taken over meanwhile, this outcome is simply not recorded.)
      if (abort.signal.aborted && abort.signal.reason instanceof CanceledError) throw abort.signal.reason;
      const progress = final ?? r.progress;
      outcome = { state: 'succeeded', progress };
      // Without the acknowledged UIDs: a study's worth would make a log line of hundreds of KB.
      logger.info({ progress: shownProgress(progress) }, 'job succeeded');
    } catch (e) {
      outcome = this.failure(job, r, e, logger);
    }
    // The run stays in `running` (its lease renewed) until its outcome is recorded: dropped first,
    // a finish waiting on a busy pool or a restarting database let the lease run out, and the
    // job finished here was claimed and run again (or, on its last attempt, marked failed).
    let recorded = false;
    for (let attempt = 0; attempt < FINISH_TRIES && !recorded; attempt++) {
      try {
        const mine = await this.store.finish(job.id, claim, outcome);
        if (!mine) logger.warn('job lease was lost while it ran; its result is not recorded');
        recorded = true;
      } catch (e) {
        logger.error({ err: e, attempt: attempt + 1 }, 'cannot record the job outcome');
        if (attempt + 1 < FINISH_TRIES) await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** attempt));
      }
    }
    if (r.watchdog) clearTimeout(r.watchdog);
    if (this.running.get(job.id) === r) this.running.delete(job.id);
    // Every attempt that ran, and one handed back (a stop) that had already sent something: said
    // to the listeners (the audit trail records data that left).
    if (!(outcome.state === 'queued' && outcome.attemptReturned && !outcome.progress?.completed))
      for (const listener of this.finishedListeners) {
        try {
          listener(job, outcome);
        } catch (e) {
          logger.error({ err: e }, 'a job listener failed');
        }
      }
    this.wake();
  }

  private readonly finishedListeners: ((job: Job, outcome: JobOutcome) => void)[] = [];

  /** Called after each attempt that ran, with its outcome (succeeded, failed, canceled, or queued to retry). */
  onFinished(listener: (job: Job, outcome: JobOutcome) => void): void {
    this.finishedListeners.push(listener);
  }

  private failure(job: Job, r: Running, e: unknown, logger: Logger): JobOutcome {
    const error = errorMessage(e);
    if (e instanceof WithdrawnError) {
      logger.warn({ reason: error }, 'job withdrawn: not run');
      return { state: 'canceled', error, progress: r.progress };
    }
    // Why the run was stopped, whatever error the handler ended with.
    const leaseLost = r.abort.signal.reason instanceof LeaseLostError;
    if (e instanceof CanceledError || (r.abort.signal.aborted && !this.stopped && !leaseLost)) {
      logger.info('job canceled');
      return { state: 'canceled', error: 'canceled', progress: r.progress };
    }
    if (this.stopped || leaseLost) {
      // Not the job's fault: give the attempt back and let the next start run it at once (if
      // the lease was lost and another server took the job, this outcome is not recorded).
      return { state: 'queued', error, progress: r.progress, runAfter: new Date(), attemptReturned: true };
    }
    const permanent = e instanceof PermanentJobError;
    if (permanent || job.attempts >= job.maxAttempts) {
      logger.warn({ error, attempts: job.attempts }, 'job failed');
      return { state: 'failed', error, progress: r.progress };
    }
    // The back-off, or longer when the other side said when to come back (at most the longest back-off).
    const asked = e instanceof RetryableJobError && e.notBeforeMs !== null ? Math.min(e.notBeforeMs, MAX_BACKOFF_MS) : 0;
    const delay = Math.max(backoffMs(job.attempts, this.settings().backoffSeconds), asked);
    logger.warn({ error, retryInSeconds: delay / 1000 }, 'job attempt failed; will retry');
    return { state: 'queued', error, progress: r.progress, runAfter: new Date(Date.now() + delay) };
  }

  private get leaseMs(): number {
    return this.settings().leaseSeconds * 1000;
  }

  private get heartbeatMs(): number {
    return Math.min(HEARTBEAT_MS, this.leaseMs / 3);
  }

  /**
   * A chain of timeouts rather than an interval: the lease may change on reload. The chain does
   * not wait for the heartbeats it sends: one that hangs holds back only its own job's next.
   */
  private scheduleHeartbeats(): void {
    if (this.stopped) return;
    this.heartbeatTimer = setTimeout(() => {
      for (const r of [...this.running.values()]) void this.renew(r);
      this.scheduleHeartbeats();
    }, this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  /** Renews a running job's lease, saves its progress, and notices a cancel request from another server. */
  private async renew(r: Running): Promise<void> {
    if (r.renewing) return;
    r.renewing = true;
    const leaseUntil = Date.now() + this.leaseMs;
    const progress = r.dirty ? r.progress : null;
    r.dirty = false;
    try {
      // Unanswered by the next heartbeat, it is given up (a PostgreSQL store drops the connection).
      const { owned, cancelRequested } = await this.store.heartbeat(r.job.id, r.claim, new Date(leaseUntil), progress, this.heartbeatMs);
      if (owned) {
        r.leaseUntil = leaseUntil;
        if (this.running.get(r.job.id) === r) this.watch(r);
      }
      // Taken over by another server (its lease ran out here): lost, not canceled by anyone.
      if (!owned) r.abort.abort(new LeaseLostError());
      else if (cancelRequested) r.abort.abort(new CanceledError());
    } catch (e) {
      if (progress) r.dirty = true;
      this.logger.warn({ err: e, job: r.job.id }, 'cannot renew a job lease');
    } finally {
      r.renewing = false;
    }
  }

  /**
   * Arms the run's watchdog for its present lease: unrenewed until a quarter of a lease before it
   * ends, the run stops — whether its heartbeats failed or are still waiting for an answer —
   * rather than still run when another server may take the job.
   */
  private watch(r: Running): void {
    if (r.watchdog) clearTimeout(r.watchdog);
    const at = r.leaseUntil - LEASE_MARGIN * this.leaseMs;
    r.watchdog = setTimeout(() => {
      r.watchdog = null;
      if (r.abort.signal.aborted) return;
      this.logger.warn({ job: r.job.id, leaseUntil: new Date(r.leaseUntil) }, 'job lease could not be renewed before it runs out; stopping the job');
      r.abort.abort(new LeaseLostError());
    }, Math.max(0, at - Date.now()));
    r.watchdog.unref();
  }

  /**
   * A server of this node that was killed leaves its leases to run out (jobs.lease_seconds);
   * when its process is gone, this restart takes its jobs back at once instead. Leases of other
   * nodes are left to time out: we cannot tell whether they live.
   */
  private async releaseDeadOwners(): Promise<void> {
    try {
      for (const owner of await this.store.leaseOwners()) {
        // A claim is node:pid:random:machine:count; one written before the machine was in it,
        // node:pid:random:count, counts as this machine's.
        const parts = owner.split(':');
        const [host, pid] = parts;
        const machine = parts.length >= 5 ? parts[3] : undefined;
        if (host !== this.node || owner === this.owner || owner.startsWith(`${this.owner}:`) || !pid) continue;
        if (machine !== undefined && machine !== MACHINE) {
          // Another host, or a container since replaced (a new host name): its leases run out (lease_seconds).
          this.logger.warn({ owner, nodeName: this.node }, 'a server of this node_name on another machine (or a container since replaced) holds jobs: they are taken back when its lease runs out; give each server its own node_name');
          continue;
        }
        // Our own pid under another name is an earlier process that had it (containers reuse pid 1).
        if (Number(pid) !== process.pid && isAlive(Number(pid))) continue;
        const n = await this.store.expireLeases(owner);
        if (n) this.logger.warn({ owner, jobs: n }, 'resuming the jobs of a server that stopped without finishing them');
      }
    } catch (e) {
      this.logger.warn({ err: e }, 'cannot check for jobs left by a stopped server');
    }
  }

  private async prune(): Promise<void> {
    if (Date.now() - this.lastPrune < 3_600_000) return;
    this.lastPrune = Date.now();
    const removed = await this.store.prune(new Date(Date.now() - this.settings().keepDays * 86_400_000));
    if (removed) this.logger.info({ removed }, 'removed old finished jobs');
  }
}


/** Tries to record a job's outcome before giving up (1 s, 2 s, 4 s … apart), its lease renewed meanwhile. */
const FINISH_TRIES = 5;

/** The job's lease could not be renewed, and is about to run out. */
class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor() {
    super('the job lease could not be renewed before it ran out');
  }
}

/** Not run: see checkBeforeRun. */
class WithdrawnError extends Error {
  override name = 'WithdrawnError';
}

class CanceledError extends Error {
  override name = 'CanceledError';
  constructor() {
    super('canceled');
  }
}

/** The job after a cancel, which changed nothing when it had ended already: that is said (409), not answered as done. */
export function checkCanceled(job: Job | null): Job | null {
  if (job && job.state !== 'canceled' && !job.cancelRequested) throw new PacsError('CONFLICT', `job ${job.id} has ${job.state} already: nothing to cancel`);
  return job;
}

/** The job after a retry, which a failed or canceled job takes (and a queued one waiting out its back-off, run now): a running or finished one is said (409). */
export function checkRetried(job: Job | null): Job | null {
  if (job && job.state !== 'queued') throw new PacsError('CONFLICT', `job ${job.id} is ${job.state}: only a failed or canceled job can be retried`);
  return job;
}
