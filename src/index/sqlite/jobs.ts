// The job queue on SQLite. Claims run in IMMEDIATE transactions, so two processes sharing the
// file never take the same job: the second waits for the first's lock and then sees the lease.
import type Database from 'better-sqlite3';
import type { Job, JobFilter, JobOutcome, JobProgress, JobStore, NewJob } from '../jobs.js';
import { type JobRow, toJob } from '../row-maps.js';

/**
 * Runs fn in a transaction: 'read' deferred, 'write' immediate and durable before it resolves,
 * 'cache' immediate without waiting for the journal's sync (rows that can be made again).
 */

/** Finished jobs deleted per transaction when old ones are removed. */
const PRUNE_BATCH = 5000;
export type Transact = <T>(kind: 'read' | 'write' | 'cache', fn: () => T) => Promise<T>;

export class SqliteJobStore implements JobStore {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly transact: Transact,
  ) {
    const p = <R = JobRow>(sql: string) => db.prepare<unknown[], R>(sql);
    this.s = {
      byId: p('SELECT * FROM jobs WHERE id = ?'),
      owners: p<{ lease_owner: string }>(`SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL`),
      // instr, not LIKE: a UID's characters are never LIKE's wildcards, but nothing to escape is safer.
      naming: p<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running') AND instr(payload, ?) > 0`),
      expireLease: p(`UPDATE jobs SET lease_until = 0, updated_at = ? WHERE state = 'running' AND lease_owner = ?`),
      byKey: p('SELECT * FROM jobs WHERE dedupe_key = ?'),
      insert: p(`INSERT INTO jobs (type, state, payload, max_attempts, dedupe_key, run_after, created_at, updated_at)
        VALUES (?, 'queued', ?, ?, ?, ?, ?, ?) RETURNING *`),
      // A job whose server died during its last allowed attempt fails rather than running again.
      expireSpent: p(`UPDATE jobs SET state = 'failed', finished_at = @now, updated_at = @now, lease_owner = NULL, lease_until = NULL,
        last_error = coalesce(last_error, 'the server running it stopped during the last attempt')
        WHERE state = 'running' AND lease_until < @now AND attempts >= max_attempts`),
      next: p<{ id: number }>(`SELECT id FROM jobs WHERE type IN (SELECT value FROM json_each(@types)) AND
        id NOT IN (SELECT value FROM json_each(@exclude)) AND
        ((state = 'queued' AND run_after <= @now) OR (state = 'running' AND lease_until < @now))
        ORDER BY run_after, id LIMIT 1`),
      take: p(`UPDATE jobs SET state = 'running', lease_owner = @owner, lease_until = @leaseUntil, attempts = attempts + 1,
        started_at = coalesce(started_at, @now), updated_at = @now WHERE id = @id RETURNING *`),
      heartbeat: p<{ cancel_requested: number }>(`UPDATE jobs SET lease_until = ?, progress = coalesce(?, progress), updated_at = ?
        WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING cancel_requested`),
      finish: p<{ id: number }>(`UPDATE jobs SET state = ?, last_error = ?, progress = coalesce(?, progress), run_after = coalesce(?, run_after),
        attempts = max(attempts - ?, 0), finished_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
        WHERE id = ? AND lease_owner = ? AND state = 'running' RETURNING id`),
      cancelQueued: p(`UPDATE jobs SET state = 'canceled', finished_at = @now, updated_at = @now WHERE id = @id AND state = 'queued' RETURNING *`),
      cancelRunning: p(`UPDATE jobs SET cancel_requested = 1, updated_at = @now WHERE id = @id AND state = 'running' RETURNING *`),
      // A failed or canceled job queued again from its first attempt; one waiting out the back-off
      // after a failed attempt runs now (its attempts counted on): "retry" did nothing to it.
      retry: p(`UPDATE jobs SET attempts = CASE WHEN state = 'queued' THEN attempts ELSE 0 END, state = 'queued', cancel_requested = 0, run_after = @now, finished_at = NULL, updated_at = @now
        WHERE id = @id AND (state IN ('failed', 'canceled') OR (state = 'queued' AND run_after > @now AND cancel_requested = 0)) RETURNING *`),
      list: p(`SELECT * FROM jobs WHERE (@state IS NULL OR state = @state) AND (@type IS NULL OR type = @type) ORDER BY id DESC LIMIT @limit OFFSET @offset`),
      count: p<{ n: number }>('SELECT count(*) AS n FROM jobs WHERE (@state IS NULL OR state = @state) AND (@type IS NULL OR type = @type)'),
      prune: p(`DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'canceled') AND finished_at < ? LIMIT ${PRUNE_BATCH})`),
    };
  }

  enqueue(job: NewJob): Promise<{ job: Job; created: boolean }> {
    return this.transact('write', () => {
      const key = job.dedupeKey ?? null;
      const existing = key === null ? undefined : this.s.byKey.get(key);
      if (existing) return { job: toJob(existing), created: false };
      const now = Date.now();
      const row = this.s.insert.get(job.type, JSON.stringify(job.payload), job.maxAttempts, key, (job.runAfter ?? new Date(now)).getTime(), now, now)!;
      return { job: toJob(row), created: true };
    });
  }

  claim(owner: string, now: Date, leaseUntil: Date, types: readonly string[], exclude: readonly number[] = []): Promise<Job | null> {
    return this.transact('write', () => {
      const t = now.getTime();
      this.s.expireSpent.run({ now: t });
      const next = this.s.next.get({ now: t, types: JSON.stringify(types), exclude: JSON.stringify(exclude) });
      if (!next) return null;
      return toJob(this.s.take.get({ owner, leaseUntil: leaseUntil.getTime(), now: t, id: next.id })!);
    });
  }

  heartbeat(id: number, owner: string, leaseUntil: Date, progress: JobProgress | null): Promise<{ owned: boolean; cancelRequested: boolean }> {
    return this.transact('write', () => {
      const r = this.s.heartbeat.get(leaseUntil.getTime(), progress ? JSON.stringify(progress) : null, Date.now(), id, owner);
      return { owned: r !== undefined, cancelRequested: r !== undefined && r.cancel_requested !== 0 };
    });
  }

  finish(id: number, owner: string, o: JobOutcome): Promise<boolean> {
    return this.transact('write', () => {
      const now = Date.now();
      const r = this.s.finish.get(o.state, o.error ?? null, o.progress ? JSON.stringify(o.progress) : null, o.runAfter?.getTime() ?? null, o.attemptReturned ? 1 : 0, o.state === 'queued' ? null : now, now, id, owner);
      return r !== undefined;
    });
  }

  cancel(id: number): Promise<Job | null> {
    return this.transact('write', () => {
      const now = Date.now();
      const r = this.s.cancelQueued.get({ now, id }) ?? this.s.cancelRunning.get({ now, id }) ?? this.s.byId.get(id);
      return r ? toJob(r) : null;
    });
  }

  retry(id: number): Promise<Job | null> {
    return this.transact('write', () => {
      const r = this.s.retry.get({ now: Date.now(), id }) ?? this.s.byId.get(id);
      return r ? toJob(r) : null;
    });
  }

  get(id: number): Promise<Job | null> {
    return this.transact('read', () => {
      const r = this.s.byId.get(id);
      return r ? toJob(r) : null;
    });
  }

  byDedupeKey(key: string): Promise<Job | null> {
    return this.transact('read', () => {
      const r = this.s.byKey.get(key);
      return r ? toJob(r) : null;
    });
  }

  list(f: JobFilter): Promise<{ jobs: Job[]; total: number }> {
    return this.transact('read', () => ({
      jobs: this.s.list.all({ state: f.state ?? null, type: f.type ?? null, limit: f.limit, offset: f.offset }).map(toJob),
      total: this.s.count.get({ state: f.state ?? null, type: f.type ?? null })!.n,
    }));
  }

  leaseOwners(): Promise<string[]> {
    return this.transact('read', () => this.s.owners.all().map((r) => r.lease_owner));
  }

  activeNaming(uid: string): Promise<number> {
    return this.transact('read', () => this.s.naming.get(JSON.stringify(uid))!.n);
  }

  expireLeases(owner: string): Promise<number> {
    return this.transact('write', () => this.s.expireLease.run(Date.now(), owner).changes);
  }

  /**
   * In batches, each its own transaction: rules acting on every instance make a job each, and one
   * DELETE of millions of rows held the index (and, SQLite being in-process, every store) for its
   * whole length.
   */
  async prune(before: Date): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = await this.transact('write', () => this.s.prune.run(before.getTime()).changes);
      removed += n;
      if (n < PRUNE_BATCH) return removed;
      await new Promise((resolve) => setImmediate(resolve)); // others take their turn between batches
    }
  }
}
