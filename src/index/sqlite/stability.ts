// Stability tracking on SQLite: one INSERT … SELECT from the change log per catch-up, so the
// series and study rows move on in the same transaction as the cursor.
import type Database from 'better-sqlite3';
import { PRUNE_GONE, type StabilityEntry, type StabilityLevel, type StabilityStore } from '../stability.js';
import type { Transact } from './jobs.js';
import { type StabilityRow, toStabilityEntry } from '../row-maps.js';

// One upsert per level; the latest change wins the "latest instance" columns, and any new
// change makes the row pending again.
const upsert = (level: StabilityLevel, uidColumn: string): string => `
INSERT INTO stability (level, uid, study_uid, last_received_at, last_change_seq, sop_instance_uid, calling_ae, called_ae, remote_address, pending)
SELECT '${level}', ${uidColumn}, st.study_instance_uid, c.at, c.seq, i.sop_instance_uid, i.calling_ae, i.called_ae, i.remote_address, 1
FROM changes c
JOIN instances i ON i.sop_instance_uid = c.uid
JOIN series se ON se.pk = i.series_fk
JOIN studies st ON st.pk = se.study_fk
WHERE c.seq > @from AND c.seq <= @to AND c.kind IN ('instance.stored', 'instance.replaced') AND i.source <> 'reindex'
ORDER BY c.seq
ON CONFLICT (level, uid) DO UPDATE SET
  last_received_at = max(last_received_at, excluded.last_received_at),
  last_change_seq = excluded.last_change_seq,
  sop_instance_uid = excluded.sop_instance_uid,
  calling_ae = excluded.calling_ae,
  called_ae = excluded.called_ae,
  remote_address = excluded.remote_address,
  pending = 1
WHERE excluded.last_change_seq > stability.last_change_seq`;

export class SqliteStabilityStore implements StabilityStore {
  private readonly s;

  constructor(db: Database.Database, private readonly transact: Transact) {
    const p = <R = unknown>(sql: string) => db.prepare<unknown[], R>(sql);
    this.s = {
      cursor: p<{ seq: number }>('SELECT seq FROM stability_cursor WHERE id = 1'),
      setCursor: p('INSERT INTO stability_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq'),
      upTo: p<{ seq: number | null; n: number }>('SELECT max(seq) AS seq, count(*) AS n FROM (SELECT seq FROM changes WHERE seq > ? ORDER BY seq LIMIT ?)'),
      series: p(upsert('series', 'se.series_instance_uid')),
      study: p(upsert('study', 'st.study_instance_uid')),
      due: p<StabilityRow>(`SELECT * FROM stability WHERE pending = 1 AND last_received_at <= ? ORDER BY level = 'study', last_received_at LIMIT ?`),
      mark: p(`UPDATE stability SET pending = 0, stable_at = ? WHERE level = ? AND uid = ? AND last_change_seq = ? AND pending = 1`),
      pending: p<StabilityRow>('SELECT * FROM stability WHERE pending = 1 ORDER BY last_received_at LIMIT ?'),
      pruneGone: p(PRUNE_GONE),
    };
  }

  catchUp(limit: number): Promise<number> {
    return this.transact('write', () => {
      const from = this.s.cursor.get()?.seq ?? 0;
      const { seq: to, n } = this.s.upTo.get(from, limit)!;
      if (to === null) return 0;
      this.s.series.run({ from, to });
      this.s.study.run({ from, to });
      this.s.setCursor.run(to);
      return n;
    });
  }

  due(before: Date, limit: number): Promise<StabilityEntry[]> {
    return this.transact('read', () => this.s.due.all(before.getTime(), limit).map(toStabilityEntry));
  }

  markStable(level: StabilityLevel, uid: string, lastChangeSeq: number, at: Date): Promise<boolean> {
    return this.transact('write', () => this.s.mark.run(at.getTime(), level, uid, lastChangeSeq).changes > 0);
  }

  pending(limit: number): Promise<StabilityEntry[]> {
    return this.transact('read', () => this.s.pending.all(limit).map(toStabilityEntry));
  }

  pruneGone(): Promise<number> {
    return this.transact('write', () => this.s.pruneGone.run().changes);
  }
}
