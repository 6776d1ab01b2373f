// The commands that act on the archive itself: import, reindex, config check.
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, configToYaml, ConfigError } from '../config/load.js';
import { openExistingArchive, openToolArchive, toolConfig } from './open-archive.js';
import { REINDEX_PENDING, importFile, indexExistingFile } from '../services/import.js';
import { verifyArchive } from '../services/verify.js';
import { errorMessage } from '../core/errors.js';
import { IndexInUseError } from '../index/errors.js';
import { type ArchiveParts, jobServiceOf, loadArchivePlugins } from '../app.js';
import { ARCHIVE_OPTIONS, type Parsed, UsageError, archiveOverrides, atMost, flag, helpFor, intOption, opt, parseArgs } from './args.js';
import { collectFiles, eachLimit } from './files.js';
import { progress } from './progress.js';

export const importHelp = helpFor('usage: pacs import [--config FILE] [-j N] FILE|DIR...', [
  ...ARCHIVE_OPTIONS,
  { names: ['-j', '--jobs'], arg: 'N', description: 'files at once (default 4)' },
]);
const VERIFY_OPTIONS = [
  { names: ['--quick'], description: 'compare sizes only, not SHA-256 checksums' },
  { names: ['--repair'], description: 'remove rows whose file is gone, index files that have no row, remove stale copies whose indexed copy is intact' },
  { names: ['--force'], description: 'with --repair: remove rows whose file is gone even when the storage holds no file or more than half of the rows lost theirs' },
];
export const verifyHelp = helpFor('usage: pacs verify [--config FILE] [--quick] [--repair [--force]]   (stop the server first to repair)', [...ARCHIVE_OPTIONS, ...VERIFY_OPTIONS]);
const REINDEX_OPTIONS = [
  ...ARCHIVE_OPTIONS,
  { names: ['--force'], description: 'empty the index even when no file is found (an archive whose files were all removed)' },
];
export const reindexHelp = helpFor('usage: pacs reindex [--config FILE] [--force]   (stop the server first)', REINDEX_OPTIONS);

async function open(argv: string[], extra: typeof ARCHIVE_OPTIONS = []) {
  const p = parseArgs(argv, [...ARCHIVE_OPTIONS, ...extra]);
  atMost(p, 'verify', 0);
  return { p, archive: await openExistingArchive(toolConfig(p)) };
}

export async function importCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, [...ARCHIVE_OPTIONS, { names: ['-j', '--jobs'], arg: 'N', description: '' }]);
  // Checked before the archive is opened: a mistyped command must not leave an empty archive behind.
  if (!p.positional.length) throw new UsageError('import: give at least one FILE or DIR');
  const jobs = intOption(p, '-j', 4, 1, 64);
  const config = toolConfig(p);
  // Nothing there to import (a mistyped path): said before an archive and an index are made for it.
  if (p.positional.every((f) => !fs.existsSync(f))) {
    process.stderr.write(`pacs import: no such file or folder: ${p.positional.join(', ')}\n`);
    return 1;
  }
  const archive = await openToolArchive(config);
  let leave: (() => Promise<void>) | null = null;
  try {
    // The same pipeline as C-STORE: the plugins' beforeStore checks refuse here what they refuse
    // there (a plugin's jobs are queued for the servers to run; this tool runs none).
    await loadArchivePlugins(archive, jobServiceOf(archive));
    // A reindex or verify --repair must not run while files and rows are added (nor this start
    // while one runs): it would rebuild the index without them.
    leave = await archive.index.writeBeside(() => undefined);
    const { files, missing } = await collectFiles(p.positional, [config.storage.directory]);
    const failures = missing.map((f) => `${f.path}: ${f.reason}`);
    const counts = { stored: 0, replaced: 0, identical: 0, ignored: 0 };
    const bar = progress(files.length, 'import');
    await eachLimit(files, jobs, async (file) => {
      try {
        const r = await importFile(archive.store, file, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
        counts[r.kind]++;
      } catch (e) {
        failures.push(`${file}: ${errorMessage(e)}`);
      }
      bar.tick();
    });
    bar.stop();
    process.stdout.write(
      `Imported ${counts.stored} new, ${counts.replaced} replaced, ${counts.identical} already present, ${counts.ignored} ignored; ${failures.length} failed\n`,
    );
    for (const f of failures.slice(0, 50)) process.stdout.write(`  FAILED ${f}\n`);
    return failures.length ? 1 : 0;
  } finally {
    await leave?.().catch(() => undefined);
    await archive.close();
  }
}

