// The "command" job (a rule's run-command action): the program runs without a shell, with
// {Keyword} in its arguments replaced from the study's attributes and the details as JSON on
// standard input. Its exit status decides: 0 done; 75 (EX_TEMPFAIL, "try again later") or a
// timeout: retried with back-off; anything else: failed for good (the program said it cannot).
import { spawn } from 'node:child_process';
import { errorMessage } from '../core/errors.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type AttributeLookup, safeComponent } from '../storage/naming.js';
import { readAttributes } from './attributes.js';
import { instancesOf, type ExportDeps } from './export-job.js';
import { type JobHandler, PermanentJobError } from './jobs.js';
import type { QueryLevel } from '../index/query/types.js';
import { type ChangeRange, checkChanges } from './transfer-jobs.js';

export const EX_TEMPFAIL = 75;
const KEEP_OUTPUT = 2000;
const DETAIL_KEYWORDS = [
  'PatientID', 'PatientName', 'StudyInstanceUID', 'StudyDate', 'StudyTime', 'StudyDescription', 'AccessionNumber',
  'ReferringPhysicianName', 'Modality', 'SeriesInstanceUID', 'SeriesNumber', 'SeriesDescription', 'InstitutionName', 'StationName',
];

export interface CommandPayload {
  rule?: string;
  event?: string;
  level: QueryLevel;
  uid: string;
  argv: string[];
  timeout: number;
  /** The study or series grew since the rule last ran: its instances stored or replaced since are `new` (transfer-jobs.ts). */
  changes?: ChangeRange;
}

/**
 * The program's arguments with {Keyword} filled in. Values come from the images, so from whoever
 * sent them: each is made safe as an export file name is (no separators, no control characters,
 * no leading dots: a PatientID '../../etc' is 'etc'; none left: UNKNOWN), and a leading '-' becomes '_' so that a
 * value never reads as an option ('--delete'). The values as received are in the JSON on
 * standard input.
 */
export function commandArguments(argv: readonly string[], lookup: AttributeLookup): string[] {
  // A value missing or made empty ('..') is UNKNOWN, as in export names: empty, '/nas/lab/{PatientID}'
  // named the lab's whole folder to a script that may clean up or write there.
  return argv.map((a) => a.replace(/\{([A-Za-z][A-Za-z0-9]*)\}/g, (_m, k: string) => safeComponent(lookup(k) ?? '').replace(/^-/, '_')));
}

export function commandJobHandler(deps: ExportDeps & { objects: ObjectStore }): JobHandler {
  return {
    async run({ job, signal, progress }) {
      const p = job.payload as Partial<CommandPayload>;
      if (!Array.isArray(p.argv) || !p.argv.length || !p.argv.every((a) => typeof a === 'string')) throw new PermanentJobError('command: argv must be a non-empty list of strings');
      if (!p.level || typeof p.uid !== 'string') throw new PermanentJobError('command: level and uid are required');
      const instances = await instancesOf(deps.index, p.level, p.uid);
      if (!instances.length) throw new PermanentJobError(`command: nothing stored matches ${p.level} ${p.uid}`);
      const attrs = await readAttributes(deps.metadata, instances[0]!);
      const range = checkChanges(p.changes);
      const changed = range ? await deps.index.cursors.changedInstances(instances[0]!.StudyInstanceUID, range.after, range.upTo) : null;
      const argv = commandArguments(p.argv, attrs.get);
      const details = {
        rule: p.rule ?? null,
        event: p.event ?? null,
        level: p.level,
        uid: p.uid,
        attributes: Object.fromEntries(DETAIL_KEYWORDS.map((k) => [k, attrs.get(k) ?? null])),
        instances: instances.map((l) => ({
          SOPInstanceUID: l.SOPInstanceUID,
          SeriesInstanceUID: l.SeriesInstanceUID,
          StudyInstanceUID: l.StudyInstanceUID,
          path: deps.objects.absolutePath(l.path),
          // Stored (or sent again) since this rule last ran on the study or series; all are new the first time.
          new: changed === null || changed.has(l.SOPInstanceUID),
        })),
      };
      progress({ message: `running ${argv[0]}` });
      const r = await runProgram(argv, JSON.stringify(details), (p.timeout ?? 300) * 1000, signal);
      if (r.code === 0) return { message: `${argv[0]} done${r.output ? `: ${r.output.slice(-200)}` : ''}` };
      const why = r.timedOut ? `timed out after ${p.timeout} s` : r.code === null ? `killed by ${r.signal}` : `exit status ${r.code}`;
      const msg = `${argv[0]}: ${why}${r.output ? `: ${r.output.slice(-500)}` : ''}`;
      if (r.timedOut || r.code === EX_TEMPFAIL || signal.aborted) throw new Error(msg);
      throw new PermanentJobError(msg);
    },
  };
}

interface ProgramResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  output: string;
}

/** How long the program's output is still read after it exits (a background child may hold the pipes for ever). */
const DRAIN_AFTER_EXIT_MS = 1000;

/**
 * Runs the program in a process group of its own: a timeout or a cancel signals the whole
 * group, for killing the shell alone left its children running, orphaned, and the job with
 * them. The job ends when the program exits, not when its pipes close: a script that started
 * something in the background (`tool &`, `nohup`) held a worker until that ended.
 */
function runProgram(argv: string[], input: string, timeoutMs: number, abort: AbortSignal): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    if (abort.aborted) {
      reject(new Error(`${argv[0]} not started: the job was stopped`));
      return;
    }
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    let output = '';
    let timedOut = false;
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-KEEP_OUTPUT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // the group has no process left
      }
    };
    const kill = (): void => {
      signalGroup('SIGTERM');
      setTimeout(() => signalGroup('SIGKILL'), 5000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    abort.addEventListener('abort', kill, { once: true });
    child.stdin.on('error', () => {}); // a program that does not read its input is not an error
    child.stdin.end(input);
    child.on('error', (e) => {
      clearTimeout(timer);
      abort.removeEventListener('abort', kill);
      reject(new PermanentJobError(`cannot run ${argv[0]}: ${errorMessage(e)}`));
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      abort.removeEventListener('abort', kill);
      let settled = false;
      const settle = (): void => {
        if (settled) return;
        settled = true;
        child.stdin.destroy();
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ code, signal: sig, timedOut, output: output.trim() });
      };
      // What it wrote just before exiting is read first; a pipe still held after that is let go.
      const drained = setTimeout(settle, DRAIN_AFTER_EXIT_MS);
      let open = 2;
      const closed = (): void => {
        if (--open === 0) {
          clearTimeout(drained);
          settle();
        }
      };
      for (const stream of [child.stdout, child.stderr]) {
        if (stream.readableEnded || stream.destroyed) closed();
        else stream.once('close', closed);
      }
    });
  });
}
