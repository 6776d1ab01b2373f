// What a client asks of a rendered image: the media type (PS3.18 8.3.3.1: the `accept` query
// parameter, else the Accept header), and the rendering parameters of PS3.18 8.3.5.1 (window,
// viewport, quality; annotation and the others are accepted and ignored) or of WADO-URI 9.1.2.
import { MAX_SIDE } from '../../codecs/resample.js';
import { VOI_FUNCTIONS, type VoiFunction, type VoiWindow, type Viewport } from '../../codecs/render.js';
import type { ImageFormat, RenderRequest } from '../../services/rendering.js';
import { badRequest } from '../problem.js';
import { parseAccept } from './accept.js';

export interface RenderedRendition {
  format: ImageFormat;
  /** The client accepts only multipart/related (of image/jpeg or image/png). */
  multipart: boolean;
}

const IMAGE_TYPES: Record<string, ImageFormat> = { 'image/jpeg': 'jpeg', 'image/png': 'png' };
export const RENDERED_TYPES = 'image/jpeg (the default) or image/png, bare or in multipart/related';

/** The first rendered media type the client accepts, or null (406). */
export function renderedRendition(acceptHeader: string | undefined, acceptParam: string | undefined): RenderedRendition | null {
  for (const r of parseAccept(acceptParam ?? acceptHeader)) {
    const format = IMAGE_TYPES[r.type];
    if (format) return { format, multipart: false };
    if (r.type === 'image/*' || r.type === '*/*') return { format: 'jpeg', multipart: false };
    if (r.type === 'multipart/related') {
      const inner = (r.params.type ?? 'image/jpeg').toLowerCase();
      if (IMAGE_TYPES[inner]) return { format: IMAGE_TYPES[inner], multipart: true };
    }
  }
  return null;
}

type Query = Record<string, string | undefined>;

/**
 * The query as the one-value-per-name record these routes are typed with. A name given twice
 * arrives as an array (fastify's query parser), which the parsing below would meet as a string.
 */
export function singleValued(query: unknown): Query {
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>))
    if (Array.isArray(value)) throw badRequest(`${name} is given ${value.length} times: once expected`);
  return query as Query;
}

const numbers = (name: string, value: string, min: number, max: number): number[] => {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length < min || parts.length > max || parts.some((p) => p === '' || !Number.isFinite(Number(p))))
    throw badRequest(`${name}=${value}: ${min === max ? min : `${min} to ${max}`} comma-separated numbers expected`);
  return parts.map(Number);
};

const int = (name: string, value: string, lo: number, hi: number): number => {
  const n = Number(value);
  if (!/^\s*-?\d+\s*$/.test(value) || n < lo || n > hi) throw badRequest(`${name}=${value}: an integer from ${lo} to ${hi} expected`);
  return n;
};

function voiWindow(center: number, width: number, fn: string): VoiWindow {
  const f = fn.trim().toUpperCase() as VoiFunction;
  if (!VOI_FUNCTIONS.includes(f)) throw badRequest(`window function ${fn}: one of ${VOI_FUNCTIONS.join(', ')} expected`);
  if (!(width > 0) || (f === 'LINEAR' && width < 1)) throw badRequest(`window width ${width}: it must be positive (at least 1 for LINEAR)`);
  return { center, width, function: f };
}

/** `window`, `viewport` and `quality` of a DICOMweb rendered or thumbnail request (PS3.18 8.3.5.1). */
export function parseRenderedQuery(query: Query): Omit<RenderRequest, 'frame' | 'format'> {
  const q = singleValued(query);
  const out: Omit<RenderRequest, 'frame' | 'format'> = {};
  if (q.window !== undefined) {
    const parts = q.window.split(',');
    const [center, width] = numbers('window', parts.slice(0, 2).join(','), 2, 2);
    out.window = voiWindow(center!, width!, parts[2] ?? 'LINEAR');
    if (parts.length > 3) throw badRequest(`window=${q.window}: center,width[,function] expected`);
  }
  if (q.viewport !== undefined) {
    const v = numbers('viewport', q.viewport, 2, 6);
    if (v.length !== 2 && v.length !== 6) throw badRequest(`viewport=${q.viewport}: vw,vh or vw,vh,sx,sy,sw,sh expected`);
    const [vw, vh, sx, sy, sw, sh] = v;
    const side = (name: string, x: number): number => int(name, String(x), 1, MAX_SIDE);
    const viewport: Viewport = { width: side('viewport width', vw!), height: side('viewport height', vh!) };
    if (v.length === 6) {
      if (!Number.isInteger(sx) || !Number.isInteger(sy) || !Number.isInteger(sw) || !Number.isInteger(sh) || sw === 0 || sh === 0 || sx! < 0 || sy! < 0)
        throw badRequest(`viewport=${q.viewport}: the source region sx,sy,sw,sh must be integers, sx and sy from 0, sw and sh not 0`);
      viewport.region = { x: sx!, y: sy!, width: sw!, height: sh! };
    }
    out.viewport = viewport;
  }
  if (q.quality !== undefined) out.quality = int('quality', q.quality, 1, 100);
  return out;
}

/** The rendering parameters of a WADO-URI request (PS3.18 9.1.2 / 8.2): frameNumber, rows, columns, region, windowCenter/windowWidth, imageQuality. */
export function parseWadoUriQuery(q: Query): Omit<RenderRequest, 'format'> {
  const out: Omit<RenderRequest, 'format'> = { frame: q.frameNumber === undefined ? 1 : int('frameNumber', q.frameNumber, 1, 2 ** 31 - 1) };
  if ((q.windowCenter === undefined) !== (q.windowWidth === undefined)) throw badRequest('windowCenter and windowWidth go together');
  if (q.windowCenter !== undefined) {
    const [center] = numbers('windowCenter', q.windowCenter, 1, 1);
    const [width] = numbers('windowWidth', q.windowWidth!, 1, 1);
    out.window = voiWindow(center!, width!, 'LINEAR');
  }
  const rows = q.rows === undefined ? undefined : int('rows', q.rows, 1, MAX_SIDE);
  const columns = q.columns === undefined ? undefined : int('columns', q.columns, 1, MAX_SIDE);
  if (rows !== undefined || columns !== undefined) out.viewport = { ...(columns !== undefined ? { width: columns } : {}), ...(rows !== undefined ? { height: rows } : {}) };
  if (q.region !== undefined) {
    const r = numbers('region', q.region, 4, 4);
    const [x0, y0, x1, y1] = r as [number, number, number, number];
    if (r.some((x) => x < 0 || x > 1) || x1 <= x0 || y1 <= y0) throw badRequest(`region=${q.region}: xmin,ymin,xmax,ymax from 0.0 to 1.0 with xmin < xmax and ymin < ymax expected`);
    out.fractionRegion = [x0, y0, x1, y1];
  }
  if (q.imageQuality !== undefined) out.quality = int('imageQuality', q.imageQuality, 1, 100);
  return out;
}
