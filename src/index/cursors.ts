// Named positions in the change log, kept in the index, for services that must act on every
// committed change across crashes and restarts (the rules "on: instance.received"; how far each
// rule has acted on a study that grows). A service reads the changes after its cursor, acts on
// them, then advances the cursor: a crash in between makes it act again, so what it does must be idempotent (the rules' job dedupe keys). Servers
// sharing one index share a cursor; advancing never moves it back, so two servers racing leave
// it at the furthest point either reached, and neither skips what the other has not done.
import type { ChangeRecord, Provenance, Text } from './types.js';

/** Who sent an instance, as its row says now. */
export interface ChangeSource {
  callingAE: Text;
  calledAE: Text;
  remoteAddress: Text;
  source: Provenance['source'];
}

/** One change of the log, with the provenance of its instance. */
export interface FollowedChange {
  seq: number;
  kind: ChangeRecord['kind'];
  sopInstanceUID: string;
  studyUID: string;
  /**
   * The instance's row as it is now, not as it was at this change: null when it was deleted
   * since; a replaced instance shows its latest sender (its file is the latest content too).
   */
  source: ChangeSource | null;
}

export interface CursorStore {
  /**
   * Where the cursor `name` stands. A cursor new to this index starts at the current end of the
   * log (what was committed before it existed is not replayed) and is recorded there.
   */
  position(name: string): Promise<number>;
  /** Where the cursor `name` stands, or null when there is none (unlike `position`, nothing is made). */
  find(name: string): Promise<number | null>;
  /** Moves the cursor to `seq` unless it is further already; resolves with where it stands now. */
  advance(name: string, seq: number): Promise<number>;
  /** Moves the cursor to the end of the log (nothing to do for what is there); resolves with where it stands. */
  advanceToEnd(name: string): Promise<number>;
  /** The changes after `seq`, oldest first, at most `limit`, each with its instance's provenance. */
  changesAfter(seq: number, limit: number): Promise<FollowedChange[]>;
  /**
   * SOP Instance UIDs of the study's instances stored or replaced by changes in (after, upTo];
   * null when the log was pruned past `after` (the range cannot be read whole: take every
   * instance of the study).
   */
  changedInstances(studyUID: string, after: number, upTo: number): Promise<Set<string> | null>;
  /**
   * Forgets changes made before `before` that no cursor following the log still needs, at most
   * `limit`; resolves with how many went.
   */
  pruneChanges(before: Date, limit: number): Promise<number>;
  /** Removes the rules' cursors of studies and series no longer in the index; resolves with how many. */
  pruneActed(): Promise<number>;
}
