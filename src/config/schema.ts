// The one configuration schema: every key of SPEC.md's YAML, with its default and its check.
// Messages are written for a person reading a start-up failure; the loader prefixes each with
// the key path and appends the offending value (see problems.ts).
import { join } from 'node:path';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseNamingTemplate } from './naming.js';
import { deidentifyProfileSchema, rulesSchema, stabilitySchema } from './rules-schema.js';
import { checkDicomwebReferences, dicomwebServersSchema } from './dicomweb-schema.js';
import { badHash } from '../core/passwords.js';

// ---- field builders -------------------------------------------------------------------

/** An integer in [min, max]; every failure (type or range) reads the same. */
const int = (min: number, max: number, def: number, note = '') => {
  const error = `expected an integer from ${min} to ${max}${note}`;
  return z.int({ error }).min(min, { error }).max(max, { error }).default(def);
};

const PORT_ERROR = 'expected an integer from 1 to 65535';
const portNumber = z.int({ error: PORT_ERROR }).min(1, { error: PORT_ERROR }).max(65535, { error: PORT_ERROR });
/** Ports we listen on may be 0: the system picks a free one (tests, several servers on one host). */
const LISTEN_PORT_ERROR = 'expected an integer from 0 (any free port) to 65535';
const port = (def: number) =>
  z.int({ error: LISTEN_PORT_ERROR }).min(0, { error: LISTEN_PORT_ERROR }).max(65535, { error: LISTEN_PORT_ERROR }).default(def);

const MAX_SECONDS = 86_400;
/** A duration in seconds (fractions allowed: tests use short timeouts). */
const seconds = (def: number, note = '', positive = false) => {
  const error = positive
    ? `expected a number of seconds greater than 0, up to ${MAX_SECONDS}`
    : `expected a number of seconds from 0 to ${MAX_SECONDS}${note}`;
  const n = z.number({ error });
  return (positive ? n.gt(0, { error }) : n.min(0, { error })).max(MAX_SECONDS, { error }).default(def);
};

const bool = (def: boolean) => z.boolean({ error: 'expected true or false' }).default(def);

