// A cluster-wide lock per SOP Instance UID, for servers sharing one PostgreSQL index. Within one
// process StoreService's KeyedMutex serialises stores of one instance; across servers nothing
// did, so two servers receiving different content for one UID at once could each take the
// other's freshly placed, not-yet-indexed file for a crash leftover and overwrite it. Holding
// this lock around the duplicate decision and the placement makes that decision one at a time
// for the whole cluster.
//
// Transaction-level advisory locks on a pool of their own: a lock is held on a connection that
// stays idle in its transaction while the caller works on the main pool, so sharing the main
// pool could starve the work it guards (every connection held by a waiting lock). If a lock
// connection dies, PostgreSQL ends its transaction and so releases the lock: no lock outlives a
// crashed server.

import type pg from 'pg';
import { IndexInUseError } from '../errors.js';
import { errorMessage } from '../../core/errors.js';
import { LOCK_WAIT_MS, type PgPoolOptions, beginWithLockWait, createPool, indexFailure } from './db.js';

/**
 * The first key of the two-int4 advisory lock form: a namespace of its own, so instance locks
 * never meet the one-bigint migration lock (or locks other software takes in the database).
 * hashtext() collisions only serialise two unrelated instances now and then, which is harmless.
 */
const INSTANCE_LOCK_SPACE = 0x50494e53; // 'PINS'

/** The namespace of locks held while one task runs cluster-wide (a retention pass): tryHold. */
const TASK_LOCK_SPACE = 0x50544153; // 'PTAS'

/**
 * The namespace of the presence lock: every server holds it shared from its start to its stop, a
 * maintenance tool (reindex, verify --repair) exclusively while it works — so neither starts
 * while the other runs.
 */
const PRESENCE_SPACE = 0x50505253; // 'PPRS'
/** How often a server whose presence connection was lost tries to take the lock again. */
const PRESENCE_RETRY_MS = 5_000;

/**
 * A lock's second key: its name within the index's schema. Advisory locks belong to the whole
 * database, and one database may hold several archives, a schema each (docs/configuration.md):
 * one archive's retention pass made the other's end at once, and their stores waited on each
 * other's locks. (The migration lock stays database-wide: migrations are rare and short.)
 */
const IN_SCHEMA = "hashtext(current_schema() || ':' || $2)";

/** Stores of different instances run side by side up to this many per server, then queue. */
const LOCK_CONNECTIONS = 8;

export class PgInstanceLocks {
  private readonly pool: pg.Pool;
  /** BEGIN with the same bound on lock waits as every write transaction (db.ts). */
  private readonly begin: string;

  /**
   * A store waits for its instance's lock at most lockWaitMs (db.ts): a server frozen with it
   * held kept the other servers' stores of that instance waiting, each holding one of their
   * LOCK_CONNECTIONS, until every store of every instance waited behind them.
   */
  /** The presence lock's connections (holdPresence), made on first use: tools and tests mostly need none. */
  private presencePool: pg.Pool | null = null;

  constructor(private readonly options: PgPoolOptions) {
    this.pool = createPool({ ...options, max: LOCK_CONNECTIONS });
    this.begin = beginWithLockWait(options.lockWaitMs ?? LOCK_WAIT_MS);
  }

