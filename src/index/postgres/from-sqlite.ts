// Moving an archive's index from SQLite to PostgreSQL (`pacs migrate-index`): every table is
// copied row for row, keys included, in one PostgreSQL transaction, so a failure leaves the
// target as it was. Both schemas have the same tables and columns (../columns.ts), so a row
// read from SQLite is inserted as it is. Keys are kept because the change log, the stability
// table and the jobs refer to rows and sequence numbers that consumers may hold; the identity
// sequences then continue after the highest key SQLite ever gave (sqlite_sequence remembers
// keys of deleted rows too), so no change sequence number is ever reused.
// archive_totals is not copied: its triggers count the rows as they arrive.

import type Database from 'better-sqlite3';
import type pg from 'pg';
import { PacsError } from '../../core/errors.js';
import { quoteIdent } from '../columns.js';
import { applyPgMigrations } from './migrations.js';

/** Parents before children (foreign keys), then the tables that stand alone. */
const TABLES: readonly { name: string; key: string | null }[] = [
  { name: 'patients', key: 'pk' },
  { name: 'studies', key: 'pk' },
  { name: 'series', key: 'pk' },
  { name: 'instances', key: 'pk' },
  { name: 'changes', key: 'seq' },
  { name: 'jobs', key: 'id' },
  { name: 'known_nodes', key: null },
  { name: 'worklist_entries', key: 'pk' },
  { name: 'mpps_instances', key: null },
  { name: 'stability', key: null },
  { name: 'stability_cursor', key: null },
  { name: 'deid_secret', key: null },
  { name: 'deid_patients', key: null },
  { name: 'instance_metadata', key: null },
  { name: 'cursors', key: null },
  { name: 'patient_links', key: null },
];

/** Cursors, which the target may hold already (migration 10 makes one, a server's first look another): the source's replace them. */
const SEEDED = new Set(['stability_cursor', 'cursors']);

/** Rows per INSERT: PostgreSQL takes at most 65,535 parameters, instances have ~45 columns. */
const BATCH = 500;

export type CopyCounts = Record<string, number>;

/**
 * Copies the SQLite index `source` (migrated to the current version) into the PostgreSQL
 * database of `pool`, which is migrated first and must hold no archive rows, jobs or nodes.
 */
export async function copySqliteToPostgres(source: Database.Database, pool: pg.Pool, onTable?: (table: string, rows: number) => void): Promise<CopyCounts> {
  const client = await pool.connect();
  try {
    await applyPgMigrations(client);
    await client.query('BEGIN');
    try {
      for (const t of TABLES) {
        const { rows } = await client.query<{ n: number }>(`SELECT count(*) AS n FROM ${t.name}`);
        if (Number(rows[0]?.n ?? 0) > 0 && !SEEDED.has(t.name)) {
          throw new PacsError('CONFLICT', `the PostgreSQL index is not empty (table ${t.name} has rows): migrate into a new database or schema`);
        }
      }
      for (const t of SEEDED) await client.query(`DELETE FROM ${t}`);
      const counts: CopyCounts = {};
      for (const t of TABLES) {
        counts[t.name] = await copyTable(source, client, t.name);
        onTable?.(t.name, counts[t.name] ?? 0);
        if (t.key !== null) await continueIdentity(source, client, t.name, t.key);
      }
      await client.query('COMMIT');
      return counts;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  } finally {
    client.release();
  }
}

async function copyTable(source: Database.Database, client: pg.PoolClient, table: string): Promise<number> {
  // rowid order: parents were inserted before their children, keys ascending.
  const statement = source.prepare(`SELECT * FROM ${table} ORDER BY rowid`);
  let batch: Record<string, unknown>[] = [];
  let n = 0;
  const flush = async (): Promise<void> => {
    const [first] = batch;
    if (first === undefined) return;
    const columns = Object.keys(first);
    const values: unknown[] = [];
    const tuples = batch.map((row) => `(${columns.map((c) => `$${values.push(row[c] ?? null)}`).join(', ')})`);
    await client.query(`INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${tuples.join(', ')}`, values);
    n += batch.length;
    batch = [];
  };
  for (const row of statement.iterate() as IterableIterator<Record<string, unknown>>) {
    batch.push(row);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return n;
}

/** The identity of `table` goes on after the highest key SQLite used, deleted rows included. */
async function continueIdentity(source: Database.Database, client: pg.PoolClient, table: string, key: string): Promise<void> {
  const max = source.prepare(`SELECT max(${quoteIdent(key)}) AS m FROM ${table}`).get() as { m: number | null };
  const hasSequence = source.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
  const used = hasSequence ? (source.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?').get(table) as { seq: number } | undefined) : undefined;
  const last = Math.max(max.m ?? 0, used?.seq ?? 0);
  if (last > 0) await client.query('SELECT setval(pg_get_serial_sequence($1, $2), $3)', [table, key, last]);
}
