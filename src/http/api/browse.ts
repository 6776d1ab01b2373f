// Browse and delete what the archive holds: patients, studies, series, instances. Lists page
// with limit/offset (newest studies first) and filter with the same DICOM matching as C-FIND
// and QIDO-RS: PatientName=SMITH*, StudyDate=20240101-20241231, ModalitiesInStudy=CT.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { QueryKey, QueryLevel, QueryRow } from '../../index/query/types.js';
import type { InstanceLocation } from '../../index/types.js';
import { selectInstances } from '../../services/retrieve.js';
import { deleteInstances, partialDelete } from '../../services/delete.js';
import { HttpProblem, badRequest, notFound } from '../problem.js';
import { instanceBytes } from '../dicomweb/wado.js';
import { type ApiDeps, page } from './deps.js';
import { patientIdSchema, uidSchema } from './identifiers.js';

/** Filters each list takes (DICOM keywords, matched as C-FIND matches them). */
export const FILTERS: Readonly<Record<QueryLevel, readonly string[]>> = {
  PATIENT: ['PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex'],
  STUDY: ['PatientID', 'PatientName', 'PatientBirthDate', 'StudyDate', 'StudyTime', 'AccessionNumber', 'StudyID', 'StudyDescription', 'ReferringPhysicianName', 'ModalitiesInStudy', 'StudyInstanceUID'],
  SERIES: ['StudyInstanceUID', 'Modality', 'SeriesNumber', 'SeriesDescription', 'BodyPartExamined', 'SeriesInstanceUID'],
  IMAGE: ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'SOPClassUID', 'InstanceNumber'],
};

type ListQuery = Record<string, string | number | undefined> & { limit: number; offset: number };

const filterSchema = (level: QueryLevel) => ({
  type: 'object',
  properties: { ...page, ...Object.fromEntries(FILTERS[level].map((k) => [k, { type: 'string', description: `DICOM matching on ${k} (wildcards *, ?; date ranges a-b)` }])) },
});

const rowsSchema = {
  200: {
    type: 'object',
    properties: {
      items: { type: 'array', items: { type: 'object', additionalProperties: true } },
      offset: { type: 'integer' },
      limit: { type: 'integer' },
      more: { type: 'boolean', description: 'whether another page follows' },
      total: { type: ['integer', 'null'], description: 'rows in all (only when no filter is given; the archive\'s counts)' },
    },
  },
};

/** Query parameters of the lists besides the filters. */
const LIST_PARAMS = new Set(['limit', 'offset']);

async function list(
  deps: ApiDeps,
  level: QueryLevel,
  q: ListQuery,
  fixed: Record<string, string> = {},
  /** Parameters the route reads itself (a patient's IssuerOfPatientID). */
  own: readonly string[] = [],
): Promise<{ items: QueryRow[]; offset: number; limit: number; more: boolean; total: number | null }> {
  // A filter misspelt or not offered (Modality on studies, patientname) was ignored: every row
  // came back, and looked like an answer.
  const unknown = Object.keys(q).filter((k) => !LIST_PARAMS.has(k) && !own.includes(k) && !FILTERS[level].includes(k));
  if (unknown.length) throw badRequest(`unknown filter ${unknown[0]}: this list takes ${FILTERS[level].join(', ')} (and limit, offset)`);
  const keys = [
    ...FILTERS[level].filter((k) => typeof q[k] === 'string' && q[k] !== '').map((k) => ({ keyword: k, value: String(q[k]) })),
    ...Object.entries(fixed).map(([keyword, value]) => ({ keyword, value })),
  ];
  const rows = await deps.index.query({
    level,
    model: level === 'PATIENT' ? 'PATIENT_ROOT' : 'STUDY_ROOT',
    keys,
    relational: true,
    fuzzyNames: deps.config().query.fuzzy_person_names,
    limit: q.limit + 1,
    offset: q.offset,
    newestFirst: level === 'STUDY',
  });
  let total: number | null = null;
  if (!keys.length) {
    const s = await deps.index.statistics();
    total = { PATIENT: s.patients, STUDY: s.studies, SERIES: s.series, IMAGE: s.instances }[level];
  }
  return { items: rows.slice(0, q.limit), offset: q.offset, limit: q.limit, more: rows.length > q.limit, total };
}

