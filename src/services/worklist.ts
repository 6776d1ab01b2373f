// The modality worklist: Scheduled Procedure Steps created through the REST API (and later
// the watched folder and HL7 orders), matched against C-FIND identifiers, and whose status
// follows the Performed Procedure Steps that modalities report.
import { createHash, randomUUID } from 'node:crypto';
import { PacsError, errorMessage } from '../core/errors.js';
import { lookupTag, tagOfKeyword } from '../dicom/dictionary.js';
import type { JsonDataset, JsonElement } from '../dicom/json.js';
import { encodeJsonDataset, jsonElementText } from '../dicom/json-encode.js';
import {
  OPEN_SPS_STATUSES,
  SPS_STATUSES,
  type StepReference,
  type WorklistEntry,
  type WorklistFilter,
  type WorklistSource,
  type WorklistStore,
  scheduledStep,
  worklistColumns,
} from '../index/workflow.js';
import { type MatchOptions, compileQuery, matchesCompiled, projectDataset } from './dataset-match.js';
import type { PatientKey, PatientLink } from '../index/types.js';

/** The index's merged-patient links (HL7 ADT^A40), which new entries follow as images do. */
export interface PatientLinks {
  patientLink(identity: PatientKey): Promise<PatientLink | null>;
}

const PATIENT_ID = '00100020';
const ISSUER = '00100021';

