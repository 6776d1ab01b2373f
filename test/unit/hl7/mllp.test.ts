// The MLLP listener over a loopback socket, with a stand-in for the message handling: what a
// peer can make it hold (frames it does not wait the ACKs of, connections, half-sent frames).
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../src/core/logging.js';
import { MllpDecoder, MllpServer, type MllpServerOptions, frame } from '../../../src/hl7/mllp.js';

/** A listener, and connections to it, all closed when the test ends (passed or not). */
async function listen(t: TestContext, options: Partial<MllpServerOptions>): Promise<{ connect: () => Promise<net.Socket>; server: MllpServer }> {
  const server = new MllpServer({ host: '127.0.0.1', port: 0, logger: createLogger({ level: 'silent' }), handle: async (m) => Buffer.from(`ACK ${m.length}`), ...options });
  const { port } = await server.start();
  const sockets: net.Socket[] = [];
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await server.stop();
  });
  return {
    server,
    connect: async () => {
      const socket = net.connect({ port, host: '127.0.0.1' });
      sockets.push(socket);
      socket.on('error', () => {});
      await once(socket, 'connect');
      return socket;
    },
  };
}

/** Resolves with true when the socket closes within `ms`. */
const closesWithin = (socket: net.Socket, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (socket.destroyed) return resolve(true);
    const t = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });

test('a message being handled stops reading: frames sent without waiting for ACKs stay with TCP, then all are answered in order', { timeout: 30_000 }, async (t) => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let calls = 0;
  const { connect } = await listen(t, {
    handle: async (m) => {
      if (++calls === 1) await held;
      return Buffer.from(`ACK ${m.subarray(0, 7).toString()}`);
    },
  });
  const socket = await connect();
  const acks: string[] = [];
  const decoder = new MllpDecoder();
  socket.on('data', (d: Buffer) => acks.push(...decoder.push(d).map((m) => m.toString())));
  // 32 frames of 1 MB: more than the kernel buffers of a loopback connection hold.
  const count = 32;
  for (let i = 0; i < count; i++) socket.write(frame(Buffer.concat([Buffer.from(`MSH|${String(i).padStart(3, '0')}`), Buffer.alloc(1024 * 1024, 0x41)])));
  const drained = await Promise.race([once(socket, 'drain').then(() => true), sleep(1500).then(() => false)]);
  assert.equal(drained, false, 'the server read everything while the first message was being handled');
  assert.ok(socket.writableLength > 8 * 1024 * 1024, `${socket.writableLength} bytes still with the sender`);
  assert.equal(calls, 1);
  release();
  while (acks.length < count) await sleep(20);
  assert.deepEqual(acks, Array.from({ length: count }, (_, i) => `ACK MSH|${String(i).padStart(3, '0')}`));
});

test('past maxConnections a new connection is closed unanswered; once one closes, a new one is taken', { timeout: 30_000 }, async (t) => {
  const { connect } = await listen(t, { maxConnections: () => 2 });
  const [a, b] = [await connect(), await connect()];
  const c = await connect();
  assert.equal(await closesWithin(c, 2000), true, 'the third connection is closed');
  assert.equal(await closesWithin(a, 200), false);
  const answer = once(b, 'data');
  b.write(frame(Buffer.from('MSH|x')));
  assert.match(String((await answer)[0]), /ACK 5/);
  a.destroy();
  await sleep(100);
  const d = await connect();
  assert.equal(await closesWithin(d, 300), false, 'room again');
});

test('a frame trickled in byte by byte is dropped at its deadline, though the connection is never idle', { timeout: 30_000 }, async (t) => {
  const { connect } = await listen(t, { frameMs: 400, idleMs: 300_000 });
  const socket = await connect();
  socket.write(Buffer.from([0x0b]));
  const ticker = setInterval(() => socket.writable && socket.write('x'), 50);
  const closed = await closesWithin(socket, 3000);
  clearInterval(ticker);
  assert.equal(closed, true);
  // Complete frames, even slow ones within their time, are answered; waiting between frames is no deadline.
  const ok = await connect();
  const answers: string[] = [];
  ok.on('data', (d: Buffer) => answers.push(d.toString()));
  for (const part of ['\x0bMSH|', 'one\x1c\r']) {
    ok.write(part);
    await sleep(150);
  }
  await sleep(600);
  ok.write(frame(Buffer.from('MSH|two')));
  while (answers.join('').split('\x1c').length < 3) await sleep(20);
  assert.equal(ok.destroyed, false);
});

