// The web server: fastify with DICOMweb, the REST API, the web page and the OHIF viewer.
// Authentication and CORS are hooks that every route passes through; every error leaves as
// an application/problem+json answer.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import cors from '@fastify/cors';
import type { Logger } from '../core/logging.js';
import { authenticate, basicUserName, callerAddress, remoteUnconfigured, roleAllows, roleForMethod, type Caller } from './auth.js';
import { FailedLogins, mayVerifyPassword } from './login-limit.js';
import { openRouteCaller } from './open-caller.js';
import { clientWentAway, isMissingFile, problemOf, sendProblem } from './problem.js';
import { registerDicomweb } from './dicomweb/plugin.js';
import { registerApi } from './api/plugin.js';
import { registerUi } from './ui.js';
import type { ApiDeps } from './api/deps.js';
import './route-config.js';
import { registerViewer } from './viewer.js';
import { registerRateLimit } from './rate-limit.js';
import { forgedRequest } from './csrf.js';
import { registerHostCheck } from './host-check.js';
import { proxyTrust } from './proxy.js';
import { OncePer } from '../core/once-per.js';
import { discardRest } from './request-body.js';
import { UploadSlots } from './upload-guard.js';
import { MAX_BODY_DEPTH, nestsDeeperThan } from './body-depth.js';
import { bodiesAsSent } from './validation.js';

/** How long the same read by the same caller is one audit line (a page polling it). */
const AUDIT_REPEAT_MS = 60_000;
export type HttpDeps = ApiDeps & { logger: Logger };

