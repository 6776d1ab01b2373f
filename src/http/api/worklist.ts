// Modality worklist entries: list, one, create, replace, cancel. An entry is given either as
// DICOM JSON (PS3.18 F.2: the whole worklist item, with its one Scheduled Procedure Step
// Sequence item), or in a simple form: DICOM keywords to text, the scheduled step's
// attributes (Modality, ScheduledStationAETitle, ScheduledProcedureStepStartDate ...) beside
// the others.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonDataset } from '../../dicom/json.js';
import { jsonElementText } from '../../dicom/json-encode.js';
import { datasetValueProblem } from '../../dicom/vr-values.js';
import { SPS_STATUSES, type WorklistEntry, scheduledStep } from '../../index/workflow.js';
import { type SimpleWorklistForm, StaleEntryError, fromSimpleForm, worklistTag } from '../../services/worklist.js';
import { HttpProblem, badRequest } from '../problem.js';
import { type ApiDeps, page } from './deps.js';
import { rowIdParams } from './identifiers.js';

const dicomJson = { type: 'object', additionalProperties: true, description: 'DICOM JSON (PS3.18 F.2)' } as const;

const entrySchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    status: { type: 'string', description: 'Scheduled Procedure Step Status (0040,0020)' },
    source: { type: 'string', enum: ['api', 'folder', 'hl7'] },
    sourceKey: { type: ['string', 'null'] },
    PatientID: { type: ['string', 'null'] },
    PatientName: { type: ['string', 'null'] },
    AccessionNumber: { type: ['string', 'null'] },
    StudyInstanceUID: { type: ['string', 'null'] },
    RequestedProcedureDescription: { type: ['string', 'null'] },
    ScheduledProcedureStepID: { type: ['string', 'null'] },
    Modality: { type: ['string', 'null'] },
    ScheduledStationAETitle: { type: ['string', 'null'] },
    ScheduledProcedureStepStartDate: { type: ['string', 'null'] },
    ScheduledProcedureStepStartTime: { type: ['string', 'null'] },
    dataset: dicomJson,
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const entryBody = {
  type: 'object',
  description:
    'DICOM JSON of the worklist item ({"00100020": {"vr": "LO", "Value": ["P1"]}, "00400100": {"vr": "SQ", "Value": [{...}]}}), ' +
    'the same under "dataset", or the simple form: DICOM keywords to text ({"PatientID": "P1", "PatientName": "DOE^JANE", ' +
    '"Modality": "CT", "ScheduledStationAETitle": "CT1", "ScheduledProcedureStepStartDate": "20260312", ...}).',
  minProperties: 1,
  additionalProperties: true,
} as const;


const text = (ds: JsonDataset | undefined, key: string): string | null => jsonElementText(ds?.[key]) || null;

export function entryView(e: WorklistEntry) {
  const sps = scheduledStep(e.dataset);
  return {
    id: e.id,
    status: e.status,
    source: e.source,
    sourceKey: e.sourceKey,
    PatientID: e.patientID,
    PatientName: text(e.dataset, '00100010'),
    AccessionNumber: e.accessionNumber,
    StudyInstanceUID: e.studyInstanceUID,
    RequestedProcedureDescription: text(e.dataset, '00321060'),
    ScheduledProcedureStepID: e.scheduledProcedureStepID,
    Modality: text(sps, '00080060'),
    ScheduledStationAETitle: text(sps, '00400001'),
    ScheduledProcedureStepStartDate: text(sps, '00400002'),
    ScheduledProcedureStepStartTime: text(sps, '00400003'),
    dataset: e.dataset,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
  };
}

/** The dataset of a request body, in whichever of the three forms it came. */
function datasetOf(body: unknown): JsonDataset {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('expected a JSON object');
  const b = body as Record<string, unknown>;
  if (b.dataset !== undefined) {
    if (!b.dataset || typeof b.dataset !== 'object' || Array.isArray(b.dataset)) throw badRequest('"dataset" must be a DICOM JSON object');
    return b.dataset as JsonDataset;
  }
  const keys = Object.keys(b);
  if (keys.every((k) => /^[0-9A-Fa-f]{8}$/.test(k))) return b as JsonDataset;
  for (const [k, v] of Object.entries(b)) if (v !== null && typeof v !== 'string') throw badRequest(`${k}: the simple form takes text values`);
  return fromSimpleForm(b as SimpleWorklistForm);
}

