// What a C-MOVE / C-GET (and later WADO-RS) hands out: the instances an identifier selects,
// and each one's dataset as stored, read from the object store without loading it whole.
import type { Readable } from 'node:stream';
import { parsePart10Prefix } from '../dicom/part10.js';
import { PacsError } from '../core/errors.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import { type InformationModel, QueryError, type QueryKey, type QueryLevel } from '../index/query/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { type HeldBytes, READ_WHOLE, type ReadBuffers, readReused } from '../storage/read-buffers.js';

/** The unique key of each level (PS3.4 C.4.2.2.1: a retrieve names entities by them). */
const UNIQUE_KEY: Record<QueryLevel, string> = {
  PATIENT: 'PatientID',
  STUDY: 'StudyInstanceUID',
  SERIES: 'SeriesInstanceUID',
  IMAGE: 'SOPInstanceUID',
};
const ORDER: QueryLevel[] = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];

/**
 * A unique key's value as a retrieve takes it (PS3.4 C.4.2.2.1): one value or a list of values,
 * each given whole. Parsed as a C-FIND key, a value of only separators ('\\') is universal and
 * selected the whole archive; an empty value in a list or a wildcard is no value of an entity.
 */
function uniqueKeyValue(keyword: string, value: string): string {
  const values = value.split('\\').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new QueryError('BAD_VALUE', `${keyword} of a retrieve: an empty value in '${value.slice(0, 64)}'`, keyword);
  if (values.some((v) => /[*?]/.test(v))) throw new QueryError('BAD_VALUE', `${keyword} of a retrieve takes no wildcards`, keyword);
  return values.join('\\');
}

/**
 * The instances a retrieve identifier selects. The unique key of the retrieve level is
 * required (a list of values is allowed); the unique keys above narrow it when present.
 */
export async function selectInstances(index: ArchiveIndex, model: InformationModel, level: QueryLevel, keys: QueryKey[]): Promise<InstanceLocation[]> {
  const byKeyword = new Map(keys.map((k) => [k.keyword, k.value.trim()]));
  const unique = UNIQUE_KEY[level];
  if (!byKeyword.get(unique)) throw new QueryError('MISSING_UNIQUE_KEY', `a ${level} level retrieve needs ${unique}`, unique);
  const match: QueryKey[] = ORDER.slice(0, ORDER.indexOf(level) + 1)
    .map((l) => UNIQUE_KEY[l])
    .filter((k) => byKeyword.get(k))
    .filter((k) => !(model === 'STUDY_ROOT' && k === 'PatientID' && level !== 'PATIENT'))
    .map((keyword) => ({ keyword, value: uniqueKeyValue(keyword, byKeyword.get(keyword)!) }));
  // A Patient ID names a patient only with its issuer (the index keys patients by both, as
  // C-FIND does): without it, another hospital's patient of the same ID was sent too.
  const issuer = byKeyword.get('IssuerOfPatientID');
  if (issuer && match.some((m) => m.keyword === 'PatientID')) match.splice(1, 0, { keyword: 'IssuerOfPatientID', value: uniqueKeyValue('IssuerOfPatientID', issuer) });
  // The common case — one study, one series of a study, one instance of a series — is one
  // statement that returns only where the files are (the same instances, in the same order).
  const only = (k: string): string | undefined => {
    const v = match.find((m) => m.keyword === k)?.value;
    return v !== undefined && !v.includes('\\') ? v : undefined;
  };
  const study = only('StudyInstanceUID');
  const path = match.map((m) => m.keyword).join(',');
  if (study && path === 'StudyInstanceUID') return index.instancesOf(study);
  if (study && path === 'StudyInstanceUID,SeriesInstanceUID' && only('SeriesInstanceUID')) return index.instancesOf(study, only('SeriesInstanceUID'));
  if (study && path === 'StudyInstanceUID,SeriesInstanceUID,SOPInstanceUID' && only('SeriesInstanceUID') && only('SOPInstanceUID'))
    return index.instancesOf(study, only('SeriesInstanceUID'), only('SOPInstanceUID'));
  // Only the UIDs: every attribute of every level (some 60 columns) for each instance of a
  // patient-level retrieve was hundreds of MB read for one column.
  const rows = await index.query({
    level: 'IMAGE',
    model: model === 'STUDY_ROOT' && level === 'PATIENT' ? 'PATIENT_ROOT' : model,
    // SOP Instance UID matches only at IMAGE level: below the level, it narrowed a Patient Root
    // STUDY retrieve to one instance where a Study Root one (the path above) sent the study.
    keys: [...match, { keyword: 'SOPInstanceUID', value: level === 'IMAGE' ? (byKeyword.get('SOPInstanceUID') ?? '') : '' }],
    relational: true,
    returnKeys: ['SOPInstanceUID'],
  });
  return index.findInstances(rows.map((r) => String(r.SOPInstanceUID)));
}


/** A dataset to send, and what gives its read buffer back once the bytes are gone. */
export interface OpenedDataset {
  dataset: Readable | Buffer;
  release?: () => void;
}

/**
 * The dataset of a stored instance (after our File Meta), read whole or streamed from the
 * object store; read whole into one of `buffers` when given (the caller then calls `release`).
 */
export async function openDataset(store: ObjectStore, loc: InstanceLocation, buffers?: ReadBuffers): Promise<OpenedDataset> {
  if (loc.size <= READ_WHOLE) {
    let whole: HeldBytes;
    try {
      whole = buffers ? await readReused(store, loc.path, loc.size, buffers) : { bytes: await store.readAll(loc.path, loc.size) };
    } catch (e) {
      throw new PacsError('NOT_FOUND', `the file of ${loc.SOPInstanceUID} is missing (${loc.path})`, { cause: e });
    }
    const prefix = parsePart10Prefix(whole.bytes, true);
    if (!prefix) {
      whole.release?.();
      throw new PacsError('DICOM_PARSE', `the file of ${loc.SOPInstanceUID} has an unreadable File Meta Information`);
    }
    const dataset = whole.bytes.subarray(prefix.datasetOffset);
    return whole.release ? { dataset, release: whole.release } : { dataset };
  }
  let head: Buffer;
  try {
    head = await store.readHead(loc.path, 64 * 1024);
  } catch (e) {
    throw new PacsError('NOT_FOUND', `the file of ${loc.SOPInstanceUID} is missing (${loc.path})`, { cause: e });
  }
  const prefix = parsePart10Prefix(head, true);
  if (!prefix) throw new PacsError('DICOM_PARSE', `the file of ${loc.SOPInstanceUID} has an unreadable File Meta Information`);
  return { dataset: store.read(loc.path, { start: prefix.datasetOffset }) };
}

/** The dataset of a stored instance in one buffer (conversion needs it whole). */
export async function readDataset(store: ObjectStore, loc: InstanceLocation): Promise<Buffer> {
  const { dataset: stored } = await openDataset(store, loc);
  if (Buffer.isBuffer(stored)) return stored;
  const parts: Buffer[] = [];
  for await (const c of stored as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}
