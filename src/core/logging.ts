// pino, writing JSON lines to stdout and, when logging.file is set, to that file as well.
// Components get child loggers (per association, per request) from the one made here.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';
import { PacsError, errorMessage } from './errors.js';

export type Logger = pino.Logger;

export interface LoggerConfig {
  level: string;
  file?: string | null | undefined;
}

export interface LoggerOptions {
  /** Where console lines go; tests pass a stream to read them. Default: stdout. */
  stdout?: pino.DestinationStream;
}

export function createLogger(cfg: LoggerConfig, opts: LoggerOptions = {}): Logger {
  const options: pino.LoggerOptions = {
    level: cfg.level,
    // ISO times: log files are read by people and by tools that do not all know epoch ms.
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // stdout stays synchronous: a crash must not swallow the lines that explain it.
  const out = opts.stdout ?? pino.destination({ dest: 1, sync: true });
  if (cfg.file === undefined || cfg.file === null || cfg.file === '') return pino(options, out);
  assertWritable(cfg.file);
  // The file is asynchronous (it can be busy under load); flushLogger drains it at shutdown.
  // What waits to be written is bounded: on a full disk every later line was kept in memory,
  // retried, until the process ran out of it. Past the bound lines are dropped, and counted.
  const file = pino.destination({ dest: cfg.file, mkdir: true, sync: false, maxLength: LOG_BUFFER_MAX });
  // A log file that fails later (disk full) must not take the PACS down: say so once, go on.
  // Once reopened (SIGHUP), a failure is said again, and how many lines were dropped meanwhile.
  let reported = false;
  let dropped = 0;
  file.on('error', (e: unknown) => {
    if (!reported) process.stderr.write(`log file ${cfg.file ?? ''}: ${errorMessage(e)}\n`);
    reported = true;
  });
  file.on('drop', () => {
    if (dropped++ === 0) process.stderr.write(`log file ${cfg.file ?? ''}: more than ${LOG_BUFFER_MAX / 1048576} MB waiting to be written; lines are dropped until it takes them\n`);
  });
  const reopen = file.reopen.bind(file);
  file.reopen = (name?: string): void => {
    if (dropped) process.stderr.write(`log file ${cfg.file ?? ''}: ${dropped} lines were dropped before it was opened again\n`);
    dropped = 0;
    reported = false;
    reopen(name);
  };
  // Streams pass everything: the logger's own level filters, so a reload that lowers it works.
  const streams = pino.multistream([
    { level: 'trace', stream: out },
    { level: 'trace', stream: file },
  ]);
  // Keyed by the streams, which the logger's children share.
  files.set(streams, file);
  return pino(options, streams);
}

/** Lines of a log file waiting to be written, at most (a disk full, a share gone). */
const LOG_BUFFER_MAX = 16 * 1048576;

/** The file destination of each logger made here with logging.file. */
const files = new WeakMap<object, { reopen(file?: string): void }>();

/**
 * Opens the logger's file again by its name (SIGHUP, after logrotate renamed it): the lines
 * went on into the renamed file until a restart. Nothing when the logger has no file.
 */
export function reopenLogFile(logger: Logger): void {
  const streams = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  if (streams && typeof streams === 'object') files.get(streams)?.reopen();
}

/** Opening the file asynchronously would report a bad path as a crash; check it at start-up. */
function assertWritable(file: string): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    closeSync(openSync(file, 'a'));
  } catch (e) {
    throw new PacsError('CONFIG_INVALID', `logging.file: cannot write ${file}: ${errorMessage(e)}`, { cause: e });
  }
}

/** What flushLogger needs of a sonic-boom destination (private fields, stable since v1). */
interface Boom {
  on(event: 'drain' | 'error', fn: () => void): unknown;
  removeListener(event: 'drain' | 'error', fn: () => void): unknown;
  destroyed?: boolean;
  _writing?: boolean;
  _len?: number;
}

/**
 * Waits until every asynchronous destination has written what it was given (at most
 * `timeoutMs`). For shutdown: call it after the last log line. The logger stays usable.
 */
export async function flushLogger(logger: Logger, timeoutMs = 2000): Promise<void> {
  const root = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  const multi = root as { streams?: Array<{ stream: unknown }> } | undefined;
  const streams = multi?.streams?.map((s) => s.stream) ?? [root];
  const deadline = Date.now() + timeoutMs;
  await Promise.all(streams.map((s) => drain(s as Boom, deadline)));
}

async function drain(s: Boom, deadline: number): Promise<void> {
  if (typeof s?.on !== 'function' || s._writing === undefined) return; // not a sonic-boom
  while (!s.destroyed && (s._writing || (s._len ?? 0) > 0) && Date.now() < deadline) {
    await new Promise<void>((done) => {
      const finish = (): void => {
        clearTimeout(timer);
        s.removeListener('drain', finish);
        s.removeListener('error', finish);
        done();
      };
      const timer = setTimeout(finish, Math.max(1, deadline - Date.now()));
      s.on('drain', finish);
      s.on('error', finish);
    });
  }
}
