// Change-log cursors on PostgreSQL (../cursors.ts), for servers sharing one index. The upserts
// never move a cursor back, and an upsert on the one row is atomic under READ COMMITTED (a
// concurrent one waits for the row and re-checks its WHERE against the committed value), so two
// servers advancing at once leave the further position. Change sequence numbers become visible
// in order (writer.ts takes a lock for the change-log insert until commit), so a cursor at n
// never has a smaller change appear behind it later.
import type { CursorStore, FollowedChange } from '../cursors.js';
import { CHANGE_WINDOW, PRUNED_CURSOR, advanceSql, advanceToEndSql, changedInstancesSql, changesAfterSql, createAtEndSql, positionSql, pruneActedSql, pruneChangesSql, pruneFloorSql } from '../cursor-sql.js';
import { type FollowedChangeRow, toFollowedChange } from '../row-maps.js';
import type { Db, PgTransact } from './db.js';

// $1::text: a parameter in a SELECT list has no type PostgreSQL can infer on its own.
const POSITION = positionSql('$1');
const CREATE_AT_END = createAtEndSql('$1::text');
const ADVANCE = advanceSql('$1', '$2');
const ADVANCE_TO_END = advanceToEndSql('$1::text');
const CHANGES_AFTER = changesAfterSql('$1', '$2');
const CHANGED_INSTANCES = changedInstancesSql('$1', '$2', '$3');
const PRUNE_FLOOR = pruneFloorSql('$1::bigint');
const PRUNE_CHANGES = pruneChangesSql('$1', '$2');

const positionOf = async (db: Db, name: string): Promise<number | undefined> => (await db.query<{ seq: number }>(POSITION, [name])).rows[0]?.seq;

export class PgCursorStore implements CursorStore {
  constructor(private readonly transact: PgTransact) {}

  async position(name: string): Promise<number> {
    const seq = await this.transact('read', (db) => positionOf(db, name));
    if (seq !== undefined) return seq;
    return this.transact('write', async (db) => {
      await db.query(CREATE_AT_END, [name]);
      return (await positionOf(db, name)) ?? 0;
    });
  }

  async find(name: string): Promise<number | null> {
    return (await this.transact('read', (db) => positionOf(db, name))) ?? null;
  }

  advance(name: string, seq: number): Promise<number> {
    return this.transact('write', async (db) => {
      await db.query(ADVANCE, [name, seq]);
      return (await positionOf(db, name)) ?? seq;
    });
  }

  advanceToEnd(name: string): Promise<number> {
    return this.transact('write', async (db) => {
      await db.query(ADVANCE_TO_END, [name]);
      return (await positionOf(db, name)) ?? 0;
    });
  }

  changesAfter(seq: number, limit: number): Promise<FollowedChange[]> {
    return this.transact('read', async (db) => (await db.query<FollowedChangeRow>(CHANGES_AFTER, [seq, Math.max(0, Math.trunc(limit))])).rows.map(toFollowedChange));
  }

  async changedInstances(studyUID: string, after: number, upTo: number): Promise<Set<string> | null> {
    const found = new Set<string>();
    // In windows of the log, as on SQLite: no one statement scans months of changes.
    for (let from = after; from < upTo; from += CHANGE_WINDOW) {
      const to = Math.min(upTo, from + CHANGE_WINDOW);
      for (const r of await this.transact('read', async (db) => (await db.query<{ uid: string }>(CHANGED_INSTANCES, [studyUID, from, to])).rows)) found.add(r.uid);
    }
    // Looked at last: a prune while the windows were read is seen too.
    return after < ((await this.find(PRUNED_CURSOR)) ?? 0) ? null : found;
  }

  pruneChanges(before: Date, limit: number): Promise<number> {
    return this.transact('write', async (db) => {
      const floor = (await db.query<{ floor: number | null }>(PRUNE_FLOOR, [before.getTime()])).rows[0]?.floor ?? null;
      if (floor === null || floor <= 0) return 0;
      // Said before the rows go, in the same transaction: a reader of a range behind it takes the whole study.
      await db.query(ADVANCE, [PRUNED_CURSOR, floor]);
      return (await db.query(PRUNE_CHANGES, [floor, Math.max(1, Math.trunc(limit))])).rowCount ?? 0;
    });
  }

  pruneActed(): Promise<number> {
    return this.transact('write', async (db) => {
      let removed = 0;
      for (const level of ['STUDY', 'SERIES'] as const) removed += (await db.query(pruneActedSql(level, 'strpos'))).rowCount ?? 0;
      return removed;
    });
  }
}
