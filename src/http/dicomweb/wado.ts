// WADO-RS (PS3.18 10.4): instances as multipart/related application/dicom (as stored or
// converted to the asked transfer syntax), metadata as DICOM JSON from the metadata cache,
// bulk data (with Range) and frames.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeFileMetaInformation } from '../../dicom/part10.js';
import { canConvert, convertDataset } from '../../codecs/convert.js';
import { DECODERS, START_MARKER } from '../../codecs/syntaxes.js';
import type { JsonDataset } from '../../dicom/json.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../dicom/implementation.js';
import type { InstanceLocation } from '../../index/types.js';
import type { QueryLevel } from '../../index/query/types.js';
import { MetadataService } from '../../services/metadata.js';
import { readDataset, selectInstances } from '../../services/retrieve.js';
import { encapsulatedFrame, nativeFrame } from '../../services/frames.js';
import { badRequest, notAcceptable, notFound } from '../problem.js';
import { dicomRendition, octetRendition, parseAccept } from './accept.js';
import { type DicomwebDeps, baseUrl, instanceUrl } from './deps.js';
import { type OutPart, multipartStream, newBoundary } from './multipart.js';

type Params = { study: string; series?: string; instance?: string; frames?: string; '*'?: string };
type Req = FastifyRequest<{ Params: Params }>;

const levelOf = (p: Params): QueryLevel => (p.instance ? 'IMAGE' : p.series ? 'SERIES' : 'STUDY');

async function select(deps: DicomwebDeps, p: Params): Promise<InstanceLocation[]> {
  const keys = [{ keyword: 'StudyInstanceUID', value: p.study }];
  if (p.series) keys.push({ keyword: 'SeriesInstanceUID', value: p.series });
  if (p.instance) keys.push({ keyword: 'SOPInstanceUID', value: p.instance });
  const locs = await selectInstances(deps.index, 'STUDY_ROOT', levelOf(p), keys);
  if (!locs.length) throw notFound(`no ${levelOf(p) === 'IMAGE' ? 'instance' : levelOf(p).toLowerCase()} ${p.instance ?? p.series ?? p.study} in the archive`);
  return locs;
}

/** One instance as a Part 10 file in `ts`: the stored file itself, or a converted copy. */
export async function instanceBytes(deps: DicomwebDeps, loc: InstanceLocation, ts: string): Promise<Buffer | NodeJS.ReadableStream> {
  if (ts === loc.transferSyntaxUID) return loc.size <= 16 * 1024 * 1024 ? deps.objects.readAll(loc.path) : deps.objects.read(loc.path);
  const converted = await convertDataset(await readDataset(deps.objects, loc), loc.transferSyntaxUID, ts, deps.decoder);
  const meta = encodeFileMetaInformation({
    mediaStorageSOPClassUID: loc.SOPClassUID,
    mediaStorageSOPInstanceUID: loc.SOPInstanceUID,
    transferSyntaxUID: ts,
    implementationClassUID: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  return Buffer.concat([meta, converted]);
}

async function retrieve(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const locs = await select(deps, req.params);
  const rendition = dicomRendition(parseAccept(req.headers.accept), locs.length === 1 && levelOf(req.params) === 'IMAGE');
  if (!rendition) throw notAcceptable('instances are sent as multipart/related; type="application/dicom" (or application/dicom for one instance)');
  const target = (loc: InstanceLocation): string => (rendition.transferSyntax === '*' ? loc.transferSyntaxUID : rendition.transferSyntax);
  const sendable = locs.filter((l) => canConvert(l.transferSyntaxUID, target(l)));
  if (!sendable.length) throw notAcceptable(`the instances cannot be converted to ${rendition.transferSyntax}; ask for transfer-syntax=* to get them as stored`);
  if (sendable.length < locs.length)
    reply.header('warning', `299 pacs-server "${locs.length - sendable.length} instance(s) cannot be converted to ${rendition.transferSyntax} and were left out"`);
  if (!rendition.multipart) {
    const loc = sendable[0]!;
    return reply.type(`application/dicom; transfer-syntax=${target(loc)}`).send(await instanceBytes(deps, loc, target(loc)));
  }
  const log = req.log;
  async function* parts(): AsyncGenerator<OutPart> {
    // The next files are read (or converted) while this one goes out on the socket.
    for await (const [loc, body] of readAhead(sendable, aheadFor(sendable), (l) => instanceBytes(deps, l, target(l)))) {
      if (body instanceof Error) {
        // Headers are gone already: leave the instance out and say so in the log.
        log.warn({ err: body, sopInstanceUID: loc.SOPInstanceUID }, 'WADO-RS: instance left out');
        continue;
      }
      yield { contentType: `application/dicom; transfer-syntax=${target(loc)}`, body: body as OutPart['body'] };
    }
  }
  const boundary = newBoundary();
  return reply.type(`multipart/related; type="application/dicom"; boundary=${boundary}`).send(multipartStream(boundary, parts()));
}

/** Up to 4 instances are read ahead of the one being sent, as long as they hold at most 8 MB together. */
const aheadFor = (locs: readonly InstanceLocation[]): number => Math.max(1, Math.min(4, Math.floor((8 << 20) / locs.reduce((m, l) => Math.max(m, l.size), 1))));

/** `fn` of each item in order, with up to `n` of the next ones already under way; a failure is yielded as the Error. */
async function* readAhead<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): AsyncGenerator<[T, R | Error]> {
  const pending: Promise<R | Error>[] = [];
  const start = (i: number): Promise<R | Error> => fn(items[i]!).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  for (let i = 0; i < Math.min(n, items.length); i++) pending.push(start(i));
  for (let i = 0; i < items.length; i++) {
    const result = await pending.shift()!;
    if (i + n < items.length) pending.push(start(i + n));
    yield [items[i]!, result];
  }
}

/** Runs `fn` over `items` with at most `n` at a time, keeping the order of the results. */
async function mapLimit<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function metadata(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const locs = await select(deps, req.params);
  const base = baseUrl(req);
  const texts = await mapLimit(locs, 8, async (loc) =>
    MetadataService.resolve(await deps.metadata.get(loc), instanceUrl(base, loc.StudyInstanceUID, loc.SeriesInstanceUID, loc.SOPInstanceUID)),
  );
  return reply.type('application/dicom+json').send(`[${texts.join(',')}]`);
}

function parseRange(header: string | undefined, total: number): { start: number; end: number } | null {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return null;
  if (m[1] === '') return { start: Math.max(0, total - Number(m[2])), end: total - 1 };
  return { start: Number(m[1]), end: m[2] === '' ? total - 1 : Math.min(total - 1, Number(m[2])) };
}

async function bulkdata(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const [loc] = await select(deps, req.params);
  const tagPath = (req.params['*'] ?? '').toUpperCase();
  const rendition = octetRendition(parseAccept(req.headers.accept));
  if (!rendition) throw notAcceptable('bulk data is sent as application/octet-stream, bare or in multipart/related');
  const whole = await deps.metadata.bulk(loc!, tagPath);
  if (!whole) throw notFound(`the instance has no bulk data at ${tagPath}`);
  const range = req.headers.range ? parseRange(req.headers.range, whole.total) : null;
  if (req.headers.range && (!range || range.start > range.end)) return reply.code(416).header('content-range', `bytes */${whole.total}`).send();
  const bytes = range ? whole.bytes.subarray(range.start, range.end + 1) : whole.bytes;
  if (range) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${whole.total}`);
  if (!rendition.multipart) return reply.type('application/octet-stream').send(bytes);
  const boundary = newBoundary();
  return reply
    .type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`)
    .send(multipartStream(boundary, (async function* () { yield { contentType: 'application/octet-stream', body: bytes }; })()));
}

