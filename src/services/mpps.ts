// Modality Performed Procedure Step (PS3.4 Annex F): the rules of N-CREATE and N-SET, kept
// apart from DIMSE so they read like the standard. A step is created IN PROGRESS, changes
// while in progress, and ends COMPLETED or DISCONTINUED, after which it no longer changes.
// The worklist entries it performs follow its status.
import { KeyedMutex } from '../core/keyed-mutex.js';
import { describeTag } from '../dicom/dictionary.js';
import type { JsonDataset } from '../dicom/json.js';
import { jsonElementText } from '../dicom/json-encode.js';
import { MPPS_STATUSES, type MppsRecord, type MppsStore, type StepReference, performedStatus } from '../index/workflow.js';
import type { Logger } from '../core/logging.js';
import { type WorklistService, newUid } from './worklist.js';

/** What the SCP answers: a DIMSE status with, on failure, a comment and the elements at fault. */
export interface MppsOutcome {
  status: number;
  sopInstanceUID: string;
  comment?: string;
  /** Error ID (0000,0903): A710 is the standard's "may no longer be updated". */
  errorId?: number;
  offending?: number[];
}

/** Status codes of PS3.7 C and PS3.4 F.7.2 used here. */
export const MppsStatus = {
  Success: 0x0000,
  NoSuchAttribute: 0x0105,
  InvalidAttributeValue: 0x0106,
  ProcessingFailure: 0x0110,
  DuplicateSOPInstance: 0x0111,
  NoSuchObjectInstance: 0x0112,
  InvalidObjectInstance: 0x0117,
  MissingAttribute: 0x0120,
  MissingAttributeValue: 0x0121,
  ResourceLimitation: 0x0213,
} as const;

const SSAS = '00400270'; // Scheduled Step Attributes Sequence
const STATUS = '00400252';
const tag = (key: string): number => Number.parseInt(key, 16) >>> 0;
/** Reads and merges of one N-SET when other servers keep changing the step meanwhile. */
const MERGE_ATTEMPTS = 5;
const has = (ds: JsonDataset | undefined, key: string): boolean => jsonElementText(ds?.[key]).trim() !== '';

/** Type 1 attributes of N-CREATE (PS3.4 table F.7.2-1) at the top level. */
const CREATE_REQUIRED = ['00400253', '00400241', '00400244', '00400245', STATUS, '00080060'];
/**
 * Attributes an N-SET may not change (usage "Not allowed" in table F.7.2-1): the patient's
 * (name, ID and its issuer, the issuer's qualifiers, other IDs, birth date, sex, the Referenced
 * Patient Sequence), the visit's (admission, service episode), the scheduled steps, the step's identity and start, modality, Study ID.
 * A forwarded N-SET leaves them out: a peer refuses one that names them at all (0x0105).
 */
export const FIXED = [
  '00100010', '00100020', '00100021', '00100024', '00101002', '00100030', '00100040', '00081120',
  // The visit's: Admission ID and its issuer, Service Episode ID, description and issuer (Type 2
  // in N-CREATE, so nearly every step has them; a forwarded N-SET with them was refused for good).
  '00380010', '00380014', '00380060', '00380062', '00380064',
  SSAS, '00400253', '00400241', '00400242', '00400243', '00400244', '00400245', '00080060', '00200010',
];
/** Scheduled steps one performed step may name: far more than any procedure groups. */
export const MAX_SCHEDULED_STEPS = 100;
/** Type 1 once the step is final (F.7.2.2.2): its end date and time. */
export const FINAL_REQUIRED = ['00400250', '00400251'];
const PERFORMED_SERIES = '00400340';

const UID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;

/** The scheduled steps a performed step names (its Scheduled Step Attributes Sequence items). */
export function stepReferences(ds: JsonDataset): StepReference[] {
  return ((ds[SSAS]?.Value ?? []) as JsonDataset[]).map((i) => ({
    studyInstanceUID: jsonElementText(i['0020000D']) || null,
    scheduledProcedureStepID: jsonElementText(i['00400009']) || null,
    accessionNumber: jsonElementText(i['00080050']) || null,
  }));
}

function missing(uid: string, ds: JsonDataset, keys: readonly string[], what: string): MppsOutcome | null {
  const absent = keys.filter((k) => !(k in ds));
  if (absent.length) return { status: MppsStatus.MissingAttribute, sopInstanceUID: uid, comment: `${what}: missing ${absent.map((k) => describeTag(tag(k))).join(', ')}`, offending: absent.map(tag) };
  const empty = keys.filter((k) => !has(ds, k) && ds[k]?.vr !== 'SQ');
  if (empty.length) return { status: MppsStatus.MissingAttributeValue, sopInstanceUID: uid, comment: `${what}: no value for ${empty.map((k) => describeTag(tag(k))).join(', ')}`, offending: empty.map(tag) };
  return null;
}

