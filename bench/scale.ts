// npm run bench:scale — study-level query latency (p50, p99) as the index grows: synthetic rows
// bulk-loaded (not through the network) to 100,000 and 1,000,000 instances (BENCH_SCALE_MAX
// raises the top, e.g. 10000000) on SQLite and on PostgreSQL, then the queries a person types
// into a C-FIND or QIDO-RS study search, run through index.query — the plans C-FIND uses —
// so the figures are the index's own time, without DIMSE or HTTP.
// PostgreSQL: BENCH_PG_URL or PACS_TEST_PG_URL (scripts/test-postgres.sh start); without one
// only SQLite runs. Each size adds rows to the previous size's index (another seed), so the
// largest size costs one load, not the sum of all.
// BENCH_PG_SCHEMA=name keeps the PostgreSQL rows in that schema after the run, and a later run
// with the same name measures them again without loading (a 10^7 load takes ~17 minutes): for
// looking into one size's figures, e.g. with EXPLAIN or another build of the server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { SqliteIndex } from '../src/index/sqlite/sqlite-index.js';
import { bulkLoadSynthetic } from '../src/index/sqlite/bulk.js';
import { PostgresIndex } from '../src/index/postgres/postgres-index.js';
import { quoteSchema } from '../src/index/postgres/db.js';
import { applyCompactHeap, restoreDefaultHeap } from '../src/core/heap.js';
import type { ArchiveIndex } from '../src/index/types.js';
import type { IndexQuery } from '../src/index/query/types.js';
import { queryPages } from '../src/index/query/pages.js';

const MAX = Number(process.env.BENCH_SCALE_MAX ?? 1_000_000);
const SIZES = (process.env.BENCH_SCALE_SIZES?.split(',').map(Number) ?? [100_000, 1_000_000, 10_000_000]).filter((n) => n <= MAX);
const PG_URL = process.env.BENCH_PG_URL ?? process.env.PACS_TEST_PG_URL ?? null;
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
/** Which backends run: BENCH_BACKENDS=postgres for the 10^7 step alone, say. */
const BACKENDS = (process.env.BENCH_BACKENDS ?? 'sqlite,postgres').split(',');
const KEPT_SCHEMA = process.env.BENCH_PG_SCHEMA ?? null;
// 2 studies × 2 series × 5 instances per patient, as bench:find: 50,000 patients per million.
const SHAPE = { studiesPerPatient: 2, seriesPerStudy: 2, instancesPerSeries: 5 };
const PER_PATIENT = SHAPE.studiesPerPatient * SHAPE.seriesPerStudy * SHAPE.instancesPerSeries;

const study = (keys: IndexQuery['keys']): IndexQuery => ({
  level: 'STUDY',
  model: 'STUDY_ROOT',
  relational: false,
  // As C-FIND and QIDO-RS ask: only the keys' columns (and the unique keys) are read.
  returnKeys: [],
  // The return keys a study list asks for.
  keys: [...keys, ...['StudyInstanceUID', 'PatientName', 'StudyDate', 'ModalitiesInStudy', 'NumberOfStudyRelatedInstances'].map((keyword) => ({ keyword, value: '' }))],
});
const QUERIES: Record<string, IndexQuery> = {
  'PatientID': study([{ keyword: 'PatientID', value: 'SYN1-0000017' }]),
  'PatientName wildcard (SMITH^J*)': study([{ keyword: 'PatientName', value: 'SMITH^J*' }]),
  'StudyDate range (one week)': study([{ keyword: 'StudyDate', value: '20150311-20150317' }]),
  // What a study list asks for (QIDO-RS limit, OHIF's first page): the same wildcard, one page.
  'PatientName wildcard, first 100': { ...study([{ keyword: 'PatientName', value: 'SMITH^J*' }]), limit: 100 },
};

interface Backend {
  name: string;
  /** The instances already indexed when the rows were kept from an earlier run (BENCH_PG_SCHEMA). */
  open(): Promise<{ index: ArchiveIndex; instances: number }>;
  load(index: ArchiveIndex, patients: number, seed: number): Promise<{ instances: number; ms: number }>;
  /** After a load: the database's own aftermath written out (checkpoint), before measuring. */
  settle(index: ArchiveIndex): Promise<void>;
  cleanup(): Promise<void>;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-scale-'));

const sqlite: Backend = {
  name: 'SQLite',
  async open() {
    const index = SqliteIndex.open({ path: path.join(work, 'pacs.db'), walMode: true });
    await index.migrate();
    return { index, instances: 0 };
  },
  load: (index, patients, seed) => bulkLoadSynthetic(index as SqliteIndex, { ...SHAPE, patients, seed }),
  async settle(index) {
    (index as SqliteIndex).db.pragma('wal_checkpoint(TRUNCATE)');
  },
  async cleanup() {},
};

function postgres(url: string): Backend {
  const schema = KEPT_SCHEMA ?? `bench_scale_${process.pid}`;
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  return {
    name: 'PostgreSQL',
    async open() {
      await admin.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(schema)}`);
      const index = PostgresIndex.open({ url, schema, max: 4 });
      await index.migrate();
      const kept = await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteSchema(schema)}.instances`);
      return { index, instances: Number(kept.rows[0]?.n ?? 0) };
    },
    load: (index, patients, seed) => (index as PostgresIndex).bulkLoadSynthetic({ ...SHAPE, patients, seed }),
    async settle() {
      await admin.query('CHECKPOINT');
    },
    async cleanup() {
      if (KEPT_SCHEMA === null) await admin.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
      else process.stderr.write(`PostgreSQL: rows kept in schema ${KEPT_SCHEMA}\n`);
      await admin.end();
    },
  };
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function measure(index: ArchiveIndex, query: IndexQuery): Promise<{ p50: number; p99: number; answers: number }> {
  let answers = 0;
  for (let i = 0; i < 5; i++) answers = (await index.query(query)).length; // warm the caches and the plan
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    await index.query(query);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), answers };
}

