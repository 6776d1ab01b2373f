// The connection pool and the transactions of the PostgreSQL index. Every operation of the
// index is one transaction run by transact(): writes at READ COMMITTED, where row locks and
// re-evaluated UPDATEs keep concurrent servers' counts right, and the whole transaction is run
// again when PostgreSQL gives up on it (serialization failure, deadlock) or, where the caller
// allows it, when another server inserted the same parent row first (unique violation): the
// second run then finds the row and files under it.

import pg from 'pg';
import { PacsError, errorMessage, isPacsError } from '../../core/errors.js';
import { quoteIdent } from '../columns.js';
import { UncertainCommit, indexFailure } from '../errors.js';

/** What the sub-stores run their SQL on: one client inside one transaction. */
export interface Db {
  query<R extends object = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<{ rows: R[]; rowCount: number }>;
  /**
   * In a write transaction: sends its COMMIT now, behind the statements sent before it and not
   * yet answered, so it leaves with them (the writer's last statements and the COMMIT in one
   * round trip: the change-log lock taken by the last of them is held one round trip less).
   * The transaction is then not committed again. A statement before it that failed makes it a
   * rollback, and that failure is what the caller sees. Rejects with UncertainCommit when the
   * connection failed during it.
   */
  commit?(): Promise<void>;
}

/**
 * 'read' and 'write' run in a transaction; 'statement' is one read-only statement on its own,
 * which sees one snapshot by itself: no BEGIN and COMMIT, two round trips fewer.
 */
export type Kind = 'read' | 'write' | 'statement';
export interface TransactOptions {
  /**
   * Run again on the violations another server's concurrent work causes: unique (23505, it
   * inserted the same new series or study first) and foreign key (23503, it deleted the series
   * or study we had read, with its last instance, before our insert referred to it).
   */
  retryRaces?: boolean;
  /**
   * Give up after this long (waiting for a connection included) and drop the connection: for
   * short writes whose answer is worthless late (a job's lease renewal), which must not wait on
   * a connection that no longer answers (a network partition, a server failed over) until TCP
   * gives up, many minutes later. The next call then connects afresh. A write given up may still
   * have taken effect. Nothing else has a timeout: migrations and large queries take their time.
   */
  timeoutMs?: number;
}
export type PgTransact = <T>(kind: Kind, fn: (db: Db) => Promise<T>, options?: TransactOptions) => Promise<T>;

export interface PgPoolOptions {
  url: string;
  /** Tables live in this schema (tests use one per index); default: the URL's search_path. */
  schema?: string;
  /** Connections per server (default 10). */
  max?: number;
  /**
   * The longest a write waits for a lock (a row, the change log's, an instance's) before it
   * fails and its sender tries again; default LOCK_WAIT_MS. A server frozen with one held (a
   * paused VM) otherwise stalled every other server's stores for as long.
   */
  lockWaitMs?: number;
}

export const LOCK_WAIT_MS = 30_000;

const RETRIED = new Set(['40001', '40P01']); // serialization_failure, deadlock_detected
const RACES = new Set(['23505', '23503']); // unique_violation, foreign_key_violation
const MAX_ATTEMPTS = 8;

// BIGINT (int8) and COUNT come back as strings by default, to be safe above 2^53; the index
// keeps ms timestamps, counts and byte sizes, all far below it, and the interface wants numbers.
const INT8 = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export const sqlState = (e: unknown): string | undefined =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : undefined;

/**
 * Whether a failed COMMIT may still have been committed: the answer was lost with the
 * connection (no SQLSTATE: a socket error or end), or the server failed around it (class 08
 * connection exception, 57 operator intervention such as a shutdown, 58 system error, XX
 * internal error). A COMMIT that PostgreSQL answered with another error (a serialization
 * failure, a deferred constraint) was rolled back.
 */
export function commitOutcomeUnknown(e: unknown): boolean {
  const code = sqlState(e);
  // Node's socket errors carry a `code` too (ECONNRESET, EPIPE): not an answer from the server.
  return code === undefined || !/^[0-9A-Z]{5}$/.test(code) || /^(08|57|58|XX)/.test(code);
}

