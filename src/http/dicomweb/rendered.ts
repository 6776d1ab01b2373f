// WADO-RS rendered and thumbnail resources (PS3.18 10.4.1.1.3 / 8.3.5): instances and frames
// as image/jpeg or image/png, windowed and scaled as asked; a study or series rendered is a
// multipart/related of its images (each instance's first frame); a thumbnail is one small
// image: of the instance or frame, or for a series its middle image, for a study the middle
// image of its first series. Rendering and encoding happen on the codec worker pool.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceLocation } from '../../index/types.js';
import { type RenderRequest, type RenderedImage } from '../../services/rendering.js';
import { badRequest, notAcceptable, notFound } from '../problem.js';
import { type DicomwebDeps, frameList, selectFromUrl } from './deps.js';
import { type OutPart, multipartStream, newBoundary } from './multipart.js';
import { RENDERED_TYPES, type RenderedRendition, parseRenderedQuery, renderedRendition, singleValued } from './render-params.js';
import { clientGone } from '../client-gone.js';

type Params = { study: string; series?: string; instance?: string; frames?: string };
type Query = Record<string, string | undefined>;
type Req = FastifyRequest<{ Params: Params; Querystring: Query }>;

/** Thumbnails fit in a square of this side unless the request gives a viewport. */
export const THUMBNAIL_SIZE = 128;
/** Images of a study or series rendered ahead of the one being sent (the pool works while we write). */
const READ_AHEAD = 2;

function rendition(req: Req): RenderedRendition {
  // singleValued first: `accept` given twice arrives as an array (it was a TypeError, a 500).
  const r = renderedRendition(req.headers.accept, singleValued(req.query).accept);
  if (!r) throw notAcceptable(`rendered resources are sent as ${RENDERED_TYPES}`);
  return r;
}

function sendOne(reply: FastifyReply, img: RenderedImage): FastifyReply {
  return reply.type(img.mediaType).send(img.bytes);
}

function sendMany(reply: FastifyReply, mediaType: string, parts: AsyncIterable<OutPart>): FastifyReply {
  const boundary = newBoundary();
  return reply.type(`multipart/related; type="${mediaType}"; boundary=${boundary}`).send(multipartStream(boundary, parts));
}

/**
 * Images rendered a few ahead of the one being yielded; one that fails is left out and logged.
 * The client gone (`gone`), the renderings under way are given up and no more start.
 */
async function* renderedParts(jobs: (() => Promise<RenderedImage>)[], log: FastifyRequest['log'], gone: AbortSignal): AsyncGenerator<OutPart> {
  const settle = (job: () => Promise<RenderedImage>) => job().then((img) => ({ img, err: null }), (err: unknown) => ({ img: null, err }));
  const ahead = jobs.slice(0, READ_AHEAD).map(settle);
  for (let i = 0; i < jobs.length; i++) {
    const next = jobs[i + READ_AHEAD];
    if (next && !gone.aborted) ahead.push(settle(next));
    const { img, err } = await ahead.shift()!;
    if (gone.aborted) return;
    if (img) yield { contentType: img.mediaType, body: img.bytes };
    else log.warn({ err }, 'rendered: image left out');
  }
}

async function rendered(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const want = rendition(req);
  const params = parseRenderedQuery(req.query);
  const mediaType = want.format === 'png' ? 'image/png' : 'image/jpeg';
  const ask = (frame: number): RenderRequest => ({ ...params, frame, format: want.format });
  const gone = clientGone(reply);
  if (!req.params.instance) {
    await selectFromUrl(deps, req.params);
    const locs = (await deps.rendering.images(req.params.study, req.params.series)).flat();
    if (!locs.length) throw notAcceptable(`no instance of ${req.params.series ?? req.params.study} has pixel data to render`);
    return sendMany(reply, mediaType, renderedParts(locs.map((loc) => () => deps.rendering.render(loc, ask(1), gone)), req.log, gone));
  }
  const [loc] = await selectFromUrl(deps, req.params);
  const frames = req.params.frames === undefined ? [1] : frameList(req.params.frames);
  if (frames.length === 1 && !want.multipart) return sendOne(reply, await deps.rendering.render(loc!, ask(frames[0]!), gone));
  // The metadata read and parsed once for all the frames listed.
  const source = await deps.rendering.source(loc!);
  // Frame numbers are checked before anything is sent: a missing one is a 404, not a short answer.
  const missing = frames.find((n) => n > source.frames);
  if (missing) throw notFound(`there is no frame ${missing} (the instance has ${source.frames})`);
  const first = await deps.rendering.render(source, ask(frames[0]!), gone);
  const rest = frames.slice(1).map((n) => () => deps.rendering.render(source, ask(n), gone));
  return sendMany(
    reply,
    mediaType,
    (async function* () {
      yield { contentType: first.mediaType, body: first.bytes };
      yield* renderedParts(rest, req.log, gone);
    })(),
  );
}

async function thumbnail(deps: DicomwebDeps, req: Req, reply: FastifyReply): Promise<FastifyReply> {
  const want = rendition(req);
  const params = parseRenderedQuery(req.query);
  const viewport = params.viewport ?? { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE };
  let loc: InstanceLocation | null;
  let frame = 1;
  if (req.params.instance) {
    [loc = null] = await selectFromUrl(deps, req.params);
    if (req.params.frames !== undefined) {
      const frames = frameList(req.params.frames);
      if (frames.length !== 1) throw badRequest('a thumbnail is of one frame');
      frame = frames[0]!;
    }
  } else {
    await selectFromUrl(deps, req.params);
    loc = await deps.rendering.representative(req.params.study, req.params.series);
    if (!loc) throw notAcceptable(`no instance of ${req.params.series ?? req.params.study} has pixel data for a thumbnail`);
  }
  // The default thumbnail is cached; one with parameters of its own is made each time.
  const gone = clientGone(reply);
  if (!Object.keys(params).length) return sendOne(reply, await deps.rendering.thumbnail(loc!, frame, want.format, THUMBNAIL_SIZE, gone));
  return sendOne(reply, await deps.rendering.render(loc!, { ...params, viewport, frame, format: want.format }, gone));
}

export function registerRendered(app: FastifyInstance, deps: DicomwebDeps): void {
  const h = (fn: (deps: DicomwebDeps, req: Req, reply: FastifyReply) => Promise<FastifyReply>) => (req: Req, reply: FastifyReply) => fn(deps, req, reply);
  const levels = ['/studies/:study', '/studies/:study/series/:series', '/studies/:study/series/:series/instances/:instance', '/studies/:study/series/:series/instances/:instance/frames/:frames'];
  for (const base of levels) {
    app.get(`${base}/rendered`, h(rendered));
    app.get(`${base}/thumbnail`, h(thumbnail));
  }
}
