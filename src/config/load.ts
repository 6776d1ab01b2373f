// Loads the configuration: YAML file → environment (PACS_SECTION__KEY) → command-line overrides,
// validated once against the schema, paths made absolute, frozen. The only place that reads
// the environment; everything else receives the frozen result through its constructor.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { errorMessage } from '../core/errors.js';
import { ConfigError } from './errors.js';
import {
  ENV_CONFIG_FILE, PATH_KEYS, deepMerge, envLayer, getIn, isPlainObject, nullsToUndefined, overrideLayer,
  resolvePaths, type Layer, type Loose,
} from './layers.js';
import { keysAt } from './introspect.js';
import { formatIssues, formatPath, type OriginOf } from './problems.js';
import { configSchema, type Config } from './schema.js';

export { ConfigError } from './errors.js';
export { CLI_FLAGS, parseServerArgs, serverHelpText, type CliFlag, type ServerArgs } from './args.js';
export { configToYaml, describeReload, isLiveKey, LIVE_KEYS, redactConfig, redactDatabaseUrl } from './reload.js';
export type { Config } from './schema.js';

/** The file used when none is named and it exists in the working directory. */
export const DEFAULT_CONFIG_FILE = 'pacs_server.yaml';

export interface LoadOptions {
  /** Configuration file; must exist when given. */
  file?: string;
  /** Environment variables; defaults to process.env (this module is the one that reads it). */
  env?: Record<string, string | undefined>;
  /** Dotted keys from the command line, e.g. { 'server.port': '11113' }; they win over all else. */
  overrides?: Record<string, string>;
  /** Base for relative paths when there is no file, and where the default file is looked for. */
  cwd?: string;
}

export interface LoadedConfig {
  config: Readonly<Config>;
  /** Absolute path of the file read, or null when running on defaults/environment alone. */
  source: string | null;
}

export function loadConfig(opts: LoadOptions = {}): LoadedConfig {
  const cwd = resolve(opts.cwd ?? process.cwd());
  const env = opts.env ?? process.env;
  const topLevel = keysAt([]);

  const file = pickFile(opts.file, env, cwd);
  const fromFile = file === null ? emptyFile() : readYaml(file, cwd);
  if (fromFile.problems.length > 0) throw new ConfigError(fromFile.problems);

  const fromEnv = envLayer(env, topLevel);
  const fromFlags = overrideLayer(opts.overrides ?? {});
  // A path in the file is relative to the file; one typed in a shell, to where it was typed.
  resolvePaths(fromFile.layer.data, file === null ? cwd : dirname(file));
  resolvePaths(fromEnv.data, cwd);
  resolvePaths(fromFlags.data, cwd);
  const merged = deepMerge(deepMerge(fromFile.layer.data, fromEnv.data), fromFlags.data);

  const originOf = makeOriginOf([fromFlags, fromEnv], fromFile.where);
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, merged, originOf));

  const config = parsed.data as Loose;
  // Whatever is still relative is a default, which lives next to the file (or in cwd).
  resolvePaths(config, file === null ? cwd : dirname(file));
  const missing = [...missingTlsFiles(config, originOf), ...missingCaFiles(config, originOf), ...missingPlugins(config, originOf)];
  if (missing.length > 0) throw new ConfigError(missing);
  return { config: deepFreeze(config as Config), source: file };
}

function pickFile(given: string | undefined, env: Record<string, string | undefined>, cwd: string): string | null {
  const named = given ?? (env[ENV_CONFIG_FILE] || undefined);
  if (named !== undefined) {
    const path = resolve(cwd, named);
    const origin = given === undefined ? ` (from ${ENV_CONFIG_FILE})` : '';
    if (!existsSync(path)) throw new ConfigError([`configuration file not found: ${path}${origin}`]);
    return path;
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : null;
}

interface FileLayer {
  layer: Layer;
  problems: string[];
  /** "pacs_server.yaml line 3" for a key path present in the file. */
  where: OriginOf;
}

const emptyFile = (): FileLayer => ({ layer: { data: {}, origins: new Map() }, problems: [], where: () => undefined });

function readYaml(file: string, cwd: string): FileLayer {
  const shown = displayName(file, cwd);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ...emptyFile(), problems: [`cannot read configuration file ${shown}: ${errorMessage(e)}`] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const message = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
      return pos === undefined ? `${shown}: ${message}` : `${shown}:${pos.line}:${pos.col}: ${message}`;
    });
    return { ...emptyFile(), problems };
  }
  const data = nullsToUndefined(doc.toJS());
  if (data !== undefined && !isPlainObject(data)) {
    return { ...emptyFile(), problems: [`${shown}: expected a mapping of sections (server:, storage:, ...) at the top level`] };
  }
  // A missing key is reported at the line of the nearest enclosing key that is there.
  const where: OriginOf = (path) => {
    for (let n = path.length; n > 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      const offset = node?.range?.[0];
      if (offset !== undefined) return `${shown} line ${lines.linePos(offset).line}`;
    }
    return undefined;
  };
  return { layer: { data: data ?? {}, origins: new Map() }, problems: [], where };
}

