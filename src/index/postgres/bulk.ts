// Bulk loading of synthetic rows into the PostgreSQL index, for query benchmarks at 10^5..10^7
// instances (issue 8): the same rows as the SQLite loader (../synthetic-rows.ts, one generator
// for both), written as multi-row INSERTs in large transactions. Going through storeInstance
// would cost a dozen statements per instance; one statement per thousand rows is what makes
// ten million reachable. Keys are assigned here (OVERRIDING SYSTEM VALUE) so one batch can
// insert parents and children without a round trip per row; the identity sequences are moved
// past them at the end, so later ordinary inserts do not collide. No change-log rows: nothing
// was received. The archive_totals triggers still fire, so the totals stay right.

import { PacsError, errorMessage, isPacsError } from '../../core/errors.js';
import { quoteIdent } from '../columns.js';
import {
  INSTANCE_COLUMNS,
  PATIENT_COLUMNS,
  type Row,
  SERIES_COLUMNS,
  STUDY_COLUMNS,
  type SyntheticShape,
  syntheticContext,
  syntheticPatient,
} from '../synthetic-rows.js';
import type { Db } from './db.js';

export interface PgBulkLoadOptions extends SyntheticShape {
  patients: number;
  /** Another seed adds more rows; the same seed twice collides on the UIDs. */
  seed?: number;
  /** Instances per transaction (default 50,000). */
  batchInstances?: number;
  onProgress?: (instances: number) => void;
}

export interface PgBulkLoadResult {
  patients: number;
  studies: number;
  series: number;
  instances: number;
  bytes: number;
  ms: number;
}

/**
 * What the loader needs of the index: one transaction at a time on its pool, or with
 * `outside` a connection outside any transaction (VACUUM cannot run inside one).
 */
export type BulkTransact = <T>(fn: (db: Db) => Promise<T>, outside?: boolean) => Promise<T>;

const TABLES = ['patients', 'studies', 'series', 'instances'] as const;
type Table = (typeof TABLES)[number];
const COLUMNS: Record<Table, readonly string[]> = {
  patients: ['pk', ...PATIENT_COLUMNS],
  studies: ['pk', ...STUDY_COLUMNS],
  series: ['pk', ...SERIES_COLUMNS],
  instances: INSTANCE_COLUMNS, // its key is never referenced by the rows loaded with it
};
/** PostgreSQL allows 65,535 parameters per statement; the widest row (instances) has 33. */
const ROWS_PER_STATEMENT = 1000;

async function insertRows(db: Db, table: Table, rows: readonly Row[]): Promise<void> {
  const columns = COLUMNS[table];
  const overriding = table === 'instances' ? '' : ' OVERRIDING SYSTEM VALUE';
  for (let at = 0; at < rows.length; at += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(at, at + ROWS_PER_STATEMENT);
    const params: unknown[] = [];
    const tuples = chunk.map((row) => `(${columns.map((c) => `$${params.push(row[c] ?? null)}`).join(', ')})`);
    await db.query(`INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')})${overriding} VALUES ${tuples.join(', ')}`, params);
  }
}

export async function pgBulkLoadSynthetic(transact: BulkTransact, opts: PgBulkLoadOptions): Promise<PgBulkLoadResult> {
  const started = Date.now();
  const ctx = syntheticContext(opts.seed, opts);
  const perPatient = Math.max(1, opts.studiesPerPatient * opts.seriesPerStudy * opts.instancesPerSeries);
  const patientsPerBatch = Math.max(1, Math.floor((opts.batchInstances ?? 50_000) / perPatient));
  const totals = { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 };
  // Next free key per table: after whatever is there (a second load with another seed adds).
  const next = await transact(async (db) => {
    const keys = {} as Record<Exclude<Table, 'instances'>, number>;
    for (const t of ['patients', 'studies', 'series'] as const) {
      const { rows } = await db.query<{ m: number | null }>(`SELECT max(pk) AS m FROM ${t}`);
      keys[t] = (rows[0]?.m ?? 0) + 1;
    }
    return keys;
  });

  try {
    for (let from = 0; from < opts.patients; from += patientsPerBatch) {
      const batch: Record<Table, Row[]> = { patients: [], studies: [], series: [], instances: [] };
      for (let p = from; p < Math.min(opts.patients, from + patientsPerBatch); p++) {
        const tree = syntheticPatient(ctx, p);
        const patientPk = next.patients++;
        batch.patients.push({ ...tree.patient, pk: patientPk });
        for (const study of tree.studies) {
          const studyPk = next.studies++;
          batch.studies.push({ ...study.row, pk: studyPk, patient_fk: patientPk });
          totals.bytes += study.bytes;
          for (const series of study.series) {
            const seriesPk = next.series++;
            batch.series.push({ ...series.row, pk: seriesPk, study_fk: studyPk });
            for (const instance of series.instances) batch.instances.push({ ...instance, series_fk: seriesPk });
          }
        }
      }
      await transact(async (db) => {
        for (const t of TABLES) await insertRows(db, t, batch[t]); // parents first: the foreign keys
      });
      totals.patients += batch.patients.length;
      totals.studies += batch.studies.length;
      totals.series += batch.series.length;
      totals.instances += batch.instances.length;
      opts.onProgress?.(totals.instances);
    }
    await transact(async (db) => {
      for (const t of ['patients', 'studies', 'series'] as const)
        await db.query(`SELECT setval(pg_get_serial_sequence('${t}', 'pk'), (SELECT max(pk) FROM ${t}))`);
    });
    // What any bulk load into PostgreSQL should end with: VACUUM sets the visibility map of
    // the new pages (index-only scans can use them) and ANALYZE gives the planner statistics
    // for the new size. Left to autovacuum, the same work starts a minute later on tables of
    // millions of rows and runs for minutes, beside whatever the server does next.
    await transact(async (db) => {
      for (const t of TABLES) await db.query(`VACUUM (ANALYZE) ${t}`);
    }, true);
  } catch (e) {
    throw isPacsError(e) ? e : new PacsError('INDEX_FAILURE', `bulk load: ${errorMessage(e)}`, { cause: e });
  }
  return { ...totals, ms: Date.now() - started };
}