const text = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}, not empty` });

/** Host names as RFC 1123 spells them; a name of digits and dots alone must be an IPv4 address. */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
export const isHostSyntax = (v: string): boolean => isIP(v) !== 0 || (HOST_NAME.test(v) && !/^[0-9.]+$/.test(v));
/** An address or host name, checked here so that a typo is named by its key, not by getaddrinfo at start-up. */
const hostText = (what: string) => text(what).refine(isHostSyntax, { error: `expected ${what}: an IP address or a host name` });

/** A password in plain text or a scrypt hash; a damaged hash is refused rather than taken as plain text. */
const passwordText = text('a password or a scrypt hash').superRefine((v, ctx) => {
  const why = badHash(v);
  if (why) ctx.addIssue({ code: 'custom', message: why });
});

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `expected one of ${values.join(', ')}` });

// Default character repertoire (ISO 646) without backslash and control characters (PS3.5 6.2).
const AE_CHARS = /^[\x20-\x5b\x5d-\x7e]+$/;
const AE_ERROR = 'expected an AE title: 1 to 16 characters, not all spaces, no backslash or control characters';

/** An application entity title; leading/trailing spaces are insignificant in DICOM, so trimmed. */
export const aeTitleSchema = z
  .string({ error: AE_ERROR })
  .trim()
  .min(1, { error: AE_ERROR })
  .max(16, { error: AE_ERROR })
  .regex(AE_CHARS, { error: AE_ERROR });

const AE_PATTERN_ERROR = 'expected an AE title pattern (* and ? wildcards; no backslash or control characters)';
const aePattern = z
  .string({ error: AE_PATTERN_ERROR })
  .trim()
  .min(1, { error: AE_PATTERN_ERROR })
  .max(64, { error: AE_PATTERN_ERROR })
  .regex(AE_CHARS, { error: AE_PATTERN_ERROR });

// ---- sections -------------------------------------------------------------------------

const SECTION_ERROR = 'expected a mapping of keys';
const section = <S extends z.core.$ZodLooseShape>(shape: S) => z.strictObject(shape, { error: SECTION_ERROR });

const server = section({
  ae_title: aeTitleSchema.default('PACS_SERVER'),
  host: hostText('a bind address such as 0.0.0.0').default('0.0.0.0'),
  port: port(11112),
  max_associations: int(1, 10_000, 50),
  max_associations_per_ae: int(0, 10_000, 0, ' (0 = unlimited)'),
  max_associations_per_address: int(0, 10_000, 0, ' (0 = unlimited)'),
  max_new_associations_per_minute_per_ae: int(0, 1_000_000, 0, ' (0 = unlimited)'),
  idle_timeout: seconds(60, ' (0 = none)'),
  // Unlike the others, ARTIM cannot be switched off: it is what frees a half-open association.
  artim_timeout: seconds(30, '', true),
  dimse_timeout: seconds(60, ' (0 = none)'),
  max_pdu_length: int(4096, 16_777_216, 262_144, ' bytes'),
  /** Largest dataset one C-STORE may carry; larger ones are refused, nothing written. */
  max_dataset_mb: int(0, 1_048_576, 0, ' MB (0 = unlimited)'),
  strict_called_ae: bool(true),
  shutdown_grace: seconds(10),
  /** Keep the JavaScript heap small (core/heap.ts); absent: on with SQLite, off with PostgreSQL. */
  compact_heap: z.boolean({ error: 'expected true or false' }).optional(),
  /** This server's name among servers sharing one index (on job leases); default: the host name. */
  node_name: z
    .string({ error: 'expected a name of letters, digits, dot, dash or underscore' })
    .regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'expected a name of letters, digits, dot, dash or underscore' })
    .optional(),
});

export const NAMING_PRESETS = ['hierarchical', 'flat'] as const;

const naming = z.string({ error: 'expected "hierarchical", "flat", or a naming template' }).superRefine((value, ctx) => {
  if ((NAMING_PRESETS as readonly string[]).includes(value)) return;
  const parsed = parseNamingTemplate(value, { recordOnly: true });
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.problem, params: { got: true } });
});

export const DUPLICATE_POLICIES = ['reject', 'overwrite', 'ignore'] as const;

const storage = section({
  directory: text('a directory path').default('./archive'),
  naming: naming.default('hierarchical'),
  duplicate_policy: oneOf(DUPLICATE_POLICIES).default('reject'),
  fsync: bool(true),
  min_free_mb: int(0, 100_000_000, 500, ' megabytes (0 = no guard)'),
  // Default "<directory>/.incoming": the same filesystem as the archive, so rename is atomic.
  temp_dir: text('a directory path').optional(),
});

const postgresUrl = z.string({ error: 'expected a postgres:// or postgresql:// URL' }).refine(
  (v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v),
  { error: 'expected a postgres:// or postgresql:// URL', params: { got: true } },
);

const database = section({
  path: text('a file path').default('./pacs.db'),
  wal_mode: bool(true),
  url: postgresUrl.optional(),
  /**
   * Days the change log keeps a change no follower still needs (one row per store and delete,
   * which nothing else removes); 0: for ever.
   */
  changes_keep_days: int(0, 36_500, 30, ' (0 = for ever)'),
});

const tls = section({
  enabled: bool(false),
  cert_path: text('a file path').optional(),
  key_path: text('a file path').optional(),
  ca_path: text('a file path').optional(),
  // Unset: DICOM TLS replaces plain DICOM on server.port. Set: both listen.
  port: portNumber.optional(),
  require_client_cert: bool(false),
});

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const logging = section({
  level: oneOf(LOG_LEVELS).default('info'),
  file: text('a file path').optional(),
  /** The audit trail (who did what to which study) as JSON lines; unset: none. */
  audit_file: text('a file path').optional(),
});

const monitoring = section({
  enabled: bool(true),
  metrics_port: port(9090),
});

const dicomUser = section({
  username: text('a user name'),
  /** Plain text or a hash of `pacs hash-password`; absent: the user name alone identifies (identity type 1). */
  password: passwordText.optional(),
});

const userIdentity = section({
  /** Refuse associations without a (verified) user identity. */
  required: bool(false),
  users: z.array(dicomUser, { error: 'expected a list of users' }).default([]),
});

const accessControl = section({
  /** User Identity Negotiation (PS3.7 D.3.3.7); unset: identities are ignored. */
  user_identity: userIdentity.optional(),
  allowed_ae_titles: z
    .array(aePattern, { error: 'expected a list of AE title patterns' })
    .min(1, { error: 'expected at least one AE title pattern (use "*" to allow every AE)' })
    .default(['*']),
});

const query = section({
  fuzzy_person_names: bool(true),
  max_results: int(0, 10_000_000, 0, ' (0 = unlimited)'),
  /**
   * Most answers to one QIDO-RS request (a request without `limit`, or asking for more): the
   * answer is one JSON document in memory, so a universal query of a large archive must be cut.
   */
  qido_max_results: int(0, 10_000_000, 10_000, ' (0 = unlimited)'),
});

export const HTTP_ROLES = ['none', 'read', 'write', 'admin'] as const;
export type HttpRole = (typeof HTTP_ROLES)[number];
const role = oneOf(['read', 'write', 'admin'] as const);

const httpUser = section({
  username: text('a user name'),
  /** Plain text, or "scrypt$N$r$p$SALT$HASH" as `pacs hash-password` prints it (or the older "scrypt:SALT:HASH"). */
  password: passwordText,
  role,
});

const httpToken = section({
  name: text('a name for the token (shown in logs)'),
  token: z.string({ error: 'expected a token of at least 16 characters' }).min(16, { error: 'expected a token of at least 16 characters' }),
  role,
});

const CIDR_ERROR = 'expected an IP address or a CIDR block such as 192.0.2.0/24';
const ipOrCidr = z.string({ error: CIDR_ERROR }).refine(
  (v) => {
    const [ip = '', bits, extra] = v.split('/');
    const family = isIP(ip);
    if (!family || extra !== undefined) return false;
    if (bits === undefined) return true;
    const n = Number(bits);
    return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
  },
  { error: CIDR_ERROR, params: { got: true } },
);

const HOST_PATTERN_ERROR = 'expected a host name, *.domain, or * (any)';
const hostPattern = z
  .string({ error: HOST_PATTERN_ERROR })
  .refine((v) => v === '*' || isHostSyntax(v.startsWith('*.') ? v.slice(2) : v), { error: HOST_PATTERN_ERROR, params: { got: true } });

const http = section({
  enabled: bool(true),
  host: hostText('a bind address such as 0.0.0.0').default('0.0.0.0'),
  port: port(8080),
  /** Origins allowed to call the web services from a browser; ["*"] for any. */
  cors_origins: z.array(text('an origin such as https://viewer.example.org'), { error: 'expected a list of origins' }).default([]),
  /** The role of a request without credentials; unset: admin if no users or tokens are configured, else read. */
  anonymous_role: oneOf(HTTP_ROLES).optional(),
  users: z.array(httpUser, { error: 'expected a list of users' }).default([]),
  tokens: z.array(httpToken, { error: 'expected a list of tokens' }).default([]),
  /** Largest STOW-RS / upload request. */
  max_upload_mb: int(1, 1_048_576, 4096, ' MB'),
  /**
   * Parts (instances) of one STOW-RS request: the answer lists each, so an unbounded count of
   * tiny parts would grow it (and the memory behind it) without limit.
   */
  max_upload_parts: int(1, 10_000_000, 50_000, ''),
  /**
   * STOW-RS and upload bodies received at once (each holds an ingest session and a staged file);
   * the next is answered 503 with Retry-After.
   */
  max_concurrent_uploads: int(1, 10_000, 32, ''),
  /**
   * A STOW-RS or upload body must bring at least upload_min_kb_per_s over each upload_timeout_s
   * the server waits for it (at least one byte when 0), else it is answered 408 and the
   * connection closed: a client trickling bytes would hold its session for ever.
   */
  upload_timeout_s: seconds(60, '', true),
  upload_min_kb_per_s: int(0, 1_048_576, 1, ' KB/s'),
  /** Largest JSON (or other small) request body: the API's bodies are a few lines. */
  max_json_kb: int(1, 1_048_576, 1024, ' KB'),
  /** Requests a minute per user (or per address without credentials); beyond it, 429. */
  rate_limit_per_minute: int(0, 10_000_000, 0, ' (0 = unlimited)'),
  /**
   * Reverse proxies (addresses or CIDR blocks) whose X-Forwarded-For is believed: a request
   * through one of them counts (rate limit, audit) as its client's address, not the proxy's.
   */
  trust_proxy: z.array(ipOrCidr, { error: 'expected a list of IP addresses or CIDR blocks' }).default([]),
  /**
   * Host names (and `*.example.org` wildcards; `*`: any) that requests without credentials may
   * name besides IP literals, localhost and this machine's host name: others are refused (421)
   * as DNS rebinding could send them (host-check.ts).
   */
  allowed_hosts: z.array(hostPattern, { error: 'expected a list of host names' }).default([]),
  /** The OHIF viewer at /viewer. */
  viewer: bool(true),
  /** Prepare each instance's WADO-RS metadata right after it is stored (in the background), so a series' first metadata request is fast. */
  prepare_metadata: bool(true),
});

const jobs = section({
  /** Jobs (send, pull, exports, forwards) this server runs at once. */
  workers: int(1, 64, 2, ''),
  /**
   * Tries before a job is marked failed; each retry waits backoff_seconds × 2^(try−1), at most an
   * hour. 20 with the default backoff is about twelve hours: a destination down overnight still
   * gets its forwards (5 gave up after two and a half minutes).
   */
  max_attempts: int(1, 100, 20, ''),
  backoff_seconds: int(1, 3600, 10, ' s'),
  /** Finished jobs are kept this many days for the record, then removed. */
  keep_days: int(1, 3650, 30, ' days'),
  /**
   * A running job is renewed while its server lives; when the server dies, another server
   * sharing the index takes the job over once this long has passed without a renewal.
   */
  lease_seconds: int(2, 3600, 60, ' s'),
});

const worklist = section({
  /** A folder of worklist files as DCMTK's wlmscpfs reads them (a directory per AE title holding *.wl files); unset: none. */
  folder: text('a directory path').optional(),
  /** How often the folder is scanned for new, changed and removed files. */
  poll_seconds: seconds(5, '', true),
});

export const HL7_CHARSETS = ['UTF-8', 'ISO-8859-1', 'ASCII'] as const;

const hl7 = section({
  /** HL7 v2 orders and patient updates over MLLP. */
  enabled: bool(false),
  host: hostText('a bind address such as 0.0.0.0').default('0.0.0.0'),
  port: port(2575),
  /** The character set of messages whose MSH-18 is empty. */
  charset: oneOf(HL7_CHARSETS).default('UTF-8'),
  /** MLLP connections open at once; past it a new one is closed unanswered (each may hold a frame of up to 16 MB). */
  max_connections: int(1, 10_000, 64),
  /**
   * Addresses (IPs or CIDR blocks) that may connect; a connection from elsewhere is closed at
   * once. Empty (the default): any. The RIS and the HIS are known hosts; anyone else reaching
   * the port could otherwise fill hl7.max_connections with idle connections.
   */
  allowed_addresses: z.array(ipOrCidr, { error: 'expected a list of IP addresses or CIDR blocks' }).default([]),
  /** MLLP connections one address may have open at once; past it a new one from there is closed unanswered, so one host cannot take them all. */
  max_connections_per_address: int(1, 10_000, 8),
  /** Orders (ORC segments) one ORM^O01 or OMI^O23 may hold; one with more is answered AE and nothing of it is taken. */
  max_orders_per_message: int(1, 10_000, 100),
  /** Scheduled Station AE Title by the order's modality or PV1-3 point of care (the first that has an entry). */
  station_ae: z.record(z.string(), aeTitleSchema, { error: 'expected a mapping of modality or location to AE title' }).default({}),
  /**
   * MSH-11 processing IDs applied here: P (production) by default; a test server may add T
   * (training) and D (debugging). Others are refused with AR 202, so that a HIS's training
   * messages never change production patients and orders.
   */
  processing_ids: z
    .array(oneOf(['P', 'T', 'D'] as const), { error: 'expected a list of P, T, D' })
    .min(1, { error: 'expected at least one of P, T, D' })
    .default(['P']),
});

const mpps = section({
  /** Known nodes (AE titles) every accepted N-CREATE / N-SET is forwarded to, as durable jobs. */
  forward_to: z.array(aeTitleSchema, { error: 'expected a list of AE titles of known nodes' }).default([]),
});

export const PERMISSIONS = ['store', 'find', 'move', 'get', 'worklist', 'mpps', 'commit'] as const;
export type Permission = (typeof PERMISSIONS)[number];

const knownNode = section({
  ae_title: aeTitleSchema,
  host: hostText('a host name or address'),
  port: portNumber,
  tls: bool(false),
  /** Addresses (IPs or CIDR blocks) this AE title may call from; unset: anywhere. */
  addresses: z.array(ipOrCidr, { error: 'expected a list of IP addresses or CIDR blocks' }).min(1, { error: 'expected at least one address (leave addresses out to allow any)' }).optional(),
  permissions: z
    .array(oneOf(PERMISSIONS), { error: `expected a list of: ${PERMISSIONS.join(', ')}` })
    .default([...PERMISSIONS]),
});

const retention = section({
  /** Delete studies whose last instance arrived more than this many days ago; 0: no age rule. */
  max_age_days: int(0, 36_500, 0, ' days (0 = no age rule)'),
  /** Delete the oldest studies while the archive's volume is fuller than this; 0: no rule. */
  max_usage_percent: int(0, 99, 0, ' percent (0 = no usage rule)'),
  /** Delete the oldest studies while the archive holds more than this; 0: no rule. */
  max_bytes: int(0, Number.MAX_SAFE_INTEGER, 0, ' bytes (0 = no size rule)'),
  /**
   * No rule deletes a study whose last instance arrived less than this long ago: the usage rule
   * measures the whole volume, which may be full of other things than recent studies.
   */
  min_age_hours: int(0, 87_600, 24, ' hours (0 = no minimum)'),
  /** Studies marked protected are never deleted by retention; false: the mark is ignored. */
  keep_protected: bool(true),
  check_interval_minutes: int(1, 10_080, 60, ' minutes'),
});

// ---- the whole file -------------------------------------------------------------------

export const configSchema = z
  .strictObject(
    {
      server: server.prefault({}),
      storage: storage.prefault({}),
      database: database.prefault({}),
      tls: tls.prefault({}),
      logging: logging.prefault({}),
      monitoring: monitoring.prefault({}),
      access_control: accessControl.prefault({}),
      query: query.prefault({}),
      http: http.prefault({}),
      jobs: jobs.prefault({}),
      worklist: worklist.prefault({}),
      hl7: hl7.prefault({}),
      mpps: mpps.prefault({}),
      known_nodes: z.array(knownNode, { error: 'expected a list of nodes' }).default([]),
      /** DICOMweb services a rule's forward action sends to by STOW-RS. */
      dicomweb_servers: dicomwebServersSchema,
      stability: stabilitySchema.prefault({}),
      retention: retention.prefault({}),
      rules: rulesSchema,
      /** JavaScript modules loaded at start, each given the narrow plugin API (src/plugins.ts). */
      plugins: z
        .array(
          z.union([
            text('a module path'),
            z.strictObject({ path: text('a module path'), options: z.record(z.string(), z.unknown()).default({}) }, { error: 'expected a path, or { path, options }' }),
          ]),
          { error: 'expected a list of module paths' },
        )
        .default([]),
      /** The de-identification options `pacs export --deidentify` uses (rules give their own). */
      deidentify: deidentifyProfileSchema.prefault({}),
    },
    { error: 'expected a mapping of sections (server, storage, ...)' },
  )
  // when: always — cross-key checks still run when an unrelated key is wrong, so every
  // problem is reported in one go. The value may then be partly invalid: check types.
  .superRefine(crossCheck, { when: () => true })
  .transform((c) => ({
    ...c,
    storage: { ...c.storage, temp_dir: c.storage.temp_dir ?? join(c.storage.directory, '.incoming') },
  }));

/** The parsed, fully defaulted configuration. */
export type Config = z.output<typeof configSchema>;
export type ServerConfig = Config['server'];
export type StorageConfig = Config['storage'];
export type DatabaseConfig = Config['database'];
export type TlsConfig = Config['tls'];
export type LoggingConfig = Config['logging'];
export type MonitoringConfig = Config['monitoring'];
export type AccessControlConfig = Config['access_control'];
export type HttpConfig = Config['http'];
export type JobsConfig = Config['jobs'];
export type WorklistConfig = Config['worklist'];
export type Hl7Config = Config['hl7'];
export type KnownNode = Config['known_nodes'][number];
export type StabilityConfig = Config['stability'];
export type { DicomwebServer } from './dicomweb-schema.js';
export type { Rule, RuleAction, ExportAction, RuleEvent, ExportMode } from './rules-schema.js';

type Ctx = z.core.$RefinementCtx<unknown>;
type Loose = Record<string, unknown>;
const obj = (v: unknown): Loose => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Loose) : {});

function crossCheck(value: unknown, ctx: Ctx): void {
  const root = obj(value);
  const tlsCfg = obj(root.tls);
  if (tlsCfg.enabled === true) {
    for (const key of ['cert_path', 'key_path'] as const) {
      if (tlsCfg[key] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['tls', key], message: 'required when tls.enabled is true' });
      }
    }
    if (tlsCfg.require_client_cert === true && tlsCfg.ca_path === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['tls', 'ca_path'],
        message: 'required when tls.require_client_cert is true (the CAs trusted for client certificates)',
      });
    }
  }
  checkUniqueNodes(root.known_nodes, ctx);
  if (tlsCfg.enabled !== true && Array.isArray(root.known_nodes)) {
    // Every association to such a node would fail (no certificates to connect with): the REST
    // API refuses to keep one, and the file is refused at start-up the same way.
    root.known_nodes.forEach((node: unknown, i) => {
      if (obj(node).tls === true) ctx.addIssue({ code: 'custom', path: ['known_nodes', i, 'tls'], message: 'tls: true needs tls.enabled (the certificates to connect with)' });
    });
  }
  checkDicomwebReferences(root, ctx);
  checkPorts(root, ctx);
}

function checkUniqueNodes(nodes: unknown, ctx: Ctx): void {
  if (!Array.isArray(nodes)) return;
  const seen = new Map<string, number>();
  nodes.forEach((node: unknown, i) => {
    const ae = obj(node).ae_title;
    if (typeof ae !== 'string') return;
    const first = seen.get(ae.trim());
    if (first === undefined) seen.set(ae.trim(), i);
    else {
      ctx.addIssue({
        code: 'custom',
        path: ['known_nodes', i, 'ae_title'],
        message: `duplicate AE title "${ae.trim()}" (also known_nodes[${first}])`,
      });
    }
  });
}

/** Two enabled listeners on one port would fail at start-up with EADDRINUSE: say so now. */
function checkPorts(root: Loose, ctx: Ctx): void {
  const listeners: Array<[string, unknown]> = [['server.port', obj(root.server).port]];
  const tlsCfg = obj(root.tls);
  if (tlsCfg.enabled === true) listeners.push(['tls.port', tlsCfg.port]);
  if (obj(root.http).enabled !== false) listeners.push(['http.port', obj(root.http).port]);
  if (obj(root.monitoring).enabled !== false) listeners.push(['monitoring.metrics_port', obj(root.monitoring).metrics_port]);
  if (obj(root.hl7).enabled === true) listeners.push(['hl7.port', obj(root.hl7).port]);
  const owner = new Map<number, string>();
  for (const [key, p] of listeners) {
    if (typeof p !== 'number' || p === 0) continue; // 0: any free port, never a clash
    const other = owner.get(p);
    if (other === undefined) owner.set(p, key);
    else {
      const hint = key === 'tls.port' ? ' (leave tls.port unset to make server.port TLS-only)' : '';
      ctx.addIssue({ code: 'custom', path: key.split('.'), message: `port ${p} is already used by ${other}${hint}` });
    }
  }
}