/** Top-level dot folders of the storage directory are never instances (FsObjectStore.list). */

/** The protected studies an interrupted reindex was carrying over, if one was. */
function readCarried(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const list: unknown = JSON.parse(text);
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string')) throw new Error(`${file} is not a list of Study Instance UIDs`);
  return list as string[];
}

/** Writes a small file whole or not at all, and makes it durable before the index is emptied. */
function writeDurably(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  const d = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(d);
  } finally {
    fs.closeSync(d);
  }
}

/**
 * Rebuilds the index from the files. It starts by emptying the index, so it first makes sure
 * the files are where the configuration says: a mistyped --storage-dir used to make that
 * directory, find nothing, and leave the index empty. What the files cannot say is carried
 * over: which studies are protected from retention; and the merged-patient links (HL7 ADT^A40)
 * stay in the index, so the files of a prior patient, which keep its ID, are filed under the
 * surviving one again.
 */
export async function reindexCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, REINDEX_OPTIONS);
  atMost(p, 'reindex', 0);
  const config = toolConfig(p);
  const dir = config.storage.directory;
  if (!isDirectory(dir)) {
    process.stderr.write(`pacs reindex: storage.directory ${dir} is not a directory; the index was not changed\n`);
    return 1;
  }
  const archive = await openToolArchive(config);
  try {
    return await archive.index.maintain(() => reindex(archive, p, dir), lockLost('reindex'));
  } catch (e) {
    if (!(e instanceof IndexInUseError)) throw e;
    process.stderr.write(`pacs reindex: ${e.message}; the index was not changed\n`);
    return 1;
  } finally {
    await archive.close();
  }
}

/**
 * Files set aside by deletes a stop interrupted (`.deleting/`): settled before a repair or a
 * reindex looks at the files — back in place while their row is still there (the delete never
 * committed), else removed. Left for the next server start, a repair took the row of such a file
 * for a lost one and removed it, and a reindex never saw the file: an instance whose delete
 * never happened was gone. Every server is stopped (the maintenance lock): all are settled.
 */
async function settleDeletes(archive: ArchiveParts): Promise<void> {
  const swept = await archive.objects.sweepTombstones((uid) => archive.index.findInstance(uid), { everyone: true });
  if (swept.restored || swept.removed) process.stdout.write(`Settled files set aside by interrupted deletes: ${swept.restored} put back (their delete had not happened), ${swept.removed} removed\n`);
}

async function reindex(archive: ArchiveParts, p: Parsed, dir: string): Promise<number> {
  await archive.objects.cleanupStaging();
  await settleDeletes(archive);
  const files = archive.objects.list()[Symbol.asyncIterator]();
  let next = await files.next();
  const before = await archive.index.statistics();
  if (next.done === true && before.instances > 0 && !flag(p, '--force')) {
    process.stderr.write(
      `pacs reindex: no files under ${dir}, but the index holds ${before.instances} instances: is storage.directory right? ` +
        `The index was not changed (--force empties it)\n`,
    );
    return 1;
  }
  // The list is kept on disk until the marks are set again: a reindex stopped half-way (a
  // crash, ^C) leaves an index without them, which the next run would read as "none".
  const pending = path.join(dir, ...REINDEX_PENDING);
  const carried = readCarried(pending);
  const protectedStudies = [...new Set([...carried, ...(await archive.index.retention.protectedStudies())])];
  writeDurably(pending, JSON.stringify(protectedStudies));
  await archive.index.clear();
  const failures: string[] = [];
  const older: string[] = [];
  let n = 0;
  for (; next.done !== true; next = await files.next()) {
    const rel = next.value;
    try {
      const r = await indexExistingFile(archive.store, rel);
      if (r.olderCopy) older.push(`${r.olderCopy}: an older copy of ${r.sopInstanceUID}, indexed at ${r.kind === 'ignored' ? r.path : rel}`);
      n++;
    } catch (e) {
      failures.push(`${rel}: ${errorMessage(e)}`);
    }
  }
  let kept = 0;
  for (const uid of protectedStudies) if (await archive.index.retention.setProtected(uid, true)) kept++;
  fs.rmSync(path.dirname(pending), { recursive: true, force: true });
  const s = await archive.index.statistics();
  process.stdout.write(
    `Reindexed ${n} files: ${s.patients} patients, ${s.studies} studies, ${s.series} series, ${s.instances} instances; ${failures.length} files not indexed` +
      `${protectedStudies.length ? `; ${kept} of ${protectedStudies.length} protected studies protected again` : ''}\n`,
  );
  for (const f of failures.slice(0, 50)) process.stdout.write(`  NOT INDEXED ${f}\n`);
  // Left where they are: which copy is right is the newer's by date, but a person may know better.
  if (older.length) process.stdout.write(`${older.length} older copies of instances left without a row (pacs verify --repair removes those whose newer copy is intact):\n`);
  for (const o of older.slice(0, 50)) process.stdout.write(`  OLDER COPY ${o}\n`);
  return failures.length ? 1 : 0;
}