async function one(deps: ApiDeps, level: QueryLevel, keyword: string, value: string): Promise<QueryRow> {
  const [row] = await deps.index.query({ level, model: level === 'PATIENT' ? 'PATIENT_ROOT' : 'STUDY_ROOT', keys: [{ keyword, value }], relational: true, limit: 1 });
  if (!row) throw notFound(`no ${level.toLowerCase() === 'image' ? 'instance' : level.toLowerCase()} with ${keyword} ${value}`);
  return row;
}

/** One patient of a path: its row, and the keys that select its studies. */
interface PatientRef {
  row: QueryRow;
  studyKeys: QueryKey[];
}

const issuerOf = (row: QueryRow): string => String(row.IssuerOfPatientID ?? '');

/**
 * The patient a path's PatientID names. The index keys patients by Patient ID and its issuer,
 * so one ID may name two hospitals' patients: then `asked` (the IssuerOfPatientID query
 * parameter, '' for none) says which, and without it the answer is 409 — never both, least of
 * all for a delete.
 */
async function patientOf(deps: ApiDeps, patientID: string, asked: string | undefined): Promise<PatientRef> {
  const rows = await deps.index.query({ level: 'PATIENT', model: 'PATIENT_ROOT', keys: [{ keyword: 'PatientID', value: patientID }, { keyword: 'IssuerOfPatientID', value: '' }], relational: true });
  const chosen = asked === undefined ? rows : rows.filter((r) => issuerOf(r) === asked);
  const row = chosen[0];
  if (!row) throw notFound(`no patient with PatientID ${patientID}${asked === undefined ? '' : asked ? ` issued by ${asked}` : ' without an issuer'}`);
  if (chosen.length > 1) {
    const issuers = chosen.map((r) => (issuerOf(r) ? `"${issuerOf(r)}"` : 'none')).join(', ');
    throw new HttpProblem(409, `PatientID ${patientID} names ${chosen.length} patients (Issuer of Patient ID: ${issuers}): name one with ?IssuerOfPatientID= (empty for none)`);
  }
  if (rows.length === 1) return { row, studyKeys: [{ keyword: 'PatientID', value: patientID }] };
  // Several patients share the ID: their studies told apart by the issuer each one's patient has.
  return { row, studyKeys: [{ keyword: 'StudyInstanceUID', value: (await studiesOf(deps, patientID, issuerOf(row))).join('\\') }] };
}

/** The Study Instance UIDs of the patient with this ID and issuer ('' for none). */
async function studiesOf(deps: ApiDeps, patientID: string, issuer: string): Promise<string[]> {
  const studies = await deps.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [{ keyword: 'PatientID', value: patientID }, { keyword: 'IssuerOfPatientID', value: '' }], relational: true });
  return studies.filter((st) => issuerOf(st) === issuer).map((st) => String(st.StudyInstanceUID));
}

/** Study UIDs per query when a patient's instances are selected by its studies. */
const STUDIES_PER_SELECT = 500;

async function remove(deps: ApiDeps, instances: InstanceLocation[], what: string) {
  if (!instances.length) throw notFound(`nothing stored for ${what}`);
  let r;
  try {
    r = await deleteInstances({ index: deps.index, objects: deps.objects, derived: [deps.metadata, deps.rendering], logger: deps.logger, exclusive: (uid, fn) => deps.store.exclusive(uid, fn) }, instances);
  } catch (e) {
    // Failed part-way: the client learns what is gone, not only "failed" (the error is logged).
    const done = partialDelete(e);
    if (!done?.instances) throw e;
    deps.logger.error({ err: e, what, deleted: done.instances, of: instances.length }, 'a delete failed part-way');
    throw new HttpProblem(500, `${done.instances} of the ${instances.length} instances of ${what} were deleted before a failure (the server log has it); send the request again to delete the rest`);
  }
  // Deleted meanwhile by another request (or a retention pass): nothing left here to delete.
  if (!r.instances && !r.leftFiles.length) throw notFound(`nothing stored for ${what} (deleted meanwhile)`);
  return { deleted: r.instances, bytes: r.bytes, leftFiles: r.leftFiles };
}

