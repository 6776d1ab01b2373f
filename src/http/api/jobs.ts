// Jobs: send to a node, pull from a node, and the queue itself (list, one, cancel, retry).
// Sending and pulling answer 202 with the queued job; its progress is read from /api/jobs/{id}.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { JOB_STATES, type Job, shownProgress } from '../../index/jobs.js';
import { LEVELS, studiesOf } from '../../services/transfer-jobs.js';
import type { QueryLevel } from '../../index/query/types.js';
import { HttpProblem, badRequest, notFound } from '../problem.js';
import { roleAllows } from '../auth.js';
import type { HttpRole } from '../../config/schema.js';
import '../route-config.js';
import { type ApiDeps, page } from './deps.js';
import { isExactIdentifier, patientIdSchema, rowIdParams } from './identifiers.js';

/** Payload members that only administrators see: a command's argv (it may hold a secret), an export's folder. */
const ADMIN_ONLY_PAYLOAD = new Set(['argv', 'to']);
/** What others see in place of what is for administrators. */
const HIDDEN = '(for administrators)';
/** Job types whose messages and errors repeat what ADMIN_ONLY_PAYLOAD hides. */
const WORDS_ADMIN_ONLY = new Set(['export', 'command']);

const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    type: { type: 'string' },
    state: { type: 'string', enum: [...JOB_STATES] },
    payload: { type: 'object', additionalProperties: true },
    progress: { type: 'object', additionalProperties: true },
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    lastError: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
    runAfter: { type: 'string' },
    cancelRequested: { type: 'boolean' },
  },
} as const;

/**
 * The role that may cancel or retry a job. Write may act on the jobs it can queue itself (POST
 * /api/send and /api/pull); everything else was set up by an administrator — a rule's exports,
 * forwards and commands (a retry would run its argv again), STOW-RS forwards, MPPS forwards,
 * commitment reports, retention passes, plugins' jobs — and stopping or re-running it is admin.
 */
export function roleToAct(job: Pick<Job, 'type' | 'payload'>): HttpRole {
  return (job.type === 'send' || job.type === 'pull') && job.payload.rule === undefined ? 'write' : 'admin';
}

// Each names one entity exactly (a Patient ID at PATIENT level, else a UID, checked in the
// handler): a wildcard, a list or a blank was queued and failed in the job.
const uids = { type: 'array', minItems: 1, maxItems: 1000, items: { ...patientIdSchema, description: 'Patient IDs at PATIENT level, else UIDs; no wildcards' } } as const;
const level = { type: 'string', enum: [...LEVELS], default: 'STUDY' } as const;

