// The decoder pool: lazy threads, no more than its size, buffers transferred, a bad codestream
// failing only its task, a crashed or hung worker replaced, close() ending everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { DecoderPool } from '../../../src/codecs/pool.js';
import type { FrameTask } from '../../../src/codecs/frame.js';
import { readEncapsulated } from '../../../src/dicom/encapsulated.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { readFile } from '../../helpers/pixels.js';

const CRASHER = new URL('../../helpers/crash-worker.js', import.meta.url);
const geometry = { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometric: 'MONOCHROME2' };

/** A 2×2 8-bit RLE frame (PS3.5 G.3): one segment, a literal run of four bytes; `first` replaces the header's first byte. */
function rleTask(first?: number): FrameTask {
  const frame = Buffer.alloc(64 + 5);
  frame.writeUInt32LE(1, 0);
  frame.writeUInt32LE(64, 4);
  Buffer.from([3, 10, 20, 30, 40]).copy(frame, 64);
  if (first !== undefined) frame[0] = first;
  return { codec: 'rle', geometry, frame: Uint8Array.from(frame).buffer };
}

test('threads start on demand, never more than the size; frames go transferred', async () => {
  const pool = new DecoderPool({ size: 2 });
  try {
    assert.equal(pool.threads, 0, 'nothing started before the first frame');
    const tasks = Array.from({ length: 6 }, () => rleTask());
    const results = await Promise.all(tasks.map((t) => pool.decode(t)));
    assert.ok(pool.threads >= 1 && pool.threads <= 2, `${pool.threads} threads`);
    for (const t of tasks) assert.equal(t.frame.byteLength, 0, 'the compressed frame was transferred, not copied');
    for (const r of results) assert.deepEqual([...new Uint8Array(r.pixels)], [10, 20, 30, 40]);
  } finally {
    await pool.close();
  }
});

test('a bad codestream fails its task with the reason; the worker goes on', async () => {
  const pool = new DecoderPool({ size: 1 });
  try {
    const { dataset } = readFile(path.join(SAMPLES, 'pydicom__SC_rgb_jpeg_dcmtk.dcm'));
    const at = dataset.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]));
    const jpeg = readEncapsulated(dataset, at + 12).fragments[0]!.bytes;
    const g = { ...geometry, rows: 100, columns: 100, samplesPerPixel: 3, photometric: 'YBR_FULL_422' };
    // Cut short after its scan header: libjpeg-turbo throws from inside WebAssembly, and the
    // module is replaced for the next frame.
    const cut = jpeg.subarray(0, jpeg.indexOf(Buffer.from([0xff, 0xda])) + 30);
    await assert.rejects(pool.decode({ codec: 'jpeg', geometry: g, frame: Uint8Array.from(cut).buffer }), /libjpeg-turbo could not decode/);
    const garbage = { codec: 'j2k' as const, geometry: g, frame: Uint8Array.from([0xff, 0x4f, 0xff, 0x51, 0, 0, 1, 2, 3]).buffer };
    await assert.rejects(pool.decode(garbage), /openjpeg/);
    const good = await pool.decode({ codec: 'jpeg', geometry: g, frame: Uint8Array.from(jpeg).buffer });
    assert.equal(good.pixels.byteLength, 100 * 100 * 3);
    assert.equal(good.photometric, 'RGB');
    assert.equal(pool.crashes, 0);
  } finally {
    await pool.close();
  }
});

