// The REST API under /api, documented by OpenAPI (from the routes' own schemas) at /api/docs.
import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ApiDeps } from './deps.js';
import { registerBrowse } from './browse.js';
import { registerNodes } from './nodes.js';
import { registerJobs } from './jobs.js';
import { registerStatus, registerHealth } from './status.js';
import { registerUpload } from './upload.js';
import { registerWorklist } from './worklist.js';
import { registerMpps } from './mpps.js';
import { registerRetention } from './retention.js';
import { registerMe } from './me.js';
import { HttpProblem } from '../problem.js';
import { FRAMING_HEADERS } from '../framing.js';

export const API_PREFIX = '/api';

export async function registerApi(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await app.register(async (scope) => {
    await scope.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'pacs-server REST API', version: deps.version, description: 'Administration of pacs-server: browse and delete, known nodes, send and pull jobs, upload, status. DICOMweb is at /dicom-web (PS3.18).' },
        components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ basic: [] }, { bearer: [] }],
        tags: [
          { name: 'browse', description: 'patients, studies, series, instances' },
          { name: 'nodes', description: 'known DICOM nodes' },
          { name: 'jobs', description: 'send, pull and the job queue' },
          { name: 'status', description: 'statistics and server state' },
          { name: 'worklist', description: 'modality worklist entries and performed procedure steps' },
        ],
      },
      // Only the API's own routes (not DICOMweb, the page or the viewer).
      transform: ({ schema, url }) => (url.startsWith(API_PREFIX) ? { schema, url } : { schema: { ...schema, hide: true }, url }),
    });
    await scope.register(swaggerUi, {
      routePrefix: `${API_PREFIX}/docs`,
      // The API's page may be framed by our own pages only, as the others (../framing.ts).
      uiHooks: {
        onRequest: (_req, reply, done) => {
          reply.headers(FRAMING_HEADERS);
          done();
        },
      },
    });
    await scope.register(
      async (api) => {
        // A form of another site can send text/plain without a preflight, and no API route takes
        // text: such a body is refused (415) instead of parsed (csrf.ts refuses the forgery itself).
        api.removeContentTypeParser('text/plain');
        api.addContentTypeParser('text/plain', (_req, _payload, done) =>
          done(new HttpProblem(415, 'no API route takes text/plain: JSON bodies are application/json, an uploaded file application/dicom'), undefined),
        );
        registerBrowse(api, deps);
        registerNodes(api, deps);
        registerJobs(api, deps);
        registerStatus(api, deps);
        registerUpload(api, deps);
        registerWorklist(api, deps);
        registerMpps(api, deps);
        registerRetention(api, deps);
        registerMe(api, deps);
      },
      { prefix: API_PREFIX },
    );
    registerHealth(scope, deps);
  });
}
