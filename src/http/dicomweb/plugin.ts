// The DICOMweb services under /dicom-web, plus WADO-URI at /wado.
import type { FastifyInstance } from 'fastify';
import { DICOMWEB_PREFIX, type DicomwebDeps } from './deps.js';
import { registerQido } from './qido.js';
import { registerWado } from './wado.js';
import { registerStow } from './stow.js';
import { registerWadoUri } from './wado-uri.js';
import { registerRendered } from './rendered.js';
import { isExactIdentifier } from '../api/identifiers.js';
import { badRequest } from '../problem.js';

/** Path parameters that name one study, series or instance. */
const UID_PARAMS = ['study', 'series', 'instance'] as const;

export async function registerDicomweb(app: FastifyInstance, deps: DicomwebDeps): Promise<void> {
  await app.register(
    async (scope) => {
      // Each is one UID: '*' or a list ('\\', %5C) in a path was a C-FIND key to QIDO-RS, and
      // /studies/*/series listed every series of the archive under one study's URL.
      scope.addHook('preValidation', async (req) => {
        const params = req.params as Record<string, string | undefined>;
        for (const name of UID_PARAMS) {
          const v = params[name];
          if (v !== undefined && !isExactIdentifier('STUDY', v)) throw badRequest(`the ${name} in the path must be one UID (digits and dots, at most 64), not '${v.slice(0, 64)}'`);
        }
      });
      registerQido(scope, deps);
      registerWado(scope, deps);
      registerStow(scope, deps);
      registerRendered(scope, deps);
    },
    { prefix: DICOMWEB_PREFIX },
  );
  registerWadoUri(app, deps);
}