/**
 * The dataset of a request, each value checked against its VR: an entry is kept and answered to
 * modalities as given, so "2026-03-12" in a DA, "9am" in a TM or "abc" in a US (written as 0)
 * would reach them.
 */
function checkedDataset(body: unknown): JsonDataset {
  const ds = datasetOf(body);
  const p = datasetValueProblem(ds);
  if (p) throw badRequest(`${p.keyword} (${p.path}): ${p.problem}`);
  return ds;
}

export function registerWorklist(app: FastifyInstance, deps: ApiDeps): void {
  type IdReq = FastifyRequest<{ Params: { id: number } }>;
  const tags = ['worklist'];
  app.get(
    '/worklist',
    {
      schema: {
        tags,
        summary: 'List worklist entries, newest first (every status unless some are given)',
        querystring: {
          type: 'object',
          properties: {
            ...page,
            // Repeated for several (status=SCHEDULED&status=STARTED); one alone works as before.
            status: { type: 'array', items: { type: 'string', enum: [...SPS_STATUSES] }, description: 'only entries with one of these statuses (repeat the parameter for several)' },
            source: { type: 'string', enum: ['api', 'folder', 'hl7'] },
            order: { type: 'string', enum: ['newest', 'oldest'], default: 'newest', description: 'newest first, or in the order they were added (oldest: pages stay put while entries are added)' },
          },
        },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: entrySchema }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } } } },
      },
    },
    async (req: FastifyRequest<{ Querystring: { limit: number; offset: number; status?: string[]; source?: 'api' | 'folder' | 'hl7'; order: 'newest' | 'oldest' } }>) => {
      const q = req.query;
      const { entries, total } = await deps.worklist.list({
        limit: q.limit,
        offset: q.offset,
        newestFirst: q.order === 'newest',
        ...(q.status?.length ? { statuses: q.status } : {}),
        ...(q.source ? { source: q.source } : {}),
      });
      return { items: entries.map(entryView), total, offset: q.offset, limit: q.limit };
    },
  );
  app.get('/worklist/:id', { schema: { tags, summary: 'One worklist entry (its ETag names this version, for If-Match)', params: rowIdParams, response: { 200: entrySchema } } }, async (req: IdReq, reply) => {
    const e = await deps.worklist.get(req.params.id);
    reply.header('etag', worklistTag(e));
    return entryView(e);
  });
  app.post(
    '/worklist',
    { config: { role: 'write' }, schema: { tags, summary: 'Schedule a procedure step (Study Instance UID, Requested Procedure ID and step ID are made when absent)', body: entryBody, response: { 201: entrySchema } } },
    async (req, reply) => reply.code(201).send(entryView(await deps.worklist.create(checkedDataset(req.body)))),
  );
  app.put(
    '/worklist/:id',
    {
      config: { role: 'write' },
      schema: {
        tags,
        summary: 'Replace a worklist entry (its status is kept unless the dataset gives one). With If-Match (its ETag as read), only if unchanged since (else 412); without, a status that takes a started step back is refused (409)',
        params: rowIdParams,
        body: entryBody,
        response: { 200: entrySchema },
      },
    },
    async (req: FastifyRequest<{ Params: { id: number } }>, reply) => {
      const ifMatch = req.headers['if-match']?.trim();
      try {
        const e = await deps.worklist.update(req.params.id, checkedDataset(req.body), ifMatch || undefined);
        reply.header('etag', worklistTag(e));
        return entryView(e);
      } catch (err) {
        if (err instanceof StaleEntryError) throw new HttpProblem(412, err.message);
        throw err;
      }
    },
  );
  // Write, not admin as other DELETEs: nothing is deleted, the step is canceled and kept (a
  // scheduler that may create and replace entries may cancel them; PUT can set CANCELED too).
  app.delete(
    '/worklist/:id',
    { config: { role: 'write' }, schema: { tags, summary: 'Cancel a worklist entry (status CANCELED; it leaves the worklist)', params: rowIdParams, response: { 200: entrySchema } } },
    async (req: IdReq) => entryView(await deps.worklist.cancel(req.params.id)),
  );
}
