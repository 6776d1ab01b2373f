// The archive index on an embedded SQLite file (better-sqlite3). better-sqlite3 is synchronous:
// each operation runs as one transaction to completion and its result is handed back as a
// Promise, so callers are written for the asynchronous PostgreSQL backend as well. Within one
// process the event loop serialises operations; across processes, write transactions begin
// IMMEDIATE so they queue on busy_timeout instead of failing when a read lock would have to be
// upgraded (which SQLite refuses with SQLITE_BUSY without waiting).

import fs from 'node:fs';
import Database from 'better-sqlite3';
import { GroupSync } from '../../core/group-sync.js';
import { PacsError, errorMessage, isPacsError } from '../../core/errors.js';
import type {
  ArchiveIndex,
  ChangeRecord,
  IndexStatistics,
  PatientChanges,
  PatientKey,
  InstanceLocation,
  InstanceRecord,
  MergeOutcome,
  PatientLink,
  PatientMerge,
  PatientSummary,
  SeriesSummary,
  StoreMode,
  StoreOutcome,
  StudyGuard,
  StudySummary,
  Text,
} from '../types.js';
import { unguarded } from '../types.js';
import { MIGRATIONS, appliedVersions, applyMigrations } from './migrations.js';
import { type Statements, prepareStatements } from './statements.js';
import { toLocation, toPatientSummary, toSeriesSummary, toStudySummary } from '../rows.js';
import { SqliteQueryRunner, registerQueryFunctions } from './query.js';
import { SqliteWriter } from './writer.js';
import { SqliteJobStore, type Transact } from './jobs.js';
import { SqliteNodeStore } from './nodes.js';
import { SqliteStabilityStore } from './stability.js';
import { SqliteDeidStore } from './deid.js';
import type { DeidStore } from '../deid.js';
import { SqliteRetentionStore } from './retention.js';
import type { RetentionStore } from '../retention.js';
import type { StabilityStore } from '../stability.js';
import { SqliteMppsStore, SqliteWorklistStore } from './workflow.js';
import { updatePatient } from './patients.js';
import { mergeLinked, patientLink } from './patient-links.js';
import { SqliteMetadataStore } from './metadata.js';
import type { MetadataTextStore } from '../metadata.js';
import { SqliteCursorStore } from './cursors.js';
import type { CursorStore } from '../cursors.js';
import type { MppsStore, WorklistStore } from '../workflow.js';
import type { JobStore } from '../jobs.js';
import type { NodeStore } from '../nodes.js';
import { type QueryPlan, planQuery } from '../query/plan.js';
import type { IndexQuery, QueryRow } from '../query/types.js';
import { UncertainCommit, indexFailure } from '../errors.js';
import { holdMarker, holdWriter, refuseLiveWriters } from './presence.js';

export interface SqliteIndexOptions {
  path: string;
  walMode: boolean;
  /** How long a writer waits for another process' lock before failing (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Opens the file read-only (tools that only look); migrate() then only checks the version. */
  readonly?: boolean;
  /**
   * In WAL mode, a write resolves only once the write-ahead log is synced (storage.fsync): the
   * row of an acknowledged instance survives a power cut like its file. The sync runs in the
   * thread pool, shared by the writes that arrive meanwhile, instead of SQLite's own per-commit
   * fsync (synchronous=FULL) blocking the event loop.
   */
  syncCommits?: boolean;
}

export class SqliteIndex implements ArchiveIndex {
  private statements: Statements | null = null;
  private writerInstance: SqliteWriter | null = null;
  private queryRunner: SqliteQueryRunner | null = null;
  private jobStore: SqliteJobStore | null = null;
  private nodeStore: SqliteNodeStore | null = null;
  private worklistStore: SqliteWorklistStore | null = null;
  private mppsStore: SqliteMppsStore | null = null;
  private stabilityStore: SqliteStabilityStore | null = null;
  private deidStore: SqliteDeidStore | null = null;
  private retentionStore: SqliteRetentionStore | null = null;
  private metadataStore: SqliteMetadataStore | null = null;
  private cursorStore: SqliteCursorStore | null = null;
  // One transaction wrapper, made once, that runs whatever function it is given.
  private readonly transact: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Syncs of the write-ahead log, when writes wait for them (syncCommits in WAL mode). */
  private readonly walSync: GroupSync | null;
  private walFd: number | null = null;

