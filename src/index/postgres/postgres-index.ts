// The archive index on PostgreSQL (node-postgres), behind the same ArchiveIndex interface as
// SQLite, for sites that share one index between several servers (issue 8). Each operation is
// one transaction on a pooled connection (./db.ts: retries on serialization failure and
// deadlock); the SQL mirrors the SQLite backend's, in PostgreSQL's dialect.

import type pg from 'pg';
import { PacsError } from '../../core/errors.js';
import type {
  ArchiveIndex,
  ChangeRecord,
  IndexStatistics,
  InstanceLocation,
  InstanceRecord,
  MergeOutcome,
  PatientChanges,
  PatientLink,
  PatientMerge,
  PatientKey,
  PatientSummary,
  SeriesSummary,
  StoreMode,
  StoreOutcome,
  StudyGuard,
  StudySummary,
  Text,
} from '../types.js';
import { unguarded } from '../types.js';
import { type AnyRow, type InstanceRefRow, toLocation, toPatientSummary, toSeriesSummary, toStudySummary } from '../rows.js';
import { planQuery } from '../query/plan.js';
import type { IndexQuery, QueryRow } from '../query/types.js';
import { type PgPoolOptions, type PgTransact, createPool, indexFailure, transactor } from './db.js';
import { PG_MIGRATIONS, applyPgMigrations } from './migrations.js';
import { SQL } from './statements.js';
import { PgWriter } from './writer.js';
import { PgInstanceLocks } from './instance-lock.js';
import { type PgBulkLoadOptions, type PgBulkLoadResult, pgBulkLoadSynthetic } from './bulk.js';
import { runPgQuery } from './query.js';
import { PgJobStore } from './jobs.js';
import { PgNodeStore } from './nodes.js';
import { PgMppsStore, PgWorklistStore } from './workflow.js';
import { PgStabilityStore } from './stability.js';
import { PgDeidStore } from './deid.js';
import { PgRetentionStore } from './retention.js';
import { PgMetadataStore } from './metadata.js';
import { PgCursorStore } from './cursors.js';
import { updatePatient } from './patients.js';
import { mergeLinked, patientLink } from './patient-links.js';

export interface PostgresIndexOptions extends PgPoolOptions {
  /** Tools that only look: writes are refused and migrate() only checks the version. */
  readonly?: boolean;
}

