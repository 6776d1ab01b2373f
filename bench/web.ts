// npm run bench:web — DICOMweb of pacs-server against Orthanc with its DICOMweb plugin (Debian's
// orthanc + orthanc-dicomweb), side by side in one run, on the same data: a CT study of
// BENCH_COUNT (default 300) 512×512 instances in one series, and BENCH_STUDIES (default 2,000)
// studies of 10 small instances for the queries (20,000 instances). Both are loaded with
// storescu, then restarted, then measured one after the other, the retrieves in turns:
//   (a) QIDO-RS study queries as OHIF sends them: latency, median and p95, one client, keep-alive;
//   (b) QIDO-RS requests/s under load: wrk -t2 -c4 on the study-list query;
//   (c) WADO-RS retrieve of the whole CT study (multipart, as stored), downloaded by curl from
//       each server in turn: instances/s;
//   (d) WADO-RS metadata of the CT series: the first request after the restart (cold), then warm.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { run } from '../test/helpers/dcmtk.js';
import { writeSyntheticCT } from './synthetic.js';
import { ORTHANC_DICOMWEB, type Peer, cpuSeconds, startOrthanc, startPacs } from './peers.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 300);
const STUDIES = Number(process.env.BENCH_STUDIES ?? 2000);
const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const WRK_SECONDS = Number(process.env.BENCH_WRK_SECONDS ?? 10);
const RETRIEVE_RUNS = Number(process.env.BENCH_RETRIEVE_RUNS ?? 11);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-web-'));

// The same synthetic UIDs writeSyntheticCT makes (set 8: the CT study; set 9: the query set).
const run0 = `2.25.99887766.${process.pid}`;
const CT_STUDY = `${run0}.8.2.1`;
const CT_SERIES = `${CT_STUDY}.1`;
const OHIF = 'limit=101&offset=0&fuzzymatching=true&includefield=00081030%2C00080060';
const QUERIES: Record<string, string> = {
  'study list (OHIF start page)': `/studies?${OHIF}`,
  'PatientID': `/studies?00100020=BENCH17&${OHIF}`,
  'PatientName wildcard': `/studies?PatientName=JONES*&${OHIF}`,
  'StudyInstanceUID (OHIF opening a study)': `/studies?StudyInstanceUID=${run0}.9.2.42&${OHIF}`,
  'series of a study (OHIF)': `/studies/${CT_STUDY}/series?includefield=0008103E%2C00080021`,
};
const WRK_QUERY = QUERIES['study list (OHIF start page)']!;
const RETRIEVE_ACCEPT = 'multipart/related; type="application/dicom"; transfer-syntax=*';

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);
const median = (xs: number[]): number => sorted(xs)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]): number => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;

interface Answer {
  status: number;
  ms: number;
  bytes: number;
  body?: Buffer;
}

