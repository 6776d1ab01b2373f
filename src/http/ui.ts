// The web page: static files from ui/ (plain ES modules, no build step) at /. The page talks
// to the REST API and DICOMweb like any other client.
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { fileURLToPath } from 'node:url';
import { FRAMING_HEADERS, setFramingHeaders } from './framing.js';

/** ui/ beside src/ in a clone, and beside dist/src when built. */
export const UI_ROOT = fileURLToPath(new URL('../../../ui/', import.meta.url));

export async function registerUi(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, {
    root: UI_ROOT,
    prefix: '/ui/',
    // The page is small and changes with each release: revalidate rather than cache for long.
    cacheControl: true,
    maxAge: 0,
    decorateReply: true,
    setHeaders: setFramingHeaders,
  });
  app.get('/', (_req, reply) => reply.headers(FRAMING_HEADERS).sendFile('index.html'));
}
