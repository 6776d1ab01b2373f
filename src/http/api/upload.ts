// Upload one DICOM file (the web page's drag and drop sends each file this way): the body is
// the Part 10 file, streamed through the same store pipeline as STOW-RS and C-STORE.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PartSink, type StowOutcome } from '../dicomweb/stow.js';
import { HttpProblem } from '../problem.js';
import type { ApiDeps } from './deps.js';
import '../route-config.js';

export function registerUpload(app: FastifyInstance, deps: ApiDeps): void {
  // Streamed by the handler, never buffered by fastify.
  app.addContentTypeParser(['application/dicom', 'application/octet-stream'], (_req, payload, done) => done(null, payload));
  app.post(
    '/instances',
    {
      config: { role: 'write' },
      schema: {
        tags: ['browse'],
        summary: 'Upload one DICOM file (body: the Part 10 file, Content-Type application/dicom)',
        response: { 200: { type: 'object', additionalProperties: true }, 201: { type: 'object', additionalProperties: true } },
      },
    },
    async (req: FastifyRequest, reply) => {
      let outcome: StowOutcome | null = null;
      const sink = new PartSink(deps, 'application/dicom', undefined, { remoteAddress: req.ip, source: 'upload' }, (o) => (outcome = o));
      const max = deps.config().http.max_upload_mb * 1024 * 1024;
      let bytes = 0;
      try {
        for await (const chunk of req.body as AsyncIterable<Buffer>) {
          bytes += chunk.length;
          if (bytes > max) throw new HttpProblem(413, 'Too large', `the file exceeds http.max_upload_mb (${deps.config().http.max_upload_mb} MB)`);
          await sink.write(chunk);
        }
      } catch (e) {
        await sink.abort();
        throw e;
      }
      await sink.end();
      const o = outcome as StowOutcome | null;
      if (!o) throw new HttpProblem(400, 'Bad request', 'empty body');
      if (o.failure) throw new HttpProblem(o.failure.status === 0xa700 ? 507 : 400, 'Not stored', `${o.failure.reason} (status 0x${o.failure.status.toString(16)})`);
      return reply.code(201).send({ SOPInstanceUID: o.sopInstanceUID, SOPClassUID: o.sopClassUID, StudyInstanceUID: o.studyUID, SeriesInstanceUID: o.seriesUID });
    },
  );
}
