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
import { type PgPoolOptions, createPool, indexFailure } from './db.js';

/**
 * The first key of the two-int4 advisory lock form: a namespace of its own, so instance locks
 * never meet the one-bigint migration lock (or locks other software takes in the database).
 * hashtext() collisions only serialise two unrelated instances now and then, which is harmless.
 */
const INSTANCE_LOCK_SPACE = 0x50494e53; // 'PINS'

/** Stores of different instances run side by side up to this many per server, then queue. */
const LOCK_CONNECTIONS = 8;

export class PgInstanceLocks {
  private readonly pool: pg.Pool;

  constructor(options: PgPoolOptions) {
    this.pool = createPool({ ...options, max: LOCK_CONNECTIONS });
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
        await Promise.all([client.query('BEGIN'), client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [INSTANCE_LOCK_SPACE, sopInstanceUID])]);
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

  close(): Promise<void> {
    return this.pool.end();
  }
}
