// The index backends the contract suites run against. SQLite always; PostgreSQL when
// PACS_TEST_PG_URL names a server (.ci/run starts one: scripts/test-postgres.sh). Without it
// the PostgreSQL suites are skipped with the reason, except under CI=true, where a missing
// server is a failure: CI must never pass by skipping them.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import { quoteSchema } from '../../src/index/postgres/db.js';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { MIGRATIONS, applyMigrations } from '../../src/index/sqlite/migrations.js';
import { PG_MIGRATIONS, applyPgMigrations } from '../../src/index/postgres/migrations.js';

export const PG_URL = process.env.PACS_TEST_PG_URL ?? null;
export const PG_SKIP = 'PostgreSQL tests skipped: set PACS_TEST_PG_URL=postgres://… (scripts/test-postgres.sh start) to run them';

/**
 * Calls `define` when PostgreSQL is available; otherwise registers one skipped test saying why,
 * or, under CI, one failing test.
 */
export function withPostgres(title: string, define: (url: string) => void): void {
  if (PG_URL !== null) return define(PG_URL);
  if (process.env.CI === 'true') {
    test(title, () => {
      throw new Error('CI=true but PACS_TEST_PG_URL is not set: .ci/run should have started PostgreSQL');
    });
  } else {
    test(title, { skip: PG_SKIP }, () => undefined);
  }
}

let admin: pg.Pool | null = null;
const schemas: string[] = [];
/** Drops the schemas made here and closes their pool (after each test file, or by a script that is no test). */
export async function dropTestSchemas(): Promise<void> {
  if (admin === null) return;
  const pool = admin;
  admin = null;
  for (const s of schemas.splice(0)) await pool.query(`DROP SCHEMA IF EXISTS ${quoteSchema(s)} CASCADE`).catch(() => undefined);
  await pool.end();
}
after(dropTestSchemas);

/** A new empty schema on the test server: each index (and each test) starts from nothing. */
export async function freshSchema(url: string): Promise<string> {
  admin ??= new pg.Pool({ connectionString: url, max: 2 });
  const name = `t_${randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE SCHEMA ${quoteSchema(name)}`);
  schemas.push(name);
  return name;
}

/** The URL with the schema as each connection's search_path (libpq's options parameter). */
export const inSchema = (url: string, schema: string): string => {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
};

/** A fresh, migrated PostgreSQL index in a schema of its own. */
export async function openPostgres(url: string, schema?: string): Promise<PostgresIndex> {
  const index = PostgresIndex.open({ url, schema: schema ?? (await freshSchema(url)), max: 4 });
  await index.migrate();
  return index;
}

/** One place an index lives (a file, a schema): open() may be called again after close(). */
export type Place = () => Promise<ArchiveIndex>;

export interface Backend {
  name: string;
  /** Registers the backend's suites: `define` receives a maker of fresh, empty places. */
  run(define: (fresh: () => Promise<Place>) => void): void;
}

const dir = mkdtempSync(join(tmpdir(), 'pacs-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

export const BACKENDS: readonly Backend[] = [
  {
    name: 'SQLite',
    run: (define) =>
      define(async () => {
        const path = join(dir, `index-${++n}.db`);
        return async () => {
          const index = SqliteIndex.open({ path, walMode: true });
          await index.migrate();
          return index;
        };
      }),
  },
  {
    name: 'PostgreSQL',
    run: (define) =>
      withPostgres('PostgreSQL backend', (url) =>
        define(async () => {
          const schema = await freshSchema(url);
          return () => openPostgres(url, schema);
        }),
      ),
  },
];

/** An index as the migrations before some version left it, with raw SQL on its connection. */
export interface OldIndex {
  backend: 'sqlite' | 'postgres';
  index: ArchiveIndex;
  exec(sql: string): Promise<void>;
  /** The first column of each row, as text. */
  column(sql: string): Promise<string[]>;
}

/**
 * Migrations that only add what this version's writes need (a column no earlier migration reads
 * or rewrites): applied, and recorded, before the tests of older migrations fill their index
 * through storeInstance, which could not write a schema without them. Migration 15: the mark of
 * demographics set from outside DICOM (src/index/patient-sql.ts); 16: the merged-patient links
 * its patient upsert reads (src/index/patient-links.ts).
 */
const NEEDED_BY_WRITES: readonly number[] = [15, 16];
const before = (version: number) => (m: { version: number }): boolean => m.version < version || (NEEDED_BY_WRITES.includes(m.version) && m.version !== version);

/**
 * Tests one migration on SQLite and, when available, PostgreSQL: `check` gets an index the
 * migrations before `version` made (to fill with rows as an older version wrote them; with those
 * of NEEDED_BY_WRITES too) and calls `index.migrate()` itself.
 */
export function migrationTests(version: number, check: (old: OldIndex) => Promise<void>): void {
  test('SQLite', async () => {
    const index = SqliteIndex.open({ path: join(dir, `before-${version}-${++n}.db`), walMode: true });
    try {
      applyMigrations(index.db, MIGRATIONS.filter(before(version)));
      await check({
        backend: 'sqlite',
        index,
        exec: async (sql) => void index.db.exec(sql),
        column: async (sql) => index.db.prepare(sql).pluck().all().map(String),
      });
    } finally {
      await index.close();
    }
  });
  withPostgres('PostgreSQL', (url) =>
    test('PostgreSQL', async () => {
      const schema = await freshSchema(url);
      const client = new pg.Client({ connectionString: inSchema(url, quoteSchema(schema)) });
      await client.connect();
      const index = PostgresIndex.open({ url, schema, max: 2 });
      try {
        await applyPgMigrations(client as unknown as pg.PoolClient, PG_MIGRATIONS.filter(before(version)));
        await check({
          backend: 'postgres',
          index,
          exec: async (sql) => void (await client.query(sql)),
          column: async (sql) => (await client.query<Record<string, unknown>>(sql)).rows.map((r) => String(Object.values(r)[0])),
        });
      } finally {
        await index.close();
        await client.end();
      }
    }),
  );
}
