// npm run bench:cluster — C-STORE ingest into one PostgreSQL index and one storage directory by
// one pacs_server, then by two sharing them (issue 8's cluster), in the same run: the same
// instances, the same number of storescu associations (split between the servers), a fresh
// schema and storage each time. Prints instances/s, the two-server/one-server ratio, and the
// CPU each server used per instance. Rounds alternate the order (BENCH_ROUNDS), the median counts.
//   BENCH_COUNT=2000 BENCH_ASSOCIATIONS=4 BENCH_ROUNDS=3 npm run bench:cluster
// PostgreSQL: BENCH_PG_URL or PACS_TEST_PG_URL (eval "$(scripts/test-postgres.sh start)").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { run } from '../test/helpers/dcmtk.js';
import { quoteSchema } from '../src/index/postgres/db.js';
import { writeSyntheticCT } from './synthetic.js';
import { type Peer, cpuSeconds, split, startPacs } from './peers.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 2000);
const ASSOCIATIONS = Number(process.env.BENCH_ASSOCIATIONS ?? 4);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SIZE = Number(process.env.BENCH_SIZE ?? 512);
const PG_URL = process.env.BENCH_PG_URL ?? process.env.PACS_TEST_PG_URL ?? null;
/** Extra pacs_server options, e.g. BENCH_PACS_ARGS=--no-fsync. */
const PACS_ARGS = (process.env.BENCH_PACS_ARGS ?? '').split(' ').filter(Boolean);

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-cluster-'));

function withSchema(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

interface Pass {
  rate: number;
  cpuPerInstanceMs: number;
}

/** `servers` pacs_servers on a fresh schema and storage; association k goes to server k mod servers. */
async function pass(admin: pg.Pool, url: string, servers: number, dirs: string[], label: string): Promise<Pass> {
  const schema = `bench_cluster_${process.pid}_${label}`;
  await admin.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  await admin.query(`CREATE SCHEMA ${quoteSchema(schema)}`);
  const storage = path.join(work, `storage-${label}`);
  const peers: Peer[] = [];
  try {
    for (let i = 0; i < servers; i++) {
      peers.push(await startPacs(path.join(work, `${label}-server${i}`), ['--set', `server.node_name=bench${i}`, ...PACS_ARGS], { storage, dbUrl: withSchema(url, schema) }));
    }
    const cpu0 = peers.map((p) => cpuSeconds(p.pid));
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(
      dirs.map((d, k) => {
        const peer = peers[k % servers]!;
        return run('storescu', ['-aec', peer.aeTitle, '+sd', '-xs', '127.0.0.1', String(peer.port), d], { timeoutMs: 3_600_000 });
      }),
    );
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    for (const r of results) if (r.code !== 0) throw new Error(`storescu failed: ${r.stderr.split('\n').filter((l) => l.startsWith('E:')).slice(0, 3).join(' ')}`);
    const cpu = peers.reduce((sum, p, i) => sum + cpuSeconds(p.pid) - cpu0[i]!, 0);
    const stored = Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteSchema(schema)}.instances`)).rows[0]?.n ?? 0);
    if (stored !== COUNT) throw new Error(`${label}: ${stored} instances indexed, expected ${COUNT}`);
    process.stderr.write(`  ${label}: ${(COUNT / secs).toFixed(0)} instances/s, ${((cpu / COUNT) * 1000).toFixed(2)} ms CPU per instance\n`);
    return { rate: COUNT / secs, cpuPerInstanceMs: (cpu / COUNT) * 1000 };
  } finally {
    for (const p of peers) await p.stop();
    fs.rmSync(storage, { recursive: true, force: true });
    await admin.query(`DROP SCHEMA IF EXISTS ${quoteSchema(schema)} CASCADE`);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  if (PG_URL === null) throw new Error('set BENCH_PG_URL or PACS_TEST_PG_URL (eval "$(scripts/test-postgres.sh start)")');
  process.stderr.write(`bench:cluster in ${work}\n  generating ${COUNT} CT ${SIZE}x${SIZE} instances in ${ASSOCIATIONS} parts\n`);
  const files = writeSyntheticCT({ dir: path.join(work, 'ct'), count: COUNT, rows: SIZE, columns: SIZE, set: 1 });
  const dirs = split(files, ASSOCIATIONS, path.join(work, 'parts'));
  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const one: Pass[] = [];
  const two: Pass[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which goes first: a warming cache or a busy neighbour favours neither.
      const order: Array<[number, Pass[]]> = r % 2 === 0 ? [[1, one], [2, two]] : [[2, two], [1, one]];
      for (const [servers, into] of order) into.push(await pass(admin, PG_URL, servers, dirs, `r${r}-${servers}`));
    }
  } finally {
    await admin.end();
  }
  const rOne = median(one.map((p) => p.rate));
  const rTwo = median(two.map((p) => p.rate));
  const out = [
    `| servers on one PostgreSQL index | instances | associations | instances/s (median of ${ROUNDS}) | CPU per instance (all servers) | vs one server |`,
    `| --- | ---: | ---: | ---: | ---: | ---: |`,
    `| 1 | ${COUNT} | ${ASSOCIATIONS} | ${rOne.toFixed(0)} | ${median(one.map((p) => p.cpuPerInstanceMs)).toFixed(2)} ms | 1.00× |`,
    `| 2 | ${COUNT} | ${ASSOCIATIONS} (${ASSOCIATIONS / 2} each) | ${rTwo.toFixed(0)} | ${median(two.map((p) => p.cpuPerInstanceMs)).toFixed(2)} ms | ${(rTwo / rOne).toFixed(2)}× |`,
  ];
  const rounds = one.map((p, i) => `${(two[i]!.rate / p.rate).toFixed(2)}×`).join(', ');
  process.stdout.write(
    `\n${out.join('\n')}\n\nper round: ${rounds}\n(${os.cpus().length} cores, ${os.cpus()[0]?.model ?? ''}; servers, PostgreSQL and storescu share them; CT ${SIZE}x${SIZE}; fsync ${PACS_ARGS.includes('--no-fsync') ? 'off' : 'on'})\n`,
  );
  fs.rmSync(work, { recursive: true, force: true });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:cluster failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
