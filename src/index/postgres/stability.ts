// Stability tracking on PostgreSQL. The cursor row is locked (FOR UPDATE) for the catch-up, so
// two servers never read the same stretch of the change log at once; markStable's conditional
// UPDATE succeeds for one of them only, so each "stable" event is given once per cluster.
import { PRUNE_GONE, type StabilityEntry, type StabilityLevel, type StabilityStore } from '../stability.js';
import type { PgTransact } from './db.js';
import { type StabilityRow, toStabilityEntry } from '../row-maps.js';

// SQLite applies its INSERT … SELECT row by row in seq order; PostgreSQL refuses to touch one
// row twice in an ON CONFLICT, so the changes are reduced first to one row per series or study:
// its latest change (DISTINCT ON … seq DESC) with the latest arrival time of all of them.
const upsert = (level: StabilityLevel, uidColumn: string): string => `
INSERT INTO stability (level, uid, study_uid, last_received_at, last_change_seq, sop_instance_uid, calling_ae, called_ae, remote_address, pending)
SELECT DISTINCT ON (u) '${level}', u, study_uid, max(at) OVER (PARTITION BY u), seq, sop_instance_uid, calling_ae, called_ae, remote_address, 1
FROM (SELECT ${uidColumn} AS u, st.study_instance_uid AS study_uid, c.at, c.seq, i.sop_instance_uid, i.calling_ae, i.called_ae, i.remote_address
  FROM changes c
  JOIN instances i ON i.sop_instance_uid = c.uid
  JOIN series se ON se.pk = i.series_fk
  JOIN studies st ON st.pk = se.study_fk
  WHERE c.seq > $1 AND c.seq <= $2 AND c.kind IN ('instance.stored', 'instance.replaced') AND i.source <> 'reindex') AS latest
ORDER BY u, seq DESC
ON CONFLICT (level, uid) DO UPDATE SET
  last_received_at = greatest(stability.last_received_at, excluded.last_received_at),
  last_change_seq = excluded.last_change_seq,
  sop_instance_uid = excluded.sop_instance_uid,
  calling_ae = excluded.calling_ae,
  called_ae = excluded.called_ae,
  remote_address = excluded.remote_address,
  pending = 1
WHERE excluded.last_change_seq > stability.last_change_seq`;

const SERIES = upsert('series', 'se.series_instance_uid');
const STUDY = upsert('study', 'st.study_instance_uid');

export class PgStabilityStore implements StabilityStore {
  constructor(private readonly transact: PgTransact) {}

  catchUp(limit: number): Promise<number> {
    return this.transact('write', async (db) => {
      await db.query('INSERT INTO stability_cursor (id, seq) VALUES (1, 0) ON CONFLICT (id) DO NOTHING');
      const from = (await db.query<{ seq: number }>('SELECT seq FROM stability_cursor WHERE id = 1 FOR UPDATE')).rows[0]?.seq ?? 0;
      const range = (
        await db.query<{ seq: number | null; n: number }>('SELECT max(seq) AS seq, count(*) AS n FROM (SELECT seq FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2) AS c', [from, limit])
      ).rows[0];
      if (range === undefined || range.seq === null) return 0;
      await db.query(SERIES, [from, range.seq]);
      await db.query(STUDY, [from, range.seq]);
      await db.query('UPDATE stability_cursor SET seq = $1 WHERE id = 1', [range.seq]);
      return range.n;
    });
  }

  due(before: Date, limit: number): Promise<StabilityEntry[]> {
    return this.transact('read', async (db) =>
      (await db.query<StabilityRow>(`SELECT * FROM stability WHERE pending = 1 AND last_received_at <= $1 ORDER BY level = 'study', last_received_at LIMIT $2`, [before.getTime(), limit])).rows.map(toStabilityEntry),
    );
  }

  markStable(level: StabilityLevel, uid: string, lastChangeSeq: number, at: Date): Promise<boolean> {
    return this.transact('write', async (db) =>
      (await db.query(`UPDATE stability SET pending = 0, stable_at = $1 WHERE level = $2 AND uid = $3 AND last_change_seq = $4 AND pending = 1`, [at.getTime(), level, uid, lastChangeSeq])).rowCount > 0,
    );
  }

  pending(limit: number): Promise<StabilityEntry[]> {
    return this.transact('read', async (db) => (await db.query<StabilityRow>('SELECT * FROM stability WHERE pending = 1 ORDER BY last_received_at LIMIT $1', [limit])).rows.map(toStabilityEntry));
  }

  pruneGone(): Promise<number> {
    return this.transact('write', async (db) => (await db.query(PRUNE_GONE)).rowCount);
  }
}
