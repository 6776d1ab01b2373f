// A hostile-peer suite: while a well-behaved storescu keeps storing, the server is fed mutated
// copies of a real storescu session (captured through a proxy), random PDUs, oversize length
// fields, slow-loris peers sending a byte a second, 200 connections that never speak and
// associations that never release. The server must stay up, keep serving the good client,
// close every hostile connection within its timers, and keep its memory bounded.
// HOSTILE_SEED=n replays a run (the seed is printed); HOSTILE_SECONDS sets the fuzzing time.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { RawPeer, associateRQ } from '../helpers/raw-peer.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const ARTIM_S = 1;
const IDLE_S = 2;
const FUZZ_MS = Number(process.env.HOSTILE_SECONDS ?? 12) * 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A small seeded PRNG (mulberry32), so a failing run can be replayed. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Splits a captured byte stream into PDUs by their headers. */
function splitPdus(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 6 <= stream.length; ) {
    const len = stream.readUInt32BE(off + 2);
    out.push(stream.subarray(off, off + 6 + len));
    off += 6 + len;
  }
  return out;
}

/** The client-to-server bytes of one real storescu session (association, C-STORE, release). */
async function captureStorescu(port: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const proxy = net.createServer((c) => {
    const up = net.connect(port, '127.0.0.1');
    c.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      up.write(d);
    });
    up.pipe(c);
    c.on('close', () => up.destroy());
    up.on('close', () => c.destroy());
    c.on('error', () => {});
    up.on('error', () => {});
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const r = await run('storescu', ['-aet', 'CAPTURED', '-aec', 'PACS_SERVER', '127.0.0.1', String((proxy.address() as net.AddressInfo).port), CT]);
  proxy.close();
  assert.equal(r.code, 0, r.stderr);
  return splitPdus(Buffer.concat(chunks));
}

function mutate(pdus: Buffer[], rnd: (n: number) => number): Buffer {
  const picked = pdus.slice(0, 1 + rnd(pdus.length)).map((p) => Buffer.from(p));
  const whole = Buffer.concat(rnd(4) === 0 ? [...picked, picked[rnd(picked.length)]!] : picked);
  for (let i = 0, n = 1 + rnd(4); i < n; i++) {
    const at = rnd(whole.length);
    switch (rnd(4)) {
      case 0: // flip a byte
        whole[at] = rnd(256);
        break;
      case 1: // a length field (of a PDU, an item or a PDV) becomes anything, huge included
        if (at + 4 <= whole.length) whole.writeUInt32BE(rnd(2) ? rnd(0x100000000) : rnd(64), at);
        break;
      case 2: // a 2-byte item length
        if (at + 2 <= whole.length) whole.writeUInt16BE(rnd(0x10000), at);
        break;
      default: // truncate
        return whole.subarray(0, at);
    }
  }
  return whole;
}

function randomPdu(rnd: (n: number) => number): Buffer {
  const len = rnd(3) === 0 ? rnd(0x100000000) : rnd(2048);
  const body = Buffer.alloc(Math.min(len, 2048));
  for (let i = 0; i < body.length; i++) body[i] = rnd(256);
  const head = Buffer.alloc(6);
  head[0] = 1 + rnd(8);
  head.writeUInt32BE(len, 2);
  return Buffer.concat([head, body]);
}

/** Sends bytes on a fresh connection, waits a little for the server's reaction, hangs up. */
async function shoot(port: number, bytes: Buffer, waitMs: number): Promise<void> {
  const s = net.connect(port, '127.0.0.1');
  s.on('error', () => {});
  await new Promise<void>((resolve) => {
    s.once('connect', () => {
      s.write(bytes, () => {});
      setTimeout(resolve, waitMs);
    });
    s.once('close', () => resolve());
  });
  s.destroy();
}

/** Writes `bytes` one a second until the server closes the connection; resolves with when that was. */
async function slowLoris(port: number, bytes: Buffer, prefix: Buffer = Buffer.alloc(0)): Promise<number> {
  const peer = await RawPeer.connect(port);
  if (prefix.length) await peer.write(prefix);
  const started = Date.now();
  for (const b of bytes) {
    if (peer.closed) break;
    await peer.write(Buffer.from([b])).catch(() => {});
    await sleep(1000);
  }
  await peer.waitClosed(10_000);
  peer.destroy();
  return Date.now() - started;
}

