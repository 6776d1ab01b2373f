// Retention on PostgreSQL: studies.protected (migration 8) and the oldest studies first, from
// the (protected, last_received_at) index.
import { candidateWhere, type CandidateFilter, type PassOutcome, type RetentionCandidate, type RetentionStore } from '../retention.js';
import type { PgTransact } from './db.js';

interface Row {
  study_instance_uid: string;
  size_bytes: string | number;
  last_received_at: string | number;
  protected: number;
}

export class PgRetentionStore implements RetentionStore {
  constructor(
    private readonly transact: PgTransact,
    /** A cluster-wide lock of the index (PgInstanceLocks.tryHold). */
    private readonly tryHold: <T>(name: string, fn: (lost: AbortSignal) => Promise<T>) => Promise<PassOutcome<T>>,
  ) {}

  eligible(o: CandidateFilter): Promise<{ studies: number; bytes: number }> {
    return this.transact('read', async (db) => {
      const sql = `SELECT count(*) AS studies, coalesce(sum(size_bytes), 0) AS bytes FROM studies ${candidateWhere(o, '$1')}`;
      const row = (await db.query<{ studies: string | number; bytes: string | number }>(sql, o.receivedBefore ? [o.receivedBefore.getTime()] : [])).rows[0]!;
      return { studies: Number(row.studies), bytes: Number(row.bytes) };
    });
  }

  /** A session advisory lock: one pass at a time for every server sharing this index. */
  exclusivePass<T>(fn: (lost: AbortSignal) => Promise<T>): Promise<PassOutcome<T>> {
    return this.tryHold('retention', fn);
  }

  setProtected(studyInstanceUID: string, value: boolean): Promise<boolean> {
    return this.transact('write', async (db) => {
      const r = await db.query('UPDATE studies SET protected = $1, updated_at = $2 WHERE study_instance_uid = $3', [value ? 1 : 0, Date.now(), studyInstanceUID]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  isProtected(studyInstanceUID: string): Promise<boolean | null> {
    return this.transact('read', async (db) => {
      const row = (await db.query<{ protected: number }>('SELECT protected FROM studies WHERE study_instance_uid = $1', [studyInstanceUID])).rows[0];
      return row === undefined ? null : row.protected === 1;
    });
  }

  received(sopInstanceUID: string, at: Date): Promise<void> {
    return this.transact('write', async (db) => {
      await db.query(
        `UPDATE studies SET last_received_at = GREATEST($1, last_received_at + 1)
         WHERE pk = (SELECT se.study_fk FROM instances i JOIN series se ON se.pk = i.series_fk WHERE i.sop_instance_uid = $2)`,
        [at.getTime(), sopInstanceUID],
      );
    });
  }

  protectedStudies(): Promise<string[]> {
    return this.transact('read', async (db) =>
      (await db.query<{ study_instance_uid: string }>('SELECT study_instance_uid FROM studies WHERE protected = 1')).rows.map((r) => r.study_instance_uid),
    );
  }

  oldest(o: CandidateFilter & { limit: number }): Promise<RetentionCandidate[]> {
    return this.transact('read', async (db) => {
      const params: unknown[] = [o.limit, ...(o.receivedBefore ? [o.receivedBefore.getTime()] : [])];
      const rows = (
        await db.query<Row>(
          `SELECT study_instance_uid, size_bytes, last_received_at, protected FROM studies
           ${candidateWhere(o, '$2')} ORDER BY last_received_at, pk LIMIT $1`,
          params,
        )
      ).rows;
      return rows.map((r) => ({ studyInstanceUID: r.study_instance_uid, sizeBytes: Number(r.size_bytes), lastReceivedAt: new Date(Number(r.last_received_at)), protected: r.protected === 1 }));
    });
  }
}
