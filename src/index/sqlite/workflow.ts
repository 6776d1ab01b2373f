// Worklist entries and MPPS instances on SQLite (tables of migration 4).
import { prefixSuccessor } from '../query/matching.js';
import type Database from 'better-sqlite3';
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
import type { Transact } from './jobs.js';
import { type EntryRow, type MppsRow, entryColumns, toEntry, toMpps } from '../row-maps.js';

export class SqliteWorklistStore implements WorklistStore {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly transact: Transact,
  ) {
    const p = <R = EntryRow>(sql: string) => db.prepare<unknown[], R>(sql);
    const list = (order: string) =>
      p(`SELECT * FROM worklist_entries WHERE (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
        AND (@source IS NULL OR source = @source) AND (@patient IS NULL OR patient_id = @patient) ORDER BY pk ${order} LIMIT @limit OFFSET @offset`);
    this.s = {
      insert: p(`INSERT INTO worklist_entries (source, source_key, status, accession_number, patient_id, sps_id, study_instance_uid, dataset, created_at, updated_at)
        VALUES (@source, @key, @status, @accession, @patient, @sps, @study, @dataset, @now, @now) RETURNING *`),
      replace: p(`UPDATE worklist_entries SET status = @status, accession_number = @accession, patient_id = @patient, sps_id = @sps,
        study_instance_uid = @study, dataset = @dataset, updated_at = @now WHERE pk = @id AND (@revision IS NULL OR dataset = @revision) RETURNING *`),
      get: p('SELECT * FROM worklist_entries WHERE pk = ?'),
      bySource: p('SELECT * FROM worklist_entries WHERE source = ? AND source_key = ?'),
      // substr and length count characters, as the key was written: no LIKE, whose % and _ a key may hold.
      // A range of the (source, source_key) index, then the prefix itself: the substr test alone
      // read every entry of the source (every HL7 order ever kept) for each cancel.
      bySourcePrefix: p(
        'SELECT * FROM worklist_entries WHERE source = @source AND source_key >= @prefix AND source_key < @after AND substr(source_key, 1, length(@prefix)) = @prefix ORDER BY pk',
      ),
      // Only the columns of the (source, source_key) index: read from it alone, no dataset parsed.
      sourceKeys: db.prepare<[string], { pk: number; source_key: string | null }>('SELECT pk, source_key FROM worklist_entries WHERE source = ?'),
      list: list('ASC'),
      listNewest: list('DESC'),
      count: p<{ n: number }>(`SELECT count(*) AS n FROM worklist_entries WHERE (@statuses IS NULL OR status IN (SELECT value FROM json_each(@statuses)))
        AND (@source IS NULL OR source = @source) AND (@patient IS NULL OR patient_id = @patient)`),
      bySps: p('SELECT * FROM worklist_entries WHERE sps_id = @sps AND (study_instance_uid = @study OR accession_number = @accession) ORDER BY pk'),
      byStudy: p('SELECT * FROM worklist_entries WHERE study_instance_uid = @study OR accession_number = @accession ORDER BY pk'),
      remove: db.prepare<[number]>('DELETE FROM worklist_entries WHERE pk = ?'),
    };
  }

  add(source: WorklistSource, sourceKey: string | null, dataset: JsonDataset): Promise<WorklistEntry> {
    return this.transact('write', () => toEntry(this.s.insert.get({ source, key: sourceKey, now: Date.now(), ...entryColumns(dataset) })!));
  }

  replace(id: number, dataset: JsonDataset, revision?: string): Promise<WorklistEntry | null | 'stale'> {
    return this.transact('write', () => {
      const r = this.s.replace.get({ id, now: Date.now(), revision: revision ?? null, ...entryColumns(dataset) });
      if (r) return toEntry(r);
      return revision !== undefined && this.s.get.get(id) ? 'stale' : null;
    });
  }

  get(id: number): Promise<WorklistEntry | null> {
    return this.transact('read', () => {
      const r = this.s.get.get(id);
      return r ? toEntry(r) : null;
    });
  }

  bySourceKey(source: WorklistSource, sourceKey: string): Promise<WorklistEntry | null> {
    return this.transact('read', () => {
      const r = this.s.bySource.get(source, sourceKey);
      return r ? toEntry(r) : null;
    });
  }

  bySourceKeyPrefix(source: WorklistSource, prefix: string): Promise<WorklistEntry[]> {
    // Keys sort by code point (BINARY): those starting with the prefix lie below its successor.
    const after = prefixSuccessor(prefix) ?? '\u{10FFFF}'.repeat(prefix.length + 1);
    return this.transact('read', () => this.s.bySourcePrefix.all({ source, prefix, after }).map(toEntry));
  }

  sourceKeys(source: WorklistSource): Promise<{ id: number; sourceKey: string | null }[]> {
    return this.transact('read', () => this.s.sourceKeys.all(source).map((r) => ({ id: r.pk, sourceKey: r.source_key })));
  }

  list(f: WorklistFilter): Promise<{ entries: WorklistEntry[]; total: number }> {
    const params = { statuses: f.statuses ? JSON.stringify(f.statuses) : null, source: f.source ?? null, patient: f.patientID ?? null };
    return this.transact('read', () => ({
      entries: (f.newestFirst ? this.s.listNewest : this.s.list).all({ ...params, limit: f.limit, offset: f.offset }).map(toEntry),
      total: this.s.count.get(params)!.n,
    }));
  }

  findByStep(ref: StepReference): Promise<WorklistEntry[]> {
    const params = { sps: ref.scheduledProcedureStepID, study: ref.studyInstanceUID, accession: ref.accessionNumber };
    return this.transact('read', () => (ref.scheduledProcedureStepID ? this.s.bySps.all(params) : this.s.byStudy.all(params)).map(toEntry));
  }

  remove(id: number): Promise<boolean> {
    return this.transact('write', () => this.s.remove.run(id).changes > 0);
  }
}

