// pacs jobs: the durable job queue from the command line — list (with progress and errors),
// show one, cancel, retry. It works beside a running server: both use the same index, a cancel
// reaches the running job at its next lease renewal, a retry is picked up at the next poll.
import { checkCanceled, checkRetried } from '../services/jobs.js';
import { openExistingArchive, toolConfig } from './open-archive.js';
import { JOB_STATES, type Job, type JobState, shownProgress } from '../index/jobs.js';

const shown = (j: Job): Job => ({ ...j, progress: shownProgress(j.progress) });
import { ARCHIVE_OPTIONS, type OptionSpec, UsageError, atMost, helpFor, intOption, opt, parseArgs } from './args.js';

const SPECS: readonly OptionSpec[] = [
  ...ARCHIVE_OPTIONS,
  { names: ['--state'], arg: 'STATE', description: `only jobs in this state: ${JOB_STATES.join(', ')}` },
  { names: ['--type'], arg: 'TYPE', description: 'only jobs of this type (send, pull, export, stow, …)' },
  { names: ['-n', '--limit'], arg: 'N', description: 'at most N jobs, newest first (default 50)' },
  { names: ['--json'], description: 'print JSON instead of a table' },
];
export const jobsHelp = helpFor('usage: pacs jobs [list|show ID|cancel ID|retry ID] [--config FILE] [--state S] [--type T] [-n N] [--json]', SPECS);

function progressText(j: Job): string {
  const p = j.progress;
  if (p.total === undefined) return p.message ?? '';
  return `${(p.completed ?? 0) + (p.warning ?? 0)}/${p.total}${p.failed ? ` (${p.failed} failed)` : ''}`;
}

const line = (j: Job): string =>
  [String(j.id).padStart(6), j.state.padEnd(9), j.type.padEnd(14), progressText(j).padEnd(18), `${j.attempts}/${j.maxAttempts}`.padEnd(6), j.createdAt.toISOString().slice(0, 19).replace('T', ' '), j.state === 'succeeded' ? '' : (j.lastError ?? '')].join('  ');

export async function jobsCommand(argv: string[]): Promise<number> {
  const [sub = 'list', ...rest] = argv[0] && !argv[0].startsWith('-') ? argv : ['list', ...argv];
  const p = parseArgs(rest, SPECS);
  // Every argument is checked before the archive is opened: a mistyped command must not leave
  // an empty archive and index behind where it was run.
  if (!['list', 'show', 'cancel', 'retry'].includes(sub)) throw new UsageError(`jobs: unknown subcommand "${sub}" (list, show, cancel, retry)`);
  const state = opt(p, '--state');
  if (state && !(JOB_STATES as readonly string[]).includes(state)) throw new UsageError(`jobs: --state must be one of ${JOB_STATES.join(', ')}`);
  const limit = intOption(p, '-n', 50, 1, 100_000);
  atMost(p, `jobs ${sub}`, sub === 'list' ? 0 : 1);
  const id = Number(p.positional[0]);
  if (sub !== 'list' && (!Number.isInteger(id) || id < 1)) throw new UsageError(`jobs ${sub}: give the job's number`);
  const archive = await openExistingArchive(toolConfig(p), false);
  const json = p.options.has('--json');
  const out = (text: string): void => void process.stdout.write(`${text}\n`);
  try {
    if (sub === 'list') {
      const type = opt(p, '--type');
      const { jobs, total } = await archive.index.jobs.list({ limit, offset: 0, ...(state ? { state: state as JobState } : {}), ...(type ? { type } : {}) });
      if (json) out(JSON.stringify(jobs.map(shown), null, 2));
      else {
        out(`${'id'.padStart(6)}  ${'state'.padEnd(9)}  ${'type'.padEnd(14)}  ${'progress'.padEnd(18)}  tries   created              last error`);
        for (const j of jobs) out(line(j));
        out(`${jobs.length} of ${total} job(s)`);
      }
      return 0;
    }
    const job = sub === 'show' ? await archive.index.jobs.get(id) : sub === 'cancel' ? checkCanceled(await archive.index.jobs.cancel(id)) : checkRetried(await archive.index.jobs.retry(id));
    if (!job) {
      process.stderr.write(`pacs jobs: no job ${id}\n`);
      return 1;
    }
    out(json ? JSON.stringify(shown(job), null, 2) : `${line(job)}\n  payload: ${JSON.stringify(job.payload)}${job.progress.failedUids?.length ? `\n  failed: ${job.progress.failedUids.join(', ')}` : ''}${job.progress.flaggedUids?.length ? `\n  flagged: ${job.progress.flaggedUids.join(', ')}` : ''}`);
    return 0;
  } finally {
    await archive.close();
  }
}
