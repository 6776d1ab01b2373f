// WADO-RS (PS3.18 10.4): instances (wado-retrieve.ts), metadata as DICOM JSON from the metadata cache,
// bulk data (with Range) and frames.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MAX_CONVERTED_BYTES, withinDecodeBudget } from '../../codecs/convert.js';
import { inflateDataset } from '../../codecs/inflate.js';
import { DECODERS, START_MARKER } from '../../codecs/syntaxes.js';
import type { JsonDataset } from '../../dicom/json.js';
import { MetadataService } from '../../services/metadata.js';
import { frameSize, nativeFrame, storedEncapsulatedFrame } from '../../services/frames.js';
import { TS, transferSyntaxInfo } from '../../dicom/transfer-syntax.js';
import { PacsError, errorMessage, isPacsError } from '../../core/errors.js';
import { type CodecName, frameBytes } from '../../codecs/frame.js';
import type { PixelModule } from '../../dicom/decompress.js';
import { clientGone } from '../client-gone.js';
import { notAcceptable, notFound } from '../problem.js';
import { octetRendition, octetRenditions, parseAccept } from './accept.js';
import { type DicomwebDeps, baseUrl, frameList, instanceUrl, levelOf, selectFromUrl } from './deps.js';
import { multipartStream, newBoundary } from './multipart.js';
import { datasetsFormat, sendDatasetStream, sendDatasets } from './model-reply.js';
import { retrieveInstances } from './wado-retrieve.js';

export { instanceBytes } from './wado-retrieve.js';

type Params = { study: string; series?: string; instance?: string; frames?: string; '*'?: string };
type Req = FastifyRequest<{ Params: Params }>;

async function retrieve(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  return retrieveInstances(deps, req, reply, await selectFromUrl(deps, req.params), levelOf(req.params) === 'IMAGE');
}

/** Instances whose metadata is read at once (a setting only for the tests of what follows). */
export const metadataBatch = { size: 500 };

/**
 * The metadata of a study, series or instance. Read a batch at a time as the answer is written:
 * a study of tens of thousands of instances was one string of hundreds of MB (past V8's longest
 * string, a 500). The first batch — the whole answer for most — is read before the answer
 * starts, so that a file that cannot be read is still an error status; one in a later batch ends
 * the answer early (logged).
 */
async function metadata(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const format = datasetsFormat(req);
  const locs = await selectFromUrl(deps, req.params);
  const base = baseUrl(req);
  const size = Math.max(1, metadataBatch.size);
  const textsOf = async (batch: typeof locs): Promise<string[]> => {
    const metas = await deps.metadata.getAll(batch);
    return batch.map((loc, i) => MetadataService.resolve(metas[i]!, instanceUrl(base, loc.StudyInstanceUID, loc.SeriesInstanceUID, loc.SOPInstanceUID)));
  };
  const first = await textsOf(locs.slice(0, size));
  if (locs.length <= size) return sendDatasets(reply, format, first);
  async function* all(): AsyncGenerator<string> {
    yield* first;
    for (let i = size; i < locs.length; i += size) yield* await textsOf(locs.slice(i, i + size));
  }
  return sendDatasetStream(reply, format, all());
}

function parseRange(header: string | undefined, total: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return { start: Math.max(0, total - Number(m[2])), end: total - 1 };
  // first > last is not a valid range (RFC 9110 14.1.1): ignored like any other form we do not serve.
  if (m[2] !== '' && Number(m[1]) > Number(m[2])) return null;
  return { start: Number(m[1]), end: m[2] === '' ? total - 1 : Math.min(total - 1, Number(m[2])) };
}