export function registerJobs(app: FastifyInstance, deps: ApiDeps): void {
  // A command rule's argv (it may carry a password) and an export's folder are an administrator's
  // to see, as the storage directory on the status page is: "(for administrators)" to others.
  const view = (job: Job, req: FastifyRequest) => {
    const admin = req.caller === null || roleAllows(req.caller.role, 'admin');
    const progress = shownProgress(deps.jobs.liveProgress(job.id) ?? job.progress);
    if (admin) return { ...job, progress };
    const payload = Object.fromEntries(Object.entries(job.payload).map(([k, v]) => [k, ADMIN_ONLY_PAYLOAD.has(k) ? HIDDEN : v]));
    // An export's messages name its folder ("12 written … in /srv/lab"), a command's its program
    // and what it printed: hidden with the payload's fields they repeat; the counts stay.
    if (!WORDS_ADMIN_ONLY.has(job.type)) return { ...job, payload, progress };
    return { ...job, payload, lastError: job.lastError === null ? null : HIDDEN, progress: { ...progress, ...(progress.message !== undefined ? { message: HIDDEN } : {}) } };
  };
  const found = (job: Job | null, id: number): Job => {
    if (!job) throw notFound(`no job ${id}`);
    return job;
  };
  const exact = (level: string, list: readonly string[]): void => {
    const wrong = list.find((u) => !isExactIdentifier(level, u));
    if (wrong !== undefined) throw badRequest(`uids: '${wrong.slice(0, 70)}' is not one ${level === 'PATIENT' ? 'Patient ID' : 'UID'} (no wildcards, lists or blanks)`);
  };
  const nodeKnown = async (ae: string): Promise<void> => {
    if (!(await deps.nodes.find(ae))) throw badRequest(`"${ae}" is not a known node`);
  };

  app.get(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: { type: 'object', properties: { ...page, state: { type: 'string', enum: [...JOB_STATES] }, type: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: jobSchema }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } } } },
      },
    },
    async (req: FastifyRequest<{ Querystring: { limit: number; offset: number; state?: Job['state']; type?: string } }>) => {
      const q = req.query;
      const { jobs, total } = await deps.index.jobs.list({ limit: q.limit, offset: q.offset, ...(q.state ? { state: q.state } : {}), ...(q.type ? { type: q.type } : {}) });
      return { items: jobs.map((j) => view(j, req)), total, offset: q.offset, limit: q.limit };
    },
  );
  type IdReq = FastifyRequest<{ Params: { id: number } }>;
  app.get('/jobs/:id', { schema: { tags: ['jobs'], summary: 'One job with its progress', params: rowIdParams, response: { 200: jobSchema } } }, async (req: IdReq) => view(found(await deps.index.jobs.get(req.params.id), req.params.id), req));
  /** The job, once the caller may act on one of its type. */
  const mayAct = async (req: IdReq): Promise<void> => {
    const job = found(await deps.index.jobs.get(req.params.id), req.params.id);
    const need = roleToAct(job);
    const caller = req.caller;
    if (caller && !roleAllows(caller.role, need)) {
      const what = typeof job.payload.rule === 'string' ? `job ${job.id} (${job.type}) was queued by the rule "${job.payload.rule}"` : `job ${job.id} is a ${job.type} job`;
      throw new HttpProblem(403, `${caller.name ?? 'an anonymous caller'} has the ${caller.role} role and ${what}: cancelling or retrying it needs ${need}; the write role may act only on the send and pull jobs of POST /api/send and /api/pull`);
    }
  };
  const summary = (what: string) => `${what} (write role for the jobs of /api/send and /api/pull; admin for all others)`;
  app.post('/jobs/:id/cancel', { config: { role: 'write' }, schema: { tags: ['jobs'], summary: summary('Cancel a job (queued: at once; running: it stops soon)'), params: rowIdParams, response: { 200: jobSchema } } }, async (req: IdReq) => {
    await mayAct(req);
    return view(found(await deps.jobs.cancel(req.params.id), req.params.id), req);
  });
  app.post('/jobs/:id/retry', { config: { role: 'write' }, schema: { tags: ['jobs'], summary: summary('Queue a failed or canceled job again, or run now one waiting to retry'), params: rowIdParams, response: { 200: jobSchema } } }, async (req: IdReq) => {
    await mayAct(req);
    return view(found(await deps.jobs.retry(req.params.id), req.params.id), req);
  });

  app.post(
    '/send',
    {
      config: { role: 'write' },
      schema: {
        tags: ['jobs'],
        summary: 'Send patients, studies, series or instances to a known node (C-STORE), as a job',
        body: { type: 'object', required: ['destination', 'uids'], additionalProperties: false, properties: { destination: { type: 'string' }, level, uids } },
        response: { 202: jobSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { destination: string; level: string; uids: string[] } }>, reply) => {
      exact(req.body.level, req.body.uids);
      await nodeKnown(req.body.destination);
      // studyUIDs: the studies it sends, which retention leaves until the job has ended.
      const studyUIDs = await studiesOf(deps.index, req.body.level as QueryLevel, req.body.uids);
      const job = await deps.jobs.enqueue('send', { destination: req.body.destination, level: req.body.level, uids: req.body.uids, studyUIDs });
      req.auditWhat = { job: job.id, destination: req.body.destination, level: req.body.level, uids: req.body.uids };
      return reply.code(202).send(view(job, req));
    },
  );
  app.post(
    '/pull',
    {
      config: { role: 'write' },
      schema: {
        tags: ['jobs'],
        summary: 'Retrieve from a known node into this archive (C-MOVE to us, or C-GET), as a job',
        body: {
          type: 'object',
          required: ['source', 'uids'],
          additionalProperties: false,
          properties: { source: { type: 'string' }, level, uids, method: { type: 'string', enum: ['move', 'get'], default: 'move' } },
        },
        response: { 202: jobSchema },
      },
    },
    async (req: FastifyRequest<{ Body: { source: string; level: string; uids: string[]; method: string } }>, reply) => {
      exact(req.body.level, req.body.uids);
      await nodeKnown(req.body.source);
      const job = await deps.jobs.enqueue('pull', { source: req.body.source, level: req.body.level, uids: req.body.uids, method: req.body.method });
      req.auditWhat = { job: job.id, source: req.body.source, level: req.body.level, uids: req.body.uids, method: req.body.method };
      return reply.code(202).send(view(job, req));
    },
  );
}
