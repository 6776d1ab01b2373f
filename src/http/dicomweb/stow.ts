// STOW-RS (PS3.18 10.5): a multipart/related of DICOM files, each part streamed through the
// same store pipeline as C-STORE; the answer lists what was stored and what failed and why.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parsePart10Prefix } from '../../dicom/part10.js';
import { DatasetStreamReader } from '../../dicom/reader.js';
import { Tag } from '../../dicom/tags.js';
import { elementText } from '../../dicom/charset.js';
import type { JsonDataset } from '../../dicom/json.js';
import { errorMessage } from '../../core/errors.js';
import { storeFailureStatus } from '../../net/dimse/status.js';
import type { IngestSession } from '../../services/store.js';
import { badRequest, HttpProblem, notAcceptable } from '../problem.js';
import { nativeDicomModel } from '../../dicom/native-xml.js';
import { modelFormat, requestedTypes } from './accept.js';
import { TooLargeError, boundaryOf, readMultipart, type InPartSink } from './multipart.js';
import { type DicomwebDeps, baseUrl, instanceUrl, studyUrl } from './deps.js';

/** Bytes of a part gathered before its File Meta and SOP UIDs are read. */
const HEAD = 64 * 1024;
const FAILURE_CANNOT_UNDERSTAND = 0xc000;
const FAILURE_WRONG_STUDY = 0xa900; // "Data Set does not match SOP Class" family: the part does not belong here

export interface StowOutcome {
  sopClassUID: string;
  sopInstanceUID: string;
  studyUID: string | null;
  seriesUID: string | null;
  failure?: { status: number; reason: string };
}

/** One part (or one uploaded file): gathers its head, then streams the rest into an ingest session. */
export class PartSink implements InPartSink {
  private head: Buffer[] = [];
  private headBytes = 0;
  private session: IngestSession | null = null;
  private outcome: StowOutcome | null = null;
  private ids = { sopClassUID: '', sopInstanceUID: '', studyUID: null as string | null, seriesUID: null as string | null };

  constructor(
    private readonly deps: DicomwebDeps,
    private readonly contentType: string,
    private readonly study: string | undefined,
    private readonly provenance: { remoteAddress: string; source?: 'stow' | 'upload' },
    private readonly done: (o: StowOutcome) => void,
  ) {}

  private failWith(status: number, reason: string): void {
    this.outcome ??= { ...this.ids, failure: { status, reason } };
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.outcome) return;
    if (this.session) {
      if (!this.session.write(chunk)) await new Promise<void>((r) => this.session!.onDrain(r));
      return;
    }
    this.head.push(chunk);
    this.headBytes += chunk.length;
    if (this.headBytes >= HEAD) await this.begin();
  }

  private async begin(): Promise<void> {
    const head = Buffer.concat(this.head);
    this.head = [];
    if (!/^application\/dicom\b/i.test(this.contentType)) return this.failWith(FAILURE_CANNOT_UNDERSTAND, `parts must be application/dicom, not ${this.contentType || 'untyped'}`);
    let prefix;
    try {
      prefix = parsePart10Prefix(head, true);
    } catch (e) {
      return this.failWith(FAILURE_CANNOT_UNDERSTAND, errorMessage(e));
    }
    if (!prefix?.hasMeta) return this.failWith(FAILURE_CANNOT_UNDERSTAND, 'the part is not a DICOM file (no File Meta Information)');
    const reader = new DatasetStreamReader({ transferSyntaxUID: prefix.transferSyntaxUID, collect: new Set([Tag.SOPClassUID, Tag.SOPInstanceUID, Tag.StudyInstanceUID, Tag.SeriesInstanceUID]) });
    reader.push(head.subarray(prefix.datasetOffset));
    const get = (tag: number, metaTag: number): string => elementText(reader.collected.get(tag), null) ?? elementText(prefix.meta.get(metaTag), null) ?? '';
    this.ids = {
      sopClassUID: get(Tag.SOPClassUID, Tag.MediaStorageSOPClassUID),
      sopInstanceUID: get(Tag.SOPInstanceUID, Tag.MediaStorageSOPInstanceUID),
      studyUID: elementText(reader.collected.get(Tag.StudyInstanceUID), null),
      seriesUID: elementText(reader.collected.get(Tag.SeriesInstanceUID), null),
    };
    if (!this.ids.sopClassUID || !this.ids.sopInstanceUID) return this.failWith(FAILURE_CANNOT_UNDERSTAND, 'no SOP Class UID or SOP Instance UID');
    if (this.study && this.ids.studyUID && this.ids.studyUID !== this.study)
      return this.failWith(FAILURE_WRONG_STUDY, `the instance belongs to study ${this.ids.studyUID}, not ${this.study}`);
    this.session = this.deps.store.begin({
      sopClassUID: this.ids.sopClassUID,
      sopInstanceUID: this.ids.sopInstanceUID,
      transferSyntaxUID: prefix.transferSyntaxUID,
      provenance: { callingAE: null, calledAE: null, remoteAddress: this.provenance.remoteAddress, source: this.provenance.source ?? 'stow' },
      // Checked again on the whole dataset: the head seen above may not reach the Study Instance
      // UID (a deflated part, a long leading sequence), and then nothing was checked.
      ...(this.study ? { studyInstanceUID: this.study } : {}),
    });
    const rest = head.subarray(prefix.datasetOffset);
    if (rest.length && !this.session.write(rest)) await new Promise<void>((r) => this.session!.onDrain(r));
  }

  async end(): Promise<void> {
    if (!this.session && !this.outcome) await this.begin();
    if (this.session && !this.outcome) {
      try {
        await this.session.end();
        this.outcome = { ...this.ids };
      } catch (e) {
        const { status, comment } = storeFailureStatus(e);
        this.failWith(status, comment);
      }
    }
    this.done(this.outcome!);
  }

  async abort(): Promise<void> {
    await this.session?.abort();
  }
}