test('a worker that dies fails only its task and is replaced', async () => {
  const pool = new DecoderPool({ size: 2, workerUrl: CRASHER });
  try {
    const [crashed, fine] = await Promise.allSettled([pool.decode(rleTask(0xee)), pool.decode(rleTask())]);
    assert.equal(crashed.status, 'rejected');
    assert.match(String((crashed as PromiseRejectedResult).reason), /decoding worker died \(exit code 7/);
    // Not the data's fault as far as anyone knows (out of memory, a bug): a job retries it, HTTP says 503.
    assert.equal(((crashed as PromiseRejectedResult).reason as { code?: string }).code, 'UNAVAILABLE');
    assert.equal(fine.status, 'fulfilled');
    assert.equal(pool.crashes, 1);
    const after = await pool.decode(rleTask());
    assert.equal(after.pixels.byteLength, 4, 'a new worker took over');
  } finally {
    await pool.close();
  }
});

test('a worker stuck on a frame is ended after the time limit; the queue goes on', async () => {
  const pool = new DecoderPool({ size: 1, workerUrl: CRASHER, taskTimeoutMs: 300 });
  try {
    const stuck = pool.decode(rleTask(0xdd));
    const queued = pool.decode(rleTask());
    await assert.rejects(stuck, (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /longer than 0.3 s/.test(e.message));
    assert.equal((await queued).pixels.byteLength, 4);
  } finally {
    await pool.close();
  }
});

test('close() fails what is queued and refuses new frames', async () => {
  const pool = new DecoderPool({ size: 1, workerUrl: CRASHER });
  const stuck = assert.rejects(pool.decode(rleTask(0xdd)), /closed/);
  const queued = assert.rejects(pool.decode(rleTask()), /closed/);
  await pool.close();
  await stuck;
  await queued;
  await assert.rejects(pool.decode(rleTask()), /closed/);
  assert.equal(pool.threads, 0);
});

test('a worker that cannot be started fails the queued frames with the reason, and nothing stays queued', async () => {
  // new Worker() throws at once for a script it cannot take (as it may when out of threads).
  const pool = new DecoderPool({ size: 1, workerUrl: new URL('http://example.invalid/worker.js') });
  try {
    await assert.rejects(pool.decode(rleTask()), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /cannot start a decoding worker/.test(e.message));
    await assert.rejects(pool.decode(rleTask()), /cannot start a decoding worker/, 'the next frame is tried again, not stuck behind the first');
    assert.equal(pool.threads, 0);
  } finally {
    await pool.close();
  }
});

test('the queue is bounded: one frame more is refused at once (UNAVAILABLE), not queued', async () => {
  const pool = new DecoderPool({ size: 1, workerUrl: CRASHER, maxQueued: 2 });
  const stuck = assert.rejects(pool.decode(rleTask(0xdd)), /closed/);
  const waiting = [pool.decode(rleTask()), pool.decode(rleTask())].map((p) => assert.rejects(p, /closed/));
  assert.equal(pool.queued, 2);
  const refused = pool.decode(rleTask());
  assert.equal(pool.queued, 2, 'the refused frame was never queued');
  await assert.rejects(refused, (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /2 frames are waiting/.test(e.message));
  await pool.close();
  await stuck;
  await Promise.all(waiting);
});

test('a queued frame whose caller gives up (AbortSignal) leaves the queue', async () => {
  const pool = new DecoderPool({ size: 1, workerUrl: CRASHER });
  try {
    const stuck = assert.rejects(pool.decode(rleTask(0xdd)), /closed/);
    const controller = new AbortController();
    const given = pool.decode(rleTask(), controller.signal);
    const kept = pool.decode(rleTask());
    assert.equal(pool.queued, 2);
    controller.abort();
    assert.equal(pool.queued, 1, 'only the other frame waits');
    await assert.rejects(given, (e: Error & { code?: string }) => e.code === 'ABORTED');
    await assert.rejects(pool.decode(rleTask(), controller.signal), (e: Error & { code?: string }) => e.code === 'ABORTED', 'an aborted signal is refused at once');
    assert.equal(pool.queued, 1);
    void kept.catch(() => {});
    await pool.close();
    await stuck;
  } finally {
    await pool.close();
  }
});

test('a frame on a worker whose caller gives up is answered ABORTED at once; the worker finishes it, its result is dropped', async () => {
  const pool = new DecoderPool({ size: 1, workerUrl: CRASHER });
  try {
    const controller = new AbortController();
    // A frame that never ends holds the worker: its caller must not wait for it.
    const held = pool.decode(rleTask(0xdd), controller.signal);
    const queued = pool.decode(rleTask(), controller.signal);
    assert.deepEqual([pool.running, pool.queued, pool.started, pool.abandoned], [1, 1, 1, 0]);
    controller.abort();
    await assert.rejects(held, (e: Error & { code?: string }) => e.code === 'ABORTED');
    await assert.rejects(queued, (e: Error & { code?: string }) => e.code === 'ABORTED');
    assert.deepEqual([pool.running, pool.queued, pool.started, pool.abandoned], [1, 0, 1, 2], 'the held frame still occupies its worker; nothing new started');
  } finally {
    await pool.close();
  }
});

test('a frame given up on a worker that then finishes: the worker takes the next frame, the result goes nowhere', async () => {
  const pool = new DecoderPool({ size: 1 });
  try {
    const controller = new AbortController();
    const given = pool.decode(rleTask(), controller.signal);
    const next = pool.decode(rleTask());
    assert.equal(pool.running, 1);
    controller.abort();
    await assert.rejects(given, (e: Error & { code?: string }) => e.code === 'ABORTED');
    assert.deepEqual([...new Uint8Array((await next).pixels)], [10, 20, 30, 40]);
    assert.deepEqual([pool.running, pool.queued, pool.started, pool.abandoned], [0, 0, 2, 1]);
  } finally {
    await pool.close();
  }
});
