// WADO-URI (PS3.18 9): one instance by its three UIDs, as a rendered image (image/jpeg, the
// default, or image/png: frameNumber, windowCenter/windowWidth, rows/columns, region and
// imageQuality as PS3.18 8.2 says) or as application/dicom (as stored, or in the transferSyntax
// asked for).
import { isExactIdentifier } from '../api/identifiers.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canConvert } from '../../codecs/convert.js';
import { TS } from '../../dicom/transfer-syntax.js';
import { PacsError, isPacsError } from '../../core/errors.js';
import { selectInstances } from '../../services/retrieve.js';
import { badRequest, notAcceptable, notFound } from '../problem.js';
import type { DicomwebDeps } from './deps.js';
import { clientGone } from '../client-gone.js';
import { parseWadoUriQuery, singleValued } from './render-params.js';
import { instanceBytes } from './wado.js';

type Query = Record<string, string | undefined>;

/** The first content type of the list that we can send: rendered images, or the instance itself. */
function contentTypeOf(list: string): 'image/jpeg' | 'image/png' | 'application/dicom' | null {
  for (const t of list.split(',').map((s) => s.trim().split(';')[0]!.toLowerCase())) {
    if (t === 'image/jpeg' || t === 'image/png' || t === 'application/dicom') return t;
    if (t === 'image/*') return 'image/jpeg';
    if (t === '*/*') return 'application/dicom';
  }
  return null;
}

async function wadoUri(deps: DicomwebDeps, req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply): Promise<FastifyReply> {
  const q = singleValued(req.query);
  if (q.requestType !== 'WADO') throw badRequest('requestType=WADO is required');
  for (const k of ['studyUID', 'seriesUID', 'objectUID']) {
    if (!q[k]) throw badRequest(`${k} is required`);
    // One UID each: a list (objectUID=A%5CB) selected several instances and served one of them.
    if (!isExactIdentifier('STUDY', q[k])) throw badRequest(`${k} must be one UID (digits and dots, at most 64)`);
  }
  // PS3.18 9.1.2.2.1 (contentType): image/jpeg when absent.
  const type = contentTypeOf(q.contentType ?? 'image/jpeg');
  if (!type) throw notAcceptable(`contentType ${q.contentType}: image/jpeg, image/png or application/dicom`);
  const render = type === 'application/dicom' ? null : parseWadoUriQuery(q);
  const [loc] = await selectInstances(deps.index, 'STUDY_ROOT', 'IMAGE', [
    { keyword: 'StudyInstanceUID', value: q.studyUID! },
    { keyword: 'SeriesInstanceUID', value: q.seriesUID! },
    { keyword: 'SOPInstanceUID', value: q.objectUID! },
  ]);
  if (!loc) throw notFound(`no instance ${q.objectUID} in series ${q.seriesUID} of study ${q.studyUID}`);
  // The client gone, its rendering or conversion is given up (the codec pool drops it).
  const gone = clientGone(reply);
  if (render) {
    const img = await deps.rendering.render(loc, { ...render, format: type === 'image/png' ? 'png' : 'jpeg' }, gone);
    return reply.type(img.mediaType).send(img.bytes);
  }
  // PS3.18 9.1.2.1.5: without transferSyntax, Explicit VR Little Endian — for a compressed
  // instance, decompressed. Uncompressed little-endian files (Implicit VR too) go as stored,
  // streamed, as does one no codec here decodes or too large to decompress (rather than no answer).
  const stored = loc.transferSyntaxUID;
  const plain = stored === TS.ExplicitVRLittleEndian || stored === TS.ImplicitVRLittleEndian;
  const ts = q.transferSyntax ?? (!plain && canConvert(stored, TS.ExplicitVRLittleEndian) ? TS.ExplicitVRLittleEndian : stored);
  if (!canConvert(stored, ts)) throw notAcceptable(`the instance (${stored}) cannot be converted to ${ts}`);
  const body = await instanceBytes(deps, loc, ts, gone).catch((caught: unknown) => {
    // Stored data a codec cannot decode (a corrupt codestream) is no fault of the request: not
    // 400 but, without transferSyntax, the instance as stored, and with one, 406 naming why.
    const e = ts !== stored && isPacsError(caught, 'DICOM_PARSE') ? new PacsError('UNSUPPORTED', `the instance cannot be converted to ${ts}: ${caught.message}`) : caught;
    if (q.transferSyntax === undefined && isPacsError(e, 'UNSUPPORTED')) return instanceBytes(deps, loc, stored, gone);
    throw e;
  });
  return reply.type('application/dicom').header('content-disposition', `attachment; filename="${loc.SOPInstanceUID}.dcm"`).send(body);
}

export function registerWadoUri(app: FastifyInstance, deps: DicomwebDeps): void {
  app.get('/wado', (req: FastifyRequest<{ Querystring: Query }>, reply) => wadoUri(deps, req, reply));
}