/** The longest wait for a connection, new or from the pool's queue. */
const CONNECT_TIMEOUT_MS = 60_000;

export function createPool(options: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 10,
    types,
    // Statements issued before the previous one's answer go out at once, answered in order
    // (node-pg's pipelining): the writer sends those that do not wait on each other together.
    pipeline: true,
    // A server gone without a word (a failover, a cut network) is found by TCP keepalives within
    // a minute or two, not the system's two hours; and no one waits for ever for a connection
    // (the pool's queue included): an answer of failure lets the sender try again.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    ...(options.schema === undefined ? {} : { options: `-c search_path=${quoteSchema(options.schema)}` }),
  });
  // An idle client losing its server (restart, network) must not crash the process; the pool
  // drops it and the next query connects again.
  pool.on('error', () => undefined);
  // Nor a client checked out: node-pg's pool listens to a client's errors only while it is idle,
  // and a server that ends the connection between two statements (pg_terminate_backend, a
  // restart or a failover under load; an instance lock held while its store runs) emitted an
  // 'error' nobody listened to, which ended the process. The statement then under way fails
  // with its own error, later ones fail as the client is no longer queryable, and the pool drops
  // the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** A schema name as an SQL identifier. */
export const quoteSchema = quoteIdent;

/**
 * The client's statements through node-pg's callback form, in a promise of our own. Measured
 * (300 queries answering 3,346 studies each, the same client and SQL): through the promise that
 * `client.query(sql, params)` returns, each scavenge of V8's young generation found two or three
 * answers' rows still alive and promoted them (10–18 ms each), so the old generation filled and
 * was collected every 30 queries — 2.3–2.6 ms of collection per query, p99 27–33 ms; through the
 * callback, the scavenges found nothing alive (0.5 ms), 0.26 ms per query, p99 17–24 ms.
 */
function callbackDb(client: pg.PoolClient): Db {
  const corked = corker(client);
  return {
    query: <R extends object>(sql: string, params: readonly unknown[] = []) =>
      new Promise<{ rows: R[]; rowCount: number }>((resolve, reject) => {
        corked();
        client.query<R>(sql, params as unknown[], (err, result) => {
          if (err) reject(err);
          else resolve({ rows: result.rows, rowCount: result.rowCount ?? 0 });
        });
      }),
  };
}

/**
 * Statements issued in one go (the pipelined ones of the writer) leave in one write: the socket
 * is corked at the first and uncorked once the code issuing them has run. node-pg writes each
 * statement as its own system call otherwise, and on a virtual machine each of those costs the
 * sender ~0.1–0.2 ms (the wake-up of the PostgreSQL backend is done in it).
 */
