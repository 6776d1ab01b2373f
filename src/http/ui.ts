// The web page: static files from ui/ (plain ES modules, no build step) at /. The page talks
// to the REST API and DICOMweb like any other client.
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { fileURLToPath } from 'node:url';

/** ui/ beside src/ in a clone, and beside dist/src when built. */
export const UI_ROOT = fileURLToPath(new URL('../../../ui/', import.meta.url));

/**
 * The page's own policy: scripts, styles and calls from this server only (markup that got into the
 * page from a DICOM attribute could run nothing), images also as data: and blob: URLs, no plugins,
 * no <base>, and framed by no page at all (nothing of ours frames it; clickjacking, framing.ts).
 * Not the viewer's or the API page's: OHIF and Swagger UI need more (viewer.ts, api/plugin.ts).
 */
export const UI_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
};

const setUiHeaders = (res: { setHeader(name: string, value: string): unknown }): void => {
  for (const [name, value] of Object.entries(UI_HEADERS)) res.setHeader(name, value);
};

export async function registerUi(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    // The page is small and changes with each release: revalidate rather than cache for long.
    cacheControl: true,
    maxAge: 0,
    decorateReply: true,
    setHeaders: setUiHeaders,
  });
  app.get('/', (_req, reply) => reply.headers(UI_HEADERS).sendFile('index.html'));
}
