// WADO-URI (PS3.18 9): one instance by its three UIDs, as application/dicom (as stored, or in
// the transferSyntax asked for). Rendered image content types are answered 406 until the
// rendering service exists; clients that want pixels use contentType=application/dicom.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canConvert } from '../../codecs/convert.js';
import { selectInstances } from '../../services/retrieve.js';
import { badRequest, notAcceptable, notFound } from '../problem.js';
import type { DicomwebDeps } from './deps.js';
import { instanceBytes } from './wado.js';

type Query = Record<string, string | undefined>;

async function wadoUri(deps: DicomwebDeps, req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply): Promise<FastifyReply> {
  const q = req.query;
  if (q.requestType !== 'WADO') throw badRequest('requestType=WADO is required');
  for (const k of ['studyUID', 'seriesUID', 'objectUID']) if (!q[k]) throw badRequest(`${k} is required`);
  const contentTypes = (q.contentType ?? 'image/jpeg').split(',').map((t) => t.trim().split(';')[0]!.toLowerCase());
  if (!contentTypes.includes('application/dicom') && !contentTypes.includes('*/*'))
    throw notAcceptable(`contentType ${q.contentType ?? 'image/jpeg (the default)'} is not available; use contentType=application/dicom`);
  const [loc] = await selectInstances(deps.index, 'STUDY_ROOT', 'IMAGE', [
    { keyword: 'StudyInstanceUID', value: q.studyUID! },
    { keyword: 'SeriesInstanceUID', value: q.seriesUID! },
    { keyword: 'SOPInstanceUID', value: q.objectUID! },
  ]);
  if (!loc) throw notFound(`no instance ${q.objectUID} in series ${q.seriesUID} of study ${q.studyUID}`);
  // PS3.18 9.1.2.1.5: without transferSyntax, explicit VR little endian; we keep as stored when it is not convertible.
  const ts = q.transferSyntax ?? loc.transferSyntaxUID;
  if (!canConvert(loc.transferSyntaxUID, ts)) throw notAcceptable(`the instance (${loc.transferSyntaxUID}) cannot be converted to ${ts}`);
  return reply.type('application/dicom').header('content-disposition', `attachment; filename="${loc.SOPInstanceUID}.dcm"`).send(await instanceBytes(deps, loc, ts));
}

export function registerWadoUri(app: FastifyInstance, deps: DicomwebDeps): void {
  app.get('/wado', (req: FastifyRequest<{ Querystring: Query }>, reply) => wadoUri(deps, req, reply));
}
