// Bulk loading of synthetic rows, for query benchmarks at 10^5..10^7 instances (issues 3 and 8).
// It writes finished rows directly, counts and computed study attributes included, in large
// transactions: going through storeInstance would cost a dozen statements per instance.
// No change-log rows are written: nothing was received, and no consumer should react.
// Loading twice with the same seed collides on the UIDs; use another seed to add more.

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
import type { SqliteIndex } from './sqlite-index.js';

export interface BulkLoadOptions extends SyntheticShape {
  patients: number;
  seed?: number;
  /** Instances per transaction (default 50,000): bigger is faster, but grows the WAL. */
  batchInstances?: number;
  /** Called after each committed batch with the instances written so far. */
  onProgress?: (instances: number) => void;
}

export interface BulkLoadResult {
  patients: number;
  studies: number;
  series: number;
  instances: number;
  bytes: number;
  ms: number;
}

function insertSql(table: string, columns: readonly string[]): string {
  return `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `@${c}`).join(', ')}) RETURNING pk`;
}

export async function bulkLoadSynthetic(index: SqliteIndex, opts: BulkLoadOptions): Promise<BulkLoadResult> {
  const started = Date.now();
  const db = index.db;
  const ctx = syntheticContext(opts.seed, opts);
  const insert = {
    patient: db.prepare<[Row], { pk: number }>(insertSql('patients', PATIENT_COLUMNS)),
    study: db.prepare<[Row], { pk: number }>(insertSql('studies', STUDY_COLUMNS)),
    series: db.prepare<[Row], { pk: number }>(insertSql('series', SERIES_COLUMNS)),
    instance: db.prepare<[Row], { pk: number }>(insertSql('instances', INSTANCE_COLUMNS).replace(' RETURNING pk', '')),
  };
  const perPatient = Math.max(1, opts.studiesPerPatient * opts.seriesPerStudy * opts.instancesPerSeries);
  const patientsPerBatch = Math.max(1, Math.floor((opts.batchInstances ?? 50_000) / perPatient));
  const totals = { patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 };

  const loadPatient = (p: number): void => {
    const tree = syntheticPatient(ctx, p);
    const patientPk = insert.patient.get(tree.patient)?.pk;
    if (patientPk === undefined) throw new Error('patient insert returned no key');
    totals.patients++;
    for (const study of tree.studies) {
      const studyPk = insert.study.get({ ...study.row, patient_fk: patientPk })?.pk;
      if (studyPk === undefined) throw new Error('study insert returned no key');
      totals.studies++;
      totals.bytes += study.bytes;
      for (const series of study.series) {
        const seriesPk = insert.series.get({ ...series.row, study_fk: studyPk })?.pk;
        if (seriesPk === undefined) throw new Error('series insert returned no key');
        totals.series++;
        for (const instance of series.instances) {
          insert.instance.run({ ...instance, series_fk: seriesPk });
          totals.instances++;
        }
      }
    }
  };

  const batch = db.transaction((from: number, to: number) => {
    for (let p = from; p < to; p++) loadPatient(p);
  });
  const previousCache = db.pragma('cache_size', { simple: true }) as number;
  db.pragma('cache_size = -65536'); // 64 MiB while loading: index pages stay in memory
  try {
    for (let from = 0; from < opts.patients; from += patientsPerBatch) {
      batch.immediate(from, Math.min(opts.patients, from + patientsPerBatch));
      opts.onProgress?.(totals.instances);
      // Let timers and I/O run between batches; the load may take minutes.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    throw isPacsError(e) ? e : new PacsError('INDEX_FAILURE', `bulk load: ${errorMessage(e)}`, { cause: e });
  } finally {
    db.pragma(`cache_size = ${previousCache}`);
  }
  // Fresh planner statistics for the new size (sampled: analysis_limit keeps this to seconds).
  db.pragma('analysis_limit = 1000');
  db.exec('ANALYZE');
  return { ...totals, ms: Date.now() - started };
}
