// QIDO-RS query parameters (PS3.18 8.3.4) → the index query C-FIND also uses, and the
// attributes to return (PS3.18 Tables 6.7.1-2a…2b defaults, includefield).
import { parseTagSpec, lookupTag } from '../../dicom/dictionary.js';
import { indexedAttribute, attributesOf, TABLE_OF_LEVEL, TABLES } from '../../index/query/attributes.js';
import type { IndexQuery, QueryKey, QueryLevel } from '../../index/query/types.js';
import { badRequest } from '../problem.js';

const STUDY_DEFAULTS = ['StudyDate', 'StudyTime', 'AccessionNumber', 'ModalitiesInStudy', 'ReferringPhysicianName', 'PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyInstanceUID', 'StudyID', 'StudyDescription', 'NumberOfStudyRelatedSeries', 'NumberOfStudyRelatedInstances'];
const SERIES_DEFAULTS = ['Modality', 'SeriesDescription', 'SeriesInstanceUID', 'SeriesNumber', 'SeriesDate', 'SeriesTime', 'BodyPartExamined', 'PerformedProcedureStepStartDate', 'PerformedProcedureStepStartTime', 'NumberOfSeriesRelatedInstances'];
const INSTANCE_DEFAULTS = ['SOPClassUID', 'SOPInstanceUID', 'InstanceNumber', 'Rows', 'Columns', 'BitsAllocated', 'NumberOfFrames'];

export interface QidoScope {
  level: Exclude<QueryLevel, 'PATIENT'>;
  studyUID?: string;
  seriesUID?: string;
}

export interface QidoRequest {
  query: IndexQuery;
  /** Keywords to put in each answer, in tag order. */
  returnKeys: string[];
  /** Warning header texts (PS3.18 8.3.4.4: unsupported keys are ignored with a warning). */
  warnings: string[];
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);

function keywordOf(name: string): string {
  const tag = parseTagSpec(name);
  const keyword = tag === undefined ? undefined : lookupTag(tag)?.keyword;
  if (!keyword) throw badRequest(`unknown attribute "${name}" (use a keyword such as PatientID or a tag such as 00100020)`);
  return keyword;
}

function nonNegative(name: string, v: unknown): number | undefined {
  const [text] = list(v);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw badRequest(`${name} must be a non-negative integer, not "${text}"`);
  const n = Number(text);
  // Beyond 2^53 the number is no longer exact, and the index refuses it (SQLITE_MISMATCH).
  if (!Number.isSafeInteger(n)) throw badRequest(`${name} ${text} is too large`);
  return n;
}

/** Every attribute the index can return at a level: its own and those of the levels above. */
function allAt(level: QueryLevel): string[] {
  const upTo = TABLES.indexOf(TABLE_OF_LEVEL[level]);
  return TABLES.slice(0, upTo + 1)
    .flatMap((t) => attributesOf(t))
    .filter((a) => !(a.table === 'patients' && a.computed))
    .map((a) => a.keyword);
}

function defaults(scope: QidoScope): string[] {
  // Unscoped series and instance queries answer for the study as well (PS3.18 Table 6.7.1-2a).
  if (scope.level === 'STUDY') return STUDY_DEFAULTS;
  if (scope.level === 'SERIES') return scope.studyUID ? ['StudyInstanceUID', ...SERIES_DEFAULTS] : [...STUDY_DEFAULTS, ...SERIES_DEFAULTS];
  return scope.seriesUID ? ['StudyInstanceUID', 'SeriesInstanceUID', ...INSTANCE_DEFAULTS] : [...STUDY_DEFAULTS, ...SERIES_DEFAULTS, ...INSTANCE_DEFAULTS];
}

