// QIDO-RS (PS3.18 10.6): studies, series and instances at every level of the URL hierarchy,
// answered from the index with the same matching as C-FIND.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JsonDataset } from '../../dicom/json.js';
import type { QueryRow } from '../../index/query/types.js';
import { rowToJson } from './json-rows.js';
import { parseQido, type QidoScope } from './qido-query.js';
import { type DicomwebDeps, baseUrl, instanceUrl, seriesUrl, studyUrl } from './deps.js';
import { warningHeader } from '../problem.js';
import { datasetsFormat, sendDatasets } from './model-reply.js';

type Params = { study?: string; series?: string };

function retrieveUrl(scope: QidoScope, row: QueryRow, base: string): string {
  const study = String(row.StudyInstanceUID ?? scope.studyUID ?? '');
  if (scope.level === 'STUDY') return studyUrl(base, study);
  const series = String(row.SeriesInstanceUID ?? scope.seriesUID ?? '');
  if (scope.level === 'SERIES') return seriesUrl(base, study, series);
  return instanceUrl(base, study, series, String(row.SOPInstanceUID ?? ''));
}

/** The smaller of two limits where 0 means none. */
const effectiveMax = (a: number, b: number): number => (a > 0 && b > 0 ? Math.min(a, b) : Math.max(a, b));

export function registerQido(app: FastifyInstance, deps: DicomwebDeps): void {
  const handler = (level: QidoScope['level']) => async (req: FastifyRequest<{ Params: Params; Querystring: Record<string, unknown> }>, reply: FastifyReply) => {
    const scope: QidoScope = { level, ...(req.params.study ? { studyUID: req.params.study } : {}), ...(req.params.series ? { seriesUID: req.params.series } : {}) };
    const c = deps.config();
    const max = effectiveMax(c.query.max_results, c.query.qido_max_results);
    const format = datasetsFormat(req);
    const q = parseQido(scope, req.query, { fuzzyDefault: c.query.fuzzy_person_names, maxResults: max });
    // Rows hold the keys and the levels' unique keys (ArchiveIndex.query): RetrieveURL needs no extra key.
    const rows = await deps.index.query(q.query);
    const base = baseUrl(req);
    const availability = { '00080056': { vr: 'CS', Value: ['ONLINE'] } };
    const answers: JsonDataset[] = rows.map((row) => rowToJson(row, q.returnKeys, { ...availability, '00081190': { vr: 'UR', Value: [retrieveUrl(scope, row, base)] } }));
    const warnings = [...q.warnings];
    if (max > 0 && rows.length === max && q.query.limit === max)
      warnings.push(`the answer was cut at ${max} results (query.max_results / query.qido_max_results); use limit and offset to page`);
    if (warnings.length) reply.header('warning', warningHeader(warnings));
    return sendDatasets(reply, format, answers);
  };
  app.get('/studies', handler('STUDY'));
  app.get('/series', handler('SERIES'));
  app.get('/instances', handler('IMAGE'));
  app.get('/studies/:study/series', handler('SERIES'));
  app.get('/studies/:study/instances', handler('IMAGE'));
  app.get('/studies/:study/series/:series/instances', handler('IMAGE'));
}
