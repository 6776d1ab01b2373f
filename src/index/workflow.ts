// What the index keeps for the workflow services: worklist entries (one Scheduled Procedure
// Step each, as a DICOM JSON dataset) and Modality Performed Procedure Steps. The dataset is
// the truth; the columns beside it are derived from it for listing and lookups.
import type { JsonDataset } from '../dicom/json.js';
import { jsonElementText } from '../dicom/json-encode.js';

/** Scheduled Procedure Step Status (0040,0020) values of PS3.3 C.4.10. */
export const SPS_STATUSES = ['SCHEDULED', 'ARRIVED', 'READY', 'STARTED', 'DEPARTED', 'CANCELED', 'DISCONTINUED', 'COMPLETED'] as const;
export type ScheduledStepStatus = (typeof SPS_STATUSES)[number];
/** Steps a modality still has to do: a worklist query without a status key sees only these. */
export const OPEN_SPS_STATUSES: readonly ScheduledStepStatus[] = ['SCHEDULED', 'ARRIVED', 'READY', 'STARTED'];

export type WorklistSource = 'api' | 'folder' | 'hl7';

export interface WorklistEntry {
  id: number;
  source: WorklistSource;
  /** The file name (folder) or placer order number (HL7) it came from; null for the API. */
  sourceKey: string | null;
  status: string;
  accessionNumber: string | null;
  patientID: string | null;
  scheduledProcedureStepID: string | null;
  studyInstanceUID: string | null;
  dataset: JsonDataset;
  createdAt: Date;
  updatedAt: Date;
  /** The stored dataset as read: `replace` with it changes the entry only if nobody changed it since. */
  revision: string;
}

export interface WorklistFilter {
  statuses?: readonly string[];
  source?: WorklistSource;
  /** Entries of this patient (Patient ID) only. */
  patientID?: string;
  /** At most this many entries; a negative number: all of them (SQLite's LIMIT -1). */
  limit: number;
  offset: number;
  /**
   * Newest first (the REST API's lists, for people). Else in the order they were added: the
   * worklist SCP answers in it, and a client walking every page is not shifted by new entries.
   */
  newestFirst?: boolean;
}

/** Which entries a performed step names (MPPS Scheduled Step Attribute Sequence items). */
export interface StepReference {
  studyInstanceUID: string | null;
  scheduledProcedureStepID: string | null;
  accessionNumber: string | null;
}

export interface WorklistStore {
  add(source: WorklistSource, sourceKey: string | null, dataset: JsonDataset): Promise<WorklistEntry>;
  /**
   * Replaces the dataset; null when there is no such entry. With `revision` (an entry's as read),
   * only while it is still so: 'stale' when another change came first — read it again.
   */
  replace(id: number, dataset: JsonDataset, revision?: string): Promise<WorklistEntry | null | 'stale'>;
  get(id: number): Promise<WorklistEntry | null>;
  bySourceKey(source: WorklistSource, sourceKey: string): Promise<WorklistEntry | null>;
  /**
   * The entries of `source` whose key starts with `prefix`, in the order added: the steps of one
   * HL7 order, each under a key of its own (hl7/ipc.ts). A scan of that source's entries.
   */
  bySourceKeyPrefix(source: WorklistSource, prefix: string): Promise<WorklistEntry[]>;
  /** The id and key of each entry of `source`, without their datasets (the folder's pass compares them with its files). */
  sourceKeys(source: WorklistSource): Promise<{ id: number; sourceKey: string | null }[]>;
  list(filter: WorklistFilter): Promise<{ entries: WorklistEntry[]; total: number }>;
  /** Entries of the step: same SPS ID and (Study Instance UID or Accession Number). */
  findByStep(ref: StepReference): Promise<WorklistEntry[]>;
  remove(id: number): Promise<boolean>;
}

export const MPPS_STATUSES = ['IN PROGRESS', 'COMPLETED', 'DISCONTINUED'] as const;
export type PerformedStepStatus = (typeof MPPS_STATUSES)[number];

export interface MppsRecord {
  sopInstanceUID: string;
  status: string;
  /** The AE that created it. */
  callingAE: string;
  dataset: JsonDataset;
  createdAt: Date;
  updatedAt: Date;
  /** The stored dataset as read: `update` with it changes the step only if nobody changed it since. */
  revision: string;
  /**
   * When a server may take up the step's follow-ups (the worklist following it, its forward
   * queued) if they are not done by then; null when they are done.
   */
  followUpAt: Date | null;
  /** Tries of those follow-ups taken up so (they are spaced further each time). */
  followUpTries: number;
}

export interface MppsStore {
  /**
   * The new step, its follow-ups owed from `followUpAt` (ms since the epoch); null when an
   * instance with this UID exists already.
   */
  create(sopInstanceUID: string, callingAE: string, dataset: JsonDataset, followUpAt: number): Promise<MppsRecord | null>;
  get(sopInstanceUID: string): Promise<MppsRecord | null>;
  /**
   * Replaces the dataset only while the step is IN PROGRESS (two N-SETs racing cannot both
   * finish it) and still at `revision` (as `get` read it), its follow-ups owed again from
   * `followUpAt`: the step as written, 'missing' when there is no such instance, 'final' when
   * it is no longer in progress, 'stale' when another change came first (another server sharing
   * the index): read it again and merge into that.
   */
  update(sopInstanceUID: string, dataset: JsonDataset, revision: string, followUpAt: number): Promise<MppsRecord | 'missing' | 'final' | 'stale'>;
  /** The step's follow-ups are done — for the step at `revision`: after a later change they are owed still. */
  followedUp(sopInstanceUID: string, revision: string): Promise<void>;
  /**
   * Steps whose follow-ups are owed at `now` (at most `limit`, the longest waiting first), each
   * taken by this call: its time moved on by `delayMs(tries so far)` and its tries counted, so
   * that no other server takes it meanwhile. Servers sharing the index never take one step at once.
   */
  claimFollowUps(now: number, limit: number, delayMs: (tries: number) => number): Promise<MppsRecord[]>;
  list(filter: { status?: string; limit: number; offset: number }): Promise<{ items: MppsRecord[]; total: number }>;
}

// ---- derived values --------------------------------------------------------------------

const text = (ds: JsonDataset | undefined, key: string): string | null => {
  const t = jsonElementText(ds?.[key]).trim();
  return t === '' ? null : t;
};

/** The first Scheduled Procedure Step Sequence (0040,0100) item. */
export const scheduledStep = (ds: JsonDataset): JsonDataset | undefined => ds['00400100']?.Value?.[0] as JsonDataset | undefined;

/** The columns of a worklist entry, read from its dataset. */
export function worklistColumns(ds: JsonDataset): Pick<WorklistEntry, 'status' | 'accessionNumber' | 'patientID' | 'scheduledProcedureStepID' | 'studyInstanceUID'> {
  const sps = scheduledStep(ds);
  return {
    status: text(sps, '00400020') ?? 'SCHEDULED',
    accessionNumber: text(ds, '00080050'),
    patientID: text(ds, '00100020'),
    scheduledProcedureStepID: text(sps, '00400009'),
    studyInstanceUID: text(ds, '0020000D'),
  };
}

/** Performed Procedure Step Status (0040,0252) of an MPPS dataset. */
export const performedStatus = (ds: JsonDataset): string | null => text(ds, '00400252');