async function bulkdata(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const [loc] = await selectFromUrl(deps, req.params);
  const tagPath = (req.params['*'] ?? '').toUpperCase();
  // Encapsulated Pixel Data has no byte range of its own to send: its BulkDataURI (which the
  // metadata gives as for any bulk value) answers as the frames resource of all its frames does.
  if (tagPath === '7FE00010' && ((await deps.metadata.get(loc!)).bulk.find((b) => b.path === tagPath)?.length ?? 0) < 0) return frames(deps, req, reply, true);
  const accepted = parseAccept(req.headers.accept);
  const rendition = octetRendition(accepted);
  if (!rendition) throw notAcceptable('bulk data is sent as application/octet-stream, bare or in multipart/related');
  // A 206's body is the bytes its Content-Range counts (RFC 9110 14.4): a range goes bare whenever
  // the client takes application/octet-stream (`*/*` included, the default without Accept); one
  // that takes only multipart/related gets the whole value, its Range ignored (RFC 9110 14.2).
  const bareAccepted = accepted.some((r) => r.type === '*/*' || r.type === 'application/octet-stream');
  // The value's length is in the (cached) metadata: a Range request reads only its bytes.
  const ref = (await deps.metadata.get(loc!)).bulk.find((b) => b.path === tagPath);
  if (!ref) throw notFound(`the instance has no bulk data at ${tagPath}`);
  const total = ref.length;
  // One byte range is served (206); a Range header of another form (several ranges, another
  // unit) is ignored and the whole value sent, as RFC 9110 14.2 allows; one past the end is 416.
  const range = req.headers.range && total >= 0 && bareAccepted ? parseRange(req.headers.range, total) : null;
  if (range && range.start > range.end) return reply.code(416).header('content-range', `bytes */${total}`).send();
  const value = await deps.metadata.bulkBody(loc!, tagPath, range ?? undefined);
  if (!value) throw notFound(`the instance has no bulk data at ${tagPath}`);
  const bytes = value.body;
  // The file is opened before the answer begins: a missing one is an error status, not a cut-off 200.
  if (!Buffer.isBuffer(bytes))
    await opened(bytes).catch((e: unknown) => {
      // The error names the file's absolute path: for the log, not for the client.
      req.log.warn({ err: e, sop: loc!.SOPInstanceUID }, 'a stored file cannot be read');
      throw new PacsError('NOT_FOUND', `the file of ${loc!.SOPInstanceUID} cannot be read (the server log says why)`);
    });
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${total}`);
  if (range || !rendition.multipart) return reply.type('application/octet-stream').send(bytes);
  const boundary = newBoundary();
  return reply
    .type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`)
    .send(multipartStream(boundary, (async function* () { yield { contentType: 'application/octet-stream', body: bytes }; })()));
}

/** Resolves once a file stream has its descriptor (at once for a stream that is not a pending file), rejects when it cannot open. */
function opened(stream: NodeJS.ReadableStream): Promise<void> {
  if (!(stream as { pending?: boolean }).pending) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('ready', () => resolve());
    stream.once('error', reject);
  });
}

const num = (ds: JsonDataset, tag: string, def: number): number => {
  const v = ds[tag]?.Value?.[0];
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : def;
};

/**
 * Compressed frame `n` decoded on the worker pool: little-endian samples (a JPEG of YBR_FULL_422
 * comes out RGB, as a decompressed instance says it is). A codestream that cannot be decoded is
 * no fault of the request: 406, naming the stored syntax to ask for instead.
 */
async function decodedFrame(deps: DicomwebDeps, codec: CodecName, geometry: PixelModule, f: Buffer, n: number, signal: AbortSignal): Promise<Buffer> {
  // A copy of the frame owns its buffer: transferred to the worker, it does not detach the read's.
  const frame = (f.buffer as ArrayBuffer).slice(f.byteOffset, f.byteOffset + f.length);
  const r = await withinDecodeBudget(frameBytes(geometry), `frame ${n}`, () => deps.decoder.decode({ codec, geometry, frame }, signal)).catch((e: unknown) => {
    if (isPacsError(e, 'UNAVAILABLE') || isPacsError(e, 'ABORTED')) throw e;
    if (isPacsError(e, 'UNSUPPORTED')) throw new PacsError('UNSUPPORTED', `${e.message}: ask for transfer-syntax=* to get it as stored`);
    throw new PacsError('UNSUPPORTED', `frame ${n} cannot be decoded (${errorMessage(e)}): ask for transfer-syntax=* to get it as stored`);
  });
  return Buffer.from(r.pixels);
}

