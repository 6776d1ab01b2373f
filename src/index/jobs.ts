// The durable job queue's storage: every slow or remote action (send a study, pull from a
// node, later the research workflow's exports and forwards) is a row that survives restarts.
// Several servers may share one index (issue 8): a job is claimed with a lease, and a lease
// that runs out (its server died) makes the job claimable again.

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

/** What a job has done so far; handlers fill what applies. */
export interface JobProgress {
  total?: number;
  completed?: number;
  failed?: number;
  warning?: number;
  message?: string;
  /** The first failed SOP Instance UIDs (kept short). */
  failedUids?: string[];
  /**
   * De-identified copies sent or written although their pixels may carry burned-in text
   * (burned_in: flag): how many, and the first of them (new SOP Instance UID and why).
   */
  flagged?: number;
  flaggedUids?: string[];
  /**
   * SOP Instance UIDs the destination has acknowledged, kept with the job so that a retry (after
   * a failure, a restart, or by hand) does not send them again. Not shown in job lists.
   */
  acknowledged?: string[];
}

/** Progress as shown to people (API, `pacs jobs`): without the acknowledged UIDs, a study's worth. */
export function shownProgress(p: JobProgress): JobProgress {
  const { acknowledged: _acknowledged, ...shown } = p;
  return shown;
}

export interface Job {
  id: number;
  type: string;
  state: JobState;
  payload: Record<string, unknown>;
  progress: JobProgress;
  attempts: number;
  maxAttempts: number;
  /** Jobs with the same key are one job: enqueueing it again returns the existing one. */
  dedupeKey: string | null;
  /** A queued job is not claimed before this time (retry back-off). */
  runAfter: Date;
  leaseOwner: string | null;
  leaseUntil: Date | null;
  cancelRequested: boolean;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface JobOutcome {
  state: 'succeeded' | 'failed' | 'canceled' | 'queued';
  error?: string | null;
  progress?: JobProgress;
  runAfter?: Date;
  attemptReturned?: boolean;
}

export interface NewJob {
  type: string;
  payload: Record<string, unknown>;
  maxAttempts: number;
  dedupeKey?: string | null;
  runAfter?: Date;
}

export interface JobFilter {
  state?: JobState;
  type?: string;
  limit: number;
  offset: number;
}

export interface JobStore {
  /** Adds a queued job; with a dedupe key already present, returns that job unchanged (created: false). */
  enqueue(job: NewJob): Promise<{ job: Job; created: boolean }>;
  /**
   * Takes the oldest runnable job (queued and due, or running with an expired lease) for
   * `owner` until `leaseUntil`, counting an attempt. Null when none is runnable. Jobs in
   * `exclude` are never taken: the caller still runs them (a handler that has not returned).
   * `owner` names this one claim: heartbeat and finish count only with the same name, so a run
   * whose lease was taken over (by another server, or by the same one claiming again) cannot
   * renew or end the job under the claim that replaced it.
   */
  claim(owner: string, now: Date, leaseUntil: Date, types: readonly string[], exclude?: readonly number[]): Promise<Job | null>;
  /**
   * Extends the lease and records progress; false when the lease is no longer ours. A store on a
   * server across the network gives up after `timeoutMs` (failing; the renewal may or may not
   * have taken effect) rather than wait on a connection that no longer answers.
   */
  heartbeat(id: number, owner: string, leaseUntil: Date, progress: JobProgress | null, timeoutMs?: number): Promise<{ owned: boolean; cancelRequested: boolean }>;
  /** Ends a run: succeeded, failed for good, canceled, or back to queued for a retry at `runAfter`. */
  /** `attemptReturned`: the run ended through no fault of the job (a stop), its attempt is not counted. */
  finish(id: number, owner: string, outcome: JobOutcome): Promise<boolean>;
  /** Queued jobs end canceled at once; running ones are asked to stop. Null if unknown. */
  cancel(id: number): Promise<Job | null>;
  /** A failed or canceled job goes back to the queue with its attempts reset. */
  retry(id: number): Promise<Job | null>;
  get(id: number): Promise<Job | null>;
  /** The job queued with this dedupe key, null if none (or pruned since). */
  byDedupeKey(key: string): Promise<Job | null>;
  list(filter: JobFilter): Promise<{ jobs: Job[]; total: number }>;
  /** Owners of the leases of running jobs. */
  leaseOwners(): Promise<string[]>;
  /**
   * How many queued or running jobs name `uid` (as a JSON string anywhere in their payload: a
   * send's uids, a rule job's studyUID): retention leaves a study with a forward still to go.
   * `uid` is a DICOM UID (digits and dots).
   */
  activeNaming(uid: string): Promise<number>;
  /** Ends the leases `owner` holds now (it is known dead), so its jobs are claimable at once. */
  expireLeases(owner: string): Promise<number>;
  /** Finished jobs older than `before` are removed; returns how many. */
  prune(before: Date): Promise<number>;
}
