// The job queue on PostgreSQL. claim() picks the next runnable job with FOR UPDATE SKIP LOCKED:
// two servers claiming at the same moment take two different jobs (or one takes it and the
// other none) without waiting on each other's row locks.
import type { Job, JobFilter, JobOutcome, JobProgress, JobStore, NewJob } from '../jobs.js';
import { type PgTransact, limitParam, named } from './db.js';
import { type JobRow, toJob } from '../row-maps.js';

const FILTER = '($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2)';


/** Finished jobs deleted per transaction when old ones are removed. */
const PRUNE_BATCH = 5000;
export class PgJobStore implements JobStore {
  constructor(private readonly transact: PgTransact) {}

  enqueue(job: NewJob): Promise<{ job: Job; created: boolean }> {
    // ON CONFLICT DO NOTHING: a server enqueueing the same key at the same moment waits for the
    // other's insert and then finds its row, instead of failing.
    return this.transact('write', async (db) => {
      const key = job.dedupeKey ?? null;
      const now = Date.now();
      const inserted = await db.query<JobRow>(
        `INSERT INTO jobs (type, state, payload, max_attempts, dedupe_key, run_after, created_at, updated_at)
         VALUES ($1, 'queued', $2, $3, $4, $5, $6, $6) ON CONFLICT (dedupe_key) DO NOTHING RETURNING *`,
        [job.type, JSON.stringify(job.payload), job.maxAttempts, key, (job.runAfter ?? new Date(now)).getTime(), now],
      );
      const row = inserted.rows[0];
      if (row !== undefined) return { job: toJob(row), created: true };
      const existing = (await db.query<JobRow>('SELECT * FROM jobs WHERE dedupe_key = $1', [key])).rows[0];
      if (existing === undefined) throw new Error('a job with this dedupe key was neither inserted nor found');
      return { job: toJob(existing), created: false };
    });
  }