  private constructor(
    private readonly database: Database.Database,
    readonly options: Readonly<SqliteIndexOptions>,
    wal: boolean,
  ) {
    this.transact = database.transaction((fn: () => unknown) => fn());
    this.walSync = wal && options.syncCommits && !options.readonly ? new GroupSync(() => this.syncWal()) : null;
  }

  /** Opens (creating when missing, unless read-only) the index file. Call migrate() next. */
  static open(options: SqliteIndexOptions): SqliteIndex {
    let db: Database.Database | undefined;
    let wal = false;
    try {
      db = new Database(options.path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
      db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
      if (!options.readonly) {
        // WAL: readers never block the writer. synchronous=NORMAL skips SQLite's fsync per
        // commit, which would block the event loop; with syncCommits each write waits for our
        // own sync of the log instead (syncWal). Without WAL the rollback journal is only
        // safe with FULL.
        wal = db.pragma(`journal_mode = ${options.walMode ? 'WAL' : 'DELETE'}`, { simple: true }) === 'wal';
        db.pragma(`synchronous = ${options.walMode ? 'NORMAL' : 'FULL'}`);
      }
      db.pragma('foreign_keys = ON');
      registerQueryFunctions(db);
      return new SqliteIndex(db, { ...options }, wal);
    } catch (e) {
      db?.close();
      throw indexFailure(e, `cannot open the index ${options.path}`);
    }
  }

  /**
   * The connection itself, for the bulk loader and SQLite-specific tests and tools. Services
   * go through the ArchiveIndex interface only: the PostgreSQL backend has no such thing.
   */
  get db(): Database.Database {
    return this.database;
  }

  migrate(): Promise<void> {
    return this.attempt(() => {
      if (this.options.readonly) {
        const done = new Set(appliedVersions(this.database));
        const missing = MIGRATIONS.filter((m) => !done.has(m.version));
        if (missing.length > 0) {
          throw new PacsError('INDEX_FAILURE', `the index ${this.options.path} needs migrating; open it writable once`);
        }
        return;
      }
      applyMigrations(this.database);
      // Prepared only now, against the migrated schema (preparing checks that tables exist).
      this.statements = null;
      this.writerInstance = null;
      this.queryRunner = null;
      this.jobStore = null;
      this.nodeStore = null;
      this.worklistStore = null;
      this.mppsStore = null;
      this.stabilityStore = null;
      this.deidStore = null;
      this.retentionStore = null;
      this.metadataStore = null;
      this.cursorStore = null;
    });
  }

  /** The durable job queue (prepared after migrate()). */
  get jobs(): JobStore {
    this.jobStore ??= new SqliteJobStore(this.database, this.transactFor);
    return this.jobStore;
  }

  get nodes(): NodeStore {
    this.nodeStore ??= new SqliteNodeStore(this.database, this.transactFor);
    return this.nodeStore;
  }

  get worklist(): WorklistStore {
    this.worklistStore ??= new SqliteWorklistStore(this.database, this.transactFor);
    return this.worklistStore;
  }

  get mpps(): MppsStore {
    this.mppsStore ??= new SqliteMppsStore(this.database, this.transactFor);
    return this.mppsStore;
  }

  get stability(): StabilityStore {
    this.stabilityStore ??= new SqliteStabilityStore(this.database, this.transactFor);
    return this.stabilityStore;
  }

  get deid(): DeidStore {
    this.deidStore ??= new SqliteDeidStore(this.database, this.transactFor);
    return this.deidStore;
  }

  get retention(): RetentionStore {
    this.retentionStore ??= new SqliteRetentionStore(this.database, this.transactFor);
    return this.retentionStore;
  }

  get metadata(): MetadataTextStore {
    this.metadataStore ??= new SqliteMetadataStore(this.database, this.transactFor);
    return this.metadataStore;
  }

  get cursors(): CursorStore {
    this.cursorStore ??= new SqliteCursorStore(this.database, this.transactFor);
    return this.cursorStore;
  }

  private readonly transactFor: Transact = (kind, fn) => (kind === 'read' ? this.read(fn) : this.write(fn, kind === 'write'));

  query(query: IndexQuery): Promise<QueryRow[]> {
    // Planned outside the transaction, and its QueryError passed on as it is: a query the
    // standard refuses is the caller's error, not an index failure.
    let plan: QueryPlan;
    try {
      plan = planQuery(query);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return this.read(() => {
      this.queryRunner ??= new SqliteQueryRunner(this.database);
      return this.queryRunner.run(plan);
    });
  }

  storeInstance(record: InstanceRecord, mode: StoreMode): Promise<StoreOutcome> {
    return this.write(() => this.writer.store(record, mode, Date.now()));
  }

  findInstance(sopInstanceUID: string): Promise<InstanceLocation | null> {
    return this.read((s) => {
      const row = s.instanceByUid.get(sopInstanceUID);
      return row === undefined ? null : toLocation(row);
    });
  }

  senderOf(sopInstanceUID: string): Promise<{ callingAE: string | null; calledAE: string | null; remoteAddress: string | null } | null> {
    return this.read((s) => {
      const r = s.senderByUid.get(sopInstanceUID);
      return r ? { callingAE: r.calling_ae, calledAE: r.called_ae, remoteAddress: r.remote_address } : null;
    });
  }

  instancesOf(study: string, series?: string, sop?: string): Promise<InstanceLocation[]> {
    return this.read((s) =>
      (series === undefined ? s.instancesOfStudy.all(study) : sop === undefined ? s.instancesOfSeries.all(study, series) : s.instanceOf.all(study, series, sop)).map(toLocation),
    );
  }

  findInstances(sopInstanceUIDs: readonly string[]): Promise<InstanceLocation[]> {
    return this.read((s) => s.instancesByUids.all(JSON.stringify(sopInstanceUIDs)).map(toLocation));
  }

  findInstanceByPath(path: string): Promise<InstanceLocation | null> {
    return this.read((s) => {
      const row = s.instanceByPath.get(path);
      return row === undefined ? null : toLocation(row);
    });
  }

  findPatient(patientID: string, issuerOfPatientID: Text): Promise<PatientSummary | null> {
    return this.read((s) => {
      const row = s.patientSummary.get(patientID, issuerOfPatientID ?? '');
      return row === undefined ? null : toPatientSummary(row);
    });
  }

  updatePatient(patient: PatientKey, changes: PatientChanges): Promise<boolean> {
    return this.write(() => updatePatient(this.database, patient, changes));
  }

  mergePatients(merges: readonly PatientMerge[]): Promise<MergeOutcome[]> {
    return this.write(() => {
      const now = Date.now();
      return merges.map((m) => mergeLinked(this.database, m, now));
    });
  }

  patientLink(identity: PatientKey): Promise<PatientLink | null> {
    return this.read(() => patientLink(this.database, identity));
  }

  findStudy(studyInstanceUID: string): Promise<StudySummary | null> {
    return this.read((s) => {
      const row = s.studySummary.get(studyInstanceUID);
      return row === undefined ? null : toStudySummary(row);
    });
  }

  findSeries(seriesInstanceUID: string): Promise<SeriesSummary | null> {
    return this.read((s) => {
      const row = s.seriesSummary.get(seriesInstanceUID);
      return row === undefined ? null : toSeriesSummary(row);
    });
  }

  deleteInstance(sopInstanceUID: string): Promise<InstanceLocation | null> {
    return this.write(() => unguarded(this.writer.delete(sopInstanceUID, Date.now())));
  }

  deleteInstanceIf(sopInstanceUID: string, guard: StudyGuard): Promise<InstanceLocation | 'changed' | null> {
    return this.write(() => this.writer.delete(sopInstanceUID, Date.now(), guard));
  }

  listInstances(afterSOPInstanceUID: string | null, limit: number): Promise<InstanceLocation[]> {
    return this.read((s) => {
      const n = Math.max(0, Math.trunc(limit));
      const rows = afterSOPInstanceUID === null ? s.listFirst.all(n) : s.listAfter.all(afterSOPInstanceUID, n);
      return rows.map(toLocation);
    });
  }

  statistics(): Promise<IndexStatistics> {
    return this.read((s) => {
      const row = s.statistics.get();
      return row ?? { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 };
    });
  }

  changesSince(seq: number, limit: number): Promise<ChangeRecord[]> {
    return this.read((s) =>
      s.changesSince.all(seq, Math.max(0, Math.trunc(limit))).map((r) => ({
        seq: r.seq,
        kind: r.kind as ChangeRecord['kind'],
        level: 'instance' as const,
        uid: r.uid,
        studyUID: r.study_uid,
        at: new Date(r.at),
      })),
    );
  }

  /**
   * Deletes every row, children first (the foreign keys would refuse otherwise), the change log
   * included. AUTOINCREMENT keeps counting, so change sequence numbers are never reused and a
   * consumer holding an old position simply sees the reindex's new changes.
   */
  clear(): Promise<void> {
    return this.write(() => {
      for (const statement of this.stmts.clear) statement.run();
    });
  }

  /** Where the marker of a server or tool using this file lives (presence.ts); none in memory. */
  private get marker(): string | null {
    const p = this.options.path;
    return p === '' || p === ':memory:' || p.startsWith('file::memory:') ? null : `${p}.owner`;
  }

  async serve(): Promise<() => Promise<void>> {
    return this.marker ? holdMarker(this.marker, 'server') : async () => undefined;
  }

  async maintain<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.marker ? holdMarker(this.marker, 'maintenance') : null;
    try {
      if (this.marker) refuseLiveWriters(`${this.options.path}.writers`);
      return await fn();
    } finally {
      await release?.();
    }
  }

  async writeBeside(): Promise<() => Promise<void>> {
    return this.marker ? holdWriter(this.marker, `${this.options.path}.writers`) : async () => undefined;
  }

  close(): Promise<void> {
    // The log's last sync finishes before its descriptor is closed.
    const synced = this.walSync?.idle === false ? this.walSync.sync().catch(() => {}) : Promise.resolve();
    return synced.then(() => this.attempt(() => {
      if (this.walFd !== null) {
        fs.closeSync(this.walFd);
        this.walFd = null;
      }
      if (!this.database.open) return;
      if (!this.options.readonly) {
        // SQLite's advice: refresh planner statistics that went stale, on closing.
        this.database.pragma('optimize');
        // Folds the WAL back into the main file so a closed archive is one self-contained file.
        if (this.options.walMode) this.database.pragma('wal_checkpoint(TRUNCATE)');
      }
      this.database.close();
    }));
  }

  private get stmts(): Statements {
    this.statements ??= prepareStatements(this.database);
    return this.statements;
  }

  private get writer(): SqliteWriter {
    this.writerInstance ??= new SqliteWriter(this.stmts);
    return this.writerInstance;
  }

  /** A read in a deferred transaction: one consistent snapshot even for multi-row answers. */
  private read<T>(fn: (s: Statements) => T): Promise<T> {
    return this.attempt(() => this.transact.deferred(() => fn(this.stmts)) as T);
  }

  /** A write in an immediate transaction, resolved once durable (unless `durable` is false). */
  private write<T>(fn: () => T, durable = true): Promise<T> {
    const done = this.attempt(() => {
      if (this.options.readonly) throw new PacsError('INDEX_FAILURE', 'the index is open read-only');
      return this.transact.immediate(fn) as T;
    });
    const wal = this.walSync;
    if (!wal || !durable) return done;
    return done.then((result) =>
      wal.sync().then(
        () => result,
        (e: unknown) => Promise.reject(new UncertainCommit(`index: committed, but its log could not be synced: ${errorMessage(e)}`, e)),
      ),
    );
  }

  /**
   * One fdatasync of the write-ahead log through a descriptor of our own (fsync applies to the
   * file, whoever wrote it). Every commit that returned before it began is then durable: a
   * checkpoint since then synced the log and the database itself (SQLite does so in NORMAL mode).
   */
  private syncWal(): Promise<void> {
    let fd = this.walFd;
    // The log is removed when the last connection closes (another process's, if ours was not
    // the last): a descriptor to a removed file would sync nothing that matters.
    if (fd !== null && fs.fstatSync(fd).nlink === 0) {
      fs.closeSync(fd);
      fd = this.walFd = null;
    }
    if (fd === null) {
      try {
        fd = this.walFd = fs.openSync(`${this.options.path}-wal`, 'r+');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return Promise.resolve(); // checkpointed and removed: already in the database file
        return Promise.reject(e);
      }
    }
    const target = fd;
    return new Promise((resolve, reject) => fs.fdatasync(target, (e) => (e ? reject(e) : resolve())));
  }

  /** Runs fn now and settles the Promise with its result or a coded error. */
  private attempt<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(isPacsError(e) ? e : indexFailure(e));
    }
  }
}
