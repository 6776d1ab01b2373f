// pacs migrate-index --from sqlite:FILE --to postgres://…: moves an archive's index from its
// SQLite file to PostgreSQL (stop the server first), so a site can grow into several servers
// sharing one index. The files stay where they are; the configuration then names the URL.
import fs from 'node:fs';
import { SqliteIndex } from '../index/sqlite/sqlite-index.js';
import { IndexInUseError } from '../index/errors.js';
import { createPool } from '../index/postgres/db.js';
import { copySqliteToPostgres } from '../index/postgres/from-sqlite.js';
import { UsageError, atMost, helpFor, opt, parseArgs } from './args.js';

const OPTIONS = [
  { names: ['--from'], arg: 'sqlite:FILE', description: 'the SQLite index to copy (the server stopped)' },
  { names: ['--to'], arg: 'URL', description: 'postgres://user:password@host/db (an empty database or schema)' },
];

export const migrateIndexHelp = helpFor('usage: pacs migrate-index --from sqlite:FILE --to postgres://…   (stop the server first)', OPTIONS);

export async function migrateIndexCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, OPTIONS);
  atMost(p, 'migrate-index', 0);
  const from = opt(p, '--from');
  const to = opt(p, '--to');
  if (from === undefined || !from.startsWith('sqlite:')) throw new UsageError('migrate-index: --from sqlite:FILE is required');
  if (to === undefined || !/^postgres(ql)?:\/\//.test(to) || !URL.canParse(to)) throw new UsageError('migrate-index: --to postgres://… is required');
  const path = from.slice('sqlite:'.length);
  if (!fs.existsSync(path)) throw new UsageError(`migrate-index: no such file: ${path}`);
  // Opened writable once to bring an older file to the current schema; nothing else is written.
  const source = SqliteIndex.open({ path, walMode: true });
  const pool = createPool({ url: to, max: 1 });
  try {
    // Under the file's maintenance hold, like reindex: a server still running on it would go on
    // storing while the copy is read, and its last instances be missing from the new index.
    const counts = await source.maintain(async () => {
      await source.migrate();
      return copySqliteToPostgres(source.db, pool, (table, n) => process.stdout.write(`  ${table}: ${n} rows\n`));
    });
    process.stdout.write(
      `Migrated the index to PostgreSQL: ${counts.patients ?? 0} patients, ${counts.studies ?? 0} studies, ${counts.series ?? 0} series, ` +
        `${counts.instances ?? 0} instances, ${counts.jobs ?? 0} jobs. Set database.url in the configuration to use it.\n`,
    );
    return 0;
  } catch (e) {
    if (!(e instanceof IndexInUseError)) throw e;
    process.stderr.write(`pacs migrate-index: ${e.message}; nothing was copied\n`);
    return 1;
  } finally {
    await source.close();
    await pool.end();
  }
}
