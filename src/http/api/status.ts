// The server's state: statistics of the archive, and what is happening now (associations,
// throughput, recent stores and errors, disk, jobs). /status and /health also answer at the
// root for monitoring tools that do not know the API.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDeps } from './deps.js';
import type { RulesHeldBack } from '../../services/received-rules.js';
import type { RecentError } from '../../services/activity.js';
import { cachedReadiness } from '../../services/health.js';
import { errorMessage } from '../../core/errors.js';
import { roleAllows } from '../auth.js';
import '../route-config.js';

async function disk(deps: ApiDeps): Promise<{ free: number; total: number | null }> {
  const u = await deps.objects.diskUsage();
  return { free: u.freeBytes, total: u.totalBytes };
}

/** What the server is doing; `admin`: also where it keeps its files and whom it lets in. */
export async function serverStatus(deps: ApiDeps, admin: boolean) {
  const a = deps.activity;
  const [statistics, space, queued, running, failed] = await Promise.all([
    deps.index.statistics(),
    disk(deps),
    deps.index.jobs.list({ state: 'queued', limit: 0, offset: 0 }),
    deps.index.jobs.list({ state: 'running', limit: 0, offset: 0 }),
    deps.index.jobs.list({ state: 'failed', limit: 0, offset: 0 }),
  ]);
  const minute = a.throughput(60);
  const c = deps.config();
  return {
    version: deps.version,
    aeTitle: c.server.ae_title,
    dicomPort: deps.dicomPort(),
    startedAt: a.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - a.startedAt.getTime()) / 1000),
    // What an administrator checks first; no secrets (users and tokens are counted, not listed).
    // The storage directory and the allowed AE titles help an attacker (a path to aim at, the
    // calling AE titles to pretend): administrators only.
    config: {
      ...(admin ? { storage: c.storage.directory, allowedAETitles: c.access_control.allowed_ae_titles } : {}),
      index: c.database.url ? 'postgresql' : 'sqlite',
      tls: c.tls.enabled,
      httpUsers: c.http.users.length,
      httpTokens: c.http.tokens.length,
      knownNodes: c.known_nodes.length,
      dicomwebServers: c.dicomweb_servers.length,
      rules: c.rules.length,
      duplicatePolicy: c.storage.duplicate_policy,
      minFreeMB: c.storage.min_free_mb,
    },
    statistics,
    disk: { ...space, minFree: c.storage.min_free_mb * 1024 * 1024 },
    associations: deps.associations(),
    throughput: {
      lastMinute: { instances: minute.reduce((n, s) => n + s.instances, 0), bytes: minute.reduce((n, s) => n + s.bytes, 0) },
      perSecond: minute,
      sinceStart: a.totals,
    },
    jobs: { queued: queued.total, running: running.total, failed: failed.total },
    // Rules on received instances wait for one that cannot be acted on (its file gone): until it
    // is back or deleted, no later instance's rules run — said here, not only once in the log.
    rulesHeldBack: heldBack(deps, admin),
    recentStores: a.recentStores(),
    recentErrors: admin ? a.recentErrors() : a.recentErrors().map(withoutInternals),
    recentAssociations: a.recentAssociations(),
  };
}

/**
 * A storage or index failure's message names paths of the storage (the system's "EACCES: …,
 * open '/var/lib/pacs/…'"): for administrators only, as the storage directory; its code stays.
 */
function withoutInternals(e: RecentError): RecentError {
  const code = /^(STORAGE_FAILURE|INDEX_FAILURE|OUT_OF_RESOURCES):/.exec(e.message)?.[1];
  return code ? { ...e, message: `${code}: (the reason is shown to administrators)` } : e;
}

/** Why rules wait: the reason (an error naming a file path in the storage) for administrators only, as the storage directory. */
function heldBack(deps: ApiDeps, admin: boolean): RulesHeldBack | null {
  const held = deps.rulesHeldBack?.() ?? null;
  return held && !admin ? { ...held, reason: 'an error (the reason is shown to administrators)' } : held;
}

const isAdmin = (req: FastifyRequest): boolean => req.caller !== null && roleAllows(req.caller.role, 'admin');

export function registerStatus(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/statistics', { schema: { tags: ['status'], summary: 'Counts of patients, studies, series, instances, and bytes stored' } }, () => deps.index.statistics());
  app.get('/status', { schema: { tags: ['status'], summary: 'What the server is doing now: associations, throughput, disk, jobs, recent stores and errors (the storage directory and allowed AE titles for admin only)' } }, (req) => serverStatus(deps, isAdmin(req)));
}

/** Whether the caller of an open route may see errors' messages: the read role, as for /status. */
const detailed = (req: FastifyRequest): boolean => req.caller !== null && roleAllows(req.caller.role, 'read');

/**
 * Health for load balancers and orchestrators, without credentials. Callers without the read role
 * get the status and reason codes only; the messages (database host and user, storage paths)
 * go to the log, and to callers with a role.
 */
export function registerHealth(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/health', { config: { role: 'none' } }, async (req, reply) => {
    try {
      await deps.index.statistics();
      return { status: 'ok' };
    } catch (e) {
      req.log.warn({ err: e }, '/health: the index does not answer');
      return reply.code(503).send({ status: 'unavailable', codes: ['index-unavailable'], ...(detailed(req) ? { detail: errorMessage(e) } : {}) });
    }
  });
  // Liveness: the process answers HTTP. Restarting a server whose disk is full does not help,
  // so nothing else is checked here; readiness says whether to send it work.
  app.get('/health/live', { config: { role: 'none' } }, () => ({ status: 'ok' }));
  // One probe (a file written and synced) per 5 s however often anyone asks; a reload probes anew.
  const probe = cachedReadiness({ index: deps.index, objects: deps.objects, minFreeBytes: () => deps.config().storage.min_free_mb * 1024 * 1024 });
  let logged = '';
  app.get('/health/ready', { config: { role: 'none' } }, async (req, reply) => {
    const r = await probe(deps.config());
    // Logged when the verdict changes, not at every poll.
    const now = r.reasons.join('; ');
    if (now !== logged) {
      if (r.ready) req.log.info('ready again');
      else req.log.warn({ reasons: r.reasons }, 'not ready');
      logged = now;
    }
    const status = r.ready ? 'ready' : 'not ready';
    return reply.code(r.ready ? 200 : 503).send(detailed(req) ? { status, codes: r.codes, reasons: r.reasons, checks: r.checks } : { status, codes: r.codes });
  });
  app.get('/status', (req) => serverStatus(deps, isAdmin(req)));
}
