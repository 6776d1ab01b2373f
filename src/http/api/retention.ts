// Retention through the API: mark a study protected (retention rules never delete it) or not,
// and queue a retention pass now instead of at the next check interval.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { notFound } from '../problem.js';
import type { ApiDeps } from './deps.js';
import { uidSchema } from './identifiers.js';

const params = { type: 'object', required: ['StudyInstanceUID'], properties: { StudyInstanceUID: uidSchema } } as const;
const view = { 200: { type: 'object', properties: { StudyInstanceUID: { type: 'string' }, protected: { type: 'boolean' } } } } as const;
type Req = FastifyRequest<{ Params: { StudyInstanceUID: string }; Body: { protected: boolean } }>;

export function registerRetention(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/studies/:StudyInstanceUID/protected', { schema: { tags: ['retention'], summary: 'Whether retention rules leave this study alone', params, response: view } }, async (req: Req) => {
    const p = await deps.index.retention.isProtected(req.params.StudyInstanceUID);
    if (p === null) throw notFound(`no study ${req.params.StudyInstanceUID}`);
    return { StudyInstanceUID: req.params.StudyInstanceUID, protected: p };
  });
  // Admin: unprotecting makes a study deletable by the rules.
  app.put(
    '/studies/:StudyInstanceUID/protected',
    {
      config: { role: 'admin' },
      schema: {
        tags: ['retention'],
        summary: 'Protect a study from retention rules (or lift the protection)',
        params,
        body: { type: 'object', required: ['protected'], additionalProperties: false, properties: { protected: { type: 'boolean' } } },
        response: view,
      },
    },
    async (req: Req) => {
      req.auditWhat = { protected: req.body.protected };
      if (!(await deps.index.retention.setProtected(req.params.StudyInstanceUID, req.body.protected))) throw notFound(`no study ${req.params.StudyInstanceUID}`);
      return { StudyInstanceUID: req.params.StudyInstanceUID, protected: req.body.protected };
    },
  );
  app.post('/retention/run', { config: { role: 'admin' }, schema: { tags: ['retention'], summary: 'Queue a retention pass now (answers 202 with the job)' } }, async (_req, reply) =>
    reply.code(202).send(await deps.jobs.enqueue('retention', {}, { dedupeKey: `retention:manual:${Date.now()}`, maxAttempts: 1 })),
  );
}
