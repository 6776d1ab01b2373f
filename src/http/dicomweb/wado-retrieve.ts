// WADO-RS retrieve (PS3.18 10.4.1): instances as multipart/related application/dicom, as
// stored or converted to the asked transfer syntax. A study goes out at the speed of the
// socket: files are read ahead of the one being sent, into buffers that are reused once the
// socket has taken their bytes, and each part is written straight to the response.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { encodeFileMetaInformation } from '../../dicom/part10.js';
import { canConvert, convertDataset } from '../../codecs/convert.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../dicom/implementation.js';
import type { InstanceLocation } from '../../index/types.js';
import { PacsError, isPacsError } from '../../core/errors.js';
import { abortedBy } from '../../core/abort.js';
import { clientGone } from '../client-gone.js';
import { readDataset } from '../../services/retrieve.js';
import { notAcceptable, warningHeader } from '../problem.js';
import { dicomRenditions, parseAccept } from './accept.js';
import type { DicomwebDeps } from './deps.js';
import { newBoundary } from './multipart.js';
import { type SentPart, disposePart, writeMultipart } from './multipart-writer.js';
import { READ_WHOLE, ReadBuffers, readReused } from '../../storage/read-buffers.js';


/**
 * One instance as a Part 10 file in `ts`: the stored file itself, or a converted copy. `signal`
 * (the client gone): not read, or the conversion stops (ABORTED).
 */
export async function instanceBytes(deps: DicomwebDeps, loc: InstanceLocation, ts: string, signal?: AbortSignal): Promise<Buffer | NodeJS.ReadableStream> {
  if (signal?.aborted) throw abortedBy(signal, `reading ${loc.SOPInstanceUID}`);
  if (ts === loc.transferSyntaxUID) return loc.size <= READ_WHOLE ? deps.objects.readAll(loc.path, loc.size) : deps.objects.read(loc.path);
  const converted = await convertDataset(await readDataset(deps.objects, loc), loc.transferSyntaxUID, ts, deps.decoder, signal ? { signal } : {});
  const meta = encodeFileMetaInformation({
    mediaStorageSOPClassUID: loc.SOPClassUID,
    mediaStorageSOPInstanceUID: loc.SOPInstanceUID,
    transferSyntaxUID: ts,
    implementationClassUID: IMPLEMENTATION_CLASS_UID,
    implementationVersionName: IMPLEMENTATION_VERSION_NAME,
  });
  return Buffer.concat([meta, converted]);
}

/** A stored file as it is, in a reused buffer when it is small enough to be read whole. */
async function storedPart(deps: DicomwebDeps, loc: InstanceLocation, buffers: ReadBuffers): Promise<Pick<SentPart, 'body' | 'release'>> {
  if (loc.size > READ_WHOLE) return { body: deps.objects.read(loc.path) };
  const { bytes, release } = await readReused(deps.objects, loc.path, loc.size, buffers);
  return release ? { body: bytes, release } : { body: bytes };
}

type Req = FastifyRequest<{ Params: { study: string; series?: string; instance?: string } }>;