async function run(backend: Backend): Promise<string[]> {
  // The heap pacs_server has with this index by default (server.compact_heap, core/heap.ts).
  if (backend === sqlite) applyCompactHeap();
  else restoreDefaultHeap();
  const lines: string[] = [];
  const opened = await backend.open();
  const index = opened.index;
  try {
    let instances = opened.instances;
    // Kept rows are measured at the size they have; a fresh index steps through SIZES.
    let seed = 1;
    for (const size of instances > 0 ? [instances] : SIZES) {
      const loaded = instances >= size ? { instances: 0, ms: 0 } : await backend.load(index, Math.ceil((size - instances) / PER_PATIENT), seed++);
      instances += loaded.instances;
      process.stderr.write(`${backend.name}: +${loaded.instances} instances in ${(loaded.ms / 1000).toFixed(1)} s (${Math.round(loaded.instances / (loaded.ms / 1000 || 1))}/s), now ${instances}\n`);
      // A server answers queries long after its rows were written, not in the minutes the load's
      // aftermath lasts: PostgreSQL writing out gigabytes of dirty pages at its next checkpoint,
      // and this process collecting the loader's garbage (a major collection of ~12 ms every few
      // queries: at 10^6 on PostgreSQL, 11 of the 14 slowest of 300 wildcard queries overlapped
      // one, p99 15.6 ms against 6.2 ms once collected and checkpointed). Both are settled first.
      await backend.settle(index);
      (globalThis as { gc?: () => void }).gc?.();
      for (const [name, query] of Object.entries(QUERIES)) {
        const r = await measure(index, query);
        process.stderr.write(`  ${name}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${r.answers} answers\n`);
        lines.push(`| ${backend.name} | ${instances.toLocaleString('en-US')} | ${name} | ${r.answers} | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`);
      }
      lines.push(...(await everyStudy(backend.name, instances, index)));
      lines.push(`| ${backend.name} | ${instances.toLocaleString('en-US')} | (bulk load of this step) | ${loaded.instances} rows | ${(loaded.ms / 1000).toFixed(1)} s | |`);
    }
  } finally {
    await index.close();
    await backend.cleanup();
  }
  return lines;
}

/**
 * Every study, as a universal C-FIND reads it (pages of 1,000 in keyset order) and in one
 * statement (as before paging), timed once each: what the paging costs, and what it saves in
 * memory (the JavaScript heap's growth while the answer is held).
 */
async function everyStudy(name: string, instances: number, index: ArchiveIndex): Promise<string[]> {
  const query: IndexQuery = { ...study([]), keyOrder: true };
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  let heap = process.memoryUsage().heapUsed;
  let t0 = performance.now();
  let answers = 0;
  let pages = 0;
  let peakPaged = 0;
  for await (const page of queryPages(index, query, 1000)) {
    answers += page.length;
    pages++;
    peakPaged = Math.max(peakPaged, process.memoryUsage().heapUsed - heap);
  }
  const paged = performance.now() - t0;
  gc?.();
  heap = process.memoryUsage().heapUsed;
  t0 = performance.now();
  const whole = await index.query(study([]));
  const once = performance.now() - t0;
  const held = process.memoryUsage().heapUsed - heap;
  process.stderr.write(`  every study: ${answers} in ${pages} pages ${paged.toFixed(0)} ms (heap +${(peakPaged / 1048576).toFixed(0)} MB), at once ${once.toFixed(0)} ms (heap +${(held / 1048576).toFixed(0)} MB)\n`);
  const n = instances.toLocaleString('en-US');
  return [
    `| ${name} | ${n} | every study, C-FIND pages of 1,000 (${pages}); heap +${(peakPaged / 1048576).toFixed(0)} MB | ${answers} | ${paged.toFixed(0)} (once) | |`,
    `| ${name} | ${n} | every study, one statement (by date, as before paging); heap +${(held / 1048576).toFixed(0)} MB | ${whole.length} | ${once.toFixed(0)} (once) | |`,
  ];
}

async function main(): Promise<void> {
  const backends = [...(BACKENDS.includes('sqlite') ? [sqlite] : []), ...(PG_URL === null || !BACKENDS.includes('postgres') ? [] : [postgres(PG_URL)])];
  if (PG_URL === null) process.stderr.write('bench:scale: no BENCH_PG_URL or PACS_TEST_PG_URL: PostgreSQL skipped\n');
  const lines: string[] = [];
  for (const b of backends) lines.push(...(await run(b)));
  process.stdout.write(`\nstudy level through index.query, ${RUNS} runs after 5 warm-up, sizes ${SIZES.join(', ')}\n\n`);
  process.stdout.write(`| backend | instances | query | answers | p50 ms | p99 ms |\n| --- | ---: | --- | ---: | ---: | ---: |\n${lines.join('\n')}\n`);
}

main()
  .catch((e: unknown) => {
    process.stderr.write(`bench:scale failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(() => fs.rmSync(work, { recursive: true, force: true }));
