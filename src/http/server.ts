// The web server: fastify with DICOMweb, the REST API, the web page and the OHIF viewer.
// Authentication and CORS are hooks that every route passes through; every error leaves as
// an application/problem+json answer.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import type { Logger } from '../core/logging.js';
import { authenticate, roleAllows, roleForMethod } from './auth.js';
import { problemOf, sendProblem } from './problem.js';
import { registerDicomweb } from './dicomweb/plugin.js';
import { registerApi } from './api/plugin.js';
import { registerUi } from './ui.js';
import type { ApiDeps } from './api/deps.js';
import './route-config.js';
import { registerViewer } from './viewer.js';

export type HttpDeps = ApiDeps & { logger: Logger };

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    // HTTPS with the DICOM TLS certificate when tls.enabled (one certificate to manage).
    ...(deps.https ? { https: deps.https } : {}),
  }) as unknown as FastifyInstance;
  const origins = deps.config().http.cors_origins;
  if (origins.length) await app.register(cors, { origin: origins.includes('*') ? true : origins, exposedHeaders: ['Warning', 'Content-Range'] });

  app.addHook('onRequest', async (req, reply) => {
    if (req.method === 'OPTIONS') return;
    const c = deps.config().http;
    const caller = authenticate(req.headers.authorization, c);
    if ('invalid' in caller) {
      reply.header('www-authenticate', 'Basic realm="pacs-server", charset="UTF-8"');
      return sendProblem(reply, 401, 'Unauthorized', caller.invalid);
    }
    const need = req.routeOptions.config?.role ?? roleForMethod(req.method);
    if (!roleAllows(caller.role, need)) {
      if (caller.name === null) {
        reply.header('www-authenticate', 'Basic realm="pacs-server", charset="UTF-8"');
        return sendProblem(reply, 401, 'Unauthorized', `this needs the ${need} role: log in`);
      }
      return sendProblem(reply, 403, 'Forbidden', `${caller.name} has the ${caller.role} role; this needs ${need}`);
    }
  });

  app.addHook('onResponse', async (req, reply) => {
    deps.metrics?.observeHttp(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((e, req, reply) => {
    const p = problemOf(e);
    if (p.status >= 500) req.log.error({ err: e, url: req.url }, 'HTTP request failed');
    return sendProblem(reply, p.status, p.title, p.detail);
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'Not found', `no route for ${req.method} ${req.url.split('?')[0]}`));

  await registerDicomweb(app, deps);
  await registerApi(app, deps);
  await registerUi(app);
  if (deps.config().http.viewer && !(await registerViewer(app))) app.log.warn('the OHIF viewer is not installed (npm run viewer:fetch): /viewer says so');
  return app;
}