/**
 * The tool's maintenance lock was lost (PostgreSQL) and servers may be starting: it stops at
 * once (exit 1). A reindex cut short leaves its list of protected studies, and the servers
 * refuse to start until it is run again.
 */
const lockLost =
  (tool: string) =>
  (e: Error): never => {
    process.stderr.write(`pacs ${tool}: ${e.message}; stopped — run it again with every server stopped\n`);
    process.exit(1);
  };

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

export async function verifyCommand(argv: string[]): Promise<number> {
  const { p, archive } = await open(argv, VERIFY_OPTIONS);
  const repair = flag(p, '--repair');
  try {
    // Looking is safe beside a running server; repairing (rows and files changed) is not.
    return repair ? await archive.index.maintain(() => verify(archive, p, repair), lockLost('verify')) : await verify(archive, p, repair);
  } catch (e) {
    if (!(e instanceof IndexInUseError)) throw e;
    process.stderr.write(`pacs verify: ${e.message}; nothing was repaired\n`);
    return 1;
  } finally {
    await archive.close();
  }
}

async function verify(archive: ArchiveParts, p: Parsed, repair: boolean): Promise<number> {
  if (repair) await settleDeletes(archive);
  const stats = await archive.index.statistics();
  const bar = progress(stats.instances, 'verify');
  let last = 0;
  const report = await verifyArchive(
    { index: archive.index, objects: archive.objects, store: archive.store, derived: archive.derived, logger: archive.logger },
    { quick: flag(p, '--quick'), repair, force: flag(p, '--force'), onProgress: (n) => (bar.tick(n - last), (last = n)) },
  );
  bar.stop();
  const unrepaired = report.problems.filter((x) => !x.repaired);
  process.stdout.write(`Verified ${report.rows} index rows and ${report.files} files: ${report.problems.length} problems${repair ? `, ${report.problems.length - unrepaired.length} repaired` : ''}\n`);
  for (const x of report.problems.slice(0, 200)) process.stdout.write(`  ${x.kind.toUpperCase()} ${x.path}${x.sopInstanceUID ? ` (${x.sopInstanceUID})` : ''}: ${x.detail}\n`);
  return unrepaired.length ? 1 : 0;
}

export const configCheckHelp = helpFor('usage: pacs config check [FILE] [--config FILE] [--set KEY=VALUE]...   validate and print the resolved configuration (secrets masked)', ARCHIVE_OPTIONS);

export function configCheckCommand(argv: string[]): number {
  const p = parseArgs(argv, ARCHIVE_OPTIONS);
  if (p.positional.length > 1) throw new UsageError(`config check: one FILE at most, got ${p.positional.join(' ')}`);
  const given = p.positional[0];
  if (given !== undefined && opt(p, '--config') !== undefined) throw new UsageError('config check: give the file as FILE or as --config FILE, not both');
  try {
    const layers = archiveOverrides(p);
    const { config, source } = loadConfig({ ...layers, ...(given !== undefined ? { file: given } : {}) });
    process.stdout.write(`# ${source ? `configuration from ${source}` : 'no configuration file: defaults'} (environment and defaults applied)\n`);
    process.stdout.write(configToYaml(config, { redact: true }));
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`configuration error\n${e.problems.map((x) => `  ${x}`).join('\n')}\n`);
      return 2;
    }
    throw e;
  }
}