export class PostgresIndex implements ArchiveIndex {
  private readonly transact: PgTransact;
  readonly jobs: PgJobStore;
  readonly nodes: PgNodeStore;
  readonly worklist: PgWorklistStore;
  readonly mpps: PgMppsStore;
  readonly stability: PgStabilityStore;
  readonly deid: PgDeidStore;
  readonly retention: PgRetentionStore;
  readonly metadata: PgMetadataStore;
  readonly cursors: PgCursorStore;
  private readonly locks: PgInstanceLocks;
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    readonly options: Readonly<PostgresIndexOptions>,
  ) {
    this.transact = transactor(pool, () => options.readonly === true, options.lockWaitMs);
    this.locks = new PgInstanceLocks(options);
    this.jobs = new PgJobStore(this.transact);
    this.nodes = new PgNodeStore(this.transact);
    this.worklist = new PgWorklistStore(this.transact);
    this.mpps = new PgMppsStore(this.transact);
    this.stability = new PgStabilityStore(this.transact);
    this.deid = new PgDeidStore(this.transact);
    this.retention = new PgRetentionStore(this.transact, (name, fn) => this.locks.tryHold(name, fn));
    this.metadata = new PgMetadataStore(this.transact);
    this.cursors = new PgCursorStore(this.transact);
  }

  /** Makes the pool; nothing connects until the first operation (migrate(), normally). */
  static open(options: PostgresIndexOptions): PostgresIndex {
    return new PostgresIndex(createPool(options), { ...options });
  }

  async migrate(): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw indexFailure(e, 'cannot connect to PostgreSQL');
    }
    try {
      if (this.options.readonly) {
        const done = await client.query<{ version: number }>('SELECT version FROM schema_migrations').catch(() => ({ rows: [] }));
        const have = new Set(done.rows.map((r) => r.version));
        if (PG_MIGRATIONS.some((m) => !have.has(m.version))) {
          throw new PacsError('INDEX_FAILURE', 'the PostgreSQL index needs migrating; open it writable once');
        }
        return;
      }
      await applyPgMigrations(client);
    } catch (e) {
      throw e instanceof PacsError ? e : indexFailure(e, 'cannot migrate the PostgreSQL index');
    } finally {
      client.release();
    }
  }

  async query(query: IndexQuery): Promise<QueryRow[]> {
    // Planned outside the transaction: a QueryError is the caller's, passed on as it is.
    const plan = planQuery(query);
    return this.transact('statement', (db) => runPgQuery(db, plan));
  }

  storeInstance(record: InstanceRecord, mode: StoreMode): Promise<StoreOutcome> {
    return this.transact('write', (db) => new PgWriter(db).store(record, mode, Date.now()), { retryRaces: true });
  }

  private async location(sql: string, value: string): Promise<InstanceLocation | null> {
    return this.transact('statement', async (db) => {
      const row = (await db.query<InstanceRefRow>(sql, [value])).rows[0];
      return row === undefined ? null : toLocation(row);
    });
  }

  findInstance(sopInstanceUID: string): Promise<InstanceLocation | null> {
    return this.location(SQL.instanceByUid, sopInstanceUID);
  }

  senderOf(sopInstanceUID: string): Promise<{ callingAE: string | null; calledAE: string | null; remoteAddress: string | null } | null> {
    return this.transact('statement', async (db) => {
      const r = (await db.query<{ calling_ae: string | null; called_ae: string | null; remote_address: string | null }>('SELECT calling_ae, called_ae, remote_address FROM instances WHERE sop_instance_uid = $1', [sopInstanceUID])).rows[0];
      return r ? { callingAE: r.calling_ae, calledAE: r.called_ae, remoteAddress: r.remote_address } : null;
    });
  }

  instancesOf(study: string, series?: string, sop?: string): Promise<InstanceLocation[]> {
    const [sql, params] = series === undefined ? [SQL.instancesOfStudy, [study]] : sop === undefined ? [SQL.instancesOfSeries, [study, series]] : [SQL.instanceOf, [study, series, sop]];
    return this.transact('statement', async (db) => (await db.query<InstanceRefRow>(sql, params)).rows.map(toLocation));
  }

  findInstances(sopInstanceUIDs: readonly string[]): Promise<InstanceLocation[]> {
    return this.transact('statement', async (db) => (await db.query<InstanceRefRow>(SQL.instancesByUids, [sopInstanceUIDs])).rows.map(toLocation));
  }

  findInstanceByPath(path: string): Promise<InstanceLocation | null> {
    return this.location(SQL.instanceByPath, path);
  }

  findPatient(patientID: string, issuerOfPatientID: Text): Promise<PatientSummary | null> {
    return this.transact('statement', async (db) => {
      const row = (await db.query<AnyRow>(SQL.patientSummary, [patientID, issuerOfPatientID ?? ''])).rows[0];
      return row === undefined ? null : toPatientSummary(row);
    });
  }

  updatePatient(patient: PatientKey, changes: PatientChanges): Promise<boolean> {
    return this.transact('write', (db) => updatePatient(db, patient, changes));
  }

  mergePatients(merges: readonly PatientMerge[]): Promise<MergeOutcome[]> {
    return this.transact('write', (db) => mergeLinked(db, merges, Date.now()));
  }

  patientLink(identity: PatientKey): Promise<PatientLink | null> {
    return this.transact('statement', (db) => patientLink(db, identity));
  }

  findStudy(studyInstanceUID: string): Promise<StudySummary | null> {
    return this.transact('statement', async (db) => {
      const row = (await db.query<AnyRow>(SQL.studySummary, [studyInstanceUID])).rows[0];
      return row === undefined ? null : toStudySummary(row);
    });
  }

  findSeries(seriesInstanceUID: string): Promise<SeriesSummary | null> {
    return this.transact('statement', async (db) => {
      const row = (await db.query<AnyRow>(SQL.seriesSummary, [seriesInstanceUID])).rows[0];
      return row === undefined ? null : toSeriesSummary(row);
    });
  }

  deleteInstance(sopInstanceUID: string): Promise<InstanceLocation | null> {
    return this.transact('write', async (db) => unguarded(await new PgWriter(db).delete(sopInstanceUID, Date.now())));
  }

  deleteInstanceIf(sopInstanceUID: string, guard: StudyGuard): Promise<InstanceLocation | 'changed' | null> {
    return this.transact('write', (db) => new PgWriter(db).delete(sopInstanceUID, Date.now(), guard));
  }

  listInstances(afterSOPInstanceUID: string | null, limit: number): Promise<InstanceLocation[]> {
    const n = Math.max(0, Math.trunc(limit));
    return this.transact('statement', async (db) => {
      const r = afterSOPInstanceUID === null ? await db.query<InstanceRefRow>(SQL.listFirst, [n]) : await db.query<InstanceRefRow>(SQL.listAfter, [afterSOPInstanceUID, n]);
      return r.rows.map(toLocation);
    });
  }

  statistics(): Promise<IndexStatistics> {
    return this.transact('statement', async (db) => {
      const row = (await db.query<IndexStatistics>(SQL.statistics)).rows[0];
      return row ?? { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 };
    });
  }

  changesSince(seq: number, limit: number): Promise<ChangeRecord[]> {
    return this.transact('statement', async (db) => {
      const r = await db.query<{ seq: number; kind: string; uid: string; study_uid: string; at: number }>(SQL.changesSince, [seq, Math.max(0, Math.trunc(limit))]);
      return r.rows.map((row) => ({
        seq: row.seq,
        kind: row.kind as ChangeRecord['kind'],
        level: 'instance' as const,
        uid: row.uid,
        studyUID: row.study_uid,
        at: new Date(row.at),
      }));
    });
  }

  /** See ArchiveIndex.withInstanceLock: an advisory lock, on connections of its own (./instance-lock.ts). */
  withInstanceLock<T>(sopInstanceUID: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(sopInstanceUID, fn);
  }

  /** Synthetic rows for benchmarks (./bulk.ts), in write transactions of this index's pool. */
  bulkLoadSynthetic(opts: PgBulkLoadOptions): Promise<PgBulkLoadResult> {
    return pgBulkLoadSynthetic((fn, outside) => this.transact(outside ? 'statement' : 'write', fn), opts);
  }

  /** Deletes every row, children first; the identity keeps counting (see SqliteIndex.clear). */
  serve(onLost?: (e: Error) => void): Promise<() => Promise<void>> {
    return this.locks.holdPresence('shared', onLost);
  }

  /** As a server's presence: shared, which a maintenance tool's exclusive lock waits for. */
  writeBeside(onLost?: (e: Error) => void): Promise<() => Promise<void>> {
    return this.locks.holdPresence('shared', onLost);
  }

  async maintain<T>(fn: () => Promise<T>, onLost?: (e: Error) => void): Promise<T> {
    const release = await this.locks.holdPresence('exclusive', onLost);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  clear(): Promise<void> {
    return this.transact('write', async (db) => {
      for (const sql of SQL.clear) await db.query(sql);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([this.pool.end(), this.locks.close()]);
  }
}
