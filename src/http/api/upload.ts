// Upload one DICOM file (the web page's drag and drop sends each file this way): the body is
// the Part 10 file, streamed through the same store pipeline as STOW-RS and C-STORE.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PartSink, type StowOutcome } from '../dicomweb/stow.js';
import { HttpProblem } from '../problem.js';
import { discardRest, readUpTo } from '../request-body.js';
import { BodyPace, TooSlowError, paceLimits, tooSlow } from '../upload-guard.js';
import { Status } from '../../net/dimse/status.js';
import type { ApiDeps } from './deps.js';
import '../route-config.js';

/**
 * The HTTP status of a store the pipeline refused, from its DIMSE status: the sender's fault
 * (4xx) only when it is; a full disk or a failing index is the server's (5xx), so a client
 * retries it later.
 */
export function uploadFailureStatus(status: number): number {
  switch (status) {
    case Status.OutOfResources:
      return 507;
    case Status.ProcessingFailure:
      return 503;
    case Status.DuplicateSOPInstance:
      return 409;
    case Status.NotAuthorized:
      return 403;
    case Status.SOPClassNotSupported:
      return 415;
    default:
      return 400;
  }
}

export function registerUpload(api: FastifyInstance, deps: ApiDeps): void {
  // A scope of its own: the raw stream must reach this route alone. Given to every /api route, a
  // JSON route's body schema was run over the request stream itself — removing the stream's own
  // properties as "additional" — and one PUT with Content-Type application/octet-stream brought
  // the whole server down. The other routes answer such a body 415.
  void api.register(async (app) => {
    // Streamed by the handler, never buffered by fastify.
    app.addContentTypeParser(['application/dicom', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
    app.post(
      '/instances',
      {
        config: { role: 'write', upload: true },
        schema: {
          tags: ['browse'],
          summary: 'Upload one DICOM file (body: the Part 10 file, Content-Type application/dicom)',
          response: { 200: { type: 'object', additionalProperties: true }, 201: { type: 'object', additionalProperties: true } },
        },
      },
      async (req: FastifyRequest, reply) => {
        const mb = deps.config().http.max_upload_mb;
        const max = mb * 1024 * 1024;
        const tooLarge = () => new HttpProblem(413, `the file exceeds http.max_upload_mb (${mb} MB)`);
        // The parser above hands the raw stream on for the DICOM types only; anything else came parsed or not at all.
        if (!isStream(req.body)) throw new HttpProblem(415, 'the body must be the Part 10 file, Content-Type application/dicom');
        // Refused before a byte is read when it says its size. Either way the rest of the body is
        // read and thrown away, not left on the connection: the client gets this answer instead of
        // a reset connection (request-body.ts).
        if (Number(req.headers['content-length']) > max) {
          discardRest(req.raw);
          throw tooLarge();
        }
        let outcome: StowOutcome | null = null;
        const sink = new PartSink(deps, 'application/dicom', undefined, { remoteAddress: req.ip, source: 'upload', user: req.caller?.name ?? null }, (o) => (outcome = o));
        let whole: boolean;
        try {
          whole = await readUpTo(req.body, max, (chunk) => sink.write(chunk), new BodyPace(paceLimits(deps.config().http)));
        } catch (e) {
          await sink.abort();
          if (e instanceof TooSlowError) throw tooSlow(req, reply, e);
          discardRest(req.raw);
          throw e;
        }
        if (!whole) {
          await sink.abort();
          discardRest(req.raw);
          throw tooLarge();
        }
        await sink.end();
        const o = outcome as StowOutcome | null;
        if (!o) throw new HttpProblem(400, 'empty body');
        if (o.failure) throw new HttpProblem(uploadFailureStatus(o.failure.status), `${o.failure.reason} (status 0x${o.failure.status.toString(16)})`);
        return reply.code(201).send({ SOPInstanceUID: o.sopInstanceUID, SOPClassUID: o.sopClassUID, StudyInstanceUID: o.studyUID, SeriesInstanceUID: o.seriesUID });
      },
    );
  });
}

const isStream = (body: unknown): body is Readable => body instanceof Readable;