const displayName = (file: string, cwd: string): string => {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
};

/**
 * The later layer that set a key (or one of its parents) wins; then one that set a key inside it
 * (an unknown section named by PACS_FOO__BAR or --set foo.bar is reported as "foo", and its
 * origin is "foo.bar"'s); then the file's line number.
 */
function makeOriginOf(layers: Layer[], fileWhere: OriginOf): OriginOf {
  const said = (origin: string): string => (origin.startsWith('PACS_') ? `from ${origin}` : `from the ${origin}`);
  return (path) => {
    for (let n = path.length; n > 0; n--) {
      const key = formatPath(path.slice(0, n));
      for (const layer of layers) {
        const origin = layer.origins.get(key);
        if (origin !== undefined) return said(origin);
      }
    }
    const prefix = formatPath(path);
    for (const layer of layers)
      for (const [key, origin] of layer.origins) if (key.startsWith(`${prefix}.`) || key.startsWith(`${prefix}[`)) return said(origin);
    return fileWhere(path);
  };
}

/** TLS that cannot start is a configuration problem: report it with the others, at load time. */
function missingTlsFiles(config: Loose, originOf: OriginOf): string[] {
  if (getIn(config, ['tls', 'enabled']) !== true) return [];
  const problems: string[] = [];
  for (const key of PATH_KEYS.filter((k) => k.startsWith('tls.'))) {
    const path = key.split('.');
    const p = getIn(config, path);
    if (typeof p === 'string' && !existsSync(p)) {
      const origin = originOf(path);
      problems.push(`${key}: file not found: ${p}${origin === undefined ? '' : ` (${origin})`}`);
    }
  }
  return problems;
}

/** A DICOMweb server's CA file that is not there would fail every forward to it: say so now. */
function missingCaFiles(config: Loose, originOf: OriginOf): string[] {
  const servers = config.dicomweb_servers;
  if (!Array.isArray(servers)) return [];
  return servers.flatMap((s: unknown, i) => {
    const p = isPlainObject(s) ? s.ca_path : undefined;
    if (typeof p !== 'string' || existsSync(p)) return [];
    const origin = originOf(['dicomweb_servers', i, 'ca_path']);
    return [`dicomweb_servers[${i}].ca_path: file not found: ${p}${origin === undefined ? '' : ` (${origin})`}`];
  });
}

/** A plugin module that is not there stops the server's start: `pacs config check` says so too. */
function missingPlugins(config: Loose, originOf: OriginOf): string[] {
  const plugins = config.plugins;
  if (!Array.isArray(plugins)) return [];
  return plugins.flatMap((spec: unknown, i) => {
    // As src/plugins.ts imports it: a file path (a relative one was made absolute against the configuration file's folder).
    const p = typeof spec === 'string' ? spec : isPlainObject(spec) ? spec.path : undefined;
    if (typeof p !== 'string' || p.trim() === '' || existsSync(p)) return [];
    const origin = originOf(['plugins', i]);
    return [`plugins[${i}]: file not found: ${p}${origin === undefined ? '' : ` (${origin})`}`];
  });
}

export function deepFreeze<T>(value: T): Readonly<T> {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// Kept for callers that build a config from plain data (tests, `pacs` tools): same checks.
export function parseConfigData(data: Loose, baseDir: string = process.cwd()): Readonly<Config> {
  const copy = deepMerge({}, data);
  resolvePaths(copy, baseDir);
  const parsed = configSchema.safeParse(copy);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues, copy, () => undefined));
  const config = parsed.data as Loose;
  resolvePaths(config, baseDir);
  return deepFreeze(config as Config);
}