const num = (ds: JsonDataset, tag: string, def: number): number => {
  const v = ds[tag]?.Value?.[0];
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : def;
};

async function frames(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const [loc] = await select(deps, req.params);
  const wanted = (req.params.frames ?? '').split(',').map((f) => Number(f.trim()));
  if (!wanted.length || wanted.some((n) => !Number.isInteger(n) || n < 1)) throw badRequest('frames are a comma-separated list of frame numbers from 1');
  const rendition = octetRendition(parseAccept(req.headers.accept));
  const meta = await deps.metadata.get(loc!);
  const ds = JSON.parse(meta.text) as JsonDataset;
  const pixel = meta.bulk.find((b) => b.path === '7FE00010');
  if (!pixel) throw notFound('the instance has no Pixel Data');
  const g = { rows: num(ds, '00280010', 0), columns: num(ds, '00280011', 0), samplesPerPixel: num(ds, '00280002', 1), bitsAllocated: num(ds, '00280100', 16), numberOfFrames: num(ds, '00280008', 1) };
  const encapsulated = pixel.length < 0;
  const ts = rendition?.transferSyntax === '*' || encapsulated ? meta.transferSyntaxUID : (rendition?.transferSyntax ?? '');
  if (!rendition || (encapsulated && rendition.transferSyntax !== '*' && rendition.transferSyntax !== meta.transferSyntaxUID))
    throw notAcceptable(`frames of this instance are available as stored (${meta.transferSyntaxUID}): ask for transfer-syntax=*`);
  const file = await deps.objects.readAll(loc!.path);
  const d = file.subarray(meta.datasetOffset);
  const out = wanted.map((n) => {
    if (n > g.numberOfFrames) throw notFound(`there is no frame ${n} (the instance has ${g.numberOfFrames})`);
    const codec = DECODERS.get(meta.transferSyntaxUID);
    return encapsulated ? encapsulatedFrame(d, pixel.offset, g.numberOfFrames, n, codec && START_MARKER[codec]) : nativeFrame(d.subarray(pixel.offset, pixel.offset + pixel.length), g, n);
  });
  const partType = `application/octet-stream; transfer-syntax=${ts}`;
  if (!rendition.multipart && out.length === 1) return reply.type(partType).send(out[0]);
  const boundary = newBoundary();
  return reply
    .type(`multipart/related; type="application/octet-stream"; boundary=${boundary}`)
    .send(multipartStream(boundary, (async function* () { for (const f of out) yield { contentType: partType, body: f }; })()));
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