/** The methods a 405's Allow may list (HEAD comes with every GET). */
const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/** Whether a route takes this method on this path (findRoute is null at run time when none does; its type says otherwise). */
function routed(app: FastifyInstance, method: (typeof ROUTE_METHODS)[number], url: string): boolean {
  return (app.findRoute({ method, url }) as object | null) !== null;
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const trusted = proxyTrust(deps.config().http.trust_proxy);
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    // Only the proxies named: anyone else could claim any address in X-Forwarded-For.
    trustProxy: deps.config().http.trust_proxy.length ? (address: string) => trusted(address) : false,
    // JSON and other parsed bodies; STOW-RS and uploads stream past it, bounded by max_upload_mb.
    bodyLimit: deps.config().http.max_json_kb * 1024,
    // A connection on which nothing moves for 5 minutes is closed: a stalled upload would hold
    // its ingest session and temporary file, a client that stopped reading its answer the
    // buffers read for it, for ever (Node's own default is no limit).
    connectionTimeout: 300_000,
    // A path parameter may be long: a frame list (…/frames/1,2,…,300) or a list of UIDs; the
    // router's default of 100 characters answered longer ones 404 "no route".
    routerOptions: { maxParamLength: 8192 },
    // JSON bodies validated without type coercion (validation.ts).
    schemaController: { compilersFactory: { buildValidator: bodiesAsSent() } },
    // HTTPS with the DICOM TLS certificate when tls.enabled (one certificate to manage).
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  // Whether the peer is a proxy of http.trust_proxy, for the readers of other forwarding headers.
  // Taken at the start: once a request's body is read, its socket may be gone (null).
  app.decorateRequest('viaTrustedProxy', false);
  app.addHook('onRequest', async (req) => {
    req.viaTrustedProxy = trusted(req.raw.socket?.remoteAddress);
  });
  const origins = deps.config().http.cors_origins;
  if (origins.length) await app.register(cors, { origin: origins.includes('*') ? true : origins, exposedHeaders: ['Warning', 'Content-Range'] });

  const withinRate = await registerRateLimit(app, () => deps.config().http);

  // A request without credentials for a name that is not ours (DNS rebinding): 421, first.
  registerHostCheck(app, () => deps.config().http);

  // Forged requests are refused next: no credentials checked, nothing counted.
  app.addHook('onRequest', async (req, reply) => {
    const why = forgedRequest(req, deps.config().http.cors_origins);
    if (why) return sendProblem(reply, 403, why);
  });

  const failedLogins = new FailedLogins();

  // Who made each request, for the audit trail.
  const callers = new WeakMap<object, string | null>();
  app.decorateRequest('caller', null);
  app.decorateRequest('auditWhat', null);
  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'OPTIONS') return;
    const need = req.routeOptions.config?.role ?? roleForMethod(req.method);
    // The health checks a load balancer polls are open to all and never rate limited: a client
    // over its limit behind the same proxy must not take the servers out of the pool.
    const c = deps.config().http;
    if (need === 'none') {
      req.caller = await openRouteCaller(req, c, failedLogins);
      return;
    }
    // A password not verified before costs a scrypt: the address is rate-checked first, so a
    // stream of guesses is refused before it costs anything. That check counted the request
    // against the address; a wrong password is not counted there a second time.
    // Then the address's wrong passwords (login-limit.ts), limited even without a rate limit.
    let addressCounted = false;
    let verifying = false;
    const beforeHashing = async (): Promise<boolean> => {
      addressCounted = true;
      if (!(await withinRate(req, reply, null))) return false;
      verifying = mayVerifyPassword(failedLogins, req, reply);
      return verifying;
    };
    let caller: Caller | null = null;
    try {
      caller = await authenticate(req.headers.authorization, c, beforeHashing, callerAddress(req));
    } finally {
      if (verifying) failedLogins.end(req.ip, caller !== null && !('invalid' in caller));
    }
    if (caller === null) return reply;
    if (!('invalid' in caller)) callers.set(req, caller.name);
    if (!('invalid' in caller && addressCounted) && !(await withinRate(req, reply, 'invalid' in caller ? null : caller.name))) return reply;
    if ('invalid' in caller) {
      reply.header('www-authenticate', 'Basic realm="pacs-server", charset="UTF-8"');
      return sendProblem(reply, 401, caller.invalid);
    }
    if (!roleAllows(caller.role, need)) {
      // No accounts to log in with: a login prompt would be a dead end.
      if (caller.name === null && remoteUnconfigured(c, callerAddress(req)))
        return sendProblem(reply, 403, 'requests from other machines are refused: this server has no http.users, http.tokens or http.anonymous_role configured (a request from the machine itself is answered)');
      if (caller.name === null) {
        reply.header('www-authenticate', 'Basic realm="pacs-server", charset="UTF-8"');
        return sendProblem(reply, 401, `this needs the ${need} role: log in`);
      }
      return sendProblem(reply, 403, `${caller.name} has the ${caller.role} role; this needs ${need}`);
    }
    req.caller = caller;
  });

  // Before the schema validator and the handlers walk a parsed body (body-depth.ts).
  app.addHook('preValidation', async (req, reply) => {
    if (req.body !== undefined && nestsDeeperThan(req.body, MAX_BODY_DEPTH))
      return sendProblem(reply, 400, `the body nests deeper than ${MAX_BODY_DEPTH} levels`);
  });

  // Upload bodies at once (upload-guard.ts): after authentication, so a refused caller takes none.
  // The refused body is read away (request-body.ts): the client reads this answer, not a reset.
  const uploads = new UploadSlots(() => deps.config().http.max_concurrent_uploads);
  app.addHook('preHandler', async (req, reply) => {
    if (!req.routeOptions.config?.upload || uploads.take(reply.raw)) return;
    discardRest(req.raw);
    reply.header('retry-after', '5');
    return sendProblem(reply, 503, `${uploads.active} uploads are being received (http.max_concurrent_uploads): try again shortly`);
  });

  // A request answered, or (status 499) one whose client left first: fastify runs no onResponse
  // hook for an answer that could not be written, so the error handler records that one.
  const recorded = new WeakSet<FastifyRequest>();
  const auditedReads = new OncePer(AUDIT_REPEAT_MS);
  const answered = (req: FastifyRequest, status: number, seconds: number, clientGone = false): void => {
    if (recorded.has(req)) return; // once per request, whichever of the ways below comes first
    recorded.add(req);
    deps.metrics?.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', status, seconds);
    if (!deps.audit) return;
    // Every change, every refusal, and the reads of DICOMweb and the API (not the page's files).
    const route = req.routeOptions.url ?? '';
    const reads = req.method === 'GET' && (route.startsWith('/dicom-web') || route.startsWith('/api/') || route === '/wado');
    if (req.method === 'GET' && !reads && status < 400) return;
    // A read polled again (the status page every 2 s, a job's progress) by the same caller within
    // a minute is one line: an open status page wrote 43,200 a day.
    if (req.method === 'GET' && status < 400 && !auditedReads.first(`${callers.get(req) ?? ''}|${req.ip}|${req.url}`)) return;
    const action = status === 401 ? 'login-failed' : status === 403 ? 'access-denied' : req.method === 'DELETE' ? 'delete' : 'http';
    // A failed login names the user name tried (never the password): guesses at one account are
    // told from anonymous probes. Cut, on one line: it is the caller's text.
    const tried = status === 401 ? basicUserName(req.headers.authorization) : null;
    deps.audit({ action, outcome: status < 400 ? 'success' : 'failure', who: callers.get(req) ?? null, from: req.ip, what: { method: req.method, url: req.url, status, ...(tried !== null ? { triedUser: tried } : {}), ...(clientGone ? { clientGone } : {}), ...(req.auditWhat ?? {}) } });
  };
  app.addHook('onResponse', async (req, reply) => answered(req, reply.statusCode, reply.elapsedTime / 1000));
  // A handler that finished its work after the client left (a DELETE of thousands of instances,
  // the page's request given up): its answer cannot be written, so fastify runs no onResponse —
  // and the deletion went unrecorded. Recorded as its answer is sent, with the status it has.
  app.addHook('onSend', async (req, reply, payload) => {
    if (req.raw.socket?.destroyed ?? false) answered(req, reply.statusCode, reply.elapsedTime / 1000, true);
    return payload;
  });

  app.setErrorHandler((e, req, reply) => {
    if (clientWentAway(req.raw, e)) {
      req.log.info({ url: req.url, reason: e instanceof Error ? e.message : String(e) }, 'the client closed the connection before the answer');
      // 499 (nginx's "client closed request"): for the metrics and the audit trail; nobody reads it.
      answered(req, 499, reply.elapsedTime / 1000);
      return reply.code(499).send();
    }
    const p = problemOf(e);
    if (p.status >= 500) req.log.error({ err: e, url: req.url }, 'HTTP request failed');
    else if (isMissingFile(e)) req.log.warn({ err: e, url: req.url }, 'a stored file is missing');
    return sendProblem(reply, p.status, p.detail, p.code);
  });
  // A path we serve under other methods is 405 with Allow (RFC 9110 15.5.6), not "no route":
  // a client that PUT where it should POST learns what it may do. OPTIONS is not listed: CORS,
  // when configured, answers it on every path.
  app.setNotFoundHandler((req, reply) => {
    const pathname = req.url.split('?')[0] ?? '';
    // A route of this method that found nothing (a static file missing) is a 404; OPTIONS (no
    // authentication before it, no CORS configured) does not probe which paths exist.
    const own = req.method === 'OPTIONS' || (ROUTE_METHODS as readonly string[]).includes(req.method) && routed(app, req.method as (typeof ROUTE_METHODS)[number], pathname);
    const allow = own ? [] : ROUTE_METHODS.filter((method) => method !== req.method && routed(app, method, pathname));
    if (allow.length) return sendProblem(reply.header('allow', allow.join(', ')), 405, `${req.method} is not allowed on ${pathname}; it takes ${allow.join(', ')}`, 'METHOD_NOT_ALLOWED');
    return sendProblem(reply, 404, `no route for ${req.method} ${pathname}`);
  });

  await registerDicomweb(app, deps);
  await registerApi(app, deps);
  await registerUi(app);
  if (deps.config().http.viewer && !(await registerViewer(app))) app.log.warn('the OHIF viewer is not installed (npm run viewer:fetch): /viewer says so');
  return app;
}
