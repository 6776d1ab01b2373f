// Command-line parsing for `pacs`, spelled the way DCMTK users type it: single-dash long
// options (-aec, -aet), -k Tag=value, and GNU-style --options alongside.
export interface OptionSpec {
  names: readonly string[];
  /** Takes a value; repeatable ones collect every value. */
  arg?: string;
  repeatable?: boolean;
  description: string;
  /** What is wrong with a value, or null: checked as the line is read. */
  check?: (value: string) => string | null;
}

export interface Parsed {
  options: Map<string, string[]>; // keyed by the first name
  positional: string[];
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): Parsed {
  const byName = new Map(specs.flatMap((s) => s.names.map((n) => [n, s] as const)));
  const options = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-' || /^-\d/.test(a)) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const spec = byName.get(name);
    if (!spec) throw new UsageError(`unknown option ${name}`);
    const key = spec.names[0]!;
    if (!spec.arg) {
      options.set(key, ['true']);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name} needs a value (${spec.arg})`);
    const wrong = spec.check?.(value) ?? null;
    if (wrong !== null) throw new UsageError(`${name} ${value}: ${wrong}`);
    if (spec.repeatable) options.set(key, [...(options.get(key) ?? []), value]);
    else options.set(key, [value]);
  }
  return { options, positional };
}

/**
 * An AE title as PS3.5 allows it: 1 to 16 characters of the default repertoire, no backslash
 * or control characters, not only spaces. A longer one used to be cut to 16 without a word,
 * and the peer then refused a title nobody had typed.
 */
export function aeTitleProblem(value: string): string | null {
  if (value.trim() === '') return 'an AE title is not empty or only spaces';
  if (value.length > 16) return `an AE title has at most 16 characters (this has ${value.length})`;
  if (!/^[\x20-\x5b\x5d-\x7e]+$/.test(value)) return 'an AE title has no backslash, control or non-ASCII characters';
  return null;
}

export const opt = (p: Parsed, name: string): string | undefined => p.options.get(name)?.at(-1);
export const flag = (p: Parsed, name: string): boolean => p.options.has(name);

export function helpFor(usage: string, specs: readonly OptionSpec[]): string {
  // A name longer than the column keeps a space before its description (it ran into it).
  const lines = specs.map((s) => `${`  ${[...s.names].join(', ')}${s.arg ? ` ${s.arg}` : ''}`.padEnd(33)} ${s.description}`);
  return `${usage}\n\n${lines.join('\n')}\n`;
}

/** --max-pdu: the largest PDU we receive (PS3.8 Maximum Length Sub-Item), for every command that opens an association. */
export const maxPduOption = (p: Parsed): number => intOption(p, '--max-pdu', 262144, 4096, 16777216);

export function intOption(p: Parsed, name: string, dflt: number, min = 1, max = 65535): number {
  const v = opt(p, name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${name}: expected an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

/** Refuses arguments past the first `n`: a stray word (a misplaced option value) was silently ignored. */
export function atMost(p: Parsed, what: string, n: number): void {
  if (p.positional.length > n) throw new UsageError(`${what}: unexpected argument${p.positional.length - n > 1 ? 's' : ''} ${p.positional.slice(n).map((a) => `"${a}"`).join(' ')}`);
}

/** HOST and PORT, the first two arguments; `takesFiles`: files may follow them. */
export function hostPort(p: Parsed, what: string, takesFiles = false): { host: string; port: number } {
  if (!takesFiles) atMost(p, what, 2);
  const [host, port] = p.positional;
  if (!host || !port) throw new UsageError(`${what}: HOST and PORT are required`);
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`${what}: PORT must be 1..65535, got "${port}"`);
  return { host, port: n };
}

/** The options every network command shares, with its own default timeout in the help. */
export const aeOptions = (timeoutSeconds: number): readonly OptionSpec[] =>
  AE_OPTIONS.map((o) => (o.names[0] === '-to' ? { ...o, description: `connection and response timeout (default ${timeoutSeconds})` } : o));

/** Options every network command shares (DCMTK spellings). */
export const AE_OPTIONS: readonly OptionSpec[] = [
  { names: ['-aet', '--aetitle'], arg: 'AETITLE', description: 'our (calling) AE title (default PACS)', check: aeTitleProblem },
  { names: ['-aec', '--call'], arg: 'AETITLE', description: 'the called AE title (default ANY-SCP)', check: aeTitleProblem },
  { names: ['-to', '--timeout'], arg: 'SECONDS', description: 'connection and response timeout (default 30)' },
  { names: ['--max-pdu'], arg: 'BYTES', description: 'largest PDU we receive (default 262144)' },
];

/** Options of the commands that act on the archive (same configuration as the server). */
export const ARCHIVE_OPTIONS: readonly OptionSpec[] = [
  { names: ['--config', '-c'], arg: 'FILE', description: 'configuration file (default ./pacs_server.yaml when present)' },
  { names: ['--storage-dir'], arg: 'DIR', description: 'archive directory (overrides the configuration)' },
  { names: ['--db'], arg: 'FILE', description: 'SQLite index file (overrides the configuration)' },
  { names: ['--db-url'], arg: 'URL', description: 'PostgreSQL index, postgres://user:password@host/db (overrides the configuration)' },
  { names: ['--set'], arg: 'KEY=VALUE', repeatable: true, description: 'any configuration key, e.g. --set storage.naming=flat' },
];

export function archiveOverrides(p: Parsed): { file?: string; overrides: Record<string, string> } {
  const overrides: Record<string, string> = {};
  const dir = opt(p, '--storage-dir');
  const db = opt(p, '--db');
  if (dir) overrides['storage.directory'] = dir;
  const dbUrl = opt(p, '--db-url');
  if (db && dbUrl) throw new UsageError('give --db (SQLite) or --db-url (PostgreSQL), not both');
  if (db) overrides['database.path'] = db;
  if (dbUrl) overrides['database.url'] = dbUrl;
  for (const kv of p.options.get('--set') ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: expected KEY=VALUE, got "${kv}"`);
    overrides[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  // --db names the SQLite file to use: a database.url of the configuration would otherwise win
  // (a PostgreSQL index is used whenever a URL is set) and the command act on another index.
  if (db && overrides['database.url'] === undefined) overrides['database.url'] = '';
  const file = opt(p, '--config');
  return { ...(file ? { file } : {}), overrides };
}
