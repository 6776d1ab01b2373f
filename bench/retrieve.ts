// npm run bench:retrieve — C-GET (getscu) and C-MOVE (movescu into storescp) of one CT study
// of BENCH_COUNT (default 300) 512×512 instances, from pacs-server and from DCMTK's dcmqrscp,
// side by side; instances per second and the ratio. Then the same study stored as JPEG 2000
// lossless, retrieved by receivers that take only uncompressed syntaxes: decompression on the
// fly (retrieve-j2k.ts). BENCH_ONLY=j2k runs that scenario alone, BENCH_ONLY=dimse the first one;
// BENCH_ROUNDS (5) rounds of each; BENCH_PACS_ARGS passes options to pacs_server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, run, startDaemon } from '../test/helpers/dcmtk.js';
import { writeSyntheticCT } from './synthetic.js';
import { cpuSeconds, startPacs, type Peer } from './peers.js';
import { j2kScenario } from './retrieve-j2k.js';

const COUNT = Number(process.env.BENCH_COUNT ?? 300);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PACS_ARGS = (process.env.BENCH_PACS_ARGS ?? '').split(' ').filter(Boolean);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-bench-retrieve-'));

async function startDcmqrscp(dir: string, rcvPort: number): Promise<Peer & { child: ChildProcess }> {
  const port = await freePort();
  fs.mkdirSync(path.join(dir, 'db'), { recursive: true });
  const cfg = path.join(dir, 'dcmqrscp.cfg');
  fs.writeFileSync(
    cfg,
    [`NetworkTCPPort = ${port}`, 'MaxPDUSize = 131072', 'MaxAssociations = 16', 'HostTable BEGIN', `rcv = (RCV, 127.0.0.1, ${rcvPort})`, 'HostTable END',
      'VendorTable BEGIN', 'VendorTable END', 'AETable BEGIN', `QRSCP ${path.join(dir, 'db')} RW (100000, 100000mb) ANY`, 'AETable END', ''].join('\n'),
  );
  const child = await startDaemon('dcmqrscp', ['-c', cfg, String(port)], port, dir);
  return { name: 'dcmqrscp', aeTitle: 'QRSCP', port, pid: child.pid!, child, stop: async () => void child.kill() };
}

