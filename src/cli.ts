// pacs: the tools. Each command lives in src/cli/; this file only dispatches.
import { UsageError } from './cli/args.js';
import { echoCommand, echoHelp } from './cli/echo.js';
import { storeCommand, storeHelp } from './cli/store.js';
import { findCommand, findHelp } from './cli/find.js';
import { getCommand, getHelp, moveCommand, moveHelp } from './cli/retrieve.js';
import { configCheckCommand, configCheckHelp, importCommand, importHelp, reindexCommand, reindexHelp, verifyCommand, verifyHelp } from './cli/archive.js';
import { hashPasswordCommand, hashPasswordHelp } from './cli/hash-password.js';
import { jobsCommand, jobsHelp } from './cli/jobs.js';
import { worklistCommand, worklistHelp } from './cli/worklist.js';
import { mppsCommand, mppsHelp } from './cli/mpps.js';
import { commitCommand, commitHelp } from './cli/commit.js';
import { exportCommand, exportHelp } from './cli/export.js';
import { migrateIndexCommand, migrateIndexHelp } from './cli/migrate-index.js';
import { ConfigError } from './config/load.js';
import { errorMessage } from './core/errors.js';
import { VERSION } from './version.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number> | number; help: string; summary: string }> = {
  echo: { run: echoCommand, help: echoHelp, summary: 'verify a DICOM node answers (C-ECHO)' },
  store: { run: storeCommand, help: storeHelp, summary: 'send files and directories to a node (C-STORE)' },
  find: { run: findCommand, help: findHelp, summary: 'search a node (C-FIND): patients, studies, series, images' },
  move: { run: moveCommand, help: moveHelp, summary: 'have a node send studies to an AE (C-MOVE)' },
  get: { run: getCommand, help: getHelp, summary: 'fetch studies from a node into a folder (C-GET)' },
  worklist: { run: worklistCommand, help: worklistHelp, summary: 'query a modality worklist (C-FIND, like findscu -W)' },
  mpps: { run: mppsCommand, help: mppsHelp, summary: 'report a performed procedure step (N-CREATE, N-SET)' },
  commit: { run: commitCommand, help: commitHelp, summary: 'request storage commitment and wait for the report' },
  import: { run: importCommand, help: importHelp, summary: 'put files into the archive without the network' },
  reindex: { run: reindexCommand, help: reindexHelp, summary: 'rebuild the index from the files in the archive' },
  verify: { run: verifyCommand, help: verifyHelp, summary: 'check the index against the files and their checksums (and repair)' },
  export: { run: exportCommand, help: exportHelp, summary: 'copy or link stored instances into a folder under readable names' },
  'migrate-index': { run: migrateIndexCommand, help: migrateIndexHelp, summary: 'copy the SQLite index into PostgreSQL (database.url)' },
  jobs: { run: jobsCommand, help: jobsHelp, summary: 'the job queue: list with progress and errors, show, cancel, retry' },
  'hash-password': { run: hashPasswordCommand, help: hashPasswordHelp, summary: 'hash a password for http.users in the configuration' },
  config: {
    run: (argv) => {
      if (argv[0] !== 'check') throw new UsageError('config: the subcommand is "check": pacs config check [FILE]');
      return configCheckCommand(argv.slice(1));
    },
    help: configCheckHelp,
    summary: 'validate and print the configuration',
  },
};

function usage(): string {
  // As wide as the longest name and two spaces: 'migrate-index' ran into its summary.
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}${c.summary}`);
  return `pacs ${VERSION}: tools for pacs-server and any DICOM node\n\nusage: pacs COMMAND [options]\n\n${lines.join('\n')}\n\npacs COMMAND --help shows a command's options.\n`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    process.stdout.write(`pacs ${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`pacs: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(cmd.help);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) process.stderr.write(`pacs ${name}: ${e.message}\n\n${cmd.help}`);
    else if (e instanceof ConfigError) process.stderr.write(`pacs ${name}: configuration error\n${e.problems.map((p) => `  ${p}`).join('\n')}\n`);
    else process.stderr.write(`pacs ${name}: ${errorMessage(e)}\n`);
    return e instanceof UsageError ? 2 : 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pacs: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
