// The decompression scenario of bench:retrieve: one study of COUNT CT 512×512 instances stored
// as JPEG 2000 lossless (a real CT slice compressed by GDCM's gdcmconv, under each instance's
// own header), retrieved by C-GET (getscu, proposing uncompressed syntaxes only) and by C-MOVE
// into storescp accepting CT in Explicit VR Little Endian only. Reports instances/s and the
// server process's CPU use, user + system over wall time: 2.0 means both cores were busy.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { SAMPLES, freePort, run, startDaemon, storescpProfile, storescuProfile } from '../test/helpers/dcmtk.js';
import { encapsulate, hasTool, readFile } from '../test/helpers/pixels.js';
import { readEncapsulated } from '../src/dicom/encapsulated.js';
import { TS } from '../src/dicom/transfer-syntax.js';
import { writeSyntheticCT } from './synthetic.js';
import { cpuSeconds, startPacs } from './peers.js';

export interface J2kResult {
  get: { rate: number; cpu: number };
  move: { rate: number; cpu: number };
  codestreamBytes: number;
}

/** One JPEG 2000 lossless codestream of a real CT slice, as 12-bit unsigned samples like the synthetic headers say. */
function codestream(work: string, template: string): Buffer {
  const ankle = readFile(path.join(SAMPLES, 'octave-dicom__CT-MONO2-16-ankle.dcm'));
  const px = ankle.dataset.subarray(ankle.dataset.length - 512 * 512 * 2);
  const samples = Buffer.alloc(px.length);
  for (let i = 0; i < px.length; i += 2) samples.writeUInt16LE(Math.max(0, Math.min(4095, px.readInt16LE(i) + 1024)), i);
  const file = path.join(work, 'template.dcm');
  const t = fs.readFileSync(template);
  fs.writeFileSync(file, Buffer.concat([t.subarray(0, t.length - samples.length), samples]));
  const j2k = path.join(work, 'template-j2k.dcm');
  execFileSync('gdcmconv', ['--j2k', file, j2k], { stdio: 'pipe' });
  const { dataset } = readFile(j2k);
  const at = dataset.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42]));
  return readEncapsulated(dataset, at + 12).fragments[0]!.bytes;
}

async function timed(pid: number, cmd: string, args: string[], count: number, label: string): Promise<{ rate: number; cpu: number }> {
  const cpu0 = cpuSeconds(pid);
  const t0 = process.hrtime.bigint();
  const r = await run(cmd, args, { timeoutMs: 3_600_000 });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (cpuSeconds(pid) - cpu0) / secs;
  if (r.code !== 0) throw new Error(`${label}: ${cmd} failed: ${r.stderr.slice(0, 300)}`);
  process.stderr.write(`  ${label}: ${(count / secs).toFixed(0)} instances/s, server CPU ${cpu.toFixed(2)} cores\n`);
  return { rate: count / secs, cpu };
}

export async function j2kScenario(work: string, count: number): Promise<J2kResult | null> {
  if (!hasTool('gdcmconv')) {
    process.stderr.write('  JPEG 2000 scenario skipped: gdcmconv (libgdcm-tools) is not installed\n');
    return null;
  }
  const plain = path.join(work, 'j2k-plain');
  const files = writeSyntheticCT({ dir: plain, count, rows: 512, columns: 512, set: 9, perSeries: count });
  const stream = codestream(work, files[0]!);
  const dir = path.join(work, 'j2k-study');
  fs.mkdirSync(dir);
  const stored: string[] = [];
  for (const f of files) {
    const out = path.join(dir, path.basename(f));
    await encapsulate(f, [[stream]], TS.JPEG2000Lossless, out);
    stored.push(out);
  }
  const studyUid = `2.25.99887766.${process.pid}.9.2.1`;
  const rcvPort = await freePort();
  const server = path.join(work, 'j2k-pacs');
  fs.mkdirSync(server);
  fs.writeFileSync(path.join(server, 'pacs_server.yaml'), `known_nodes:\n  - { ae_title: RCV, host: 127.0.0.1, port: ${rcvPort} }\n`);
  const peer = await startPacs(server, ['--config', path.join(server, 'pacs_server.yaml')]);
  try {
    const load = await run('storescu', [...(await storescuProfile(stored.slice(0, 1), work)), '-aec', peer.aeTitle, '127.0.0.1', String(peer.port), ...stored], { timeoutMs: 3_600_000 });
    if (load.code !== 0) throw new Error(`loading: ${load.stderr.slice(0, 300)}`);
    const keys = ['-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${studyUid}`];
    const got = path.join(work, 'j2k-get');
    fs.mkdirSync(got);
    const get = await timed(peer.pid, 'getscu', ['+xe', '-aec', peer.aeTitle, '-od', got, ...keys, '127.0.0.1', String(peer.port)], count, 'C-GET, JPEG 2000 → uncompressed');
    const moved = path.join(work, 'j2k-moved');
    fs.mkdirSync(moved);
    // storescp accepting CT in Explicit VR Little Endian only (a profile made from an uncompressed file).
    const rcv = await startDaemon('storescp', [...(await storescpProfile(files.slice(0, 1), moved)), '-od', moved, '-aet', 'RCV', String(rcvPort)], rcvPort);
    let move;
    try {
      move = await timed(peer.pid, 'movescu', ['-aec', peer.aeTitle, '-aem', 'RCV', ...keys, '127.0.0.1', String(peer.port)], count, 'C-MOVE, JPEG 2000 → Explicit VR LE');
    } finally {
      rcv.kill();
    }
    const received = fs.readdirSync(moved).filter((f) => f !== 'storescp-profile.cfg');
    if (fs.readdirSync(got).length !== count || received.length !== count) throw new Error(`received ${fs.readdirSync(got).length} by C-GET and ${received.length} by C-MOVE of ${count}`);
    const ts = readFile(path.join(moved, received[0]!)).ts;
    if (ts !== TS.ExplicitVRLittleEndian) throw new Error(`C-MOVE delivered ${ts}`);
    return { get, move, codestreamBytes: stream.length };
  } finally {
    await peer.stop();
  }
}