  async run<T>(sopInstanceUID: string, fn: () => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw indexFailure(e, 'cannot connect to PostgreSQL');
    }
    let broken = false;
    try {
      try {
        // Sent together (the pool pipelines them, db.ts): one round trip. Were BEGIN to fail, the
        // lock would be taken and released in a transaction of its own, and we stop here anyway.
        await Promise.all([
          client.query(this.begin),
          client.query(`SELECT pg_advisory_xact_lock($1, ${IN_SCHEMA})`, [INSTANCE_LOCK_SPACE, sopInstanceUID]),
        ]);
      } catch (e) {
        broken = true; // its transaction may be open: the connection is closed, not reused
        throw indexFailure(e, 'cannot lock the instance');
      }
      try {
        return await fn();
      } finally {
        // COMMIT releases the lock; if it fails the connection is dropped, which releases it too.
        await client.query('COMMIT').catch(() => {
          broken = true;
        });
      }
    } finally {
      client.release(broken);
    }
  }

  /**
   * Runs `fn` while this server holds the cluster-wide lock named `name`, or returns
   * { ran: false } at once when another session holds it. A session-level advisory lock, not a
   * transaction's: a pass takes minutes and must not sit idle in a transaction that long. The
   * connection dying (server gone, network) releases the lock; `lost` then aborts, so the task
   * stops rather than go on beside the one that may now take the lock.
   */
  async tryHold<T>(name: string, fn: (lost: AbortSignal) => Promise<T>): Promise<{ ran: true; value: T } | { ran: false }> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw indexFailure(e, 'cannot connect to PostgreSQL');
    }
    const lost = new AbortController();
    const onLost = (): void => lost.abort(new Error(`the index connection holding the ${name} lock was lost`));
    client.on('error', onLost);
    client.on('end', onLost);
    let broken = false;
    try {
      let got: boolean;
      try {
        got = (await client.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock($1, ${IN_SCHEMA}) AS ok`, [TASK_LOCK_SPACE, name])).rows[0]?.ok === true;
      } catch (e) {
        broken = true; // the lock may have been taken: dropping the connection releases it
        throw indexFailure(e, `cannot take the ${name} lock`);
      }
      if (!got) return { ran: false };
      try {
        return { ran: true, value: await fn(lost.signal) };
      } finally {
        // An unlock that fails drops the connection, which releases the lock too.
        await client.query(`SELECT pg_advisory_unlock($1, ${IN_SCHEMA})`, [TASK_LOCK_SPACE, name]).catch(() => {
          broken = true;
        });
      }
    } finally {
      client.off('error', onLost);
      client.off('end', onLost);
      client.release(broken || lost.signal.aborted);
    }
  }

  /**
   * Holds the presence lock (shared for a server, exclusive for a maintenance tool) on a
   * connection of its own until the returned release, or throws PacsError CONFLICT when the other
   * kind holds it. A server whose connection is lost (PostgreSQL restarted) takes it again as soon
   * as it can: meanwhile a tool could start, which `onLost` reports.
   */
  async holdPresence(mode: 'shared' | 'exclusive', onLost: (e: Error) => void = () => undefined): Promise<() => Promise<void>> {
    this.presencePool ??= createPool({ ...this.options, max: 2 });
    const pool = this.presencePool;
    let released = false;
    let held: { client: pg.PoolClient; lost: () => void } | null = null;
    const drop = (h: { client: pg.PoolClient; lost: () => void }): void => {
      h.client.off('error', h.lost);
      h.client.off('end', h.lost);
      if (held === h) held = null;
      // Released broken: its session ends, and with it the lock.
      h.client.release(true);
    };
    let retry: NodeJS.Timeout | null = null;
    const take = async (): Promise<void> => {
      const c = await pool.connect().catch((e: unknown) => {
        throw indexFailure(e, 'cannot connect to PostgreSQL');
      });
      let got = false;
      try {
        const fn = mode === 'shared' ? 'pg_try_advisory_lock_shared' : 'pg_try_advisory_lock';
        got = (await c.query<{ ok: boolean }>(`SELECT ${fn}($1, ${IN_SCHEMA}) AS ok`, [PRESENCE_SPACE, 'presence'])).rows[0]?.ok === true;
      } catch (e) {
        c.release(true);
        throw indexFailure(e, 'cannot take the presence lock');
      }
      if (!got) {
        c.release(true);
        throw new IndexInUseError(
          mode === 'shared'
            ? 'a maintenance tool (pacs reindex or verify --repair) is working on this index: wait for it to end'
            : 'servers are running on this index: stop every server that shares it first',
        );
      }
      const h = {
        client: c,
        lost: (): void => {
          drop(h);
          if (released) return;
          if (mode === 'shared') {
            onLost(new Error("the connection holding this process's presence on the index was lost"));
            again();
            return;
          }
          // A maintenance tool's lock: taken again at once, or servers may have started — the
          // tool is told, and must stop (it went on, rebuilding an index servers were using).
          take().catch((e: unknown) => onLost(new Error(`the connection holding the maintenance lock on the index was lost, and it could not be taken again (${errorMessage(e)})`)));
        },
      };
      c.on('error', h.lost);
      c.on('end', h.lost);
      held = h;
    };
    const again = (): void => {
      retry = setTimeout(() => {
        retry = null;
        if (!released) take().catch(() => again());
      }, PRESENCE_RETRY_MS);
      retry.unref();
    };
    await take();
    return async () => {
      released = true;
      if (retry) clearTimeout(retry);
      if (held) drop(held);
    };
  }

  close(): Promise<void> {
    return Promise.all([this.pool.end(), this.presencePool?.end()]).then(() => undefined);
  }
}
