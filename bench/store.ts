// npm run bench:store — C-STORE throughput and memory of pacs-server against DCMTK's storescp
// and Orthanc, side by side in one run, all fed by DCMTK's storescu (TCP_NODELAY=1).
// Prints ratios (the machines are shared and noisy: compare ratios, not absolute rates).
//   BENCH_COUNT=1000 BENCH_SMALL=20000 BENCH_BIG=8 npm run bench:store
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { run } from '../test/helpers/dcmtk.js';
import { writeSyntheticCT } from './synthetic.js';
import { type Peer, cpuSeconds, peakRssMB, split, startOrthanc, startPacs, startStorescp } from './peers.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 1000);
const SMALL = Number(process.env.BENCH_SMALL ?? 20000);
const BIG = Number(process.env.BENCH_BIG ?? 8);
const PEERS = (process.env.BENCH_PEERS ?? 'pacs,storescp,orthanc').split(',');
/** Extra pacs_server options, e.g. BENCH_PACS_ARGS=--no-fsync to see what the syncs cost. */
const PACS_ARGS = (process.env.BENCH_PACS_ARGS ?? '').split(' ').filter(Boolean);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-'));

/** Sends each directory on its own association (one storescu process each), all at once. */
async function send(peer: Peer, dirs: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const results = await Promise.all(
    dirs.map((d) => run('storescu', ['-aec', peer.aeTitle, '+sd', '-xs', '127.0.0.1', String(peer.port), d], { timeoutMs: 3_600_000 })),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const r of results) if (r.code !== 0) throw new Error(`storescu to ${peer.name} failed: ${r.stderr.split('\n').filter((l) => l.startsWith('E:')).slice(0, 3).join(' ')}`);
  return secs;
}

interface Row {
  scenario: string;
  instances: number;
  rates: Record<string, number>;
  /** CPU per instance in ms, user + system, every thread (pacs-server and Orthanc: one process each). */
  cpuMs: Record<string, number>;
  rssMB: number;
}

/**
 * Writes back every dirty page before a peer starts: the files just generated (half a gigabyte)
 * and the previous peer's archive would otherwise be flushed while this one syncs, slowing the
 * first peer of each scenario most (an fsync waits for the journal commit that carries them).
 */
function quiesceDisk(): void {
  execFileSync('sync');
}

async function scenario(name: string, instances: number, dirs: string[]): Promise<Row> {
  const rates: Record<string, number> = {};
  const cpuMs: Record<string, number> = {};
  let rssMB = 0;
  for (const which of PEERS) {
    quiesceDisk();
    const dir = path.join(work, `${name.replace(/\W+/g, '-')}-${which}`);
    const peer =
      which === 'pacs' ? await startPacs(dir, PACS_ARGS) : which === 'storescp' ? await startStorescp(dir, dirs.length > 1) : await startOrthanc(dir);
    try {
      const cpu0 = cpuSeconds(peer.pid);
      const secs = await send(peer, dirs);
      rates[which] = instances / secs;
      cpuMs[which] = ((cpuSeconds(peer.pid) - cpu0) * 1000) / instances;
      if (which === 'pacs') rssMB = peakRssMB(peer.pid);
      process.stderr.write(`  ${name}: ${peer.name} ${(instances / secs).toFixed(0)} instances/s\n`);
    } finally {
      await peer.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return { scenario: name, instances, rates, cpuMs, rssMB };
}

async function main(): Promise<void> {
  process.stderr.write(`bench:store in ${work}\n  generating ${COUNT} CT 512x512 and ${SMALL} small instances\n`);
  const ct = writeSyntheticCT({ dir: path.join(work, 'ct'), count: COUNT, rows: 512, columns: 512, set: 1 });
  writeSyntheticCT({ dir: path.join(work, 'small'), count: SMALL, rows: 24, columns: 24, set: 2 });
  const rows: Row[] = [];
  rows.push(await scenario('CT 512x512, 1 association', COUNT, [path.join(work, 'ct')]));
  rows.push(await scenario('CT 512x512, 4 associations', COUNT, split(ct, 4, path.join(work, 'ct4'))));
  rows.push(await scenario('small (~2 KB), 1 association', SMALL, [path.join(work, 'small')]));
  fs.rmSync(path.join(work, 'small'), { recursive: true, force: true });

  // Eight associations each sending one 100 MB instance at once: only our memory matters.
  let bigRss = 0;
  if (BIG > 0) {
    const big = writeSyntheticCT({ dir: path.join(work, 'big'), count: BIG, rows: 7072, columns: 7072, set: 3, perSeries: 1 });
    quiesceDisk();
    const peer = await startPacs(path.join(work, 'big-pacs'));
    try {
      await send(peer, split(big, BIG, path.join(work, 'bigparts')));
      bigRss = peakRssMB(peer.pid);
    } finally {
      await peer.stop();
    }
  }

  const ratio = (a?: number, b?: number): string => (a && b ? `${(a / b).toFixed(2)}×` : '–');
  const out = [
    `| scenario | instances | pacs-server /s | storescp /s | Orthanc /s | vs storescp | vs Orthanc | CPU ms/instance pacs-server / Orthanc | pacs-server peak RSS |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...rows.map(
      (r) =>
        `| ${r.scenario} | ${r.instances} | ${r.rates.pacs?.toFixed(0) ?? '–'} | ${r.rates.storescp?.toFixed(0) ?? '–'} | ${r.rates.orthanc?.toFixed(0) ?? '–'} | ` +
        `${ratio(r.rates.pacs, r.rates.storescp)} | ${ratio(r.rates.pacs, r.rates.orthanc)} | ${r.cpuMs.pacs?.toFixed(2) ?? '–'} / ${r.cpuMs.orthanc?.toFixed(2) ?? '–'} | ${r.rssMB.toFixed(0)} MB |`,
    ),
    ...(BIG > 0 ? [`| ${BIG} × 100 MB instance, ${BIG} associations at once | ${BIG} | | | | | | | ${bigRss.toFixed(0)} MB |`] : []),
  ];
  process.stdout.write(`\n${out.join('\n')}\n\n(${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}; fsync on for pacs-server; storescp +B writing files, --fork for concurrent associations; Orthanc ${'1.10'} with SQLite)\n`);
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:store failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
