// A small archive for retention's tests: a SQLite index, a filesystem store, the store service
// (whose per-instance exclusion deletes share) and the retention service, with studies made of
// synthetic rows and files of a given size.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import { EventBus } from '../../../src/core/events.js';
import { HookList } from '../../../src/core/hooks.js';
import { createLogger, type Logger } from '../../../src/core/logging.js';
import { parsePart10Prefix, readPart10Header } from '../../../src/dicom/part10.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { InstanceRecord } from '../../../src/index/types.js';
import { JobService } from '../../../src/services/jobs.js';
import { RetentionService, type RetentionSettings } from '../../../src/services/retention.js';
import { StoreService, type StoreResult } from '../../../src/services/store.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import { record } from '../../contract/fixtures.js';
import { SAMPLES } from '../../helpers/dcmtk.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-retention-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

export interface RetentionArchive {
  dir: string;
  index: SqliteIndex;
  objects: FsObjectStore;
  store: StoreService;
  retention: RetentionService;
  settings: RetentionSettings;
  /** What retention's diskUsage() answers: the volume's figures are the test's to set. */
  diskUsage: () => Promise<{ totalBytes: number; freeBytes: number }>;
  audits: { what: { studyInstanceUID?: string; instances?: number; bytes?: number } }[];
  /** Messages logged at warn and error, with their fields. */
  logged: { level: string; msg: string; fields: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** A logger that records warnings and errors (pino's API, the parts the services use). */
function recordingLogger(into: RetentionArchive['logged']): Logger {
  const base = createLogger({ level: 'silent' });
  const at =
    (level: string) =>
    (fields: unknown, msg?: string): void => {
      if (typeof fields === 'string') into.push({ level, msg: fields, fields: {} });
      else into.push({ level, msg: msg ?? '', fields: (fields ?? {}) as Record<string, unknown> });
    };
  const logger = Object.create(base) as Logger;
  Object.assign(logger, { warn: at('warn'), error: at('error'), child: () => logger });
  return logger;
}

export async function retentionArchive(settings: Partial<RetentionSettings> = {}, naming = 'hierarchical'): Promise<RetentionArchive> {
  const dir = path.join(tmp, `a${++n}`);
  mkdirSync(dir);
  const index = SqliteIndex.open({ path: path.join(dir, 'index.db'), walMode: true });
  await index.migrate();
  const objects = new FsObjectStore(path.join(dir, 'files'), { fsync: false });
  const events = new EventBus();
  const logged: RetentionArchive['logged'] = [];
  const logger = recordingLogger(logged);
  const store = new StoreService({
    index,
    store: objects,
    events,
    hooks: new HookList<{ record: InstanceRecord }>(),
    logger,
    settings: () => ({ naming, duplicatePolicy: 'reject', minFreeBytes: 0, implementationClassUID: '1.2.3.999', implementationVersionName: 'TEST_1' }),
  });
  const jobs = new JobService(index.jobs, () => ({ workers: 2, maxAttempts: 1, backoffSeconds: 1, keepDays: 1, leaseSeconds: 30 }), logger);
  const a: RetentionArchive = {
    dir,
    index,
    objects,
    store,
    settings: { maxAgeDays: 0, maxBytes: 0, maxUsagePercent: 0, minAgeHours: 24, keepProtected: true, intervalMinutes: 60, ...settings },
    diskUsage: () => Promise.resolve({ totalBytes: 1e12, freeBytes: 1e12 }),
    audits: [],
    logged,
    retention: null as unknown as RetentionService,
    close: async () => {
      objects.close();
      await index.close();
    },
  };
  a.retention = new RetentionService(
    { index, objects, derived: [], exclusive: (uid, fn) => store.exclusive(uid, fn), logger, events, settings: () => a.settings, diskUsage: () => a.diskUsage() },
    jobs,
  );
  events.on('audit', (e) => a.audits.push(e as RetentionArchive['audits'][number]));
  return a;
}

/** A study of `instances` instances of `size` bytes each (rows and files), received at `receivedAt`. */
export async function addStudy(a: RetentionArchive, study: string, o: { instances: number; size: number; receivedAt: Date }): Promise<void> {
  for (let i = 1; i <= o.instances; i++) {
    const rel = `${study}/${i}.dcm`;
    mkdirSync(path.dirname(a.objects.absolutePath(rel)), { recursive: true });
    writeFileSync(a.objects.absolutePath(rel), Buffer.alloc(o.size));
    await a.index.storeInstance(record({ sop: `${study}.${i}`, study, size: o.size, path: rel, receivedAt: o.receivedAt }), 'insert');
  }
}

export async function studyUIDs(a: RetentionArchive): Promise<string[]> {
  const rows = await a.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [], relational: true });
  return rows.map((r) => String(r.StudyInstanceUID)).sort();
}

/** Raw SQL on the archive's index, through a connection of its own (as another process would). */
export function sql(a: RetentionArchive, statement: string, ...params: unknown[]): void {
  const db = new Database(path.join(a.dir, 'index.db'));
  try {
    db.prepare(statement).run(...params);
  } finally {
    db.close();
  }
}

export const daysAgo = (d: number): Date => new Date(Date.now() - d * 86_400_000);

/** Sends a sample file through the store service (as a C-STORE would). */
export async function sendSample(a: RetentionArchive, file: string): Promise<StoreResult> {
  const bytes = readFileSync(path.join(SAMPLES, file));
  const prefix = parsePart10Prefix(bytes, true)!;
  const head = await readPart10Header(path.join(SAMPLES, file));
  const session = a.store.begin({
    sopClassUID: head.sopClassUID ?? '1.2.3',
    sopInstanceUID: head.sopInstanceUID ?? '1.2.3.4',
    transferSyntaxUID: prefix.transferSyntaxUID,
    provenance: { callingAE: 'MODALITY', calledAE: 'PACS', remoteAddress: '127.0.0.1', source: 'dimse' },
  });
  session.write(bytes.subarray(prefix.datasetOffset));
  return session.end();
}
