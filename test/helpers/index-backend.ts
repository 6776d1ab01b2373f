// Which index the end-to-end and interop suites run on. The suites run twice in CI: once on
// SQLite (the default) and once with PACS_TEST_INDEX=postgres, where every test archive gets
// a fresh schema of its own on the PostgreSQL server .ci/run starts (PACS_TEST_PG_URL). A test
// names its archive's database with these helpers instead of writing `pacs.db` itself.
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresIndex } from '../../src/index/postgres/postgres-index.js';
import { SqliteIndex } from '../../src/index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from '../../src/index/types.js';
import { PG_URL, freshSchema, inSchema } from '../contract/backends.js';

export type TestIndexKind = 'sqlite' | 'postgres';

function kindFromEnv(): TestIndexKind {
  const v = process.env.PACS_TEST_INDEX ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres') throw new Error(`PACS_TEST_INDEX: expected sqlite or postgres, got "${v}"`);
  if (v === 'postgres' && PG_URL === null) throw new Error('PACS_TEST_INDEX=postgres needs PACS_TEST_PG_URL (scripts/test-postgres.sh start)');
  return v;
}

export const TEST_INDEX: TestIndexKind = kindFromEnv();

/** An archive directory's PostgreSQL schema: one per directory, so a restarted server finds its rows. */
const schemaOf = new Map<string, string>();

async function schemaFor(dir: string): Promise<string> {
  const known = schemaOf.get(path.resolve(dir));
  if (known !== undefined) return known;
  const schema = await freshSchema(PG_URL!);
  schemaOf.set(path.resolve(dir), schema);
  return schema;
}

/** The `database` configuration section for an archive kept in `dir`. */
export async function testDatabase(dir: string): Promise<{ path: string } | { url: string }> {
  if (TEST_INDEX === 'sqlite') return { path: path.join(dir, 'pacs.db') };
  return { url: inSchema(PG_URL!, await schemaFor(dir)) };
}

/** The same as YAML flow mapping, for configuration files written by tests. */
export async function testDatabaseYaml(dir: string): Promise<string> {
  const db = await testDatabase(dir);
  return 'path' in db ? `{ path: ${JSON.stringify(db.path)} }` : `{ url: ${JSON.stringify(db.url)} }`;
}

/** The `pacs` tool options that select the archive's index. */
export async function testDatabaseArgs(dir: string): Promise<string[]> {
  const db = await testDatabase(dir);
  return 'path' in db ? ['--db', db.path] : ['--db-url', db.url];
}

/** Opens the index of an archive kept in `dir` to look inside (the server may be stopped). */
export async function openTestIndex(dir: string, opts: { readonly?: boolean } = {}): Promise<ArchiveIndex> {
  if (TEST_INDEX === 'sqlite') return SqliteIndex.open({ path: path.join(dir, 'pacs.db'), walMode: true, ...(opts.readonly ? { readonly: true } : {}) });
  const index = PostgresIndex.open({ url: PG_URL!, schema: await schemaFor(dir), max: 2 });
  await index.migrate();
  return index;
}

/**
 * Runs one SQL statement on the index of the archive in `dir`, beside the server, for a test
 * that must set up what no API sets (a study's arrival time in the past). `?` placeholders.
 */
export async function testSql(dir: string, sql: string, params: readonly unknown[]): Promise<void> {
  if (TEST_INDEX === 'sqlite') {
    const db = new Database(path.join(dir, 'pacs.db'));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  let n = 0;
  const client = new pg.Client({ connectionString: inSchema(PG_URL!, await schemaFor(dir)) });
  await client.connect();
  try {
    await client.query(sql.replace(/\?/g, () => `$${++n}`), [...params]);
  } finally {
    await client.end();
  }
}