export class SqliteMppsStore implements MppsStore {
  private readonly s;

  constructor(
    db: Database.Database,
    private readonly transact: Transact,
  ) {
    const p = <R = MppsRow>(sql: string) => db.prepare<unknown[], R>(sql);
    this.s = {
      insert: p(`INSERT INTO mpps_instances (sop_instance_uid, status, calling_ae, dataset, created_at, updated_at, follow_up_at, follow_up_tries)
        VALUES (@uid, @status, @ae, @dataset, @now, @now, @followUpAt, 0) ON CONFLICT (sop_instance_uid) DO NOTHING RETURNING *`),
      get: p('SELECT * FROM mpps_instances WHERE sop_instance_uid = ?'),
      update: p(`UPDATE mpps_instances SET status = @status, dataset = @dataset, updated_at = @now, follow_up_at = @followUpAt, follow_up_tries = 0
        WHERE sop_instance_uid = @uid AND status = 'IN PROGRESS' AND dataset = @revision RETURNING *`),
      followedUp: db.prepare('UPDATE mpps_instances SET follow_up_at = NULL, follow_up_tries = 0 WHERE sop_instance_uid = @uid AND dataset = @revision'),
      due: p('SELECT * FROM mpps_instances WHERE follow_up_at <= @now ORDER BY follow_up_at LIMIT @limit'),
      claim: p('UPDATE mpps_instances SET follow_up_at = @at, follow_up_tries = follow_up_tries + 1 WHERE sop_instance_uid = @uid RETURNING *'),
      list: p('SELECT * FROM mpps_instances WHERE (@status IS NULL OR status = @status) ORDER BY updated_at DESC LIMIT @limit OFFSET @offset'),
      count: p<{ n: number }>('SELECT count(*) AS n FROM mpps_instances WHERE (@status IS NULL OR status = @status)'),
    };
  }

  create(uid: string, ae: string, dataset: JsonDataset, followUpAt: number): Promise<MppsRecord | null> {
    return this.transact('write', () => {
      const r = this.s.insert.get({ uid, ae, status: performedStatus(dataset) ?? '', dataset: JSON.stringify(dataset), now: Date.now(), followUpAt });
      return r ? toMpps(r) : null;
    });
  }

  get(uid: string): Promise<MppsRecord | null> {
    return this.transact('read', () => {
      const r = this.s.get.get(uid);
      return r ? toMpps(r) : null;
    });
  }

  update(uid: string, dataset: JsonDataset, revision: string, followUpAt: number): Promise<MppsRecord | 'missing' | 'final' | 'stale'> {
    return this.transact('write', () => {
      const r = this.s.update.get({ uid, status: performedStatus(dataset) ?? '', dataset: JSON.stringify(dataset), now: Date.now(), revision, followUpAt });
      if (r) return toMpps(r);
      const now = this.s.get.get(uid);
      return !now ? 'missing' : now.status !== 'IN PROGRESS' ? 'final' : 'stale';
    });
  }

  followedUp(uid: string, revision: string): Promise<void> {
    return this.transact('write', () => {
      this.s.followedUp.run({ uid, revision });
    });
  }

  claimFollowUps(now: number, limit: number, delayMs: (tries: number) => number): Promise<MppsRecord[]> {
    // One write transaction: no other connection takes the same rows between the read and the update.
    return this.transact('write', () => this.s.due.all({ now, limit }).map((r) => toMpps(this.s.claim.get({ uid: r.sop_instance_uid, at: now + delayMs(r.follow_up_tries) })!)));
  }

  list(f: { status?: string; limit: number; offset: number }): Promise<{ items: MppsRecord[]; total: number }> {
    return this.transact('read', () => ({
      items: this.s.list.all({ status: f.status ?? null, limit: f.limit, offset: f.offset }).map(toMpps),
      total: this.s.count.get({ status: f.status ?? null })!.n,
    }));
  }
}
