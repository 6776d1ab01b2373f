// npm run bench:soak — issue 7's soak test: 8 storescu associations sending to pacs_server
// without a pause for BENCH_SOAK_SECONDS (default 600), the server's resident memory sampled
// every 10 s. Memory must stay flat: the last minute's average within 20 % (+ 32 MB) of the
// second minute's (the first minute is warm-up: caches, JIT, the worker pool).
//   BENCH_SOAK_SECONDS=600 BENCH_SOAK_ASSOCIATIONS=8 npm run bench:soak
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../test/helpers/dcmtk.js';
import { writeSyntheticCT } from './synthetic.js';
import { startPacs } from './peers.js';

const SECONDS = Number(process.env.BENCH_SOAK_SECONDS ?? 600);
const ASSOCIATIONS = Number(process.env.BENCH_SOAK_ASSOCIATIONS ?? 8);
const SAMPLE_MS = 10_000;

const rssMB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};
const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-soak-'));
  // Each association re-sends its own 50 files over and over; duplicates are overwritten, so
  // every store goes the whole way (file, rename, index row replaced, events).
  const dirs = Array.from({ length: ASSOCIATIONS }, (_, i) => {
    const dir = path.join(work, `in${i}`);
    writeSyntheticCT({ dir, count: 50, rows: 256, columns: 256, perSeries: 50, set: 70 + i });
    return dir;
  });
  fs.mkdirSync(path.join(work, 'pacs'));
  const pacs = await startPacs(path.join(work, 'pacs'), ['--set', 'storage.duplicate_policy=overwrite']);
  const deadline = Date.now() + SECONDS * 1000;
  let sent = 0;
  let failures = 0;
  const loops = dirs.map(async (dir) => {
    while (Date.now() < deadline) {
      const r = await run('storescu', ['-aec', pacs.aeTitle, '+sd', '127.0.0.1', String(pacs.port), dir], { timeoutMs: 600_000 });
      if (r.code === 0) sent += 50;
      else failures++;
    }
  });
  const samples: { t: number; rss: number }[] = [];
  const started = Date.now();
  const timer = setInterval(() => {
    const s = { t: Math.round((Date.now() - started) / 1000), rss: rssMB(pacs.pid) };
    samples.push(s);
    process.stdout.write(`  ${String(s.t).padStart(4)} s  rss ${s.rss.toFixed(0)} MB  sent ${sent}\n`);
  }, SAMPLE_MS);
  await Promise.all(loops);
  clearInterval(timer);
  await pacs.stop();
  fs.rmSync(work, { recursive: true, force: true });

  const second = samples.filter((s) => s.t > 60 && s.t <= 120).map((s) => s.rss);
  const last = samples.filter((s) => s.t > SECONDS - 60).map((s) => s.rss);
  const base = avg(second.length ? second : samples.slice(0, 3).map((s) => s.rss));
  const end = avg(last);
  const flat = end <= base * 1.2 + 32;
  process.stdout.write(
    `\n| soak | value |\n| --- | ---: |\n| associations × seconds | ${ASSOCIATIONS} × ${SECONDS} |\n| instances stored | ${sent} (${(sent / SECONDS).toFixed(0)}/s) |\n| failed storescu runs | ${failures} |\n` +
      `| RSS, second minute (avg) | ${base.toFixed(0)} MB |\n| RSS, last minute (avg) | ${end.toFixed(0)} MB |\n| RSS, peak | ${Math.max(...samples.map((s) => s.rss)).toFixed(0)} MB |\n| flat (last ≤ 1.2 × second + 32 MB) | ${flat ? 'yes' : 'NO'} |\n`,
  );
  if (!flat || failures) process.exitCode = 1;
}

await main();