test('an idle connection whose ACKs the peer does not read is destroyed, not left waiting to flush', { timeout: 30_000 }, async (t) => {
  // ACKs of 4 MB each to a peer that reads nothing: the writes stay queued until the idle timeout.
  const { connect, server } = await listen(t, { idleMs: 500, handle: async () => Buffer.alloc(4 * 1024 * 1024, 0x41) });
  const socket = await connect();
  socket.pause();
  for (let i = 0; i < 4; i++) socket.write(frame(Buffer.from(`MSH|^~\\&|${i}`)));
  // The peer reads nothing, so it cannot see the close: the server's count says it.
  for (let i = 0; i < 100 && server.connections > 0; i++) await sleep(100);
  assert.equal(server.connections, 0, 'no longer counted against hl7.max_connections');
});

test('bytes between frames are no activity: a connection sending only them is closed when idle; one sending frames is not', { timeout: 30_000 }, async (t) => {
  const { connect, server } = await listen(t, { idleMs: 400 });
  const busy = await connect();
  const answers: string[] = [];
  busy.on('data', (d: Buffer) => answers.push(d.toString()));
  const junk = await connect();
  const tickers = [setInterval(() => junk.writable && junk.write('\n'), 50), setInterval(() => busy.writable && busy.write(frame(Buffer.from('MSH|x'))), 150)];
  t.after(() => tickers.forEach(clearInterval));
  assert.equal(await closesWithin(junk, 2000), true, 'a newline every 50 ms kept the connection');
  // Longer than the idle time again: the connection sending frames stays.
  await sleep(700);
  assert.equal(busy.destroyed, false);
  assert.ok(answers.length > 5 && server.connections === 1, `${answers.length} answers, ${server.connections} connections`);
  // Junk between frames is still ignored and still nothing more: once the frames stop, the connection goes too.
  clearInterval(tickers[1]);
  assert.equal(await closesWithin(busy, 2000), true);
});

test('a message the handler has no ACK for (null) is answered with nothing: the next ones on the connection are answered in order, the connection kept', { timeout: 30_000 }, async (t) => {
  const handled: string[] = [];
  const { connect, server } = await listen(t, {
    handle: async (m) => {
      handled.push(m.toString());
      return m.includes('NOACK') ? null : Buffer.from(`ACK ${m.toString()}`);
    },
  });
  const socket = await connect();
  const acks: string[] = [];
  const decoder = new MllpDecoder();
  socket.on('data', (d: Buffer) => acks.push(...decoder.push(d).map((m) => m.toString())));
  for (const m of ['MSH|NOACK1', 'MSH|two', 'MSH|NOACK3', 'MSH|NOACK4', 'MSH|five']) socket.write(frame(Buffer.from(m)));
  for (let i = 0; i < 100 && acks.length < 2; i++) await sleep(20);
  await sleep(200);
  assert.deepEqual(acks, ['ACK MSH|two', 'ACK MSH|five'], 'nothing, not an empty frame, for the ones without an ACK');
  assert.deepEqual(handled, ['MSH|NOACK1', 'MSH|two', 'MSH|NOACK3', 'MSH|NOACK4', 'MSH|five']);
  assert.equal(socket.destroyed, false);
  assert.equal(server.connections, 1);
  // Read on after a last message without an ACK: the connection was not left paused.
  socket.write(frame(Buffer.from('MSH|NOACK6')));
  socket.write(frame(Buffer.from('MSH|seven')));
  for (let i = 0; i < 100 && acks.length < 3; i++) await sleep(20);
  assert.deepEqual(acks.slice(2), ['ACK MSH|seven']);
});

/** A listener whose log lines (debug and up) go to `logged`, parsed. */
async function logging(t: TestContext, options: Partial<MllpServerOptions> = {}) {
  const logged: Array<Record<string, unknown>> = [];
  const logger = createLogger({ level: 'debug' }, { stdout: { write: (line: string) => logged.push(JSON.parse(line) as Record<string, unknown>) } });
  return { logged, ...(await listen(t, { logger, ...options })) };
}

test('a sender that gives a frame up and sends again on the connection (a VT inside the frame) is answered for the second message; the drop is logged', { timeout: 30_000 }, async (t) => {
  const handled: string[] = [];
  const { connect, logged } = await logging(t, { handle: async (m) => (handled.push(m.toString()), Buffer.from('ACK')) });
  const socket = await connect();
  const answered = once(socket, 'data');
  socket.write(Buffer.concat([Buffer.from('\x0bMSH|^~\\&|A'), frame(Buffer.from('MSH|^~\\&|RIS|H|PACS|R|20260312||ORM^O01|C2|P|2.5.1'))]));
  await answered;
  assert.deepEqual(handled, ['MSH|^~\\&|RIS|H|PACS|R|20260312||ORM^O01|C2|P|2.5.1']);
  const [line] = logged.filter((l) => /frame restarted/.test(String(l.msg)));
  assert.deepEqual([line?.level, line?.dropped], [40, 'MSH|^~\\&|A'.length]);
});

