// Worklist entries and MPPS instances on PostgreSQL (tables of migration 5). Datasets stay
// JSON text, as on SQLite: the dataset is returned as it was stored, never queried in SQL.
import { prefixSuccessor } from '../query/matching.js';
import type { JsonDataset } from '../../dicom/json.js';
import {
  type MppsRecord,
  type MppsStore,
  type StepReference,
  type WorklistEntry,
  type WorklistFilter,
  type WorklistSource,
  type WorklistStore,
  performedStatus,
} from '../workflow.js';
import { type Db, type PgTransact, limitParam, named } from './db.js';
import { type EntryRow, type MppsRow, entryColumns, toEntry, toMpps } from '../row-maps.js';

async function rows<R extends object>(db: Db, sql: string, params: Record<string, unknown>): Promise<R[]> {
  const [text, values] = named(sql, params);
  return (await db.query<R>(text, values)).rows;
}

// json_each(@statuses) of the SQLite store becomes an array parameter: = ANY(text[]).
const FILTER = `(@statuses::text[] IS NULL OR status = ANY(@statuses::text[]))
  AND (@source::text IS NULL OR source = @source) AND (@patient::text IS NULL OR patient_id = @patient)`;

export class PgWorklistStore implements WorklistStore {
  constructor(private readonly transact: PgTransact) {}

  add(source: WorklistSource, sourceKey: string | null, dataset: JsonDataset): Promise<WorklistEntry> {
    return this.transact('write', async (db) => {
      const [r] = await rows<EntryRow>(
        db,
        `INSERT INTO worklist_entries (source, source_key, status, accession_number, patient_id, sps_id, study_instance_uid, dataset, created_at, updated_at)
         VALUES (@source, @key, @status, @accession, @patient, @sps, @study, @dataset, @now, @now) RETURNING *`,
        { source, key: sourceKey, now: Date.now(), ...entryColumns(dataset) },
      );
      if (r === undefined) throw new Error('worklist insert returned no row');
      return toEntry(r);
    });
  }

  replace(id: number, dataset: JsonDataset, revision?: string): Promise<WorklistEntry | null | 'stale'> {
    return this.transact('write', async (db) => {
      // Read committed: an UPDATE meeting a row another transaction changed waits for it, then
      // checks the revision on the new row — the loser of a race changes nothing.
      const [r] = await rows<EntryRow>(
        db,
        `UPDATE worklist_entries SET status = @status, accession_number = @accession, patient_id = @patient, sps_id = @sps,
         study_instance_uid = @study, dataset = @dataset, updated_at = @now WHERE pk = @id AND (@revision::text IS NULL OR dataset = @revision) RETURNING *`,
        { id, now: Date.now(), revision: revision ?? null, ...entryColumns(dataset) },
      );
      if (r) return toEntry(r);
      if (revision === undefined) return null;
      return (await db.query('SELECT 1 FROM worklist_entries WHERE pk = $1', [id])).rowCount ? 'stale' : null;
    });
  }

  get(id: number): Promise<WorklistEntry | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<EntryRow>('SELECT * FROM worklist_entries WHERE pk = $1', [id])).rows[0];
      return r ? toEntry(r) : null;
    });
  }

  bySourceKey(source: WorklistSource, sourceKey: string): Promise<WorklistEntry | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<EntryRow>('SELECT * FROM worklist_entries WHERE source = $1 AND source_key = $2', [source, sourceKey])).rows[0];
      return r ? toEntry(r) : null;
    });
  }

  bySourceKeyPrefix(source: WorklistSource, prefix: string): Promise<WorklistEntry[]> {
    return this.transact('read', async (db) => {
      // A range of the (source, source_key) index (COLLATE "C": code point order), then the
      // prefix itself; left and char_length count characters, as the key was written: no LIKE,
      // whose % and _ a key may hold.
      const after = prefixSuccessor(prefix) ?? '\u{10FFFF}'.repeat(prefix.length + 1);
      const sql =
        'SELECT * FROM worklist_entries WHERE source = $1 AND source_key >= $2::text AND source_key < $3::text AND left(source_key, char_length($2::text)) = $2::text ORDER BY pk';
      return (await db.query<EntryRow>(sql, [source, prefix, after])).rows.map(toEntry);
    });
  }

  sourceKeys(source: WorklistSource): Promise<{ id: number; sourceKey: string | null }[]> {
    return this.transact('read', async (db) =>
      (await db.query<{ pk: number; source_key: string | null }>('SELECT pk, source_key FROM worklist_entries WHERE source = $1', [source])).rows.map((r) => ({ id: r.pk, sourceKey: r.source_key })),
    );
  }

  list(f: WorklistFilter): Promise<{ entries: WorklistEntry[]; total: number }> {
    const params = { statuses: f.statuses ? [...f.statuses] : null, source: f.source ?? null, patient: f.patientID ?? null };
    return this.transact('read', async (db) => {
      const entries = await rows<EntryRow>(db, `SELECT * FROM worklist_entries WHERE ${FILTER} ORDER BY pk ${f.newestFirst ? 'DESC' : 'ASC'} LIMIT @limit OFFSET @offset`, { ...params, limit: limitParam(f.limit), offset: f.offset });
      const [count] = await rows<{ n: number }>(db, `SELECT count(*) AS n FROM worklist_entries WHERE ${FILTER}`, params);
      return { entries: entries.map(toEntry), total: count?.n ?? 0 };
    });
  }

  findByStep(ref: StepReference): Promise<WorklistEntry[]> {
    const params = { sps: ref.scheduledProcedureStepID, study: ref.studyInstanceUID, accession: ref.accessionNumber };
    return this.transact('read', async (db) => {
      const sql = ref.scheduledProcedureStepID
        ? 'SELECT * FROM worklist_entries WHERE sps_id = @sps AND (study_instance_uid = @study OR accession_number = @accession) ORDER BY pk'
        : 'SELECT * FROM worklist_entries WHERE study_instance_uid = @study OR accession_number = @accession ORDER BY pk';
      const p = ref.scheduledProcedureStepID ? params : { study: params.study, accession: params.accession };
      return (await rows<EntryRow>(db, sql, p)).map(toEntry);
    });
  }

  remove(id: number): Promise<boolean> {
    return this.transact('write', async (db) => (await db.query('DELETE FROM worklist_entries WHERE pk = $1', [id])).rowCount > 0);
  }
}

