// What retention needs of the index: which studies are protected from it, and the oldest
// studies (by when their last instance arrived) to delete first.

export interface RetentionCandidate {
  studyInstanceUID: string;
  sizeBytes: number;
  /** When its latest instance arrived: "age" for retention. */
  lastReceivedAt: Date;
  protected: boolean;
}

export interface RetentionStore {
  /** Marks a study protected (or not); false when no such study is indexed. */
  setProtected(studyInstanceUID: string, value: boolean): Promise<boolean>;
  /** null when no such study is indexed. */
  isProtected(studyInstanceUID: string): Promise<boolean | null>;
  /** Every protected study's UID: what a reindex, which rebuilds the rows from the files, puts back. */
  protectedStudies(): Promise<string[]>;
  /**
   * Studies oldest first (least recently received), protected ones left out unless asked, and
   * never one whose "stable" event is still owed (its rules have not seen it yet).
   */
  oldest(options: CandidateFilter & { limit: number }): Promise<RetentionCandidate[]>;
  /** How many studies, of how many bytes, oldest() would give without a limit. */
  eligible(options: CandidateFilter): Promise<{ studies: number; bytes: number }>;
  /**
   * An instance acknowledged again without being written (a resend answered "identical" or
   * "ignored"): its study counts as received at `at` (and at least a millisecond later than
   * before), so its age starts again and a retention pass that chose it earlier finds it changed
   * (ArchiveIndex.deleteInstanceIf) rather than delete what the sender was just told is kept.
   */
  received(sopInstanceUID: string, at: Date): Promise<void>;
  /**
   * Runs `fn` as the only retention pass on this index — of any server sharing it — or, when
   * another pass holds the hold, not at all ({ ran: false }, at once). Two passes side by side
   * would each delete towards the same excess, together up to twice what a rule asks.
   * `lost` aborts if the hold ends while `fn` runs (its database connection lost).
   */
  exclusivePass<T>(fn: (lost: AbortSignal) => Promise<T>): Promise<PassOutcome<T>>;
}

export interface CandidateFilter {
  receivedBefore?: Date;
  includeProtected?: boolean;
}

/** A study whose stability is pending is still arriving, or its rules have not run on it yet. */
const NOT_PENDING = "NOT EXISTS (SELECT 1 FROM stability sb WHERE sb.level = 'study' AND sb.uid = studies.study_instance_uid AND sb.pending = 1)";

/** The WHERE clause of retention's candidates, one for both backends; `before` names receivedBefore's placeholder. */
export function candidateWhere(o: CandidateFilter, before: string): string {
  return `WHERE ${[NOT_PENDING, ...(o.includeProtected ? [] : ['protected = 0']), ...(o.receivedBefore ? [`last_received_at < ${before}`] : [])].join(' AND ')}`;
}

export type PassOutcome<T> = { ran: true; value: T } | { ran: false };