/** The frames the URL lists, or (`all`: the Pixel Data's bulk data URI) every frame. */
async function frames(deps: DicomwebDeps, req: Req, reply: FastifyReply, all = false): Promise<FastifyReply> {
  const [loc] = await selectFromUrl(deps, req.params);
  const listed = all ? null : frameList(req.params.frames);
  const accepted = octetRenditions(parseAccept(req.headers.accept));
  const meta = await deps.metadata.get(loc!);
  const ds = JSON.parse(meta.text) as JsonDataset;
  const pixel = meta.bulk.find((b) => b.path === '7FE00010');
  if (!pixel) throw notFound('the instance has no Pixel Data');
  const photometric = String(ds['00280004']?.Value?.[0] ?? '');
  const g = { rows: num(ds, '00280010', 0), columns: num(ds, '00280011', 0), samplesPerPixel: num(ds, '00280002', 1), bitsAllocated: num(ds, '00280100', 16), numberOfFrames: num(ds, '00280008', 1), photometric };
  const wanted = listed ?? Array.from({ length: Math.max(1, g.numberOfFrames) }, (_, i) => i + 1);
  // Bare application/octet-stream is one frame: for several it is ignored (PS3.18 10.4.4).
  const renditions = wanted.length === 1 ? accepted : accepted.filter((r) => r.multipart);
  if (accepted.length && !renditions.length) throw notAcceptable(`${wanted.length} frames go in multipart/related; type="application/octet-stream", not as one application/octet-stream`);
  const encapsulated = pixel.length < 0;
  const stored = meta.transferSyntaxUID;
  const native = (asked: string): boolean => asked === TS.ExplicitVRLittleEndian || asked === TS.ImplicitVRLittleEndian;
  // Encapsulated frames go as stored ('*' or the stored syntax), or decoded to little-endian
  // samples when one of the uncompressed syntaxes is asked for — which the bare media type
  // means (PS3.18 8.7.3.5.2: Explicit VR LE is the default) — and a codec here reads them.
  // Native frames go as little-endian samples, labelled Explicit VR LE or Implicit VR LE, or
  // '*': the stored label when that is one of them (a deflated or big-endian instance's frames
  // are little-endian samples all the same).
  const codec = encapsulated ? DECODERS.get(stored) : undefined;
  const nativeLabel = native(stored) ? stored : TS.ExplicitVRLittleEndian;
  const labelOf = (asked: string): string | null =>
    encapsulated ? (asked === '*' || asked === stored ? stored : codec && native(asked) ? asked : null) : asked === '*' ? nativeLabel : native(asked) ? asked : null;
  const rendition = renditions.find((r) => labelOf(r.transferSyntax) !== null);
  if (!rendition)
    throw notAcceptable(
      encapsulated
        ? `frames of this instance are available as stored (${stored}), which no codec here decodes: ask for transfer-syntax=*`
        : `frames of this instance are native pixels: ask for transfer-syntax=${TS.ExplicitVRLittleEndian} (or *)`,
    );
  const ts = labelOf(rendition.transferSyntax)!;
  const geometry: PixelModule = { ...g, bitsStored: num(ds, '00280101', g.bitsAllocated), pixelRepresentation: num(ds, '00280103', 0) };
  const gone = clientGone(reply);
  const beyond = wanted.find((n) => n > g.numberOfFrames);
  if (beyond !== undefined) throw notFound(`there is no frame ${beyond} (the instance has ${g.numberOfFrames})`);
  // One frame read at a time, and each sent before the next is read: a long frame list of large
  // frames costs one frame of memory, not all of them.
  let frameAt: (n: number) => Promise<Buffer>;
  if (!encapsulated && !transferSyntaxInfo(meta.transferSyntaxUID)?.deflated && g.bitsAllocated % 8 === 0) {
    // Native frames lie at known offsets in the file: read only those bytes (a viewer asks one frame at a time).
    const size = frameSize(g);
    if (!(size > 0)) throw new PacsError('UNSUPPORTED', 'the instance has no frame geometry (Rows, Columns): its frames cannot be cut out');
    const start = meta.datasetOffset + pixel.offset;
    frameAt = async (n) => {
      if (n * size > pixel.length) throw new PacsError('DICOM_PARSE', `Pixel Data holds fewer than ${n} frames`);
      const f = await deps.objects.readRange(loc!.path, start + (n - 1) * size, size);
      if (f.length < size) throw new PacsError('DICOM_PARSE', `the file ends inside frame ${n}`);
      return f;
    };
  } else if (encapsulated) {
    // The items' headers and the frame's own fragments, not the whole file (frames.ts).
    const codec = DECODERS.get(meta.transferSyntaxUID);
    const marker = codec && START_MARKER[codec];
    frameAt = (n) => storedEncapsulatedFrame(deps.objects, loc!, meta.datasetOffset + pixel.offset, g.numberOfFrames, n, marker);
  } else {
    // Deflated (the offsets are in the inflated dataset), or 1-bit frames: the whole Pixel Data is needed.
    const stored = (await deps.objects.readAll(loc!.path)).subarray(meta.datasetOffset);
    const d = transferSyntaxInfo(meta.transferSyntaxUID)?.deflated ? await inflateDataset(stored, MAX_CONVERTED_BYTES) : stored;
    frameAt = async (n) => Buffer.from(nativeFrame(d.subarray(pixel.offset, pixel.offset + pixel.length), g, n));
  }
  // Native big-endian words turn little-endian, as the label says (OW of 8-bit samples: bytes swap in pairs).
  const bigEndian = !encapsulated && transferSyntaxInfo(stored)?.littleEndian === false;
  const wordsOf8 = g.bitsAllocated === 8 && ds['7FE00010']?.vr === 'OW';
  const frame = async (n: number): Promise<Buffer> => {
    const f = await frameAt(n);
    if (codec && ts !== stored) return decodedFrame(deps, codec, geometry, f, n, gone);
    if (bigEndian && (g.bitsAllocated === 16 || wordsOf8) && f.length % 2 === 0) f.swap16();
    else if (bigEndian && g.bitsAllocated === 32 && f.length % 4 === 0) f.swap32();
    return f;
  };
  const partType = `application/octet-stream; transfer-syntax=${ts}`;
  if (!rendition.multipart && wanted.length === 1) return reply.type(partType).send(await frame(wanted[0]!));
  // The first frame is read before the answer begins: a frame that cannot be read is an error status, not a cut-off 200.
  const first = await frame(wanted[0]!);
  const boundary = newBoundary();
  return reply.type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`).send(
    multipartStream(
      boundary,
      (async function* () {
        yield { contentType: partType, body: first };
        for (const n of wanted.slice(1)) yield { contentType: partType, body: await frame(n) };
      })(),
    ),
  );
}

export function registerWado(app: FastifyInstance, deps: DicomwebDeps): void {
  const h = (fn: (deps: DicomwebDeps, req: Req, reply: FastifyReply) => Promise<FastifyReply>) => (req: Req, reply: FastifyReply) => fn(deps, req, reply);
  app.get('/studies/:study', h(retrieve));
  app.get('/studies/:study/series/:series', h(retrieve));
  app.get('/studies/:study/series/:series/instances/:instance', h(retrieve));
  app.get('/studies/:study/metadata', h(metadata));
  app.get('/studies/:study/series/:series/metadata', h(metadata));
  app.get('/studies/:study/series/:series/instances/:instance/metadata', h(metadata));
  app.get('/studies/:study/series/:series/instances/:instance/bulkdata/*', h(bulkdata));
  app.get('/studies/:study/series/:series/instances/:instance/frames/:frames', h(frames));
}
