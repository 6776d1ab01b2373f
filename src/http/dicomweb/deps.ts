// What the DICOMweb routes need: the same services DIMSE uses.
import type { FastifyRequest } from 'fastify';
import type { InstanceLocation } from '../../index/types.js';
import type { QueryLevel } from '../../index/query/types.js';
import { badRequest, notFound } from '../problem.js';
import type { Config } from '../../config/schema.js';
import type { ArchiveIndex } from '../../index/types.js';
import type { ObjectStore } from '../../storage/object-store.js';
import type { MetadataService } from '../../services/metadata.js';
import type { StoreService } from '../../services/store.js';
import type { FrameDecoder } from '../../codecs/pool.js';
import type { RenderingService } from '../../services/rendering.js';

export interface DicomwebDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  store: StoreService;
  metadata: MetadataService;
  /** Decompresses for a client that asked for another transfer syntax (the worker pool). */
  decoder: FrameDecoder;
  /** Rendered images (rendered and thumbnail resources, WADO-URI image/jpeg and image/png). */
  rendering: RenderingService;
  config: () => Readonly<Config>;
}

export const DICOMWEB_PREFIX = '/dicom-web';

const firstValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.split(',')[0]?.trim() || undefined;

/** proto= and host= of the first (client-side) element of an RFC 7239 Forwarded header. */
function forwarded(header: string | undefined): { proto?: string; host?: string } {
  const out: { proto?: string; host?: string } = {};
  for (const pair of (header?.split(',')[0] ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    const value = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (key === 'proto' || key === 'host') out[key] = value;
  }
  return out;
}

/**
 * The absolute URL of the DICOMweb root as this client reached it (for RetrieveURL, BulkDataURI):
 * behind a reverse proxy, what Forwarded (RFC 7239) or X-Forwarded-Proto / -Host / -Prefix say,
 * so the URLs in our answers work for the client. Those headers count only from a proxy of
 * http.trust_proxy: from anyone else they would let a client (or a page that makes a browser
 * send them) point the URLs of our answers at a host of its choosing. Values that are not a
 * plain scheme, host or path are ignored.
 */
export function baseUrl(req: FastifyRequest): string {
  const trusted = req.viaTrustedProxy === true;
  const header = (name: string): string | undefined => (trusted ? firstValue(req.headers[name]) : undefined);
  const f = forwarded(header('forwarded'));
  const proto = [f.proto, header('x-forwarded-proto'), req.protocol].find((p) => p === 'http' || p === 'https') ?? 'http';
  const host = [f.host, header('x-forwarded-host'), req.headers.host].find((h) => h && /^[A-Za-z0-9.:[\]_-]+$/.test(h)) ?? 'localhost';
  const prefix = header('x-forwarded-prefix');
  const path = prefix && /^\/[A-Za-z0-9._~/-]*$/.test(prefix) ? prefix.replace(/\/+$/, '') : '';
  return `${proto}://${host}${path}${DICOMWEB_PREFIX}`;
}

export const studyUrl = (base: string, study: string): string => `${base}/studies/${study}`;
export const seriesUrl = (base: string, study: string, series: string): string => `${studyUrl(base, study)}/series/${series}`;
export const instanceUrl = (base: string, study: string, series: string, sop: string): string => `${seriesUrl(base, study, series)}/instances/${sop}`;

/** The UIDs of a WADO-RS URL: /studies/{study}[/series/{series}[/instances/{instance}]]. */
export interface UrlUids {
  study: string;
  series?: string;
  instance?: string;
}

export const levelOf = (p: UrlUids): QueryLevel => (p.instance ? 'IMAGE' : p.series ? 'SERIES' : 'STUDY');

/** The instances a URL names, in series and instance order; 404 when there are none. */
export async function selectFromUrl(deps: Pick<DicomwebDeps, 'index'>, p: UrlUids): Promise<InstanceLocation[]> {
  // Exact UIDs from the URL: one statement, not a query (which would return every attribute of every level too).
  const locs = await deps.index.instancesOf(p.study, p.series, p.instance);
  if (!locs.length) throw notFound(`no ${levelOf(p) === 'IMAGE' ? 'instance' : levelOf(p).toLowerCase()} ${p.instance ?? p.series ?? p.study} in the archive`);
  return locs;
}

/** The {frames} of a URL: a comma-separated list of frame numbers from 1. */
/** Frames one request may name: a viewer asks for one or a few; a list is no way to fetch a whole cine. */
export const MAX_FRAMES_PER_REQUEST = 1000;

export function frameList(text: string | undefined): number[] {
  const frames = (text ?? '').split(',').map((f) => Number(f.trim()));
  if (!frames.length || frames.some((n) => !Number.isInteger(n) || n < 1)) throw badRequest('frames are a comma-separated list of frame numbers from 1');
  if (frames.length > MAX_FRAMES_PER_REQUEST) throw badRequest(`at most ${MAX_FRAMES_PER_REQUEST} frames a request (${frames.length} asked): ask in several`);
  return frames;
}