/** The retrieve of `locs` (the instances the URL selects), as the Accept header asks. */
export async function retrieveInstances(deps: DicomwebDeps, req: Req, reply: FastifyReply, locs: InstanceLocation[], oneInstance: boolean): Promise<FastifyReply> {
  const renditions = dicomRenditions(parseAccept(req.headers.accept), locs.length === 1 && oneInstance);
  const rendition = renditions[0];
  if (!rendition) throw notAcceptable('instances are sent as multipart/related; type="application/dicom" (or application/dicom for one instance)');
  // Each instance in the first syntax the client accepts that it can be sent in (a JPEG 2000
  // first and `*` after it: what cannot become JPEG 2000 goes as stored); a conversion refused when
  // tried (a result past the size cap) falls to the next acceptable syntax.
  const choices = new Map<InstanceLocation, string[]>();
  for (const l of locs) {
    const ok = renditions.filter((x) => x.transferSyntax === '*' || canConvert(l.transferSyntaxUID, x.transferSyntax)).map((x) => (x.transferSyntax === '*' ? l.transferSyntaxUID : x.transferSyntax));
    if (ok.length) choices.set(l, [...new Set(ok)]);
  }
  const sendable = locs.filter((l) => choices.has(l));
  const asked = [...new Set(renditions.map((r) => r.transferSyntax))].join(', ');
  if (!sendable.length) throw notAcceptable(`the instances cannot be converted to ${asked}; ask for transfer-syntax=* to get them as stored`);
  if (sendable.length < locs.length) reply.header('warning', warningHeader([`${locs.length - sendable.length} instance(s) cannot be converted to ${asked} and were left out`]));
  const buffers = new ReadBuffers();
  // The client gone, conversions under way for it stop and nothing more is read.
  const gone = clientGone(reply);
  /** The instance in the first of its syntaxes that can be made, and which. */
  const read = async (l: InstanceLocation, whole = false): Promise<Pick<SentPart, 'body' | 'release'> & { ts: string }> => {
    const options = choices.get(l)!;
    for (const [i, ts] of options.entries()) {
      try {
        if (gone.aborted) throw abortedBy(gone, `reading ${l.SOPInstanceUID}`);
        if (ts === l.transferSyntaxUID && !whole) return { ...(await storedPart(deps, l, buffers)), ts };
        return { body: (await instanceBytes(deps, l, ts, gone)) as SentPart['body'], ts };
      } catch (caught) {
        // Stored data a codec cannot decode (a corrupt codestream, a process it lacks) is no fault
        // of the request: the next acceptable syntax (as stored, under `*`) is tried, and when
        // none is left the answer is 406 naming the reason, not 400.
        const e = ts !== l.transferSyntaxUID && isPacsError(caught, 'DICOM_PARSE') ? new PacsError('UNSUPPORTED', `${l.SOPInstanceUID} cannot be converted to ${ts}: ${caught.message}`) : caught;
        if (!isPacsError(e, 'UNSUPPORTED') || i === options.length - 1) throw e;
      }
    }
    throw new PacsError('UNSUPPORTED', `no syntax for ${l.SOPInstanceUID}`);
  };
  // Bare or multipart as the range that chose the (first) instance's syntax says.
  const chosen = renditions.find((x) => x.transferSyntax === '*' || canConvert(sendable[0]!.transferSyntaxUID, x.transferSyntax)) ?? rendition;
  if (!chosen.multipart) {
    const part = await read(sendable[0]!, true);
    return reply.type(`application/dicom; transfer-syntax=${part.ts}`).send(part.body);
  }
  const log = req.log;
  /** Why the last instance left out was (an answer with none sent is that error's). */
  let leftOut: unknown = null;
  async function* parts(): AsyncGenerator<SentPart> {
    // The next files are read (or converted) while this one goes out on the socket.
    for await (const [loc, part] of readAhead(sendable, aheadFor(sendable), (l: InstanceLocation) => read(l), disposePart)) {
      // Nobody to send to: what was read ahead is disposed, what is being converted stops (gone).
      if (gone.aborted) {
        if (!(part instanceof Error)) disposePart(part);
        return;
      }
      if (part instanceof Error) {
        // Headers are gone already (or go with the next part that can be sent): leave the
        // instance out and say so in the log.
        log.warn({ err: part, sopInstanceUID: loc.SOPInstanceUID }, 'WADO-RS: instance left out');
        leftOut = part;
        continue;
      }
      const { ts, ...sent } = part;
      yield { contentType: `application/dicom; transfer-syntax=${ts}`, ...sent };
    }
  }
  const boundary = newBoundary();
  const head = (): ReturnType<typeof reply.raw.writeHead> => {
    // Written to the socket directly (fastify pipes streams and cannot say when a buffer is free).
    reply.hijack();
    const headers = Object.fromEntries(Object.entries(reply.getHeaders()).filter((e): e is [string, string | number | string[]] => e[1] !== undefined));
    return reply.raw.writeHead(200, { ...headers, 'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}` });
  };
  if (req.method === 'HEAD') {
    head().end(); // no body goes out: reading the files would be for nothing
    return reply;
  }
  // The first part is made before the status goes out: when not one instance can be sent (each
  // file unreadable, each conversion failed) the answer is that error, not a 200 with a body of
  // no parts (RFC 2046 wants at least one).
  const source = parts();
  const first = await source.next();
  if (first.done) {
    if (gone.aborted) throw abortedBy(gone, 'WADO-RS retrieve');
    throw leftOut ?? new PacsError('NOT_FOUND', 'no instance could be read');
  }
  const res = head();
  try {
    await writeMultipart(
      res,
      boundary,
      (async function* () {
        yield first.value;
        yield* source;
      })(),
    );
  } catch (e) {
    // A streamed part failed half way: the body cannot be made whole, so the client must see it cut.
    if (gone.aborted) log.info({ reason: e instanceof Error ? e.message : String(e) }, 'WADO-RS: the client closed the connection before the answer');
    else log.warn({ err: e }, 'WADO-RS: retrieve broken off');
    res.destroy(e instanceof Error ? e : new Error(String(e)));
  }
  return reply;
}

/** Up to 4 instances are read ahead of the one being sent, as long as they hold at most 8 MB together. */
const aheadFor = (locs: readonly InstanceLocation[]): number => Math.max(1, Math.min(4, Math.floor((8 << 20) / locs.reduce((m, l) => Math.max(m, l.size), 1))));

/**
 * `fn` of each item in order, with up to `n` of the next ones already under way; a failure is
 * yielded as the Error. Stopped early (the client went away), what was read ahead and never
 * yielded goes to `dispose` (a file stream left open is a descriptor lost).
 */
export async function* readAhead<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>, dispose: (r: R) => void): AsyncGenerator<[T, R | Error]> {
  const pending: Promise<R | Error>[] = [];
  const start = (i: number): Promise<R | Error> => fn(items[i]!).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
  for (let i = 0; i < Math.min(n, items.length); i++) pending.push(start(i));
  try {
    for (let i = 0; i < items.length; i++) {
      const result = await pending.shift()!;
      if (i + n < items.length) pending.push(start(i + n));
      yield [items[i]!, result];
    }
  } finally {
    for (const p of pending.splice(0)) void p.then((r) => r instanceof Error || dispose(r));
  }
}
