// The DICOMweb services under /dicom-web, plus WADO-URI at /wado.
import type { FastifyInstance } from 'fastify';
import { DICOMWEB_PREFIX, type DicomwebDeps } from './deps.js';
import { registerQido } from './qido.js';
import { registerWado } from './wado.js';
import { registerStow } from './stow.js';
import { registerWadoUri } from './wado-uri.js';
import { registerRendered } from './rendered.js';

export async function registerDicomweb(app: FastifyInstance, deps: DicomwebDeps): Promise<void> {
  await app.register(
    async (scope) => {
      registerQido(scope, deps);
      registerWado(scope, deps);
      registerStow(scope, deps);
      registerRendered(scope, deps);
    },
    { prefix: DICOMWEB_PREFIX },
  );
  registerWadoUri(app, deps);
}
