// The commands that act on the archive itself: import, reindex, config check.
import { loadConfig, configToYaml, ConfigError } from '../config/load.js';
import { openToolArchive, toolConfig } from './open-archive.js';
import { importFile, indexExistingFile } from '../services/import.js';
import { verifyArchive } from '../services/verify.js';
import { errorMessage } from '../core/errors.js';
import { ARCHIVE_OPTIONS, UsageError, flag, helpFor, intOption, parseArgs } from './args.js';
import { collectFiles, eachLimit } from './files.js';
import { progress } from './progress.js';

export const importHelp = helpFor('usage: pacs import [--config FILE] [-j N] FILE|DIR...', [
  ...ARCHIVE_OPTIONS,
  { names: ['-j', '--jobs'], arg: 'N', description: 'files at once (default 4)' },
]);
const VERIFY_OPTIONS = [
  { names: ['--quick'], description: 'compare sizes only, not SHA-256 checksums' },
  { names: ['--repair'], description: 'remove rows whose file is gone, index files that have no row, remove stale copies' },
];
export const verifyHelp = helpFor('usage: pacs verify [--config FILE] [--quick] [--repair]   (stop the server first to repair)', [...ARCHIVE_OPTIONS, ...VERIFY_OPTIONS]);
export const reindexHelp = helpFor('usage: pacs reindex [--config FILE]   (stop the server first)', ARCHIVE_OPTIONS);

async function open(argv: string[], extra: typeof ARCHIVE_OPTIONS = []) {
  const p = parseArgs(argv, [...ARCHIVE_OPTIONS, ...extra]);
  return { p, archive: await openToolArchive(toolConfig(p)) };
}

export async function importCommand(argv: string[]): Promise<number> {
  const { p, archive } = await open(argv, [{ names: ['-j', '--jobs'], arg: 'N', description: '' }]);
  try {
    if (!p.positional.length) throw new UsageError('import: give at least one FILE or DIR');
    const { files, missing } = await collectFiles(p.positional);
    const failures = missing.map((f) => `${f}: no such file or directory`);
    const counts = { stored: 0, replaced: 0, identical: 0, ignored: 0 };
    const bar = progress(files.length, 'import');
    await eachLimit(files, intOption(p, '-j', 4, 1, 64), async (file) => {
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
    await archive.close();
  }
}

export async function reindexCommand(argv: string[]): Promise<number> {
  const { archive } = await open(argv);
  try {
    await archive.objects.cleanupStaging();
    await archive.index.clear();
    const failures: string[] = [];
    let n = 0;
    for await (const rel of archive.objects.list()) {
      try {
        await indexExistingFile(archive.store, rel);
        n++;
      } catch (e) {
        failures.push(`${rel}: ${errorMessage(e)}`);
      }
    }
    const s = await archive.index.statistics();
    process.stdout.write(`Reindexed ${n} files: ${s.patients} patients, ${s.studies} studies, ${s.series} series, ${s.instances} instances; ${failures.length} files not indexed\n`);
    for (const f of failures.slice(0, 50)) process.stdout.write(`  NOT INDEXED ${f}\n`);
    return failures.length ? 1 : 0;
  } finally {
    await archive.close();
  }
}

export async function verifyCommand(argv: string[]): Promise<number> {
  const { p, archive } = await open(argv, VERIFY_OPTIONS);
  try {
    const repair = flag(p, '--repair');
    const stats = await archive.index.statistics();
    const bar = progress(stats.instances, 'verify');
    let last = 0;
    const report = await verifyArchive(
      { index: archive.index, objects: archive.objects, store: archive.store, derived: archive.derived, logger: archive.logger },
      { quick: flag(p, '--quick'), repair, onProgress: (n) => (bar.tick(n - last), (last = n)) },
    );
    bar.stop();
    const unrepaired = report.problems.filter((x) => !x.repaired);
    process.stdout.write(`Verified ${report.rows} index rows and ${report.files} files: ${report.problems.length} problems${repair ? `, ${report.problems.length - unrepaired.length} repaired` : ''}\n`);
    for (const x of report.problems.slice(0, 200)) process.stdout.write(`  ${x.kind.toUpperCase()} ${x.path}${x.sopInstanceUID ? ` (${x.sopInstanceUID})` : ''}: ${x.detail}\n`);
    return unrepaired.length ? 1 : 0;
  } finally {
    await archive.close();
  }
}

export function configCheckCommand(argv: string[]): number {
  const [file] = argv;
  try {
    const { config, source } = loadConfig(file ? { file } : {});
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
