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
}