describe('hostile peers', () => {
  let pacs: TestPacs;
  const seed = Number(process.env.HOSTILE_SEED ?? Date.now() % 1_000_000);
  before(async () => {
    pacs = await startTestPacs({
      server: { artim_timeout: ARTIM_S, idle_timeout: IDLE_S, dimse_timeout: 1, max_pdu_length: 16384, max_associations: 100, shutdown_grace: 1 },
    });
  });
  after(() => pacs.stop());

  test(`the server stays up, serves a good client and bounds memory (seed ${seed})`, { timeout: 90_000 }, async (t) => {
    const captured = await captureStorescu(pacs.port);
    assert.ok(captured.length >= 3, `captured ${captured.length} PDUs`);
    const rnd = prng(seed);
    const active = (): number => (pacs.server as unknown as { listeners: { active: Set<unknown> }[] }).listeners[0]!.active.size;
    const memBefore = process.memoryUsage();
    let stop = false;

    // The good client: a store and an echo, over and over, each must succeed.
    const good = (async () => {
      let runs = 0;
      while (!stop) {
        const r = await run('storescu', ['-aet', 'GOOD', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT]);
        assert.equal(r.code, 0, `good storescu failed during the attack: ${r.stdout}${r.stderr}`);
        runs++;
        await sleep(200);
      }
      return runs;
    })();

    // 200 connections that never speak: ARTIM closes each.
    const silent = await Promise.all(Array.from({ length: 200 }, () => RawPeer.connect(pacs.port)));
    // Associations that never release: the idle timeout aborts each.
    const idle = await Promise.all(Array.from({ length: 20 }, async () => {
      const p = await RawPeer.connect(pacs.port);
      await p.accepted(associateRQ({ callingAETitle: 'NEVERLEAVES' }));
      return p;
    }));
    // Slow loris: before the association (ARTIM), inside a P-DATA PDU of an association, and
    // after an oversize length field.
    const rq = captured[0]!;
    const pdata = captured.find((p) => p[0] === 0x04)!;
    const established = (async () => {
      const p = await RawPeer.connect(pacs.port);
      await p.write(rq);
      await p.next(2000);
      p.destroy();
    })();
    await established;
    const loris = Promise.all([
      slowLoris(pacs.port, rq),
      (async () => {
        const p = await RawPeer.connect(pacs.port);
        await p.write(rq);
        await p.next(2000); // the A-ASSOCIATE-AC
        const started = Date.now();
        for (const b of pdata) {
          if (p.closed) break;
          await p.write(Buffer.from([b])).catch(() => {});
          await sleep(1000);
        }
        await p.waitClosed(10_000);
        p.destroy();
        return Date.now() - started;
      })(),
      slowLoris(pacs.port, Buffer.alloc(20, 0x41), Buffer.from([0x04, 0, 0xff, 0xff, 0xff, 0xf0])),
    ]);

    // The fuzzer: mutated sessions and random PDUs, 8 connections at a time.
    let shots = 0;
    const deadline = Date.now() + FUZZ_MS;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (Date.now() < deadline) {
        await shoot(pacs.port, rnd(5) === 0 ? randomPdu(rnd) : mutate(captured, rnd), 50 + rnd(250));
        shots++;
      }
    }));

    // Every hostile connection was closed by the server, within its timers.
    for (const s of silent) assert.ok(s.closed, 'a silent connection is still open after ARTIM');
    for (const p of idle) assert.ok(p.closed, 'an association that never releases is still open after the idle timeout');
    const lorisMs = await loris;
    for (const ms of lorisMs) assert.ok(ms < 8000, `a slow-loris peer held its connection ${ms} ms`);
    stop = true;
    const goodRuns = await good;
    assert.ok(goodRuns >= 3, `the good client stored ${goodRuns} times`);
    // Nothing left behind: associations end, the server answers, memory is bounded.
    const until = Date.now() + 5000;
    while (active() > 0 && Date.now() < until) await sleep(100);
    assert.equal(active(), 0, 'associations left open after the attack');
    assert.equal((await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)])).code, 0);
    const memAfter = process.memoryUsage();
    const grewMb = (memAfter.heapUsed + memAfter.external - memBefore.heapUsed - memBefore.external) / 1048576;
    assert.ok(grewMb < 150, `heap + external grew ${grewMb.toFixed(0)} MB`);
    for (const p of [...silent, ...idle]) p.destroy();
    t.diagnostic(`seed ${seed}: ${shots} fuzzed connections, ${goodRuns} good stores, heap+external ${grewMb.toFixed(1)} MB`);
  });
});
