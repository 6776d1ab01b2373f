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
  /** Studies oldest first (least recently received), protected ones left out unless asked. */
  oldest(options: { receivedBefore?: Date; limit: number; includeProtected?: boolean }): Promise<RetentionCandidate[]>;
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

export type PassOutcome<T> = { ran: true; value: T } | { ran: false };

