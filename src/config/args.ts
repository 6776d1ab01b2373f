// pacs_server's command line: each flag is an override of one configuration key, so the flags
// are a table (also the source of --help) rather than code.
import { ConfigError } from './errors.js';
import { closest, kindAt } from './introspect.js';

export interface CliFlag {
  /** Spellings; DCMTK's where DCMTK has the same thing (-aet). */
  names: readonly string[];
  /** Dotted configuration key the flag overrides; absent for --config, --help, --version, --set. */
  key?: string;
  /** For flags without an argument: the value they set (--no-http → 'false'). */
  value?: string;
  /** Placeholder in --help for flags that take an argument. */
  arg?: string;
  description: string;
}

export const CLI_FLAGS: readonly CliFlag[] = [
  { names: ['--config', '-c'], arg: 'FILE', description: 'configuration file (default: ./pacs_server.yaml when present)' },
  { names: ['--port'], key: 'server.port', arg: 'PORT', description: 'DICOM port (default 11112)' },
  { names: ['--ae-title', '-aet'], key: 'server.ae_title', arg: 'AETITLE', description: 'our AE title (default PACS_SERVER)' },
  { names: ['--host'], key: 'server.host', arg: 'ADDRESS', description: 'address the DICOM port binds to (default 0.0.0.0)' },
  { names: ['--max-associations'], key: 'server.max_associations', arg: 'N', description: 'associations at once (default 50)' },
  { names: ['--max-pdu'], key: 'server.max_pdu_length', arg: 'BYTES', description: 'largest PDU we accept (default 262144)' },
  { names: ['--idle-timeout'], key: 'server.idle_timeout', arg: 'SECONDS', description: 'close silent associations after this (0 = never)' },
  { names: ['--storage-dir'], key: 'storage.directory', arg: 'DIR', description: 'archive directory (default ./archive)' },
  { names: ['--naming'], key: 'storage.naming', arg: 'SCHEME', description: 'hierarchical, flat, or a template like "{PatientID}/{SOPInstanceUID}.dcm"' },
  { names: ['--duplicate-policy'], key: 'storage.duplicate_policy', arg: 'POLICY', description: 'reject, overwrite or ignore (default reject)' },
  { names: ['--no-fsync'], key: 'storage.fsync', value: 'false', description: 'do not fsync stored files (faster, unsafe on power loss)' },
  { names: ['--db'], key: 'database.path', arg: 'FILE', description: 'SQLite index file (default ./pacs.db)' },
  { names: ['--db-url'], key: 'database.url', arg: 'URL', description: 'PostgreSQL index, postgres://user:password@host/db' },
  { names: ['--http-port'], key: 'http.port', arg: 'PORT', description: 'web port: DICOMweb, API, viewer (default 8080)' },
  { names: ['--no-http'], key: 'http.enabled', value: 'false', description: 'no web server' },
  { names: ['--metrics-port'], key: 'monitoring.metrics_port', arg: 'PORT', description: 'Prometheus metrics port (default 9090)' },
  { names: ['--no-metrics'], key: 'monitoring.enabled', value: 'false', description: 'no metrics endpoint' },
  { names: ['--log-level'], key: 'logging.level', arg: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent (default info)' },
  { names: ['--log-file'], key: 'logging.file', arg: 'FILE', description: 'also write logs to this file' },
  { names: ['--allow-ae'], key: 'access_control.allowed_ae_titles', arg: 'LIST', description: 'calling AE titles let in, comma-separated, * and ? wildcards (repeatable)' },
  { names: ['--tls'], key: 'tls.enabled', value: 'true', description: 'DICOM TLS (needs --tls-cert and --tls-key)' },
  { names: ['--tls-cert'], key: 'tls.cert_path', arg: 'FILE', description: 'TLS certificate (PEM)' },
  { names: ['--tls-key'], key: 'tls.key_path', arg: 'FILE', description: 'TLS private key (PEM)' },
  { names: ['--tls-ca'], key: 'tls.ca_path', arg: 'FILE', description: 'CA certificates trusted for client certificates (PEM)' },
  { names: ['--tls-port'], key: 'tls.port', arg: 'PORT', description: 'separate DICOM TLS port (default: TLS on --port)' },
  { names: ['--set'], arg: 'KEY=VALUE', description: 'set any configuration key, e.g. --set server.dimse_timeout=30 (repeatable)' },
  { names: ['--help', '-h'], description: 'show this help' },
  { names: ['--version'], description: 'show the version' },
];

export interface ServerArgs {
  configFile?: string;
  /** Dotted key → string value, to be passed to loadConfig's `overrides`. */
  overrides: Record<string, string>;
  help: boolean;
  version: boolean;
}

const byName = new Map(CLI_FLAGS.flatMap((f) => f.names.map((n) => [n, f] as const)));

/** Parses pacs_server's arguments; throws ConfigError listing every bad one. */
export function parseServerArgs(argv: readonly string[]): ServerArgs {
  const out: ServerArgs = { overrides: {}, help: false, version: false };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? '';
    const eq = token.startsWith('-') ? token.indexOf('=') : -1;
    const name = eq === -1 ? token : token.slice(0, eq);
    const flag = byName.get(name);
    if (flag === undefined) {
      if (!token.startsWith('-')) {
        problems.push(`unexpected argument "${token}" (see --help)`);
        continue;
      }
      problems.push(unknownFlag(name));
      // Its value, if it had one, would only add a second, confusing complaint.
      const next = argv[i + 1];
      if (eq === -1 && next !== undefined && !next.startsWith('-')) i++;
      continue;
    }
    if (flag.arg === undefined) {
      if (eq !== -1) problems.push(`${name}: takes no value`);
      else if (name === '--help' || name === '-h') out.help = true;
      else if (name === '--version') out.version = true;
      else if (flag.key !== undefined && flag.value !== undefined) out.overrides[flag.key] = flag.value;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = token.slice(eq + 1);
    else {
      const next = argv[i + 1];
      // A following flag is not taken as this one's value: "--port --db x" lacks a port.
      if (next !== undefined && !byName.has(next.split('=')[0] ?? '')) {
        value = next;
        i++;
      }
    }
    if (value === undefined) {
      problems.push(`${name}: missing value (${flag.arg})`);
      continue;
    }
    if (name === '--config' || name === '-c') out.configFile = value;
    else if (name === '--set') applySet(value, out.overrides, problems);
    else if (flag.key !== undefined) addOverride(out.overrides, flag.key, value);
  }
  // --db names the SQLite file to use: a database.url of the file or environment would otherwise
  // win (a PostgreSQL index is used whenever a URL is set).
  if (out.overrides['database.path'] !== undefined) {
    if (out.overrides['database.url'] !== undefined && out.overrides['database.url'] !== '') problems.push('--db (SQLite) and --db-url (PostgreSQL): give one of them');
    else out.overrides['database.url'] = '';
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out;
}

function applySet(value: string, overrides: Record<string, string>, problems: string[]): void {
  const eq = value.indexOf('=');
  const key = eq === -1 ? '' : value.slice(0, eq).trim();
  if (!/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(key)) {
    problems.push(`--set: expected KEY=VALUE with a dotted key like server.port=11113, got "${value}"`);
    return;
  }
  addOverride(overrides, key, value.slice(eq + 1));
}

/** Lists accumulate over repeated flags (--allow-ae A --allow-ae B); other keys: last one wins. */
function addOverride(overrides: Record<string, string>, key: string, value: string): void {
  const prev = overrides[key];
  const isList = kindAt(key.split('.')) === 'string-list';
  overrides[key] = isList && prev !== undefined && prev !== '' ? `${prev},${value}` : value;
}

function unknownFlag(name: string): string {
  const guess = closest(name, [...byName.keys()].filter((n) => n.startsWith('--')));
  return `unknown option ${name}${guess === undefined ? '' : ` (did you mean ${guess}?)`} (see --help)`;
}

export function serverHelpText(): string {
  const rows = CLI_FLAGS.map((f) => [f.names.join(', ') + (f.arg === undefined ? '' : ` ${f.arg}`), f.description] as const);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    'Usage: pacs_server [options]',
    '',
    'Starts the PACS: DICOM on --port, the web on --http-port, metrics on --metrics-port.',
    'Settings come from the configuration file, then PACS_<SECTION>__<KEY> environment',
    'variables (e.g. PACS_SERVER__PORT=11113), then these options; later ones win.',
    '',
    'Options:',
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
    '',
    'Every key is described in docs/configuration.md; `pacs config check` prints the result.',
    '',
  ].join('\n');
}