export function parseQido(scope: QidoScope, params: Record<string, unknown>, opts: { fuzzyDefault: boolean; maxResults: number }): QidoRequest {
  const warnings: string[] = [];
  const keys = new Map<string, string>();
  const returns = new Set(defaults(scope));
  let fuzzy = opts.fuzzyDefault;
  for (const [name, value] of Object.entries(params)) {
    // accept and charset (PS3.18 8.3.3) say how to answer, not what to match.
    if (name === 'limit' || name === 'offset' || name === 'accept' || name === 'charset') continue;
    if (name === 'fuzzymatching') {
      const v = list(value)[0];
      if (v !== 'true' && v !== 'false') throw badRequest('fuzzymatching must be true or false');
      fuzzy = v === 'true';
      continue;
    }
    if (name === 'includefield') {
      for (const f of list(value).flatMap((v) => v.split(','))) {
        if (f === 'all') allAt(scope.level).forEach((k) => returns.add(k));
        else if (f.includes('.')) warnings.push(`includefield ${f}: attributes inside sequences are not returned`);
        else {
          const keyword = keywordOf(f);
          if (indexedAttribute(keyword)) returns.add(keyword);
          else warnings.push(`includefield ${f}: the archive does not return ${keyword} in queries`);
        }
      }
      continue;
    }
    if (name.includes('.')) {
      warnings.push(`${name}: sequence matching is not supported; the key was ignored`);
      continue;
    }
    if (name === 'emptyvaluematching' || name === 'multiplevaluematching') {
      // PS3.18 8.3.4.1 / 8.3: a query parameter the origin server does not support is ignored,
      // the request answered as without it, with a warning.
      warnings.push(`${name}: not supported; answered as if it were false`);
      continue;
    }
    if (!/^[A-Z0-9]/.test(name)) {
      // Not an attribute (keywords begin with a capital, tags with a digit): a query parameter
      // of a later edition, or a client's own (a cache-buster "_"): ignored with a warning. A
      // misspelled keyword is still refused, naming it, rather than matching everything.
      warnings.push(`${name}: not a query parameter this server supports; ignored`);
      continue;
    }
    const keyword = keywordOf(name);
    const values = list(value);
    if (values.length > 1) throw badRequest(`${name} is given ${values.length} times; give a list of UIDs as one comma-separated value`);
    const attribute = indexedAttribute(keyword);
    if (!attribute) {
      warnings.push(`${keyword}: the archive does not match on this attribute; the key was ignored`);
      continue;
    }
    // A series or instance attribute in a query of studies (Modality: use ModalitiesInStudy) is
    // not matched by the index at that level: said, rather than every study answered silently.
    if (TABLES.indexOf(attribute.table) > TABLES.indexOf(TABLE_OF_LEVEL[scope.level])) {
      warnings.push(`${keyword}: an attribute of a lower level than ${scope.level.toLowerCase()}; the key was ignored`);
      continue;
    }
    // A list of UIDs is comma-separated in QIDO-RS and backslash-separated in DICOM.
    const text = values[0] ?? '';
    keys.set(keyword, lookupTag(parseTagSpec(keyword)!)?.vr === 'UI' ? text.replaceAll(',', '\\') : text);
    returns.add(keyword);
  }
  if (scope.studyUID) keys.set('StudyInstanceUID', scope.studyUID);
  if (scope.seriesUID) keys.set('SeriesInstanceUID', scope.seriesUID);
  let limit = nonNegative('limit', params.limit);
  const offset = nonNegative('offset', params.offset) ?? 0;
  if (opts.maxResults > 0 && (limit === undefined || limit > opts.maxResults)) limit = opts.maxResults;
  const queryKeys: QueryKey[] = [...keys].map(([keyword, value]) => ({ keyword, value }));
  for (const k of returns) if (!keys.has(k) && indexedAttribute(k)) queryKeys.push({ keyword: k, value: '' });
  const returnKeys = [...returns].sort((a, b) => (parseTagSpec(a) ?? 0) - (parseTagSpec(b) ?? 0));
  // Series or instances of the whole archive (no study in the path) come in the order of their
  // keys: ordered by study date, series and instance number, PostgreSQL sorted every match of the
  // archive to answer `limit=1` (1.8 s at 600,000 instances). Within a study the order stays
  // the readable one (a study's rows are few); studies keep their date order (indexed).
  const keyOrder = scope.level !== 'STUDY' && !scope.studyUID ? { keyOrder: true } : {};
  return {
    // The return keys are among the query keys (empty values): no other column is read.
    query: { level: scope.level, model: 'STUDY_ROOT', keys: queryKeys, returnKeys: [], relational: true, fuzzyNames: fuzzy, ...keyOrder, ...(limit !== undefined ? { limit } : {}), offset },
    returnKeys,
    warnings,
  };
}
