// npm run bench:find — C-FIND latency of pacs-server against Orthanc on the same data,
// measured with DCMTK's findscu, the round trip of an echoscu subtracted (process start and
// association cost the same for both). Then the same queries on an index bulk-loaded to
// BENCH_BULK instances (default 1,000,000; 0 skips it), for the ≤ 20 ms target.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../test/helpers/dcmtk.js';
import { writeSyntheticCT } from './synthetic.js';
import { type Peer, cpuSeconds, startOrthanc, startPacs } from './peers.js';
import { SqliteIndex } from '../src/index/sqlite/sqlite-index.js';
import { bulkLoadSynthetic } from '../src/index/sqlite/bulk.js';

const STUDIES = Number(process.env.BENCH_STUDIES ?? 2000);
const PER_STUDY = Number(process.env.BENCH_PER_STUDY ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const BULK = Number(process.env.BENCH_BULK ?? 1_000_000);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-find-'));

const QUERIES: Record<string, string[]> = {
  'PatientID': ['-k', 'PatientID=BENCH17', '-k', 'StudyInstanceUID'],
  'PatientName wildcard': ['-k', 'PatientName=SMITH*', '-k', 'StudyInstanceUID'],
  'StudyDate range': ['-k', 'StudyDate=20250301-20250331', '-k', 'StudyInstanceUID'],
  'ModalitiesInStudy': ['-k', 'ModalitiesInStudy=MR', '-k', 'StudyInstanceUID'],
  'all studies': ['-k', 'StudyInstanceUID', '-k', 'PatientName', '-k', 'StudyDate'],
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Wall time of a DCMTK tool and the CPU it used itself (user + system, from /usr/bin/time). */
async function timed(cmd: string, args: string[]): Promise<{ ms: number; out: string; cpuMs: number }> {
  const t0 = process.hrtime.bigint();
  const r = await run('/usr/bin/time', ['-f', 'CPU-SECONDS %U %S', cmd, ...args]);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`${cmd} failed: ${r.stderr.slice(0, 300)}`);
  const cpu = /CPU-SECONDS ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { ms, out: r.stdout + r.stderr, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : NaN };
}

interface Measured {
  ms: number;
  answers: number;
  /** CPU per query: the server's (all threads), and findscu's own. */
  serverCpuMs: number;
  clientCpuMs: number;
}

/**
 * Net milliseconds per query and the number of answers. findscu --repeat N sends N queries on
 * one association; echoscu --repeat N does the same with C-ECHO: their difference divided by
 * N is the query alone, without process start or association set-up (median of 3 runs).
 */
async function measure(peer: Peer): Promise<Record<string, Measured>> {
  const target = ['127.0.0.1', String(peer.port)];
  const repeat = ['--repeat', String(RUNS)];
  const echo: { ms: number; cpuMs: number; server: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const before = cpuSeconds(peer.pid, true);
    const t = await timed('echoscu', [...repeat, '-aec', peer.aeTitle, ...target]);
    echo.push({ ...t, server: (cpuSeconds(peer.pid, true) - before) * 1000 });
  }
  const base = median(echo.map((e) => e.ms));
  const baseCpu = median(echo.map((e) => e.cpuMs));
  const baseServer = median(echo.map((e) => e.server));
  const out: Record<string, Measured> = {};
  for (const [name, keys] of Object.entries(QUERIES)) {
    const args = ['-S', '-aec', peer.aeTitle, '-k', '0008,0052=STUDY', ...keys, ...target];
    const runs: { ms: number; cpuMs: number; server: number }[] = [];
    // Timed runs print nothing (findscu -v spends its own time dumping every answer).
    for (let i = 0; i < 3; i++) {
      const before = cpuSeconds(peer.pid, true);
      const t = await timed('findscu', [...repeat, ...args]);
      runs.push({ ...t, server: (cpuSeconds(peer.pid, true) - before) * 1000 });
    }
    const answers = ((await timed('findscu', ['-v', ...args])).out.match(/Find Response: \d+ \(Pending\)/g) ?? []).length;
    out[name] = {
      ms: Math.max(0, (median(runs.map((r) => r.ms)) - base) / RUNS),
      answers,
      serverCpuMs: Math.max(0, (median(runs.map((r) => r.server)) - baseServer) / RUNS),
      clientCpuMs: Math.max(0, (median(runs.map((r) => r.cpuMs)) - baseCpu) / RUNS),
    };
    const m = out[name]!;
    process.stderr.write(`  ${peer.name} ${name}: ${m.ms.toFixed(2)} ms net, ${answers} answers, CPU server ${m.serverCpuMs.toFixed(2)} / findscu ${m.clientCpuMs.toFixed(2)} ms\n`);
  }
  return out;
}

async function main(): Promise<void> {
  process.stderr.write(`bench:find in ${work}: ${STUDIES} studies × ${PER_STUDY} instances\n`);
  if (STUDIES > 0) await sideBySide();
  if (BULK > 0) await atScale();
  fs.rmSync(work, { recursive: true, force: true });
}

/** The same data in pacs-server and Orthanc, the same queries. */
async function sideBySide(): Promise<void> {
  const dir = path.join(work, 'data');
  writeSyntheticCT({ dir, count: STUDIES * PER_STUDY, rows: 16, columns: 16, set: 5, perSeries: PER_STUDY, seriesPerStudy: 1 });
  const results: Record<string, Record<string, Measured>> = {};
  for (const which of ['pacs', 'orthanc'] as const) {
    const peer = which === 'pacs' ? await startPacs(path.join(work, which)) : await startOrthanc(path.join(work, which));
    try {
      const r = await run('storescu', ['-aec', peer.aeTitle, '+sd', '127.0.0.1', String(peer.port), dir], { timeoutMs: 3_600_000 });
      if (r.code !== 0) throw new Error(`loading ${peer.name} failed: ${r.stderr.slice(0, 300)}`);
      results[which] = await measure(peer);
    } finally {
      await peer.stop();
    }
  }
  const rows = Object.keys(QUERIES).map((q) => {
    const a = results.pacs![q]!;
    const b = results.orthanc![q]!;
    return `| ${q} | ${a.answers} | ${a.ms.toFixed(2)} | ${b.ms.toFixed(2)} (${b.answers}) | ${(b.ms / Math.max(a.ms, 0.1)).toFixed(1)}× | ${a.serverCpuMs.toFixed(2)} / ${b.serverCpuMs.toFixed(2)} | ${a.clientCpuMs.toFixed(2)} / ${b.clientCpuMs.toFixed(2)} |`;
  });
  process.stdout.write(`\n${STUDIES * PER_STUDY} instances in ${STUDIES} studies, study level; per query: (findscu --repeat ${RUNS} − echoscu --repeat ${RUNS}) / ${RUNS}, median of 3\n\n`);
  process.stdout.write(
    `| query | answers | pacs-server ms | Orthanc ms (answers) | pacs-server faster by | server CPU ms, pacs-server / Orthanc | findscu CPU ms, against pacs-server / Orthanc |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n${rows.join('\n')}\n`,
  );
}

/** An index bulk-loaded to BENCH_BULK instances; selective queries, as a person types them. */
async function atScale(): Promise<void> {
  {
    const bulkDir = path.join(work, 'bulk');
    fs.mkdirSync(bulkDir, { recursive: true });
    const index = SqliteIndex.open({ path: path.join(bulkDir, 'pacs.db'), walMode: true });
    await index.migrate();
    const perPatient = 2 * 2 * 5;
    const loaded = await bulkLoadSynthetic(index, { patients: Math.ceil(BULK / perPatient), studiesPerPatient: 2, seriesPerStudy: 2, instancesPerSeries: 5 });
    await index.close();
    process.stderr.write(`  bulk-loaded ${loaded.instances} instances in ${(loaded.ms / 1000).toFixed(0)} s\n`);
    const peer = await startPacs(bulkDir);
    try {
      // The bulk loader's names and IDs differ from the synthetic files': match its vocabulary.
      for (const k of Object.keys(QUERIES)) delete QUERIES[k];
      QUERIES['PatientID'] = ['-k', 'PatientID=SYN1-0000017', '-k', 'StudyInstanceUID'];
      QUERIES['PatientName wildcard'] = ['-k', 'PatientName=SMITH^J*', '-k', 'StudyInstanceUID'];
      QUERIES['StudyDate (one day)'] = ['-k', 'StudyDate=20150315', '-k', 'StudyInstanceUID'];
      QUERIES['ModalitiesInStudy + StudyDate (one week)'] = ['-k', 'ModalitiesInStudy=MR', '-k', 'StudyDate=20150311-20150317', '-k', 'StudyInstanceUID'];
      const r = await measure(peer);
      process.stdout.write(`\n${loaded.instances} instances (bulk-loaded), study level, measured the same way\n\n| query | answers | pacs-server ms |\n| --- | ---: | ---: |\n`);
      for (const [q, v] of Object.entries(r)) process.stdout.write(`| ${q} | ${v.answers} | ${v.ms.toFixed(2)} |\n`);
    } finally {
      await peer.stop();
    }
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:find failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