/**
 * A completed step names the series it made (table F.7.2-1 note 2: Performed Series Sequence has
 * at least one item, each with its Series Instance UID): without it nothing ties the step to its
 * images. A DISCONTINUED step may have none — a step stopped before anything was acquired must
 * still be able to end, so its worklist entry can be done again; the note asks a series of it too,
 * but refusing would leave the step IN PROGRESS for ever.
 */
function noSeries(uid: string, ds: JsonDataset): MppsOutcome | null {
  const items = (ds[PERFORMED_SERIES]?.Value ?? []) as JsonDataset[];
  if (!(PERFORMED_SERIES in ds)) return { status: MppsStatus.MissingAttribute, sopInstanceUID: uid, comment: 'COMPLETED: missing PerformedSeriesSequence', offending: [tag(PERFORMED_SERIES)] };
  if (!items.length) return { status: MppsStatus.MissingAttributeValue, sopInstanceUID: uid, comment: 'COMPLETED: PerformedSeriesSequence has no item', offending: [tag(PERFORMED_SERIES)] };
  if (items.some((i) => !has(i, '0020000E')))
    return { status: MppsStatus.MissingAttributeValue, sopInstanceUID: uid, comment: 'COMPLETED: a series item lacks SeriesInstanceUID', offending: [tag(PERFORMED_SERIES)] };
  return null;
}

/** Text and sequences compared as the JSON model holds them (an N-SET repeating a fixed value is fine). */
const same = (a: JsonDataset[string] | undefined, b: JsonDataset[string] | undefined): boolean => JSON.stringify(a?.Value ?? []) === JSON.stringify(b?.Value ?? []);

/**
 * When the follow-ups of a step (the worklist following it, its forward queued) are taken up
 * by a server if the one that accepted the step has not done them: `firstTryMs` after the
 * change (the accepting server does them at once; this is its time to), then spaced by
 * `retryMs(tries)`. `sweepMs` is how often each server looks for steps owed.
 */
export interface FollowUpTiming {
  firstTryMs: number;
  sweepMs: number;
  retryMs: (tries: number) => number;
}

/** 5 s, then 10 s, 20 s, 40 s … doubling up to every 10 min: never given up (the index errors that fail them pass). */
export const FOLLOW_UP_TIMING: FollowUpTiming = {
  firstTryMs: 5_000,
  sweepMs: 5_000,
  retryMs: (tries) => Math.min(5_000 * 2 ** Math.min(tries + 1, 20), 600_000),
};

/** Steps remembered as worklist-followed while their forward fails (beyond: their worklist update is done once more). */
const WORKLIST_DONE_KEPT = 10_000;

/** Steps one sweep takes up at most: the rest wait for the next one. */
const SWEEP_BATCH = 50;

export class MppsService {
  /** Called after each accepted N-CREATE or N-SET, with the step's UID (the server queues its forward). */
  onAccepted: ((uid: string) => Promise<void>) | null = null;

