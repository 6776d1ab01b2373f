// What the DICOMweb routes need: the same services DIMSE uses.
import type { FastifyRequest } from 'fastify';
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

/** The absolute URL of the DICOMweb root as this client reached it (for RetrieveURL, BulkDataURI). */
export function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}${DICOMWEB_PREFIX}`;
}

export const studyUrl = (base: string, study: string): string => `${base}/studies/${study}`;
export const seriesUrl = (base: string, study: string, series: string): string => `${studyUrl(base, study)}/series/${series}`;
export const instanceUrl = (base: string, study: string, series: string, sop: string): string => `${seriesUrl(base, study, series)}/instances/${sop}`;