// A path names one entity, matched exactly (identifiers.ts): never a pattern, a list or blank.
const uidParam = (name: string) => ({ type: 'object', required: [name], properties: { [name]: name === 'PatientID' ? patientIdSchema : uidSchema } });
const deletedSchema = { 200: { type: 'object', properties: { deleted: { type: 'integer' }, bytes: { type: 'integer' }, leftFiles: { type: 'array', items: { type: 'string' } } } } };

export function registerBrowse(app: FastifyInstance, deps: ApiDeps): void {
  type Req<P = Record<string, string>> = FastifyRequest<{ Querystring: ListQuery; Params: P }>;

  app.get('/patients', { schema: { tags: ['browse'], summary: 'List patients', querystring: filterSchema('PATIENT'), response: rowsSchema } }, (req: Req) => list(deps, 'PATIENT', req.query));
  type PatientReq = FastifyRequest<{ Querystring: ListQuery & { IssuerOfPatientID?: string }; Params: { PatientID: string } }>;
  const issuerParam = { IssuerOfPatientID: { type: 'string', description: 'which patient, when the Patient ID names several (empty: the one without an issuer)' } };
  app.get('/patients/:PatientID', { schema: { tags: ['browse'], summary: 'One patient', params: uidParam('PatientID'), querystring: { type: 'object', properties: issuerParam } } }, async (req: PatientReq) => (await patientOf(deps, req.params.PatientID, req.query.IssuerOfPatientID)).row);
  app.get('/patients/:PatientID/studies', { schema: { tags: ['browse'], summary: "A patient's studies, newest first", params: uidParam('PatientID'), querystring: { type: 'object', properties: { ...page, ...issuerParam } }, response: rowsSchema } }, async (req: PatientReq) => {
    const { studyKeys } = await patientOf(deps, req.params.PatientID, req.query.IssuerOfPatientID);
    return list(deps, 'STUDY', req.query, Object.fromEntries(studyKeys.map((k) => [k.keyword, k.value])), ['IssuerOfPatientID']);
  });
  app.delete('/patients/:PatientID', { schema: { tags: ['browse'], summary: 'Delete a patient and everything of it', params: uidParam('PatientID'), querystring: { type: 'object', properties: issuerParam }, response: deletedSchema } }, async (req: PatientReq) => {
    const { row } = await patientOf(deps, req.params.PatientID, req.query.IssuerOfPatientID);
    // By the chosen patient's studies, never by its Patient ID: a patient of another issuer with
    // the same ID, stored between the look-up and the selection, was deleted with it.
    const uids = await studiesOf(deps, req.params.PatientID, issuerOf(row));
    const instances: InstanceLocation[] = [];
    for (let i = 0; i < uids.length; i += STUDIES_PER_SELECT)
      instances.push(...(await selectInstances(deps.index, 'STUDY_ROOT', 'STUDY', [{ keyword: 'StudyInstanceUID', value: uids.slice(i, i + STUDIES_PER_SELECT).join('\\') }])));
    return remove(deps, instances, `patient ${req.params.PatientID}`);
  });

  app.get('/studies', { schema: { tags: ['browse'], summary: 'List studies, newest first', querystring: filterSchema('STUDY'), response: rowsSchema } }, (req: Req) => list(deps, 'STUDY', req.query));
  app.get('/studies/:StudyInstanceUID', { schema: { tags: ['browse'], summary: 'One study with its series', params: uidParam('StudyInstanceUID') } }, async (req: Req<{ StudyInstanceUID: string }>) => {
    const study = await one(deps, 'STUDY', 'StudyInstanceUID', req.params.StudyInstanceUID);
    const series = await deps.index.query({ level: 'SERIES', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: req.params.StudyInstanceUID }], relational: true });
    return { ...study, series };
  });
  app.delete('/studies/:StudyInstanceUID', { schema: { tags: ['browse'], summary: 'Delete a study', params: uidParam('StudyInstanceUID'), response: deletedSchema } }, async (req: Req<{ StudyInstanceUID: string }>) =>
    remove(deps, await selectInstances(deps.index, 'STUDY_ROOT', 'STUDY', [{ keyword: 'StudyInstanceUID', value: req.params.StudyInstanceUID }]), `study ${req.params.StudyInstanceUID}`),
  );

  app.get('/series', { schema: { tags: ['browse'], summary: 'List series', querystring: filterSchema('SERIES'), response: rowsSchema } }, (req: Req) => list(deps, 'SERIES', req.query));
  app.get('/series/:SeriesInstanceUID', { schema: { tags: ['browse'], summary: 'One series with its instances', params: uidParam('SeriesInstanceUID') } }, async (req: Req<{ SeriesInstanceUID: string }>) => {
    const series = await one(deps, 'SERIES', 'SeriesInstanceUID', req.params.SeriesInstanceUID);
    const instances = await deps.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'SeriesInstanceUID', value: req.params.SeriesInstanceUID }], relational: true });
    return { ...series, instances };
  });
  app.delete('/series/:SeriesInstanceUID', { schema: { tags: ['browse'], summary: 'Delete a series', params: uidParam('SeriesInstanceUID'), response: deletedSchema } }, async (req: Req<{ SeriesInstanceUID: string }>) =>
    remove(deps, await selectInstances(deps.index, 'STUDY_ROOT', 'SERIES', [{ keyword: 'SeriesInstanceUID', value: req.params.SeriesInstanceUID }]), `series ${req.params.SeriesInstanceUID}`),
  );

  app.get('/instances', { schema: { tags: ['browse'], summary: 'List instances', querystring: filterSchema('IMAGE'), response: rowsSchema } }, (req: Req) => list(deps, 'IMAGE', req.query));
  app.get('/instances/:SOPInstanceUID', { schema: { tags: ['browse'], summary: 'One instance: its attributes and file', params: uidParam('SOPInstanceUID') } }, async (req: Req<{ SOPInstanceUID: string }>) => {
    const row = await one(deps, 'IMAGE', 'SOPInstanceUID', req.params.SOPInstanceUID);
    const loc = await deps.index.findInstance(req.params.SOPInstanceUID);
    return { ...row, file: loc ? { path: loc.path, size: loc.size, transferSyntaxUID: loc.transferSyntaxUID, checksum: loc.checksum, receivedAt: loc.receivedAt.toISOString() } : null };
  });
  app.get('/instances/:SOPInstanceUID/file', { schema: { tags: ['browse'], summary: 'Download the instance as stored (Part 10)', params: uidParam('SOPInstanceUID') } }, async (req: Req<{ SOPInstanceUID: string }>, reply) => {
    const loc = await deps.index.findInstance(req.params.SOPInstanceUID);
    if (!loc) throw notFound(`no instance ${req.params.SOPInstanceUID}`);
    return reply.type('application/dicom').header('content-disposition', `attachment; filename="${loc.SOPInstanceUID}.dcm"`).send(await instanceBytes(deps, loc, loc.transferSyntaxUID));
  });
  app.delete('/instances/:SOPInstanceUID', { schema: { tags: ['browse'], summary: 'Delete an instance', params: uidParam('SOPInstanceUID'), response: deletedSchema } }, async (req: Req<{ SOPInstanceUID: string }>) => {
    const loc = await deps.index.findInstance(req.params.SOPInstanceUID);
    return remove(deps, loc ? [loc] : [], `instance ${req.params.SOPInstanceUID}`);
  });
}
