// Retention on SQLite: the studies.protected column (migration "retention: protected studies")
// and the oldest studies first, from the (protected, last_received_at) index.
import type Database from 'better-sqlite3';
import { candidateWhere, type CandidateFilter, type PassOutcome, type RetentionCandidate, type RetentionStore } from '../retention.js';
import type { Transact } from './jobs.js';

/**
 * Database files a retention pass runs on in this process. A SQLite index has one server (the
 * CLI's tools never run retention), so a hold in memory is a hold on the whole index; keyed by
 * file so that two SqliteIndex objects on one file (tests, tools) still share it (an index in
 * memory by its store object).
 */
const passes = new Set<unknown>();

interface Row {
  study_instance_uid: string;
  size_bytes: number;
  last_received_at: number;
  protected: number;
}

export class SqliteRetentionStore implements RetentionStore {
  constructor(
    private readonly db: Database.Database,
    private readonly transact: Transact,
  ) {}

  setProtected(studyInstanceUID: string, value: boolean): Promise<boolean> {
    return this.transact('write', () => {
      const r = this.db.prepare('UPDATE studies SET protected = ?, updated_at = ? WHERE study_instance_uid = ?').run(value ? 1 : 0, Date.now(), studyInstanceUID);
      return r.changes > 0;
    });
  }

  isProtected(studyInstanceUID: string): Promise<boolean | null> {
    return this.transact('read', () => {
      const v = this.db.prepare('SELECT protected FROM studies WHERE study_instance_uid = ?').pluck().get(studyInstanceUID) as number | undefined;
      return v === undefined ? null : v === 1;
    });
  }

  received(sopInstanceUID: string, at: Date): Promise<void> {
    return this.transact('write', () => {
      this.db
        .prepare(
          `UPDATE studies SET last_received_at = max(@at, last_received_at + 1)
           WHERE pk = (SELECT se.study_fk FROM instances i JOIN series se ON se.pk = i.series_fk WHERE i.sop_instance_uid = @uid)`,
        )
        .run({ at: at.getTime(), uid: sopInstanceUID });
    });
  }

  protectedStudies(): Promise<string[]> {
    return this.transact('read', () => this.db.prepare('SELECT study_instance_uid FROM studies WHERE protected = 1').pluck().all() as string[]);
  }

  oldest(o: CandidateFilter & { limit: number }): Promise<RetentionCandidate[]> {
    return this.transact('read', () => {
      const sql = `SELECT study_instance_uid, size_bytes, last_received_at, protected FROM studies
        ${candidateWhere(o, '@before')} ORDER BY last_received_at, pk LIMIT @limit`;
      const rows = this.db.prepare(sql).all({ limit: o.limit, ...(o.receivedBefore ? { before: o.receivedBefore.getTime() } : {}) }) as Row[];
      return rows.map((r) => ({ studyInstanceUID: r.study_instance_uid, sizeBytes: r.size_bytes, lastReceivedAt: new Date(r.last_received_at), protected: r.protected === 1 }));
    });
  }

  eligible(o: CandidateFilter): Promise<{ studies: number; bytes: number }> {
    return this.transact('read', () => {
      const sql = `SELECT count(*) AS studies, coalesce(sum(size_bytes), 0) AS bytes FROM studies ${candidateWhere(o, '@before')}`;
      return this.db.prepare(sql).get(o.receivedBefore ? { before: o.receivedBefore.getTime() } : {}) as { studies: number; bytes: number };
    });
  }

  async exclusivePass<T>(fn: (lost: AbortSignal) => Promise<T>): Promise<PassOutcome<T>> {
    const key: unknown = this.db.memory ? this : this.db.name;
    if (passes.has(key)) return { ran: false };
    passes.add(key);
    try {
      // Nothing can take the hold away in one process: `lost` never aborts.
      return { ran: true, value: await fn(new AbortController().signal) };
    } finally {
      passes.delete(key);
    }
  }
}