  claim(owner: string, now: Date, leaseUntil: Date, types: readonly string[], exclude: readonly number[] = []): Promise<Job | null> {
    return this.transact('write', async (db) => {
      const t = now.getTime();
      // A job whose server died during its last allowed attempt fails rather than running again.
      await db.query(
        `UPDATE jobs SET state = 'failed', finished_at = $1, updated_at = $1, lease_owner = NULL, lease_until = NULL,
         last_error = coalesce(last_error, 'the server running it stopped during the last attempt')
         WHERE state = 'running' AND lease_until < $1 AND attempts >= max_attempts`,
        [t],
      );
      const next = await db.query<{ id: number }>(
        `SELECT id FROM jobs WHERE type = ANY($2::text[]) AND id <> ALL($3::bigint[]) AND
         ((state = 'queued' AND run_after <= $1) OR (state = 'running' AND lease_until < $1))
         ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [t, types, exclude],
      );
      const id = next.rows[0]?.id;
      if (id === undefined) return null;
      const [sql, params] = named(
        `UPDATE jobs SET state = 'running', lease_owner = @owner, lease_until = @leaseUntil, attempts = attempts + 1,
         started_at = coalesce(started_at, @now), updated_at = @now WHERE id = @id RETURNING *`,
        { owner, leaseUntil: leaseUntil.getTime(), now: t, id },
      );
      const row = (await db.query<JobRow>(sql, params)).rows[0];
      return row === undefined ? null : toJob(row);
    });
  }

  heartbeat(id: number, owner: string, leaseUntil: Date, progress: JobProgress | null, timeoutMs?: number): Promise<{ owned: boolean; cancelRequested: boolean }> {
    return this.transact(
      'write',
      async (db) => {
        const r = (
          await db.query<{ cancel_requested: number }>(
            `UPDATE jobs SET lease_until = $1, progress = coalesce($2, progress), updated_at = $3
             WHERE id = $4 AND lease_owner = $5 AND state = 'running' RETURNING cancel_requested`,
            [leaseUntil.getTime(), progress ? JSON.stringify(progress) : null, Date.now(), id, owner],
          )
        ).rows[0];
        return { owned: r !== undefined, cancelRequested: r !== undefined && r.cancel_requested !== 0 };
      },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }

  finish(id: number, owner: string, o: JobOutcome): Promise<boolean> {
    return this.transact('write', async (db) => {
      const now = Date.now();
      const r = await db.query(
        `UPDATE jobs SET state = $1, last_error = $2, progress = coalesce($3, progress), run_after = coalesce($4, run_after),
         attempts = greatest(attempts - $9, 0), finished_at = $5, updated_at = $6, lease_owner = NULL, lease_until = NULL
         WHERE id = $7 AND lease_owner = $8 AND state = 'running' RETURNING id`,
        [o.state, o.error ?? null, o.progress ? JSON.stringify(o.progress) : null, o.runAfter?.getTime() ?? null, o.state === 'queued' ? null : now, now, id, owner, o.attemptReturned ? 1 : 0],
      );
      return r.rowCount > 0;
    });
  }

  cancel(id: number): Promise<Job | null> {
    return this.transact('write', async (db) => {
      const now = Date.now();
      const r =
        (await db.query<JobRow>(`UPDATE jobs SET state = 'canceled', finished_at = $1, updated_at = $1 WHERE id = $2 AND state = 'queued' RETURNING *`, [now, id])).rows[0] ??
        (await db.query<JobRow>(`UPDATE jobs SET cancel_requested = 1, updated_at = $1 WHERE id = $2 AND state = 'running' RETURNING *`, [now, id])).rows[0] ??
        (await db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id])).rows[0];
      return r ? toJob(r) : null;
    });
  }

  retry(id: number): Promise<Job | null> {
    return this.transact('write', async (db) => {
      const r =
        (
          await db.query<JobRow>(
            // As on SQLite: a job waiting out its back-off runs now, its attempts counted on.
            `UPDATE jobs SET attempts = CASE WHEN state = 'queued' THEN attempts ELSE 0 END, state = 'queued', cancel_requested = 0, run_after = $1, finished_at = NULL, updated_at = $1
             WHERE id = $2 AND (state IN ('failed', 'canceled') OR (state = 'queued' AND run_after > $1 AND cancel_requested = 0)) RETURNING *`,
            [Date.now(), id],
          )
        ).rows[0] ?? (await db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id])).rows[0];
      return r ? toJob(r) : null;
    });
  }

  get(id: number): Promise<Job | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<JobRow>('SELECT * FROM jobs WHERE id = $1', [id])).rows[0];
      return r ? toJob(r) : null;
    });
  }

  byDedupeKey(key: string): Promise<Job | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<JobRow>('SELECT * FROM jobs WHERE dedupe_key = $1', [key])).rows[0];
      return r ? toJob(r) : null;
    });
  }

  list(f: JobFilter): Promise<{ jobs: Job[]; total: number }> {
    return this.transact('read', async (db) => {
      const filter = [f.state ?? null, f.type ?? null];
      const jobs = await db.query<JobRow>(`SELECT * FROM jobs WHERE ${FILTER} ORDER BY id DESC LIMIT $3 OFFSET $4`, [...filter, limitParam(f.limit), f.offset]);
      const total = await db.query<{ n: number }>(`SELECT count(*) AS n FROM jobs WHERE ${FILTER}`, filter);
      return { jobs: jobs.rows.map(toJob), total: total.rows[0]?.n ?? 0 };
    });
  }

  leaseOwners(): Promise<string[]> {
    return this.transact('read', async (db) =>
      (await db.query<{ lease_owner: string }>(`SELECT DISTINCT lease_owner FROM jobs WHERE state = 'running' AND lease_owner IS NOT NULL`)).rows.map((r) => r.lease_owner),
    );
  }

  activeNaming(uid: string): Promise<number> {
    return this.transact('read', async (db) =>
      Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM jobs WHERE state IN ('queued', 'running') AND strpos(payload::text, $1) > 0`, [JSON.stringify(uid)])).rows[0]?.n ?? 0),
    );
  }

  expireLeases(owner: string): Promise<number> {
    return this.transact('write', async (db) =>
      (await db.query(`UPDATE jobs SET lease_until = 0, updated_at = $1 WHERE state = 'running' AND lease_owner = $2`, [Date.now(), owner])).rowCount,
    );
  }

  /**
   * In batches, each its own transaction, rows another server is deleting skipped: one DELETE of
   * millions of rows stalled claiming, and servers pruning in the same hour waited on each other's
   * rows past the lock timeout.
   */
  async prune(before: Date): Promise<number> {
    let removed = 0;
    for (;;) {
      const n = await this.transact('write', async (db) =>
        (
          await db.query(
            `DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'canceled') AND finished_at < $1 LIMIT ${PRUNE_BATCH} FOR UPDATE SKIP LOCKED)`,
            [before.getTime()],
          )
        ).rowCount,
      );
      removed += n ?? 0;
      if ((n ?? 0) < PRUNE_BATCH) return removed;
    }
  }
}