  private readonly steps = new KeyedMutex();
  /** Steps whose worklist update is done for the state (revision) given while their forward is still owed. */
  private readonly worklistDone = new Map<string, string>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly store: MppsStore,
    private readonly worklist: WorklistService,
    private readonly logger: Logger,
    private readonly timing: FollowUpTiming = FOLLOW_UP_TIMING,
  ) {}

  /**
   * The follow-ups of a step as recorded: the worklist entries it performs follow its status,
   * its forward is queued. Both are done from the step as it is, so doing them twice (this
   * server and, after its time, another; or a later try) changes nothing more. Their failure
   * does not fail the MPPS, which the modality would send again to no purpose: the step stays
   * owed in the index and a sweep — of this server or of any other sharing the index, after a
   * crash too — does them again. Once done, the index forgets them unless the step changed meanwhile.
   */
  private async followUp(step: MppsRecord, from: 'accepted' | 'sweep'): Promise<boolean> {
    const uid = step.sopInstanceUID;
    // Each part on its own: a worklist update that keeps failing must not hold the forward back.
    const failures: unknown[] = [];
    const attempt = (part: () => Promise<unknown>): Promise<void> => part().then(() => undefined, (e: unknown) => void failures.push(e));
    let followed: string | null = null;
    // Done already for this state (only the forward failed): not again at each of its retries,
    // which would undo a change of the entry made since (a correction with If-Match).
    if (this.worklistDone.get(uid) !== step.revision) await attempt(async () => (followed = await this.followWorklist(step)));
    await attempt(async () => this.onAccepted?.(uid));
    if (!failures.length) await attempt(() => this.store.followedUp(uid, step.revision));
    if (!failures.length) {
      this.worklistDone.delete(uid);
      if (from === 'sweep') this.logger.info({ mpps: uid, tries: step.followUpTries }, 'MPPS follow-ups done on a later try');
      return true;
    }
    if (followed !== null) {
      if (this.worklistDone.size >= WORKLIST_DONE_KEPT) this.worklistDone.clear(); // only means updating once more
      this.worklistDone.set(uid, followed);
    }
    const next = step.followUpAt ? Math.max(0, Math.round((step.followUpAt.getTime() - Date.now()) / 1000)) : null;
    this.logger.warn({ err: failures[0], mpps: uid, tries: step.followUpTries }, `MPPS follow-ups (worklist update, forward) failed; tried again in ${next ?? '?'} s`);
    return false;
  }

  /**
   * The worklist entries the step names take its status. Then the step is read again: another
   * server sharing the index may have changed it meanwhile (an N-SET DISCONTINUED) and followed
   * it before this update landed, which would have put the entry back to STARTED for good; the
   * entries then take the status it has now.
   */
  private async followWorklist(step: MppsRecord): Promise<string> {
    let current = step;
    for (let round = 0; round < MERGE_ATTEMPTS; round++) {
      const changed = await this.worklist.stepPerformed(stepReferences(current.dataset), current.status);
      if (changed.length) this.logger.info({ mpps: current.sopInstanceUID, worklistEntries: changed, status: current.status }, 'worklist entries follow MPPS');
      const now = await this.store.get(current.sopInstanceUID);
      if (!now || now.revision === current.revision) return current.revision;
      current = now;
    }
    return current.revision;
  }

  /** Takes up the follow-ups owed, now and then every `sweepMs` until close(). */
  start(): void {
    if (this.closed || this.sweepTimer || this.sweeping) return;
    const next = (): void => {
      this.sweeping = this.sweep()
        .catch((e: unknown) => this.logger.warn({ err: e }, 'looking for MPPS follow-ups owed failed'))
        .finally(() => {
          this.sweeping = null;
          if (this.closed) return;
          this.sweepTimer = setTimeout(next, this.timing.sweepMs);
          this.sweepTimer.unref();
        });
    };
    next();
  }

  /** One look for steps owed, each followed up. */
  private async sweep(): Promise<void> {
    for (;;) {
      const taken = await this.store.claimFollowUps(Date.now(), SWEEP_BATCH, this.timing.retryMs);
      for (const { sopInstanceUID: uid } of taken) {
        if (this.closed) return;
        await this.steps.run(uid, async () => {
          // Read again under the step's lock: an N-SET of this server may have changed it (and
          // followed it up) since it was taken — following the older state would undo that.
          const step = await this.store.get(uid);
          if (step?.followUpAt) await this.followUp(step, 'sweep');
        });
      }
      if (taken.length < SWEEP_BATCH || this.closed) return;
    }
  }

  /** No more sweeps (the server stops); one under way is waited for. Steps owed stay owed in the index. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    await this.sweeping;
  }

  async create(requestedUid: string | null, callingAE: string, ds: JsonDataset): Promise<MppsOutcome> {
    const uid = requestedUid ?? newUid();
    if (!UID.test(uid) || uid.length > 64) return { status: MppsStatus.InvalidObjectInstance, sopInstanceUID: uid, comment: `"${uid}" is not a UID` };
    const absent = missing(uid, ds, [...CREATE_REQUIRED, SSAS], 'N-CREATE');
    if (absent) return absent;
    const items = (ds[SSAS]!.Value ?? []) as JsonDataset[];
    if (!items.length) return { status: MppsStatus.MissingAttributeValue, sopInstanceUID: uid, comment: 'N-CREATE: Scheduled Step Attributes Sequence has no item', offending: [tag(SSAS)] };
    // Each item is a worklist look-up, now and at every N-SET: 50,000 of them (1.2 MB) were as many
    // scans of the worklist before the answer.
    if (items.length > MAX_SCHEDULED_STEPS)
      return { status: MppsStatus.ResourceLimitation, sopInstanceUID: uid, comment: `N-CREATE: ${items.length} Scheduled Step Attributes items; at most ${MAX_SCHEDULED_STEPS}`, offending: [tag(SSAS)] };
    if (items.some((i) => !has(i, '0020000D')))
      return { status: MppsStatus.MissingAttributeValue, sopInstanceUID: uid, comment: 'N-CREATE: a scheduled step item lacks StudyInstanceUID', offending: [tag(SSAS)] };
    const status = performedStatus(ds);
    if (status !== 'IN PROGRESS')
      return { status: MppsStatus.InvalidAttributeValue, sopInstanceUID: uid, comment: `N-CREATE: PerformedProcedureStepStatus must be IN PROGRESS, not ${status}`, offending: [tag(STATUS)] };
    const step = await this.store.create(uid, callingAE, ds, Date.now() + this.timing.firstTryMs);
    if (!step) return { status: MppsStatus.DuplicateSOPInstance, sopInstanceUID: uid, comment: `MPPS ${uid} exists already` };
    await this.steps.run(uid, () => this.followUp(step, 'accepted'));
    return { status: MppsStatus.Success, sopInstanceUID: uid };
  }

  /**
   * N-SET: the changes merged into the step as it is. Two N-SETs of one step at once (two
   * associations) run one after the other here: each merges into what the other wrote, none is
   * lost. Servers sharing a PostgreSQL index do not share this lock: there the store changes the
   * step only if it is still as read, and the merge is done again on what the other wrote.
   */
  set(uid: string, changes: JsonDataset): Promise<MppsOutcome> {
    return this.steps.run(uid, async () => {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.merge(uid, changes);
        if (outcome !== 'stale') return outcome;
        if (attempt === MERGE_ATTEMPTS) return { status: MppsStatus.ProcessingFailure, sopInstanceUID: uid, comment: 'the step kept changing meanwhile; try again' };
      }
    });
  }

  private async merge(uid: string, changes: JsonDataset): Promise<MppsOutcome | 'stale'> {
    const current = await this.store.get(uid);
    if (!current) return { status: MppsStatus.NoSuchObjectInstance, sopInstanceUID: uid, comment: `no MPPS ${uid}` };
    if (current.status !== 'IN PROGRESS') return this.noLongerUpdatable(uid, current.status);
    const fixed = FIXED.filter((k) => k in changes && !same(changes[k], current.dataset[k]));
    if (fixed.length)
      return { status: MppsStatus.InvalidAttributeValue, sopInstanceUID: uid, comment: `N-SET may not change ${fixed.map((k) => describeTag(tag(k))).join(', ')}`, offending: fixed.map(tag) };
    const merged: JsonDataset = { ...current.dataset, ...changes };
    const status = performedStatus(merged);
    if (!status || !(MPPS_STATUSES as readonly string[]).includes(status))
      return { status: MppsStatus.InvalidAttributeValue, sopInstanceUID: uid, comment: `PerformedProcedureStepStatus must be one of ${MPPS_STATUSES.join(', ')}`, offending: [tag(STATUS)] };
    if (status !== 'IN PROGRESS') {
      const absent = missing(uid, merged, FINAL_REQUIRED, status) ?? (status === 'COMPLETED' ? noSeries(uid, merged) : null);
      if (absent) return absent;
    }
    // Nothing changed (a modality sending the same N-SET per series): nothing written, followed
    // or forwarded — two servers forwarding to each other otherwise sent one step back and forth.
    if (JSON.stringify(merged) === JSON.stringify(current.dataset)) return { status: MppsStatus.Success, sopInstanceUID: uid };
    const r = await this.store.update(uid, merged, current.revision, Date.now() + this.timing.firstTryMs);
    if (r === 'stale') return r;
    if (r === 'missing') return { status: MppsStatus.NoSuchObjectInstance, sopInstanceUID: uid, comment: `no MPPS ${uid}` };
    if (r === 'final') return this.noLongerUpdatable(uid, 'final'); // another N-SET ended it meanwhile
    await this.followUp(r, 'accepted'); // under this step's lock already (set)
    return { status: MppsStatus.Success, sopInstanceUID: uid };
  }

  get(uid: string): Promise<MppsRecord | null> {
    return this.store.get(uid);
  }

  list(filter: { status?: string; limit: number; offset: number }): Promise<{ items: MppsRecord[]; total: number }> {
    return this.store.list(filter);
  }

  private noLongerUpdatable(uid: string, status: string): MppsOutcome {
    return { status: MppsStatus.ProcessingFailure, sopInstanceUID: uid, errorId: 0xa710, comment: `MPPS is ${status}: it may no longer be updated` };
  }
}
