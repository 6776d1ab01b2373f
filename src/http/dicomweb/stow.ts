// STOW-RS (PS3.18 10.5): a multipart/related of DICOM files, each part streamed through the
// same store pipeline as C-STORE; the answer lists what was stored and what failed and why.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parsePart10Prefix } from '../../dicom/part10.js';
import { DatasetStreamReader } from '../../dicom/reader.js';
import { Tag } from '../../dicom/tags.js';
import { elementText } from '../../dicom/charset.js';
import type { JsonDataset } from '../../dicom/json.js';
import { errorMessage } from '../../core/errors.js';
import { Status, storeFailureStatus } from '../../net/dimse/status.js';
import type { IngestSession } from '../../services/store.js';
import { badRequest, HttpProblem, notAcceptable } from '../problem.js';
import { nativeDicomModel } from '../../dicom/native-xml.js';
import { modelFormat, requestedTypes } from './accept.js';
import { TooLargeError, TooManyPartsError, boundaryOf, readMultipart, type InPartSink } from './multipart.js';
import { isStorageSopClass } from '../../dicom/uids.js';
import { transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { uidSchema } from '../api/identifiers.js';
import { discardRest } from '../request-body.js';
import { BodyPace, TooSlowError, paceLimits, paced, tooSlow } from '../upload-guard.js';
import type { Readable } from 'node:stream';
import { type DicomwebDeps, baseUrl, instanceUrl, studyUrl } from './deps.js';

/** Bytes of a part gathered before its File Meta and SOP UIDs are read. */
const HEAD = 64 * 1024;
/** Failure Reasons of PS3.18 table I.2-1 for what is refused here, and the error code each counts as. */
const Failure = {
  CannotUnderstand: { status: 0xc000, code: 'DICOM_PARSE' },
  WrongStudy: { status: 0xa900, code: 'UID_MISMATCH' }, // "Data Set does not match SOP Class" family: the part does not belong here
  SopClassNotSupported: { status: 0x0122, code: 'UNSUPPORTED' },
  TransferSyntaxNotSupported: { status: 0xc122, code: 'UNSUPPORTED' },
  OutOfResources: { status: 0xa700, code: 'OUT_OF_RESOURCES' },
} as const;
type FailureKind = (typeof Failure)[keyof typeof Failure];
/** A part's Content-Type that is a DICOM file (not application/dicom+json or +xml). */
const DICOM_PART = /^application\/dicom\s*(;|$)/i;

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
  private received = 0;

  constructor(
    private readonly deps: DicomwebDeps,
    private readonly contentType: string,
    private readonly study: string | undefined,
    private readonly provenance: { remoteAddress: string; source?: 'stow' | 'upload'; user?: string | null },
    private readonly done: (o: StowOutcome) => void,
  ) {}

  /** The part is refused here, before or instead of its ingest session's own end (which counts its failures itself). */
  private refuse(kind: FailureKind, reason: string): void {
    if (this.outcome) return;
    this.outcome = { ...this.ids, failure: { status: kind.status, reason } };
    // Seen like a refused C-STORE: a log line, the failure metric, the activity list, the audit.
    this.deps.store.deps.events.emit('instance.failed', { sopInstanceUID: this.ids.sopInstanceUID, code: kind.code, message: reason, provenance: this.provenanceRecord() });
  }

  private provenanceRecord() {
    return { callingAE: null, calledAE: null, remoteAddress: this.provenance.remoteAddress, source: this.provenance.source ?? ('stow' as const), user: this.provenance.user ?? null };
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.outcome) return;
    this.received += chunk.length;
    const max = this.deps.config().server.max_dataset_mb * 1024 * 1024;
    if (max > 0 && this.received > max) {
      // The rest of the part is read and dropped; the other parts go on.
      await this.session?.abort();
      return this.refuse(Failure.OutOfResources, `dataset larger than ${this.deps.config().server.max_dataset_mb} MB (server.max_dataset_mb)`);
    }
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
    if (!DICOM_PART.test(this.contentType)) return this.refuse(Failure.CannotUnderstand, `parts must be application/dicom, not ${this.contentType || 'untyped'}`);
    let prefix;
    try {
      prefix = parsePart10Prefix(head, true);
    } catch (e) {
      return this.refuse(Failure.CannotUnderstand, errorMessage(e));
    }
    if (!prefix?.hasMeta) return this.refuse(Failure.CannotUnderstand, 'the part is not a DICOM file (no File Meta Information)');
    const reader = new DatasetStreamReader({ transferSyntaxUID: prefix.transferSyntaxUID, collect: new Set([Tag.SOPClassUID, Tag.SOPInstanceUID, Tag.StudyInstanceUID, Tag.SeriesInstanceUID]) });
    reader.push(head.subarray(prefix.datasetOffset));
    // The head is all this reader sees: a deflated part's inflater is freed now, not by the GC.
    reader.close();
    const get = (tag: number, metaTag: number): string => elementText(reader.collected.get(tag), null) ?? elementText(prefix.meta.get(metaTag), null) ?? '';
    this.ids = {
      sopClassUID: get(Tag.SOPClassUID, Tag.MediaStorageSOPClassUID),
      sopInstanceUID: get(Tag.SOPInstanceUID, Tag.MediaStorageSOPInstanceUID),
      studyUID: elementText(reader.collected.get(Tag.StudyInstanceUID), null),
      seriesUID: elementText(reader.collected.get(Tag.SeriesInstanceUID), null),
    };
    if (!this.ids.sopClassUID || !this.ids.sopInstanceUID) return this.refuse(Failure.CannotUnderstand, 'no SOP Class UID or SOP Instance UID');
    // What C-STORE negotiates: the storage SOP classes and the transfer syntaxes we know.
    if (!isStorageSopClass(this.ids.sopClassUID)) return this.refuse(Failure.SopClassNotSupported, `${this.ids.sopClassUID} is not a storage SOP class`);
    if (!transferSyntaxInfo(prefix.transferSyntaxUID)) return this.refuse(Failure.TransferSyntaxNotSupported, `unknown transfer syntax ${prefix.transferSyntaxUID}`);
    if (this.study && this.ids.studyUID && this.ids.studyUID !== this.study)
      return this.refuse(Failure.WrongStudy, `the instance belongs to study ${this.ids.studyUID}, not ${this.study}`);
    this.session = this.deps.store.begin({
      sopClassUID: this.ids.sopClassUID,
      sopInstanceUID: this.ids.sopInstanceUID,
      transferSyntaxUID: prefix.transferSyntaxUID,
      provenance: this.provenanceRecord(),
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
        // Where it was filed, read from the whole dataset: the head may not have reached the
        // study and series UIDs (a deflated part), and a kept duplicate is where it was.
        const r = await this.session.end();
        this.outcome = { ...this.ids, studyUID: r.studyInstanceUID, seriesUID: r.seriesInstanceUID };
      } catch (e) {
        const { status, comment } = storeFailureStatus(e);
        // A failure of the server's own (a file system error, the index) names its files and
        // directories: it stays in the log (the store's instance.failed line), not in the answer.
        const reason = status === Status.ProcessingFailure ? 'the server could not store it (its log says why)' : comment;
        this.outcome = { ...this.ids, failure: { status, reason } };
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

/** The type= parameter of a multipart/related Content-Type (RFC 2387), lower case; null when absent. */
function rootType(contentType: string): string | null {
  const m = /;\s*type=(?:"([^"]*)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? '').trim().toLowerCase() : null;
}

async function stow(deps: DicomwebDeps, req: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply, pace: BodyPace): Promise<FastifyReply> {
  const type = req.headers['content-type'] ?? '';
  if (!/^multipart\/related/i.test(type)) throw new HttpProblem(415, 'STOW-RS takes multipart/related; type="application/dicom"');
  // Metadata with bulk data (application/dicom+json, +xml) is another form of the request: say
  // so at once, rather than refuse each of its parts as "not a DICOM file".
  const root = rootType(type);
  if (root !== null && root !== 'application/dicom')
    throw new HttpProblem(415, `STOW-RS here takes DICOM files: type="application/dicom", not type="${root}"`);
  const boundary = boundaryOf(type);
  if (!boundary) throw badRequest('the Content-Type has no boundary');
  // Before anything is stored: a client that accepts no answer we can give learns it first.
  const format = modelFormat(requestedTypes(req), 'single');
  if (!format) throw notAcceptable('the response is application/dicom+json or application/dicom+xml');
  const { max_upload_mb: maxMb, max_upload_parts: maxParts } = deps.config().http;
  const maxBytes = maxMb * 1024 * 1024;
  // A body announced too large is refused before a byte of it is stored.
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) throw new HttpProblem(413, `the request is larger than ${maxMb} MB (http.max_upload_mb)`);
  const outcomes: StowOutcome[] = [];
  // A part without a Content-Type is what the request's type= says (RFC 2387's root type).
  const partType = (headers: Record<string, string>): string => headers['content-type'] ?? (root === 'application/dicom' ? root : '');
  let broken: { status: number; detail: string; reason: string; http: number } | null = null;
  try {
    await readMultipart(
      // Left unread, not destroyed, when the reading stops early: registerStow reads the rest away.
      paced((req.body as Readable).iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>, pace),
      boundary,
      (headers) => new PartSink(deps, partType(headers), req.params.study, { remoteAddress: req.ip, user: req.caller?.name ?? null }, (o) => outcomes.push(o)),
      maxBytes,
      maxParts,
    );
  } catch (e) {
    // The reason of the failure item is a short LO; the problem's detail says it whole.
    if (e instanceof TooLargeError) broken = { status: Failure.OutOfResources.status, detail: e.message, reason: 'over http.max_upload_mb', http: 413 };
    else if (e instanceof TooSlowError) {
      const problem = tooSlow(req, reply, e);
      broken = { status: Failure.OutOfResources.status, detail: problem.message, reason: 'came too slowly', http: 408 };
    } else if (e instanceof TooManyPartsError) broken = { status: Failure.OutOfResources.status, detail: `${e.message} (http.max_upload_parts)`, reason: 'over http.max_upload_parts', http: 413 };
    else broken = { status: Failure.CannotUnderstand.status, detail: errorMessage(e), reason: errorMessage(e), http: 400 };
  }
  const stored = outcomes.filter((o) => !o.failure).length;
  if (broken) {
    // Nothing stored: the request as a whole is refused. Else what was stored is answered, with
    // the rest of the request as one failure: a client must learn which instances it has here.
    if (!stored) throw broken.http === 400 ? badRequest(broken.detail) : new HttpProblem(broken.http, broken.detail);
    outcomes.push({ sopClassUID: '', sopInstanceUID: '', studyUID: null, seriesUID: null, failure: { status: broken.status, reason: `rest not read: ${broken.reason}` } });
  }
  if (!outcomes.length) throw badRequest('the request holds no parts');
  const failures = outcomes.filter((o) => o.failure).map((o) => o.failure!.status);
  const response = answer(outcomes, baseUrl(req), req.params.study);
  // Nothing stored, every part for want of room: the server is the cause, not the request —
  // 503 tells a client to come back (409 would say to change the request).
  const outOfRoom = !stored && failures.every((f) => f >= 0xa700 && f <= 0xa7ff);
  if (outOfRoom) reply.header('retry-after', '60');
  const status = !failures.length ? 200 : outOfRoom ? 503 : stored ? 202 : 409;
  if (format === 'xml') return reply.code(status).type('application/dicom+xml').send(nativeDicomModel(response));
  return reply.code(status).type('application/dicom+json').send(JSON.stringify(response));
}

export function registerStow(scope: FastifyInstance, deps: DicomwebDeps): void {
  // A scope of its own: the raw stream reaches these routes alone (see upload.ts).
  void scope.register(async (app) => {
    // The body is read as a stream by the handler, never buffered by fastify.
    app.addContentTypeParser(/^multipart\/related/i, (_req, payload, done) => done(null, payload));
    // Whatever the answer, what is left of the body is read and thrown away (request-body.ts): a
    // client sends its whole body before it reads the answer, and stalled on one left unread.
    // Not a body that came too slowly: its connection is closed after the answer (upload-guard.ts).
    const handler = async (req: FastifyRequest<{ Params: { study?: string } }>, reply: FastifyReply) => {
      const pace = new BodyPace(paceLimits(deps.config().http));
      try {
        return await stow(deps, req, reply, pace);
      } finally {
        pace.stop();
        if (!pace.failed) discardRest(req.raw);
      }
    };
    const config = { upload: true };
    app.post('/studies', { config }, handler);
    // The study is echoed into Retrieve URLs and matched against each part: one UID, nothing else.
    const schema = { params: { type: 'object', properties: { study: uidSchema }, required: ['study'] } };
    app.post('/studies/:study', { schema, config }, handler);
  });
}