test('bytes outside a frame are logged once per connection (how many, the first 32 shown printable), line breaks not at all; an idle close is logged', { timeout: 30_000 }, async (t) => {
  const { connect, logged } = await logging(t, { idleMs: 300 });
  const said = () => logged.filter((l) => /outside an MLLP frame/.test(String(l.msg)));
  const quiet = await connect();
  quiet.write('\r\n\n');
  const noisy = await connect();
  noisy.write(`GET / HTTP/1.1\r\nHost: x\r\n${'y'.repeat(40)}`);
  await sleep(100);
  noisy.write('more junk');
  assert.equal(await closesWithin(noisy, 3000), true);
  assert.equal(await closesWithin(quiet, 3000), true);
  assert.equal(said().length, 1, JSON.stringify(logged));
  assert.deepEqual([said()[0]!.level, said()[0]!.bytes, said()[0]!.start], [40, 65, 'GET / HTTP/1.1 Host: x yyyyyyy']);
  assert.equal(logged.filter((l) => l.msg === 'HL7 connection closed: idle' && l.level === 30).length, 2);
});

test('frames of all connections share one budget: the connection whose frame would pass it is dropped, the others answered; all given back when done', { timeout: 30_000 }, async (t) => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  const { connect, server } = await listen(t, {
    maxBufferedBytes: 10_000,
    handle: async (m) => {
      if (m.subarray(0, 5).toString() === 'MSH|H') await held;
      return Buffer.from(`ACK ${m.length}`);
    },
  });
  const acksOf = (socket: net.Socket): string[] => {
    const acks: string[] = [];
    const decoder = new MllpDecoder();
    socket.on('data', (d: Buffer) => acks.push(...decoder.push(d).map((m) => m.toString())));
    return acks;
  };
  // A: a frame of 6,000 bytes begun and not ended. B: a whole message of 3,000, held by its handler.
  const a = await connect();
  const aAcks = acksOf(a);
  a.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from('MSH|A'), Buffer.alloc(5995, 0x41)]));
  const b = await connect();
  const bAcks = acksOf(b);
  b.write(frame(Buffer.concat([Buffer.from('MSH|H'), Buffer.alloc(2995, 0x42)])));
  for (let i = 0; i < 100 && server.bufferedBytes < 9000; i++) await sleep(20);
  assert.equal(server.bufferedBytes, 9000, 'the frame gathered and the message being handled both count');
  // C: 2,000 bytes more would pass 10,000: C is dropped, A and B are not.
  const c = await connect();
  c.write(frame(Buffer.concat([Buffer.from('MSH|C'), Buffer.alloc(1995, 0x43)])));
  assert.equal(await closesWithin(c, 5000), true, 'the connection passing the budget is dropped');
  assert.equal(server.bufferedBytes, 9000, 'what it had taken is given back');
  // B's message handled: its bytes are given back, and A's frame may end.
  release();
  for (let i = 0; i < 100 && bAcks.length === 0; i++) await sleep(20);
  assert.deepEqual(bAcks, ['ACK 3000']);
  a.write(Buffer.from([0x1c, 0x0d]));
  for (let i = 0; i < 100 && aAcks.length === 0; i++) await sleep(20);
  assert.deepEqual(aAcks, ['ACK 6000']);
  for (let i = 0; i < 100 && server.bufferedBytes > 0; i++) await sleep(20);
  assert.equal(server.bufferedBytes, 0);
  // A frame cut off by its connection closing is given back too.
  const d = await connect();
  d.write(Buffer.concat([Buffer.from([0x0b]), Buffer.alloc(4000, 0x44)]));
  for (let i = 0; i < 100 && server.bufferedBytes < 4000; i++) await sleep(20);
  assert.equal(server.bufferedBytes, 4000);
  d.destroy();
  for (let i = 0; i < 100 && server.bufferedBytes > 0; i++) await sleep(20);
  assert.equal(server.bufferedBytes, 0);
});

test('a frame arriving a byte per chunk is kept in joined blocks, not a Buffer per byte', () => {
  const decoder = new MllpDecoder();
  const message = Buffer.concat([Buffer.from('MSH|^~\\&|'), Buffer.alloc(100_000, 0x41)]);
  const parts = (): number => (decoder as unknown as { parts: Buffer[] }).parts.length;
  decoder.push(Buffer.from([0x0b]));
  let most = 0;
  for (let i = 0; i < message.length; i++) {
    assert.deepEqual(decoder.push(message.subarray(i, i + 1)), []);
    most = Math.max(most, parts());
  }
  assert.ok(most <= 1024 + 100, `at most ${most} parts held for 100,009 one-byte chunks`);
  const [out] = decoder.push(Buffer.from([0x1c, 0x0d]));
  assert.ok(out?.equals(message), 'the message whole and in order');
});