export class PgMppsStore implements MppsStore {
  constructor(private readonly transact: PgTransact) {}

  create(uid: string, ae: string, dataset: JsonDataset, followUpAt: number): Promise<MppsRecord | null> {
    return this.transact('write', async (db) => {
      const r = await db.query<MppsRow>(
        `INSERT INTO mpps_instances (sop_instance_uid, status, calling_ae, dataset, created_at, updated_at, follow_up_at, follow_up_tries)
         VALUES ($1, $2, $3, $4, $5, $5, $6, 0) ON CONFLICT (sop_instance_uid) DO NOTHING RETURNING *`,
        [uid, performedStatus(dataset) ?? '', ae, JSON.stringify(dataset), Date.now(), followUpAt],
      );
      return r.rows[0] ? toMpps(r.rows[0]) : null;
    });
  }

  get(uid: string): Promise<MppsRecord | null> {
    return this.transact('read', async (db) => {
      const r = (await db.query<MppsRow>('SELECT * FROM mpps_instances WHERE sop_instance_uid = $1', [uid])).rows[0];
      return r ? toMpps(r) : null;
    });
  }

  update(uid: string, dataset: JsonDataset, revision: string, followUpAt: number): Promise<MppsRecord | 'missing' | 'final' | 'stale'> {
    return this.transact('write', async (db) => {
      // The row lock of the UPDATE makes a second server's UPDATE of the step wait and then
      // re-check its WHERE on the new row: the dataset no longer equals its revision, 0 rows.
      const r = await db.query<MppsRow>(
        `UPDATE mpps_instances SET status = $1, dataset = $2, updated_at = $3, follow_up_at = $6, follow_up_tries = 0
         WHERE sop_instance_uid = $4 AND status = 'IN PROGRESS' AND dataset = $5 RETURNING *`,
        [performedStatus(dataset) ?? '', JSON.stringify(dataset), Date.now(), uid, revision, followUpAt],
      );
      if (r.rows[0]) return toMpps(r.rows[0]);
      const now = (await db.query<{ status: string }>('SELECT status FROM mpps_instances WHERE sop_instance_uid = $1', [uid])).rows[0];
      return !now ? 'missing' : now.status !== 'IN PROGRESS' ? 'final' : 'stale';
    });
  }

  followedUp(uid: string, revision: string): Promise<void> {
    return this.transact('write', async (db) => {
      await db.query('UPDATE mpps_instances SET follow_up_at = NULL, follow_up_tries = 0 WHERE sop_instance_uid = $1 AND dataset = $2', [uid, revision]);
    });
  }

  claimFollowUps(now: number, limit: number, delayMs: (tries: number) => number): Promise<MppsRecord[]> {
    return this.transact('write', async (db) => {
      // Rows another server is taking at this moment are passed over (SKIP LOCKED), not waited for.
      const due = await db.query<MppsRow>('SELECT * FROM mpps_instances WHERE follow_up_at <= $1 ORDER BY follow_up_at LIMIT $2 FOR UPDATE SKIP LOCKED', [now, limit]);
      const taken: MppsRecord[] = [];
      for (const r of due.rows) {
        const c = await db.query<MppsRow>('UPDATE mpps_instances SET follow_up_at = $1, follow_up_tries = follow_up_tries + 1 WHERE sop_instance_uid = $2 RETURNING *', [now + delayMs(r.follow_up_tries), r.sop_instance_uid]);
        taken.push(toMpps(c.rows[0]!));
      }
      return taken;
    });
  }

  list(f: { status?: string; limit: number; offset: number }): Promise<{ items: MppsRecord[]; total: number }> {
    return this.transact('read', async (db) => {
      const status = f.status ?? null;
      const items = await db.query<MppsRow>('SELECT * FROM mpps_instances WHERE ($1::text IS NULL OR status = $1) ORDER BY updated_at DESC LIMIT $2 OFFSET $3', [status, limitParam(f.limit), f.offset]);
      const total = await db.query<{ n: number }>('SELECT count(*) AS n FROM mpps_instances WHERE ($1::text IS NULL OR status = $1)', [status]);
      return { items: items.rows.map(toMpps), total: total.rows[0]?.n ?? 0 };
    });
  }
}
