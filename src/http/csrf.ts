// Cross-site request forgery: a page on another site can make a browser send a POST, PUT or
// DELETE here with the credentials it has cached for us (HTTP Basic is replayed by the browser on
// its own), by a form (enctype text/plain, urlencoded, multipart) or a fetch that needs no
// preflight. Such a request says where it comes from: browsers send Sec-Fetch-Site and, on
// every unsafe method, Origin. Clients that are not browsers (curl, DICOMweb and DIMSE tools,
// other servers) send neither and are not affected.
import type { FastifyRequest } from 'fastify';

const UNSAFE = new Set(['POST', 'PUT', 'DELETE', 'PATCH']);

/** This server's own origin as the client addressed it: Host, or X-Forwarded-Host from a trusted proxy (fastify's req.host). */
function ownHost(req: FastifyRequest): string | null {
  try {
    return new URL(`${req.protocol}://${req.host}`).host.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * Why a request must be refused as forged, or null. `allowed`: http.cors_origins, whose origins
 * may change things too; "*" there lets any origin read (CORS) but not write with a browser's
 * credentials: a write from another site needs its origin listed.
 */
export function forgedRequest(req: FastifyRequest, allowed: readonly string[]): string | null {
  if (!UNSAFE.has(req.method)) return null;
  const origin = req.headers.origin;
  if (origin !== undefined && allowed.includes(origin)) return null;
  if (origin !== undefined) {
    let host: string | null = null;
    try {
      host = origin === 'null' ? null : new URL(origin).host.toLowerCase();
    } catch {
      /* not a URL: refused below */
    }
    if (host === null || host !== ownHost(req)) return `a ${req.method} from the page of another origin (${origin.slice(0, 100)}) is refused; list that origin in http.cors_origins to allow it`;
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') return `a ${req.method} sent by a page of another site is refused`;
  return null;
}
