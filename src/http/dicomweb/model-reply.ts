// Answers made of datasets (QIDO-RS results, WADO-RS metadata) in the format the client asked
// for: one DICOM JSON array, or a multipart/related of Native DICOM Model documents (PS3.18 8.7.3.3).
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { JsonDataset } from '../../dicom/json.js';
import { nativeDicomModel } from '../../dicom/native-xml.js';
import { notAcceptable } from '../problem.js';
import { modelFormat, requestedTypes, type ModelFormat } from './accept.js';
import { multipartStream, newBoundary, type OutPart } from './multipart.js';

/** The format a request for datasets is answered in; 406 when it accepts neither. */
export function datasetsFormat(req: { headers: { accept?: string | undefined }; query: unknown }): ModelFormat {
  const format = modelFormat(requestedTypes(req), 'multipart');
  if (!format) throw notAcceptable('datasets are sent as application/dicom+json or as multipart/related; type="application/dicom+xml"');
  return format;
}

/**
 * Sends datasets (at least one) as they come, for answers too large to hold: a JSON array
 * written element by element, or the XML documents made one at a time.
 */
export function sendDatasetStream(reply: FastifyReply, format: ModelFormat, datasets: AsyncIterable<JsonDataset | string> | Iterable<JsonDataset | string>): FastifyReply {
  if (format === 'json') {
    async function* json(): AsyncGenerator<string> {
      let sep = '[';
      for await (const d of datasets) {
        yield sep + (typeof d === 'string' ? d : JSON.stringify(d));
        sep = ',';
      }
      yield sep === '[' ? '[]' : ']';
    }
    return reply.type('application/dicom+json').send(Readable.from(json()));
  }
  const boundary = newBoundary();
  async function* parts(): AsyncGenerator<OutPart> {
    for await (const d of datasets) yield { contentType: 'application/dicom+xml', body: Buffer.from(nativeDicomModel(typeof d === 'string' ? (JSON.parse(d) as JsonDataset) : d)) };
  }
  return reply.type(`multipart/related; type="application/dicom+xml"; boundary=${boundary}`).send(multipartStream(boundary, parts()));
}

/**
 * Sends datasets given as JSON model objects or as their JSON text. The XML documents are made
 * one at a time as the answer is written, not all at once.
 */
export function sendDatasets(reply: FastifyReply, format: ModelFormat, datasets: readonly (JsonDataset | string)[]): FastifyReply {
  if (format === 'json') return reply.type('application/dicom+json').send(`[${datasets.map((d) => (typeof d === 'string' ? d : JSON.stringify(d))).join(',')}]`);
  // A multipart body must hold a part (RFC 2046 5.1.1): no match is 204 No Content.
  if (datasets.length === 0) return reply.code(204).send();
  return sendDatasetStream(reply, format, datasets);
}