function corker(client: pg.PoolClient): () => void {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  if (typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return () => undefined;
  let corked = false;
  return () => {
    if (corked) return;
    corked = true;
    stream.cork!();
    queueMicrotask(() => {
      corked = false;
      stream.uncork!();
    });
  };
}

/**
 * Statements sent without waiting for one another: the pool's clients pipeline them
 * (createPool), and PostgreSQL runs them in the order sent. Each is marked handled at once (a failure must not be an
 * unhandled rejection while another statement is awaited); `settle` waits for all and throws the
 * first failure — the earliest in the pipeline, as answers come back in order, so a unique
 * violation is seen as such and not as the 'transaction aborted' of the statements after it.
 */
export class Pipelined {
  private sent: Promise<unknown>[] = [];

  send<T>(statement: Promise<T>): Promise<T> {
    statement.catch(() => undefined);
    this.sent.push(statement);
    return statement;
  }

  async settle(): Promise<void> {
    const sent = this.sent;
    this.sent = [];
    await Promise.all(sent);
  }

  /** One more statement whose answer is needed now: it and all sent before it, earliest failure first. */
  async wait<T>(statement: Promise<T>): Promise<T> {
    this.send(statement);
    await this.settle();
    return statement;
  }
}

/**
 * BEGIN of a transaction that waits at most `lockWaitMs` for any lock: one simple-protocol
 * message (no parameters), so the bound comes with BEGIN and costs no round trip more.
 */
export const beginWithLockWait = (lockWaitMs: number): string => `BEGIN; SET LOCAL lock_timeout = ${Math.max(1, Math.trunc(lockWaitMs))}`;

/** A transaction runner on the pool, with the retries described at the top. */
export function transactor(pool: pg.Pool, isReadonly: () => boolean, lockWaitMs = LOCK_WAIT_MS): PgTransact {
  const beginWrite = beginWithLockWait(lockWaitMs);
  return async <T>(kind: Kind, fn: (db: Db) => Promise<T>, options: TransactOptions = {}): Promise<T> => {
    if (kind === 'write' && isReadonly()) throw new PacsError('INDEX_FAILURE', 'the index is open read-only');
    const deadline = options.timeoutMs === undefined ? null : Date.now() + options.timeoutMs;
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await beforeDeadline(pool.connect(), deadline, (late) => late.release());
      } catch (e) {
        throw indexFailure(e, 'cannot connect to PostgreSQL');
      }
      let broken = false;
      let committed = false;
      const inTransaction = kind !== 'statement';
      // Every statement of the transaction, BEGIN and COMMIT included, on one path.
      const path = callbackDb(client);
      const commit = async (): Promise<void> => {
        committed = true;
        try {
          await path.query('COMMIT');
        } catch (e) {
          if (!commitOutcomeUnknown(e)) throw e;
          broken = true;
          throw new UncertainCommit(`index: the connection failed during COMMIT, which may have taken effect: ${errorMessage(e)}`, e);
        }
      };
      const db: Db = kind === 'write' ? { query: path.query, commit } : path;
      const body = async (): Promise<T> => {
        // Reads see one snapshot, even for answers made of several statements.
        if (inTransaction) await db.query(kind === 'read' ? 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' : beginWrite);
        const result = await fn(db);
        if (inTransaction && !committed) await commit();
        return result;
      };
      try {
        // Given up: the connection is dropped (released broken), which ends its transaction.
        return await beforeDeadline(body(), deadline, () => undefined, () => (broken = true));
      } catch (e) {
        if (inTransaction && !broken) {
          await db.query('ROLLBACK').catch(() => {
            broken = true;
          });
        }
        const code = sqlState(e);
        const again = code !== undefined && (RETRIED.has(code) || (RACES.has(code) && options.retryRaces === true));
        if (again && attempt < MAX_ATTEMPTS) {
          // A short random pause, growing, so two servers that collided do not collide again.
          await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
          continue;
        }
        throw isPacsError(e) ? e : indexFailure(e);
      } finally {
        client.release(broken);
      }
    }
  };
}

export { indexFailure };

/**
 * `work`, unless `deadline` (ms) passes first: then it fails with a timeout, `onTimeout` runs,
 * and what `work` yields later goes to `late` (a connection to give back), its failure ignored.
 */
function beforeDeadline<T>(work: Promise<T>, deadline: number | null, late: (value: T) => void, onTimeout?: () => void): Promise<T> {
  if (deadline === null) return work;
  return new Promise<T>((resolve, reject) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      onTimeout?.();
      reject(new PacsError('INDEX_FAILURE', 'index: PostgreSQL did not answer in time (a write may have taken effect)'));
    }, Math.max(0, deadline - Date.now()));
    work.then(
      (value) => {
        clearTimeout(timer);
        if (timedOut) late(value);
        else resolve(value);
      },
      (e: unknown) => {
        clearTimeout(timer);
        if (!timedOut) reject(e);
      },
    );
  });
}

/**
 * SQL written with @name parameters (as the SQLite statements are) → PostgreSQL's $n, with
 * the values in order. Names repeat freely; each becomes one $n.
 */
export function named(sql: string, params: Readonly<Record<string, unknown>>): [string, unknown[]] {
  const order: string[] = [];
  const text = sql.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    if (!(name in params)) throw new Error(`no value for @${name}`);
    let i = order.indexOf(name);
    if (i === -1) i = order.push(name) - 1;
    return `$${i + 1}`;
  });
  return [text, order.map((n) => params[n] ?? null)];
}

/** A LIMIT parameter: the interface's "negative is no limit" is NULL here (LIMIT NULL is LIMIT ALL). */
export const limitParam = (limit: number): number | null => (limit < 0 ? null : limit);