/** Instances per second of one run of `cmd`. */
async function rate(label: string, cmd: string, args: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await run(cmd, args, { timeoutMs: 3_600_000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.code !== 0) throw new Error(`${label}: ${cmd} failed: ${r.stderr.split('\n').filter((l) => /^[EF]:/.test(l)).slice(0, 3).join(' ')}`);
  return COUNT / secs;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

/**
 * Both servers run at once and are retrieved from in turns — ours, then dcmqrscp, for C-GET
 * then C-MOVE — for ROUNDS rounds: the machine's ups and downs hit both alike (one after the
 * other, minutes apart, a shared machine moved either by up to 2×). Medians and their ratio.
 */
async function main(): Promise<void> {
  process.stderr.write(`bench:retrieve in ${work}: one study of ${COUNT} CT 512x512, ${ROUNDS} rounds\n`);
  if (process.env.BENCH_ONLY === 'j2k') return decompressing();
  const data = path.join(work, 'study');
  writeSyntheticCT({ dir: data, count: COUNT, rows: 512, columns: 512, set: 7, perSeries: COUNT });
  const studyUid = `2.25.99887766.${process.pid}.7.2.1`;
  const rcvPort = await freePort();
  const peers: Peer[] = [];
  try {
    for (const which of ['pacs', 'dcmqrscp'] as const) {
      const dir = path.join(work, which);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'pacs_server.yaml'), `known_nodes:\n  - { ae_title: RCV, host: 127.0.0.1, port: ${rcvPort} }\n`);
      const peer = which === 'pacs' ? await startPacs(dir, ['--config', path.join(dir, 'pacs_server.yaml'), ...PACS_ARGS]) : await startDcmqrscp(dir, rcvPort);
      peers.push(peer);
      const load = await run('storescu', ['-aec', peer.aeTitle, '+sd', '127.0.0.1', String(peer.port), data], { timeoutMs: 3_600_000 });
      if (load.code !== 0) throw new Error(`loading ${which}: ${load.stderr.slice(0, 200)}`);
    }
    const rcv = await startDaemonOnPort(path.join(work, 'rcv'), rcvPort);
    const keys = ['-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${studyUid}`];
    const got: Record<string, { get: number[]; move: number[] }> = { pacs: { get: [], move: [] }, dcmqrscp: { get: [], move: [] } };
    // Server CPU over all rounds: a steadier measure than the rates on a shared machine.
    // dcmqrscp works in a child per association, counted once reaped (cutime/cstime).
    const cpu0 = peers.map((peer) => cpuSeconds(peer.pid, true));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, which] of (['pacs', 'dcmqrscp'] as const).entries()) {
        const peer = peers[i]!;
        const out = path.join(work, `get-${which}-${round}`);
        fs.mkdirSync(out);
        got[which]!.get.push(await rate(`${which} C-GET`, 'getscu', ['-aec', peer.aeTitle, '-od', out, ...keys, '127.0.0.1', String(peer.port)]));
        fs.rmSync(out, { recursive: true, force: true });
      }
      for (const [i, which] of (['pacs', 'dcmqrscp'] as const).entries()) {
        const peer = peers[i]!;
        got[which]!.move.push(await rate(`${which} C-MOVE`, 'movescu', ['-aec', peer.aeTitle, '-aem', 'RCV', ...keys, '127.0.0.1', String(peer.port)]));
      }
      fs.rmSync(path.join(work, 'rcv'), { recursive: true, force: true });
      fs.mkdirSync(path.join(work, 'rcv'));
      const last = (xs: number[]): string => xs[xs.length - 1]!.toFixed(0);
      process.stderr.write(`  round ${round}: C-GET ${last(got.pacs!.get)} / ${last(got.dcmqrscp!.get)}, C-MOVE ${last(got.pacs!.move)} / ${last(got.dcmqrscp!.move)} instances/s (ours / dcmqrscp)\n`);
    }
    rcv.kill();
    // dcmqrscp reaps its children when its accept loop turns: one more association makes it turn.
    await run('echoscu', ['-aec', peers[1]!.aeTitle, '127.0.0.1', String(peers[1]!.port)], { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    const cpuMs = peers.map((peer, i) => ((cpuSeconds(peer.pid, true) - cpu0[i]!) * 1000) / (ROUNDS * 2 * COUNT));
    const p = { get: median(got.pacs!.get), move: median(got.pacs!.move) };
    const d = { get: median(got.dcmqrscp!.get), move: median(got.dcmqrscp!.move) };
    process.stdout.write(
      `\n| operation (median of ${ROUNDS} rounds) | pacs-server /s | dcmqrscp /s | ratio |\n| --- | ---: | ---: | ---: |\n` +
        `| C-GET of ${COUNT} instances (getscu) | ${p.get.toFixed(0)} | ${d.get.toFixed(0)} | ${(p.get / d.get).toFixed(2)}× |\n` +
        `| C-MOVE of ${COUNT} instances (movescu → storescp) | ${p.move.toFixed(0)} | ${d.move.toFixed(0)} | ${(p.move / d.move).toFixed(2)}× |\n` +
        `| server CPU per instance sent, ms (all rounds) | ${cpuMs[0]!.toFixed(3)} | ${cpuMs[1]!.toFixed(3)} | ${(cpuMs[1]! / cpuMs[0]!).toFixed(2)}× less |\n`,
    );
  } finally {
    for (const peer of peers) await peer.stop();
  }
  if (process.env.BENCH_ONLY === 'dimse') fs.rmSync(work, { recursive: true, force: true });
  else await decompressing();
}

/** The JPEG 2000 lossless study retrieved decompressed (no peer to compare: dcmqrscp cannot decode JPEG 2000). */
async function decompressing(): Promise<void> {
  const j = await j2kScenario(work, COUNT);
  if (j)
    process.stdout.write(
      `\n| stored as JPEG 2000 lossless (${(j.codestreamBytes / 1024).toFixed(0)} KiB a frame), sent uncompressed | instances/s | server CPU (cores) |\n| --- | ---: | ---: |\n` +
        `| C-GET of ${COUNT} instances (getscu, uncompressed only) | ${j.get.rate.toFixed(0)} | ${j.get.cpu.toFixed(2)} |\n` +
        `| C-MOVE of ${COUNT} instances (storescp, Explicit VR LE only) | ${j.move.rate.toFixed(0)} | ${j.move.cpu.toFixed(2)} |\n`,
    );
  fs.rmSync(work, { recursive: true, force: true });
}

async function startDaemonOnPort(dir: string, port: number): Promise<ChildProcess> {
  fs.mkdirSync(dir, { recursive: true });
  return startDaemon('storescp', ['+B', '+xa', '-od', dir, '-aet', 'RCV', String(port)], port);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:retrieve failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
