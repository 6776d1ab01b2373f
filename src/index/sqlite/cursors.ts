// Change-log cursors on SQLite (../cursors.ts). One process writes at a time (IMMEDIATE
// transactions), so the upserts' "never back" is all that two processes sharing the file need.
import type Database from 'better-sqlite3';
import type { CursorStore, FollowedChange } from '../cursors.js';
import { CHANGE_WINDOW, PRUNED_CURSOR, advanceSql, advanceToEndSql, changedInstancesSql, changesAfterSql, createAtEndSql, positionSql, pruneActedSql, pruneChangesSql, pruneFloorSql } from '../cursor-sql.js';
import { type FollowedChangeRow, toFollowedChange } from '../row-maps.js';
import type { Transact } from './jobs.js';

export class SqliteCursorStore implements CursorStore {
  private readonly s;

  constructor(db: Database.Database, private readonly transact: Transact) {
    const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    this.s = {
      position: p<{ seq: number }>(positionSql('?')),
      createAtEnd: p(createAtEndSql('?')),
      advance: p(advanceSql('?', '?')),
      advanceToEnd: p(advanceToEndSql('?')),
      changesAfter: p<FollowedChangeRow>(changesAfterSql('?', '?')),
      changedInstances: p<{ uid: string }>(changedInstancesSql('?', '?', '?')),
      prune: (['STUDY', 'SERIES'] as const).map((level) => p(pruneActedSql(level, 'instr'))),
      floor: p<{ floor: number | null }>(pruneFloorSql('?')),
      pruneChanges: p(pruneChangesSql('?', '?')),
    };
  }

  async position(name: string): Promise<number> {
    // A read first: the cursor exists but for the first look ever, and a read takes no write lock.
    const seq = await this.transact('read', () => this.s.position.get(name)?.seq);
    if (seq !== undefined) return seq;
    return this.transact('write', () => {
      this.s.createAtEnd.run(name);
      return this.s.position.get(name)!.seq;
    });
  }

  async find(name: string): Promise<number | null> {
    return (await this.transact('read', () => this.s.position.get(name)?.seq)) ?? null;
  }

  advance(name: string, seq: number): Promise<number> {
    return this.transact('write', () => {
      this.s.advance.run(name, seq);
      return this.s.position.get(name)!.seq;
    });
  }

  advanceToEnd(name: string): Promise<number> {
    return this.transact('write', () => {
      this.s.advanceToEnd.run(name);
      return this.s.position.get(name)!.seq;
    });
  }

  changesAfter(seq: number, limit: number): Promise<FollowedChange[]> {
    return this.transact('read', () => this.s.changesAfter.all(seq, Math.max(0, Math.trunc(limit))).map(toFollowedChange));
  }

  async changedInstances(studyUID: string, after: number, upTo: number): Promise<Set<string> | null> {
    const found = new Set<string>();
    // In windows of the log: a study that grows months after a rule acted on it scans months of
    // changes, which must not hold the event loop (or the write lock) in one piece.
    for (let from = after; from < upTo; from += CHANGE_WINDOW) {
      const to = Math.min(upTo, from + CHANGE_WINDOW);
      for (const r of await this.transact('read', () => this.s.changedInstances.all(studyUID, from, to))) found.add(r.uid);
    }
    // Looked at last: a prune while the windows were read is seen too.
    return after < ((await this.find(PRUNED_CURSOR)) ?? 0) ? null : found;
  }

  pruneChanges(before: Date, limit: number): Promise<number> {
    return this.transact('write', () => {
      const floor = this.s.floor.get(before.getTime())?.floor ?? null;
      if (floor === null || floor <= 0) return 0;
      // Said before the rows go: a reader of a range behind it takes the whole study instead.
      this.s.advance.run(PRUNED_CURSOR, floor);
      return this.s.pruneChanges.run(floor, Math.max(1, Math.trunc(limit))).changes;
    });
  }

  pruneActed(): Promise<number> {
    return this.transact('write', () => this.s.prune.reduce((n, statement) => n + statement.run().changes, 0));
  }
}
