// Stable series and studies (issue 6): a series or study is stable when no instance of it has
// arrived for `stable_after` seconds. The index keeps, per series and study, when its latest
// instance arrived and whether its "stable" event is still owed, filled from the change log so
// that nothing committed is missed across a crash or a restart.

export type StabilityLevel = 'series' | 'study';

/** A series or study whose "stable" event is owed (or was just given). */
export interface StabilityEntry {
  level: StabilityLevel;
  /** Series Instance UID or Study Instance UID. */
  uid: string;
  studyUID: string;
  lastReceivedAt: Date;
  /** The change-log sequence number of its latest instance: names this "version" of it. */
  lastChangeSeq: number;
  /** Its latest instance (whose attributes the rules match). */
  sopInstanceUID: string;
  /** Who sent the latest instance. */
  callingAE: string | null;
  calledAE: string | null;
  remoteAddress: string | null;
}

export interface StabilityStore {
  /**
   * Takes the instances stored since the last call from the change log into the table (the
   * series and study they belong to become pending again). Reindexed instances are left out:
   * a rebuilt index is not new data. Returns how many changes were read.
   */
  catchUp(limit: number): Promise<number>;
  /** Pending entries whose latest instance arrived at or before `before`, series before studies. */
  due(before: Date, limit: number): Promise<StabilityEntry[]>;
  /** Records the event as given, unless an instance arrived since (its seq moved on): then false. */
  markStable(level: StabilityLevel, uid: string, lastChangeSeq: number, at: Date): Promise<boolean>;
  /** Entries still waiting to become stable (for the status page and tests). */
  pending(limit: number): Promise<StabilityEntry[]>;
  /**
   * Removes the given entries of series and studies deleted since (PRUNE_GONE); returns how
   * many. Each series and study ever received has one: retention deleting for years left
   * as many rows as the archive ever held. One received again gets a new entry.
   */
  pruneGone(): Promise<number>;
}

/** The statement of pruneGone, the same on both backends. */
export const PRUNE_GONE = `DELETE FROM stability WHERE pending = 0 AND (
  (level = 'study' AND NOT EXISTS (SELECT 1 FROM studies st WHERE st.study_instance_uid = stability.uid))
  OR (level = 'series' AND NOT EXISTS (SELECT 1 FROM series se WHERE se.series_instance_uid = stability.uid)))`;