/** One GET on a keep-alive connection, timed to the last byte; the body kept only when asked. */
function get(port: number, url: string, accept: string, keep = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const req = http.get({ host: '127.0.0.1', port, path: url, agent, headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, ms: Number(process.hrtime.bigint() - t0) / 1e6, bytes, ...(keep ? { body: Buffer.concat(chunks) } : {}) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

async function ok(peer: Peer, url: string, accept = 'application/dicom+json', keep = false): Promise<Answer> {
  const a = await get(peer.httpPort!, `/dicom-web${url}`, accept, keep);
  if (a.status !== 200) throw new Error(`${peer.name}: GET /dicom-web${url} answered ${a.status}`);
  return a;
}

const partsOf = (body: Buffer, contentBoundary: string): number => {
  let n = 0;
  for (let i = body.indexOf(`--${contentBoundary}\r\n`); i >= 0; i = body.indexOf(`--${contentBoundary}\r\n`, i + 1)) n++;
  return n;
};

interface Results {
  qido: Record<string, { median: number; p95: number; answers: number }>;
  rps: { rps: number; cpuPerRequestMs: number };
  retrieve: { rate: number; mb: number; cpuPerInstanceMs: number };
  metadata: { cold: number; warm: number };
}

async function qidoLatency(peer: Peer): Promise<Results['qido']> {
  const out: Results['qido'] = {};
  for (const [name, url] of Object.entries(QUERIES)) {
    const first = await ok(peer, url, 'application/dicom+json', true);
    const answers = (JSON.parse(first.body!.toString()) as unknown[]).length;
    for (let i = 0; i < 5; i++) await ok(peer, url);
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push((await ok(peer, url)).ms);
    out[name] = { median: median(times), p95: p95(times), answers };
    process.stderr.write(`  ${peer.name} QIDO ${name}: ${answers} answers, median ${median(times).toFixed(2)} ms, p95 ${p95(times).toFixed(2)} ms\n`);
  }
  return out;
}

async function qidoThroughput(peer: Peer): Promise<Results['rps']> {
  const url = `http://127.0.0.1:${peer.httpPort}/dicom-web${WRK_QUERY}`;
  const cpu0 = cpuSeconds(peer.pid);
  const r = await run('wrk', ['-t2', '-c4', `-d${WRK_SECONDS}s`, '-H', 'Accept: application/dicom+json', url], { timeoutMs: (WRK_SECONDS + 60) * 1000 });
  const cpu = cpuSeconds(peer.pid) - cpu0;
  if (r.code !== 0) throw new Error(`wrk failed: ${r.stderr}`);
  if (/Non-2xx/.test(r.stdout)) throw new Error(`${peer.name}: wrk saw errors:\n${r.stdout}`);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const total = Number(/(\d+) requests in/.exec(r.stdout)?.[1] ?? NaN);
  process.stderr.write(`  ${peer.name} QIDO under wrk -t2 -c4: ${rps.toFixed(0)} requests/s, server CPU ${((cpu * 1000) / total).toFixed(2)} ms a request\n`);
  return { rps, cpuPerRequestMs: (cpu * 1000) / total };
}

/**
 * One timed download with curl into /dev/null: seconds to the last byte. Not our Node client:
 * draining 158 MB through Node's http costs ~150 ms of CPU per download on this machine (as
 * much as either server), so on 2 shared cores it was the client that set the pace.
 */
async function curlSeconds(peer: Peer, url: string, accept: string): Promise<number> {
  const r = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code} %{time_total}', '-H', `Accept: ${accept}`, `http://127.0.0.1:${peer.httpPort}/dicom-web${url}`], { timeoutMs: 120_000 });
  const [code, seconds] = r.stdout.trim().split(' ');
  if (r.code !== 0 || code !== '200') throw new Error(`${peer.name}: curl ${url} answered ${code ?? '?'}: ${r.stderr}`);
  return Number(seconds);
}

/** The study retrieve checked once on a peer (kept in memory and counted): its size in bytes. */
async function checkRetrieve(peer: Peer): Promise<number> {
  const check = await ok(peer, `/studies/${CT_STUDY}`, RETRIEVE_ACCEPT, true);
  const head = check.body!.subarray(0, 200).toString('latin1');
  const boundary = /^--([^\r\n]+)\r\n/.exec(head)?.[1];
  const parts = boundary ? partsOf(check.body!, boundary) : 0;
  if (parts !== COUNT) throw new Error(`${peer.name}: the study retrieve has ${parts} parts, not ${COUNT}`);
  return check.bytes;
}

/**
 * The study downloaded by curl from each peer in turn, RETRIEVE_RUNS times: run one after the
 * other, minutes apart, either side moved by up to 2× with the other work on this shared
 * machine; in turns, both see the same minute. Medians, and each peer's CPU over its downloads.
 */
async function retrieveInTurns(peers: Record<Which, Peer>): Promise<Record<Which, Results['retrieve']>> {
  const mb = { pacs: (await checkRetrieve(peers.pacs)) / 1e6, orthanc: (await checkRetrieve(peers.orthanc)) / 1e6 };
  const times: Record<Which, number[]> = { pacs: [], orthanc: [] };
  const cpu: Record<Which, number> = { pacs: 0, orthanc: 0 };
  for (let i = 0; i < RETRIEVE_RUNS; i++) {
    for (const which of WHICH) {
      const cpu0 = cpuSeconds(peers[which].pid);
      times[which].push(await curlSeconds(peers[which], `/studies/${CT_STUDY}`, RETRIEVE_ACCEPT));
      cpu[which] += cpuSeconds(peers[which].pid) - cpu0;
    }
  }
  const out = {} as Record<Which, Results['retrieve']>;
  for (const which of WHICH) {
    const rate = COUNT / median(times[which]);
    const cpuPerInstanceMs = (cpu[which] * 1000) / (RETRIEVE_RUNS * COUNT);
    process.stderr.write(`  ${peers[which].name} WADO-RS study (${mb[which].toFixed(0)} MB): ${rate.toFixed(0)} instances/s (median of ${RETRIEVE_RUNS}, in turns), server CPU ${cpuPerInstanceMs.toFixed(3)} ms an instance\n`);
    out[which] = { rate, mb: mb[which], cpuPerInstanceMs };
  }
  return out;
}

async function metadata(peer: Peer): Promise<Results['metadata']> {
  const url = `/studies/${CT_STUDY}/series/${CT_SERIES}/metadata`;
  const cold = await ok(peer, url, 'application/dicom+json', true);
  const n = (JSON.parse(cold.body!.toString()) as unknown[]).length;
  if (n !== COUNT) throw new Error(`${peer.name}: series metadata has ${n} instances, not ${COUNT}`);
  const times: number[] = [];
  for (let i = 0; i < 10; i++) times.push((await ok(peer, url)).ms);
  process.stderr.write(`  ${peer.name} WADO-RS series metadata: cold ${cold.ms.toFixed(0)} ms, warm ${median(times).toFixed(1)} ms\n`);
  return { cold: cold.ms, warm: median(times) };
}

type Which = 'pacs' | 'orthanc';
const WHICH: readonly Which[] = ['pacs', 'orthanc'];

const start = (which: Which): Promise<Peer> =>
  which === 'pacs' ? startPacs(path.join(work, which), [], { web: true }) : startOrthanc(path.join(work, which), { dicomweb: true });

async function main(): Promise<void> {
  if (!fs.existsSync(ORTHANC_DICOMWEB)) throw new Error(`no ${ORTHANC_DICOMWEB}: apt-get install orthanc orthanc-dicomweb`);
  process.stderr.write(`bench:web in ${work}: CT study of ${COUNT} × 512x512, ${STUDIES} studies × 10 small instances\n`);
  const ct = path.join(work, 'ct');
  const small = path.join(work, 'small');
  writeSyntheticCT({ dir: ct, count: COUNT, rows: 512, columns: 512, set: 8, perSeries: COUNT });
  writeSyntheticCT({ dir: small, count: STUDIES * 10, rows: 16, columns: 16, set: 9, perSeries: 10, seriesPerStudy: 1 });
  const peers: Partial<Record<Which, Peer>> = {};
  try {
    for (const which of WHICH) {
      const loading = await start(which);
      try {
        for (const dir of [ct, small]) {
          const t0 = Date.now();
          const r = await run('storescu', ['-aec', loading.aeTitle, '+sd', '127.0.0.1', String(loading.port), dir], { timeoutMs: 3_600_000 });
          if (r.code !== 0) throw new Error(`loading ${loading.name}: ${r.stderr.slice(0, 300)}`);
          process.stderr.write(`  ${loading.name}: loaded ${path.basename(dir)} in ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
        }
      } finally {
        // A restart: no process cache holds anything for the cold metadata request.
        await loading.stop();
      }
      peers[which] = await start(which);
    }
    const both = peers as Record<Which, Peer>;
    // One server measured at a time (the other idle), then the retrieves in turns.
    const partial = {} as Record<Which, Omit<Results, 'retrieve'>>;
    for (const which of WHICH) {
      const meta = await metadata(both[which]);
      partial[which] = { metadata: meta, qido: await qidoLatency(both[which]), rps: await qidoThroughput(both[which]) };
    }
    const retrieved = await retrieveInTurns(both);
    report({ ...partial.pacs, retrieve: retrieved.pacs }, { ...partial.orthanc, retrieve: retrieved.orthanc });
  } finally {
    for (const p of Object.values(peers)) await p.stop();
  }
  fs.rmSync(work, { recursive: true, force: true });
}

function report(p: Results, o: Results): void {
  const x = (a: number, b: number): string => `${(a / b).toFixed(1)}×`;
  const lines = [
    `\n${COUNT}-instance CT study (512×512, one series) + ${STUDIES} studies × 10 instances; ${RUNS} timed requests per query after 5 warm-ups, one keep-alive client`,
    '',
    '| measure | pacs-server | Orthanc + DICOMweb | pacs-server better by | target |',
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const q of Object.keys(QUERIES)) {
    const a = p.qido[q]!;
    const b = o.qido[q]!;
    const answers = a.answers === b.answers ? `${a.answers}` : `${a.answers} vs ${b.answers}`;
    lines.push(`| QIDO-RS ${q} (${answers} answers): median ms | ${a.median.toFixed(2)} | ${b.median.toFixed(2)} | ${x(b.median, a.median)} | ≥ 3× |`);
    lines.push(`| QIDO-RS ${q}: p95 ms | ${a.p95.toFixed(2)} | ${b.p95.toFixed(2)} | ${x(b.p95, a.p95)} | ≥ 3× |`);
  }
  lines.push(
    `| QIDO-RS study list, wrk -t2 -c4 ${WRK_SECONDS} s: requests/s | ${p.rps.rps.toFixed(0)} | ${o.rps.rps.toFixed(0)} | ${x(p.rps.rps, o.rps.rps)} | ≥ 5× |`,
    `| … server CPU per request, ms | ${p.rps.cpuPerRequestMs.toFixed(2)} | ${o.rps.cpuPerRequestMs.toFixed(2)} | ${x(o.rps.cpuPerRequestMs, p.rps.cpuPerRequestMs)} | |`,
    `| WADO-RS retrieve of the ${COUNT}-instance study (${p.retrieve.mb.toFixed(0)} MB multipart, curl): instances/s | ${p.retrieve.rate.toFixed(0)} | ${o.retrieve.rate.toFixed(0)} | ${x(p.retrieve.rate, o.retrieve.rate)} | ≥ 2× |`,
    `| … server CPU per instance, ms | ${p.retrieve.cpuPerInstanceMs.toFixed(3)} | ${o.retrieve.cpuPerInstanceMs.toFixed(3)} | ${x(o.retrieve.cpuPerInstanceMs, p.retrieve.cpuPerInstanceMs)} | |`,
    `| WADO-RS metadata of the ${COUNT}-instance series, cold (first request after a restart): ms | ${p.metadata.cold.toFixed(0)} | ${o.metadata.cold.toFixed(0)} | ${x(o.metadata.cold, p.metadata.cold)} | ≥ 5× |`,
    `| WADO-RS metadata of the ${COUNT}-instance series, warm: ms | ${p.metadata.warm.toFixed(1)} | ${o.metadata.warm.toFixed(1)} | ${x(o.metadata.warm, p.metadata.warm)} | ≥ 5× |`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:web failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