/** A UID under the 2.25 root, from a random UUID (PS3.5 B.2). */
export const newUid = (): string => `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;

const SPS = '00400100';
const SPS_STATUS = '00400020';

/** Attributes of a Scheduled Procedure Step Sequence item (PS3.4 K.6.1.2.2, table K.6-1). */
const STEP_KEYWORDS = new Set([
  'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate', 'ScheduledProcedureStepStartTime', 'ScheduledProcedureStepEndDate',
  'ScheduledProcedureStepEndTime', 'Modality', 'ScheduledPerformingPhysicianName', 'ScheduledProcedureStepDescription',
  'ScheduledStationName', 'ScheduledProcedureStepLocation', 'PreMedication', 'ScheduledProcedureStepID', 'RequestedContrastAgent',
  'ScheduledProcedureStepStatus', 'CommentsOnTheScheduledProcedureStep',
]);

/** The simple JSON form: DICOM keywords to text; those of the scheduled step go into its item. */
export type SimpleWorklistForm = Record<string, string | null>;

const bad = (why: string): PacsError => new PacsError('BAD_ARGUMENT', why);

function element(keyword: string, value: string | null): [string, JsonElement] {
  const tag = tagOfKeyword(keyword);
  if (tag === undefined) throw bad(`"${keyword}" is not a DICOM keyword`);
  const vr = lookupTag(tag)!.vr;
  if (vr === 'SQ') throw bad(`${keyword} is a sequence: give the dataset in DICOM JSON instead`);
  const key = tag.toString(16).toUpperCase().padStart(8, '0');
  if (value === null || value === '') return [key, { vr }];
  const values = value.split('\\');
  return [key, { vr, Value: vr === 'PN' ? values.map((v) => ({ Alphabetic: v })) : values }];
}

/** DICOM JSON from the simple form. */
export function fromSimpleForm(form: SimpleWorklistForm): JsonDataset {
  const top: JsonDataset = {};
  const step: JsonDataset = {};
  for (const [keyword, value] of Object.entries(form)) {
    const [key, el] = element(keyword, value);
    (STEP_KEYWORDS.has(keyword) ? step : top)[key] = el;
  }
  top[SPS] = { vr: 'SQ', Value: [step] };
  return top;
}

/** Tags as DICOM JSON writes them (upper-case hex), at every depth. */
export function normalizeKeys(ds: JsonDataset): JsonDataset {
  const out: JsonDataset = {};
  for (const [key, el] of Object.entries(ds)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) throw bad(`"${key}" is not a tag (8 hexadecimal digits)`);
    if (!el || typeof el !== 'object' || typeof el.vr !== 'string') throw bad(`${key}: an element needs a "vr"`);
    if (el.Value !== undefined && !Array.isArray(el.Value)) throw bad(`${key}: "Value" must be an array`);
    if (el.vr === 'SQ' && el.Value?.some((item) => !item || typeof item !== 'object' || Array.isArray(item))) throw bad(`${key}: each item of a sequence is an object`);
    out[key.toUpperCase()] = el.vr === 'SQ' ? { vr: 'SQ', ...(el.Value ? { Value: (el.Value as JsonDataset[]).map(normalizeKeys) } : {}) } : el;
  }
  return out;
}

const has = (ds: JsonDataset | undefined, key: string): boolean => jsonElementText(ds?.[key]).trim() !== '';

/**
 * Checks an entry and fills what a modality needs and we can make: Study Instance UID,
 * Requested Procedure ID and Scheduled Procedure Step ID, the step's status.
 */
export function completeEntry(input: JsonDataset, status?: string): JsonDataset {
  const ds = normalizeKeys(input);
  const step = scheduledStep(ds);
  if (!step || (ds[SPS]?.Value?.length ?? 0) !== 1) throw bad('an entry holds exactly one Scheduled Procedure Step Sequence (0040,0100) item');
  if (!has(ds, '00100020') && !has(ds, '00100010')) throw bad('PatientID or PatientName is required');
  if (!has(step, '00080060')) throw bad('the scheduled step needs a Modality (0008,0060)');
  if (!has(step, '00400002')) throw bad('the scheduled step needs a ScheduledProcedureStepStartDate (0040,0002)');
  const uid = (key: string): void => {
    if (!has(ds, key)) ds[key] = { vr: 'UI', Value: [newUid()] };
  };
  uid('0020000D');
  const accession = jsonElementText(ds['00080050']);
  if (!has(ds, '00401001')) ds['00401001'] = { vr: 'SH', Value: [accession || `RP${Date.now().toString(36).toUpperCase()}`] };
  if (!has(step, '00400009')) step['00400009'] = { vr: 'SH', Value: [jsonElementText(ds['00401001'])] };
  const s = status ?? (jsonElementText(step[SPS_STATUS]) || 'SCHEDULED');
  if (!(SPS_STATUSES as readonly string[]).includes(s)) throw bad(`ScheduledProcedureStepStatus must be one of ${SPS_STATUSES.join(', ')}`);
  step[SPS_STATUS] = { vr: 'CS', Value: [s] };
  // Every value must encode (a US of 70000, a VR that does not exist): refused here, or every
  // worklist query it matched would fail.
  try {
    encodeJsonDataset(ds, EXPLICIT_LE, 'ISO_IR 192');
  } catch (e) {
    throw bad(`the entry cannot be encoded as DICOM: ${errorMessage(e)}`);
  }
  return ds;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** MPPS status → the status its scheduled step takes. */
const FOLLOWS: Record<string, string> = { 'IN PROGRESS': 'STARTED', COMPLETED: 'COMPLETED', DISCONTINUED: 'DISCONTINUED' };

/**
 * Whether an MPPS may move a worklist entry from `from` to `to`. A step completed stays so: a
 * second MPPS naming it (images added later) took it back to STARTED, onto the modality's
 * worklist again, and a discontinued one after it made a done exam DISCONTINUED. A discontinued
 * step may be started again and completed (the exam done over).
 */
function mppsMayMove(from: string, to: string): boolean {
  if (from === 'COMPLETED') return false;
  if (from === 'DISCONTINUED') return to !== 'DISCONTINUED';
  return true;
}

/** How far a step has gone: waiting, started, the patient gone, over. */
const PROGRESS = new Map<string, number>([
  ['SCHEDULED', 0], ['ARRIVED', 0], ['READY', 0], ['STARTED', 1], ['DEPARTED', 2], ['CANCELED', 3], ['DISCONTINUED', 3], ['COMPLETED', 3],
]);

/**
 * A feed's status `to` would take back what happened to a step that has started: a feed read
 * again says the status it was written with (a folder file re-read at every restart, an HL7
 * order resent after a lost ACK), and put a started, completed or canceled step back to
 * SCHEDULED. A step still waiting takes any status; a status we do not know is left to
 * completeEntry to refuse.
 */
function goesBack(from: string, to: string): boolean {
  const [a, b] = [PROGRESS.get(from), PROGRESS.get(to)];
  return a !== undefined && b !== undefined && a > 0 && b <= a;
}

const withStatus = (dataset: JsonDataset, status: string): JsonDataset => {
  const ds = structuredClone(dataset);
  scheduledStep(ds)![SPS_STATUS] = { vr: 'CS', Value: [status] };
  return ds;
};

/** An entry's version as the REST API's ETag shows it: changes with every write of its dataset. */
export const worklistTag = (e: WorklistEntry): string => `"${createHash('sha256').update(e.revision).digest('base64url').slice(0, 22)}"`;

/** A change naming the entry as read (If-Match) found it changed since. */
export class StaleEntryError extends PacsError {
  constructor(id: number) {
    super('CONFLICT', `worklist entry ${id} has changed since it was read (If-Match): read it again`);
  }
}

/** Statuses of a step the modality has started (its MPPS said so), not yet ended. */
const UNDER_WAY = new Set(['STARTED', 'DEPARTED']);

/** Statuses of a step performed: what its MPPS reported, which an edit or a cancel must not undo. */
const DONE = new Set(['COMPLETED', 'DISCONTINUED']);

/** Reads and writes of one change when others keep changing the entry meanwhile. */
const CHANGE_ATTEMPTS = 5;

export class WorklistService {
  constructor(
    private readonly store: WorklistStore,
    private readonly options: () => MatchOptions,
    private readonly links: PatientLinks | null = null,
  ) {}

  /**
   * The entry under the patient a merge (ADT^A40) filed its Patient ID under: an order that comes
   * after the merge still naming the prior patient (a queued interface, a folder file written
   * before) would otherwise put that ID back on the modality, and its images under it.
   */
  private async filed(dataset: JsonDataset): Promise<JsonDataset> {
    const ds = normalizeKeys(dataset);
    const patientID = jsonElementText(ds[PATIENT_ID]).trim();
    if (!this.links || !patientID) return ds;
    const issuer = jsonElementText(ds[ISSUER]).trim();
    const link = await this.links.patientLink({ PatientID: patientID, IssuerOfPatientID: issuer || null });
    if (!link) return ds;
    const { PatientID, IssuerOfPatientID } = link.resolved;
    const out: JsonDataset = { ...ds, [PATIENT_ID]: { vr: 'LO', Value: [PatientID] } };
    if (IssuerOfPatientID) out[ISSUER] = { vr: 'LO', Value: [IssuerOfPatientID] };
    else delete out[ISSUER];
    return out;
  }

  async create(dataset: JsonDataset, source: WorklistSource = 'api', sourceKey: string | null = null): Promise<WorklistEntry> {
    const entry = completeEntry(await this.filed(dataset));
    // The same step twice (a client sending its POST again after a lost answer) would be on the
    // worklist twice, and one MPPS would move both: a step is its Study Instance UID and step ID.
    await this.refuseSameStep(entry, null);
    return this.store.add(source, sourceKey, entry);
  }

  /**
   * The same step twice would be on the worklist twice, and one MPPS would move both: a step is
   * its Study Instance UID and step ID. A canceled entry is no step to do (the same step may be
   * scheduled anew), and `except` is the entry being changed.
   */
  private async refuseSameStep(dataset: JsonDataset, except: number | null): Promise<void> {
    const { studyInstanceUID, scheduledProcedureStepID, status } = worklistColumns(dataset);
    if (!studyInstanceUID || !scheduledProcedureStepID || status === 'CANCELED') return;
    const same = (await this.store.findByStep({ studyInstanceUID, scheduledProcedureStepID, accessionNumber: null })).find(
      (e) => e.id !== except && e.studyInstanceUID === studyInstanceUID && e.scheduledProcedureStepID === scheduledProcedureStepID && e.status !== 'CANCELED',
    );
    if (same) throw new PacsError('CONFLICT', `worklist entry ${same.id} is this step already (Study Instance UID ${studyInstanceUID}, Scheduled Procedure Step ID ${scheduledProcedureStepID})`);
  }

  /**
   * Creates or replaces the entry a feed (folder file, HL7 order) keeps under its key. What we
   * made for it before (Study Instance UID, Requested Procedure ID, step ID) is kept when the
   * feed still gives none, so a modality never sees them change; so is the status, unless the
   * feed says one that goes further (see goesBack). Null when the entry was there already with
   * the same content.
   */
  async upsertFromSource(source: WorklistSource, sourceKey: string, dataset: JsonDataset): Promise<WorklistEntry | null> {
    const filed = await this.filed(dataset);
    const first = await this.store.bySourceKey(source, sourceKey);
    if (!first) return this.store.add(source, sourceKey, completeEntry(filed));
    return this.change(first.id, (current) => {
      const next = structuredClone(filed);
      const was = current.dataset;
      for (const key of ['0020000D', '00401001']) if (!has(next, key) && has(was, key)) next[key] = was[key]!;
      const step = scheduledStep(next);
      const oldStep = scheduledStep(was);
      if (step && !has(step, '00400009') && has(oldStep, '00400009')) step['00400009'] = oldStep!['00400009']!;
      const said = jsonElementText(step?.[SPS_STATUS]);
      const status = said && !goesBack(current.status, said) ? said : current.status;
      return completeEntry(next, status);
    });
  }

  /**
   * Changes an entry as read, again on what another change wrote if one came between the read
   * and the write (an MPPS moving the status while an HL7 update rewrites the order: each keeps
   * the other's change). Null when `next` leaves the entry as it is.
   */
  private async change(id: number, next: (current: WorklistEntry) => JsonDataset | Promise<JsonDataset>): Promise<WorklistEntry | null> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.get(id);
      const ds = await next(current);
      if (JSON.stringify(ds) === JSON.stringify(current.dataset)) return null;
      const r = await this.store.replace(id, ds, current.revision);
      if (r === null) this.missing(id);
      if (r !== 'stale') return r;
      if (attempt === CHANGE_ATTEMPTS) throw new PacsError('CONFLICT', `worklist entry ${id} kept changing meanwhile; try again`);
    }
  }

  bySourceKey(source: WorklistSource, sourceKey: string): Promise<WorklistEntry | null> {
    return this.store.bySourceKey(source, sourceKey);
  }

  /**
   * Replaces an entry with `dataset`. `ifTag` (the ETag of the entry as the client read it):
   * only if it is still so. Without it, a status that would take a step under way back (a client
   * sending its copy read before the modality started the step, SCHEDULED in it) is refused: the
   * step would come back on the modality's worklist while it is performed. With it, the client
   * has seen the status it changes, and may move the step back (an exam started by mistake), or
   * change a status that ended it (set by mistake through this API).
   */
  async update(id: number, dataset: JsonDataset, ifTag?: string): Promise<WorklistEntry> {
    const next = await this.filed(dataset);
    const said = jsonElementText(scheduledStep(next)?.[SPS_STATUS]);
    return (
      (await this.change(id, async (current) => {
        if (ifTag !== undefined && ifTag !== '*' && ifTag !== worklistTag(current)) throw new StaleEntryError(id);
        // A client naming the version it read has seen the status it changes: a step set COMPLETED
        // by mistake (through this API: no MPPS says so) may be put right. Blind, never.
        if (said && said !== current.status && ifTag === undefined && DONE.has(current.status))
          throw new PacsError('CONFLICT', `worklist entry ${id} is ${current.status}: a step done keeps its status (not ${said}) unless the change names the entry as read (If-Match with its ETag)`);
        if (said && said !== current.status && ifTag === undefined && UNDER_WAY.has(current.status) && goesBack(current.status, said))
          throw new PacsError('CONFLICT', `worklist entry ${id} is ${current.status} now: a change that does not name it as read (If-Match with its ETag) may not move it back to ${said}`);
        const changed = completeEntry(structuredClone(next), said || current.status);
        // A canceled step scheduled again while the same step was scheduled anew (POST): two.
        if (current.status === 'CANCELED') await this.refuseSameStep(changed, id);
        return changed;
      })) ?? this.get(id)
    );
  }

  /**
   * Cancels the step (it stays listed, with status CANCELED, and leaves the worklist). A step
   * done (completed, discontinued) is not: its status is the record of what was performed.
   */
  async cancel(id: number): Promise<WorklistEntry> {
    const changed = await this.change(id, (current) => {
      if (DONE.has(current.status)) throw new PacsError('CONFLICT', `worklist entry ${id} is ${current.status}: a step done cannot be canceled`);
      return withStatus(current.dataset, 'CANCELED');
    });
    return changed ?? this.get(id);
  }

  async get(id: number): Promise<WorklistEntry> {
    return (await this.store.get(id)) ?? this.missing(id);
  }

  sourceKeys(source: WorklistSource): Promise<{ id: number; sourceKey: string | null }[]> {
    return this.store.sourceKeys(source);
  }

  list(filter: WorklistFilter): Promise<{ entries: WorklistEntry[]; total: number }> {
    return this.store.list(filter);
  }

  remove(id: number): Promise<boolean> {
    return this.store.remove(id);
  }

  /**
   * The answers to a worklist C-FIND identifier. Without a Scheduled Procedure Step Status
   * key (or with `*`), only steps still to be done are seen; with one, it is matched like any key.
   * Throws QueryError for a value no VR allows.
   */
  async find(query: JsonDataset, limit = 0): Promise<JsonDataset[]> {
    // A key of "*" alone is universal matching (PS3.4 C.2.2.2.4): as if empty, open steps only.
    const statusKey = jsonElementText((query[SPS]?.Value?.[0] as JsonDataset | undefined)?.[SPS_STATUS]).trim();
    const asksStatus = statusKey !== '' && !/^\*+$/.test(statusKey);
    const options = this.options();
    // Read once, before the entries: a bad value is refused even on an empty worklist, and the
    // keys are not parsed again for each entry.
    const compiled = compileQuery(query, options);
    const { entries } = await this.store.list({ ...(asksStatus ? {} : { statuses: OPEN_SPS_STATUSES }), limit: -1, offset: 0 });
    const out: JsonDataset[] = [];
    for (const e of entries) {
      if (!matchesCompiled(compiled, e.dataset)) continue;
      out.push(projectDataset(query, e.dataset, options));
      if (limit > 0 && out.length >= limit) break;
    }
    return out;
  }

  /** A performed step was reported: the scheduled steps it names follow its status. */
  async stepPerformed(refs: readonly StepReference[], mppsStatus: string): Promise<number[]> {
    const next = FOLLOWS[mppsStatus];
    if (!next) return [];
    const changed: number[] = [];
    for (const ref of refs) {
      if (!ref.scheduledProcedureStepID && !ref.studyInstanceUID && !ref.accessionNumber) continue; // an unscheduled step
      for (const e of await this.store.findByStep(ref)) {
        // Decided on the entry as it is when written (an order update may have moved it meanwhile).
        const moved = await this.change(e.id, (current) => {
          if (current.status === next || current.status === 'CANCELED' || !mppsMayMove(current.status, next)) return current.dataset;
          return withStatus(current.dataset, next);
        });
        if (moved) changed.push(e.id);
      }
    }
    return changed;
  }

  private missing(id: number): never {
    throw new PacsError('NOT_FOUND', `no worklist entry ${id}`);
  }
}