function answer(outcomes: StowOutcome[], base: string, study: string | undefined): JsonDataset {
  const ok = outcomes.filter((o) => !o.failure);
  const failed = outcomes.filter((o) => o.failure);
  const out: JsonDataset = {};
  const studies = new Set(ok.map((o) => o.studyUID).filter((s): s is string => !!s));
  const theStudy = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  if (theStudy) out['00081190'] = { vr: 'UR', Value: [studyUrl(base, theStudy)] };
  if (failed.length)
    out['00081198'] = {
      vr: 'SQ',
      Value: failed.map((o) => ({
        '00081150': { vr: 'UI', ...(o.sopClassUID ? { Value: [o.sopClassUID] } : {}) },
        '00081155': { vr: 'UI', ...(o.sopInstanceUID ? { Value: [o.sopInstanceUID] } : {}) },
        '00081197': { vr: 'US', Value: [o.failure!.status] },
        // Not in the standard's item, but what a person needs to fix the file: the reason in words.
        '00000902': { vr: 'LO', Value: [o.failure!.reason.slice(0, 64)] },
      })),
    };
  if (ok.length)
    out['00081199'] = {
      vr: 'SQ',
      Value: ok.map((o) => ({
        '00081150': { vr: 'UI', Value: [o.sopClassUID] },
        '00081155': { vr: 'UI', Value: [o.sopInstanceUID] },
        ...(o.studyUID && o.seriesUID ? { '00081190': { vr: 'UR', Value: [instanceUrl(base, o.studyUID, o.seriesUID, o.sopInstanceUID)] } } : {}),
      })),
    };
  return out;
}

async function stow(deps: DicomwebDeps, req: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply): Promise<FastifyReply> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/related/i.test(type)) throw new HttpProblem(415, 'Unsupported media type', 'STOW-RS takes multipart/related; type="application/dicom"');
  const boundary = boundaryOf(type);
  if (!boundary) throw badRequest('the Content-Type has no boundary');
  // Before anything is stored: a client that accepts no answer we can give learns it first.
  const format = modelFormat(requestedTypes(req), 'single');
  if (!format) throw notAcceptable('the response is application/dicom+json or application/dicom+xml');
  const outcomes: StowOutcome[] = [];
  const maxBytes = deps.config().http.max_upload_mb * 1024 * 1024;
  try {
    await readMultipart(req.body as AsyncIterable<Buffer>, boundary, (headers) => {
      return new PartSink(deps, headers['content-type'] ?? '', req.params.study, { remoteAddress: req.ip }, (o) => outcomes.push(o));
    }, maxBytes);
  } catch (e) {
    if (e instanceof TooLargeError) throw new HttpProblem(413, 'Too large', e.message);
    throw badRequest(errorMessage(e));
  }
  if (!outcomes.length) throw badRequest('the request holds no parts');
  const failed = outcomes.filter((o) => o.failure).length;
  const status = failed === 0 ? 200 : failed === outcomes.length ? 409 : 202;
  const response = answer(outcomes, baseUrl(req), req.params.study);
  if (format === 'xml') return reply.code(status).type('application/dicom+xml').send(nativeDicomModel(response));
  return reply.code(status).type('application/dicom+json').send(JSON.stringify(response));
}

export function registerStow(app: FastifyInstance, deps: DicomwebDeps): void {
  // The body is read as a stream by the handler, never buffered by fastify.
  app.addContentTypeParser(/^multipart\/related/i, (_req, payload, done) => done(null, payload));
  app.post('/studies', (req: FastifyRequest<{ Params: { study?: string } }>, reply) => stow(deps, req, reply));
  app.post('/studies/:study', (req: FastifyRequest<{ Params: { study?: string } }>, reply) => stow(deps, req, reply));
}
