// Modality Performed Procedure Steps received over DICOM (N-CREATE, N-SET): list and one.
// They are read-only here: the modality that performs a step is the one that reports it.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonDataset } from '../../dicom/json.js';
import { jsonElementText } from '../../dicom/json-encode.js';
import { MPPS_STATUSES, type MppsRecord } from '../../index/workflow.js';
import { stepReferences } from '../../services/mpps.js';
import { notFound } from '../problem.js';
import { type ApiDeps, page } from './deps.js';

const text = (ds: JsonDataset, key: string): string | null => jsonElementText(ds[key]) || null;

const mppsSchema = {
  type: 'object',
  properties: {
    SOPInstanceUID: { type: 'string' },
    status: { type: 'string', description: 'Performed Procedure Step Status (0040,0252)' },
    callingAE: { type: 'string' },
    PatientID: { type: ['string', 'null'] },
    PatientName: { type: ['string', 'null'] },
    Modality: { type: ['string', 'null'] },
    PerformedProcedureStepID: { type: ['string', 'null'] },
    PerformedStationAETitle: { type: ['string', 'null'] },
    PerformedProcedureStepStartDate: { type: ['string', 'null'] },
    PerformedProcedureStepStartTime: { type: ['string', 'null'] },
    PerformedProcedureStepEndDate: { type: ['string', 'null'] },
    PerformedProcedureStepEndTime: { type: ['string', 'null'] },
    scheduledSteps: { type: 'array', items: { type: 'object', additionalProperties: true } },
    dataset: { type: 'object', additionalProperties: true, description: 'DICOM JSON (PS3.18 F.2)' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    followUpPending: { type: 'boolean', description: 'the worklist update or forward of its latest change is not done yet (tried again)' },
  },
} as const;

function view(m: MppsRecord) {
  const d = m.dataset;
  return {
    SOPInstanceUID: m.sopInstanceUID,
    status: m.status,
    callingAE: m.callingAE,
    PatientID: text(d, '00100020'),
    PatientName: text(d, '00100010'),
    Modality: text(d, '00080060'),
    PerformedProcedureStepID: text(d, '00400253'),
    PerformedStationAETitle: text(d, '00400241'),
    PerformedProcedureStepStartDate: text(d, '00400244'),
    PerformedProcedureStepStartTime: text(d, '00400245'),
    PerformedProcedureStepEndDate: text(d, '00400250'),
    PerformedProcedureStepEndTime: text(d, '00400251'),
    scheduledSteps: stepReferences(d),
    dataset: d,
    createdAt: m.createdAt.toISOString(),
    updatedAt: m.updatedAt.toISOString(),
    followUpPending: m.followUpAt !== null,
  };
}

export function registerMpps(app: FastifyInstance, deps: ApiDeps): void {
  const tags = ['worklist'];
  app.get(
    '/mpps',
    {
      schema: {
        tags,
        summary: 'List performed procedure steps, latest change first',
        querystring: { type: 'object', properties: { ...page, status: { type: 'string', enum: [...MPPS_STATUSES] } } },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: mppsSchema }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } } } },
      },
    },
    async (req: FastifyRequest<{ Querystring: { limit: number; offset: number; status?: string } }>) => {
      const q = req.query;
      const { items, total } = await deps.mpps.list({ limit: q.limit, offset: q.offset, ...(q.status ? { status: q.status } : {}) });
      return { items: items.map(view), total, offset: q.offset, limit: q.limit };
    },
  );
  app.get(
    '/mpps/:uid',
    { schema: { tags, summary: 'One performed procedure step', params: { type: 'object', required: ['uid'], properties: { uid: { type: 'string', maxLength: 64 } } }, response: { 200: mppsSchema } } },
    async (req: FastifyRequest<{ Params: { uid: string } }>) => {
      const m = await deps.mpps.get(req.params.uid);
      if (!m) throw notFound(`no MPPS ${req.params.uid}`);
      return view(m);
    },
  );
}
