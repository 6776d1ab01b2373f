// What a SIGHUP can change without a restart, and the printable form of a configuration.
import { redactUrl } from './redact.js';
import { stringify } from 'yaml';
import type { Config } from './schema.js';

/**
 * Keys that running components re-read on reload. A key ending in ".*" covers its whole
 * section. Everything else (ports, paths, TLS, the database...) is bound at start-up.
 */
export const LIVE_KEYS = [
  'access_control.*',
  'http.anonymous_role',
  'http.users',
  'http.tokens',
  'http.max_upload_mb',
  'http.max_upload_parts',
  'http.max_concurrent_uploads',
  'http.upload_timeout_s',
  'http.upload_min_kb_per_s',
  'database.changes_keep_days',
  'http.allowed_hosts',
  'jobs.*',
  'known_nodes',
  // Live like the rules that name them: a reload may add a server and a rule forwarding to it.
  'dicomweb_servers',
  'hl7.station_ae',
  'hl7.processing_ids',
  'hl7.max_connections',
  'hl7.max_connections_per_address',
  'hl7.allowed_addresses',
  'hl7.max_orders_per_message',
  'mpps.*',
  'logging.level',
  'query.*',
  'rules',
  'stability.*',
  'retention.*',
  'server.max_associations',
  'server.max_associations_per_ae',
  'server.max_associations_per_address',
  'server.idle_timeout',
  'server.dimse_timeout',
  'server.max_new_associations_per_minute_per_ae',
  'server.max_dataset_mb',
  'http.rate_limit_per_minute',
  'storage.duplicate_policy',
  'storage.min_free_mb',
] as const;

export function isLiveKey(key: string): boolean {
  // A mapping's entries are flattened to keys of their own (hl7.station_ae.CT): live as the mapping is.
  return LIVE_KEYS.some((live) => (live.endsWith('.*') ? key.startsWith(live.slice(0, -1)) : key === live || key.startsWith(`${live}.`)));
}

/** The dotted keys that differ between two configurations, split by whether they apply live. */
export function describeReload(oldCfg: Config, newCfg: Config): { live: string[]; restart: string[] } {
  const before = flatten(oldCfg);
  const after = flatten(newCfg);
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort();
  const changed = keys.filter((k) => before.get(k) !== after.get(k));
  return { live: changed.filter(isLiveKey), restart: changed.filter((k) => !isLiveKey(k)) };
}

/** Leaf values by dotted key, as JSON; lists are one value (known_nodes changes as a whole). */
function flatten(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
  } else if (value !== undefined) {
    out.set(prefix, JSON.stringify(value));
  }
  return out;
}

/** A copy safe to print or expose on /status: passwords and tokens are masked. */
export function redactConfig(config: Config): Config {
  const http = config.http;
  if (http.users.length || http.tokens.length)
    config = {
      ...config,
      http: { ...http, users: http.users.map((u) => ({ ...u, password: '****' })), tokens: http.tokens.map((t) => ({ ...t, token: '****' })) },
    };
  const ui = config.access_control.user_identity;
  if (ui?.users.some((u) => u.password !== undefined))
    config = { ...config, access_control: { ...config.access_control, user_identity: { ...ui, users: ui.users.map((u) => (u.password === undefined ? u : { ...u, password: '****' })) } } };
  if (config.dicomweb_servers.some((s) => s.password !== undefined || s.token !== undefined))
    config = {
      ...config,
      dicomweb_servers: config.dicomweb_servers.map((s) => ({ ...s, ...(s.password !== undefined ? { password: '****' } : {}), ...(s.token !== undefined ? { token: '****' } : {}) })),
    };
  const url = config.database.url;
  if (url === undefined) return config;
  const shown = redactDatabaseUrl(url);
  return shown === url ? config : { ...config, database: { ...config.database, url: shown } };
}

/**
 * A PostgreSQL URL with its password masked, for logs and `pacs config check`: the user-info
 * password and a `password` parameter, which node-pg (as libpq) takes as well.
 */
export const redactDatabaseUrl = redactUrl;

/** The resolved configuration as YAML, for `pacs config check`. Secrets masked unless asked. */
export function configToYaml(config: Config, opts: { redact?: boolean } = {}): string {
  const shown = opts.redact === false ? config : redactConfig(config);
  return stringify(shown, { lineWidth: 0 });
}
