// Rows of the index's own tables (jobs, nodes, worklist, stability, followed changes) as the services see them:
// the same columns on every backend, so the mapping is written once.
import type { JsonDataset } from '../dicom/json.js';
import type { Job, JobProgress, JobState } from './jobs.js';
import type { StoredNode } from './nodes.js';
import type { StabilityEntry, StabilityLevel } from './stability.js';
import type { ChangeSource, FollowedChange } from './cursors.js';
import { type MppsRecord, type WorklistEntry, type WorklistSource, worklistColumns } from './workflow.js';

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

export interface JobRow {
  id: number;
  type: string;
  state: string;
  payload: string;
  progress: string;
  attempts: number;
  max_attempts: number;
  dedupe_key: string | null;
  run_after: number;
  lease_owner: string | null;
  lease_until: number | null;
  cancel_requested: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export function toJob(r: JobRow): Job {
  return {
    id: r.id,
    type: r.type,
    state: r.state as JobState,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    progress: JSON.parse(r.progress) as JobProgress,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    dedupeKey: r.dedupe_key,
    runAfter: new Date(r.run_after),
    leaseOwner: r.lease_owner,
    leaseUntil: date(r.lease_until),
    cancelRequested: r.cancel_requested !== 0,
    lastError: r.last_error,
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
    startedAt: date(r.started_at),
    finishedAt: date(r.finished_at),
  };
}

export interface NodeRow {
  ae_title: string;
  host: string;
  port: number;
  tls: number;
  permissions: string;
  description: string;
}

export const toNode = (r: NodeRow): StoredNode => ({
  ae_title: r.ae_title,
  host: r.host,
  port: r.port,
  tls: r.tls !== 0,
  permissions: JSON.parse(r.permissions) as string[],
  description: r.description,
});

export interface EntryRow {
  pk: number;
  source: string;
  source_key: string | null;
  status: string;
  accession_number: string | null;
  patient_id: string | null;
  sps_id: string | null;
  study_instance_uid: string | null;
  dataset: string;
  created_at: number;
  updated_at: number;
}

export const toEntry = (r: EntryRow): WorklistEntry => ({
  id: r.pk,
  source: r.source as WorklistSource,
  sourceKey: r.source_key,
  status: r.status,
  accessionNumber: r.accession_number,
  patientID: r.patient_id,
  scheduledProcedureStepID: r.sps_id,
  studyInstanceUID: r.study_instance_uid,
  dataset: JSON.parse(r.dataset) as JsonDataset,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  revision: r.dataset,
});

/** The columns a worklist entry's dataset fills, as statement parameters. */
export const entryColumns = (ds: JsonDataset) => {
  const c = worklistColumns(ds);
  return { status: c.status, accession: c.accessionNumber, patient: c.patientID, sps: c.scheduledProcedureStepID, study: c.studyInstanceUID, dataset: JSON.stringify(ds) };
};

export interface StabilityRow {
  level: string;
  uid: string;
  study_uid: string;
  last_received_at: number;
  last_change_seq: number;
  sop_instance_uid: string;
  calling_ae: string | null;
  called_ae: string | null;
  remote_address: string | null;
}

export const toStabilityEntry = (r: StabilityRow): StabilityEntry => ({
  level: r.level as StabilityLevel,
  uid: r.uid,
  studyUID: r.study_uid,
  lastReceivedAt: new Date(r.last_received_at),
  lastChangeSeq: r.last_change_seq,
  sopInstanceUID: r.sop_instance_uid,
  callingAE: r.calling_ae,
  calledAE: r.called_ae,
  remoteAddress: r.remote_address,
});

export interface MppsRow {
  sop_instance_uid: string;
  status: string;
  calling_ae: string;
  dataset: string;
  created_at: number;
  updated_at: number;
  follow_up_at: number | null;
  follow_up_tries: number;
}

export const toMpps = (r: MppsRow): MppsRecord => ({
  sopInstanceUID: r.sop_instance_uid,
  status: r.status,
  callingAE: r.calling_ae,
  dataset: JSON.parse(r.dataset) as JsonDataset,
  createdAt: new Date(r.created_at),
  updatedAt: new Date(r.updated_at),
  revision: r.dataset,
  followUpAt: r.follow_up_at === null ? null : new Date(r.follow_up_at),
  followUpTries: r.follow_up_tries,
});

export interface FollowedChangeRow {
  seq: number;
  kind: string;
  uid: string;
  study_uid: string;
  /** null when the LEFT JOIN found no instance row (deleted since). */
  source: string | null;
  calling_ae: string | null;
  called_ae: string | null;
  remote_address: string | null;
}

export const toFollowedChange = (r: FollowedChangeRow): FollowedChange => ({
  seq: r.seq,
  kind: r.kind as FollowedChange['kind'],
  sopInstanceUID: r.uid,
  studyUID: r.study_uid,
  source: r.source === null ? null : { callingAE: r.calling_ae, calledAE: r.called_ae, remoteAddress: r.remote_address, source: r.source as ChangeSource['source'] },
});
