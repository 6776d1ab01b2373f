// The three sources of settings — file, environment, command line — each turned into a plain
// object of the schema's shape, with strings coerced to the schema's types, then merged.
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { kindAt } from './introspect.js';
import { formatPath } from './problems.js';

export type Loose = Record<string, unknown>;

/** Settings from one source, and for each key path set, where it came from. */
export interface Layer {
  data: Loose;
  origins: Map<string, string>;
}

export const ENV_PREFIX = 'PACS_';
/** Names the configuration file when no file is given by the caller. */
export const ENV_CONFIG_FILE = 'PACS_CONFIG';

/** Keys holding file or directory paths: relative ones are resolved, see resolvePaths. */
export const PATH_KEYS = [
  'storage.directory',
  'storage.temp_dir',
  'database.path',
  'logging.file',
  'logging.audit_file',
  'worklist.folder',
  'tls.cert_path',
  'tls.key_path',
  'tls.ca_path',
] as const;

export const isPlainObject = (v: unknown): v is Loose => v !== null && typeof v === 'object' && !Array.isArray(v);

/** "PACS_SERVER__PORT" → ['server', 'port']; undefined for variables that are not settings. */
export function envPath(name: string, topLevelKeys: readonly string[]): string[] | undefined {
  if (!name.startsWith(ENV_PREFIX) || name === ENV_CONFIG_FILE) return undefined;
  const rest = name.slice(ENV_PREFIX.length).toLowerCase();
  // "__" separates levels because keys themselves contain "_" (PACS_ACCESS_CONTROL__ALLOWED_AE_TITLES).
  if (rest.includes('__')) return rest.split('__');
  // A whole section or list, as YAML: PACS_KNOWN_NODES='[{ae_title: WS1, host: ws1, port: 104}]'.
  return topLevelKeys.includes(rest) ? [rest] : undefined;
}

export function envLayer(env: Record<string, string | undefined>, topLevelKeys: readonly string[]): Layer {
  const layer: Layer = { data: {}, origins: new Map() };
  for (const name of Object.keys(env).sort()) {
    const raw = env[name];
    const path = envPath(name, topLevelKeys);
    if (raw === undefined || path === undefined) continue;
    set(layer, path, raw, name);
  }
  return layer;
}

/** Overrides from the command line: { 'server.port': '11113' }. */
export function overrideLayer(overrides: Record<string, string>, origin = 'command line'): Layer {
  const layer: Layer = { data: {}, origins: new Map() };
  for (const [key, raw] of Object.entries(overrides)) set(layer, key.split('.'), raw, origin);
  return layer;
}

function set(layer: Layer, path: string[], raw: string, origin: string): void {
  setIn(layer.data, path, coerce(path, raw));
  layer.origins.set(formatPath(path), origin);
}

/**
 * A string made into what the schema expects at `path`. Strings that do not fit are returned
 * unchanged, so that validation reports them with the key's own message.
 * An empty string means "unset": the key falls back to its default.
 */
export function coerce(path: readonly string[], raw: string): unknown {
  const s = raw.trim();
  if (s === '') return undefined;
  switch (kindAt(path)) {
    case 'number':
      return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(s) ? Number(s) : raw;
    case 'boolean': {
      const b = BOOLEANS[s.toLowerCase()];
      return b ?? raw;
    }
    case 'string-list':
      return s.startsWith('[') ? yamlOr(s, raw) : s.split(',').map((x) => x.trim()).filter((x) => x !== '');
    case 'structured':
      return yamlOr(s, raw);
    default:
      return raw;
  }
}

const BOOLEANS: Record<string, boolean | undefined> = {
  true: true, false: false, yes: true, no: false, on: true, off: false, '1': true, '0': false,
};

function yamlOr(s: string, fallback: string): unknown {
  try {
    return nullsToUndefined(parseYaml(s));
  } catch {
    return fallback;
  }
}

/** Sets a nested key, creating (or replacing non-object) parents on the way. */
export function setIn(target: Loose, path: readonly string[], value: unknown): void {
  let obj = target;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      obj[key] = value;
      return;
    }
    const next = obj[key];
    if (isPlainObject(next)) obj = next;
    else {
      const created: Loose = {};
      obj[key] = created;
      obj = created;
    }
  });
}

export function getIn(source: Loose, path: readonly string[]): unknown {
  let v: unknown = source;
  for (const key of path) v = isPlainObject(v) ? v[key] : undefined;
  return v;
}

/** Mappings merge key by key; everything else (lists included) is replaced by the later layer. */
export function deepMerge(base: Loose, over: Loose): Loose {
  const out: Loose = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) ? deepMerge(prev, value) : value;
  }
  return out;
}

/** YAML's empty value ("file:") means "not set", like a missing key. Null list items stay, to be reported. */
export function nullsToUndefined(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (isPlainObject(x) ? nullsToUndefined(x) : x));
  if (!isPlainObject(v)) return v === null ? undefined : v;
  const out: Loose = {};
  for (const [key, value] of Object.entries(v)) {
    if (value !== null) out[key] = nullsToUndefined(value);
  }
  return out;
}

/** SQLite names that are not files. */
const isSpecialDbPath = (p: string): boolean => p === ':memory:' || p.startsWith('file:');

/** Makes the relative paths of a layer absolute against `baseDir`; other values are left alone. */
export function resolvePaths(data: Loose, baseDir: string): void {
  for (const key of PATH_KEYS) {
    const path = key.split('.');
    const v = getIn(data, path);
    if (typeof v !== 'string' || v.trim() === '' || isAbsolute(v)) continue;
    if (key === 'database.path' && isSpecialDbPath(v)) continue;
    setIn(data, path, resolve(baseDir, v));
  }
  // dicomweb_servers: each server's CA file, relative to where it was written like tls.ca_path.
  if (Array.isArray(data.dicomweb_servers))
    data.dicomweb_servers = data.dicomweb_servers.map((s: unknown) =>
      isPlainObject(s) && typeof s.ca_path === 'string' && s.ca_path.trim() && !isAbsolute(s.ca_path) ? { ...s, ca_path: resolve(baseDir, s.ca_path) } : s,
    );
  // plugins: a list of module paths (or { path, options }), relative to the configuration file too
  // ("plugins/p.mjs" as "./plugins/p.mjs": a plugin is a file, never a package name).
  if (Array.isArray(data.plugins))
    data.plugins = data.plugins.map((p: unknown) => {
      if (typeof p === 'string' && p.trim() && !isAbsolute(p)) return resolve(baseDir, p);
      if (isPlainObject(p) && typeof p.path === 'string' && p.path.trim() && !isAbsolute(p.path)) return { ...p, path: resolve(baseDir, p.path) };
      return p;
    });
}
