// The pace of an upload body (upload-guard.ts), on a mocked clock: only the time the server
// waits for the client counts, and each window is judged on its own.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BodyPace, TooSlowError, UploadSlots, paced } from '../../../src/http/upload-guard.js';
import { EventEmitter } from 'node:events';

describe('BodyPace', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 }));
  afterEach(() => mock.timers.reset());

  const watched = (pace: BodyPace) => {
    const failures: TooSlowError[] = [];
    pace.whenTooSlow((e) => failures.push(e));
    return failures;
  };

  test('the time the server itself holds the body (not waiting) does not count', () => {
    const pace = new BodyPace({ timeoutSeconds: 60, minBytesPerSecond: 1024 });
    const failures = watched(pace);
    pace.waiting();
    mock.timers.tick(10_000);
    pace.got(64 * 1024);
    // The server writes for ten minutes without reading.
    mock.timers.tick(600_000);
    assert.equal(failures.length, 0);
    pace.waiting();
    mock.timers.tick(40_000);
    pace.got(64 * 1024);
    assert.equal(failures.length, 0);
    assert.equal(pace.failed, false);
    pace.stop();
  });

  test('a window of waiting with less than the rate: too slow, once, with what came', () => {
    const pace = new BodyPace({ timeoutSeconds: 60, minBytesPerSecond: 1024 });
    const failures = watched(pace);
    pace.waiting();
    mock.timers.tick(30_000);
    pace.got(1000);
    pace.waiting();
    mock.timers.tick(36_000);
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!.bytes, 1000);
    assert.ok(failures[0]!.seconds >= 60 && failures[0]!.seconds <= 66);
    assert.match(failures[0]!.message, /1000 bytes in \d+ s of waiting, at least 1024 bytes\/s needed/);
    mock.timers.tick(600_000);
    assert.equal(failures.length, 1);
    assert.equal(pace.failed, true);
  });

  test('a fast start earns no credit: a trickle after it is cut off within two windows', () => {
    const pace = new BodyPace({ timeoutSeconds: 60, minBytesPerSecond: 1024 });
    const failures = watched(pace);
    pace.waiting();
    mock.timers.tick(1000);
    pace.got(100 * 1024 * 1024);
    for (let s = 0; s < 120 && !failures.length; s += 10) {
      pace.waiting();
      mock.timers.tick(10_000);
      pace.got(1);
    }
    assert.equal(failures.length, 1);
    pace.stop();
  });

  test('at a rate of 0, one byte a window is enough; none is not', () => {
    const pace = new BodyPace({ timeoutSeconds: 60, minBytesPerSecond: 0 });
    const failures = watched(pace);
    for (let i = 0; i < 5; i++) {
      pace.waiting();
      mock.timers.tick(59_000);
      pace.got(1);
    }
    assert.equal(failures.length, 0);
    // The window under way has its byte; the next has none.
    pace.waiting();
    for (let s = 0; s < 126; s += 6) mock.timers.tick(6000);
    assert.equal(failures.length, 1);
    assert.match(failures[0]!.message, /0 bytes in \d+ s of waiting, at least one byte needed/);
  });

  test('a pace already failed tells a late listener at once', () => {
    const pace = new BodyPace({ timeoutSeconds: 1, minBytesPerSecond: 10 });
    pace.waiting();
    mock.timers.tick(2000);
    assert.equal(watched(pace).length, 1);
  });
});

describe('UploadSlots', () => {
  test('at most the limit, read each time; a slot is given back when its response closes', () => {
    let limit = 2;
    const slots = new UploadSlots(() => limit);
    const responses = [new EventEmitter(), new EventEmitter(), new EventEmitter()];
    assert.equal(slots.take(responses[0]!), true);
    assert.equal(slots.take(responses[1]!), true);
    assert.equal(slots.take(responses[2]!), false);
    assert.equal(slots.active, 2);
    responses[0]!.emit('close');
    assert.equal(slots.active, 1);
    assert.equal(slots.take(responses[2]!), true);
    limit = 4;
    assert.equal(slots.take(new EventEmitter()), true);
    assert.equal(slots.active, 3);
  });
});

describe('paced', () => {
  test('chunks read are not kept: a 256 MB body goes through in little memory', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    async function* body(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 1024; i++) yield Buffer.alloc(256 * 1024, i);
    }
    const pace = new BodyPace({ timeoutSeconds: 60, minBytesPerSecond: 1024 });
    let n = 0;
    let held = Number.POSITIVE_INFINITY;
    for await (const chunk of paced(body(), pace)) {
      n += chunk.length;
      if (n === 200 * 1024 * 1024) {
        gc();
        held = process.memoryUsage().arrayBuffers;
      }
    }
    assert.equal(n, 256 * 1024 * 1024);
    // A race against one promise for the whole body kept every chunk read (200 MB here).
    assert.ok(held < 64 * 1024 * 1024, `${Math.round(held / 1048576)} MB of buffers still held after 200 MB read`);
  });

  test('a body judged too slow ends the pending read with TooSlowError', async () => {
    let release: () => void = () => {};
    async function* stalled(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(10);
      await new Promise<void>((r) => (release = r));
    }
    const pace = new BodyPace({ timeoutSeconds: 0.2, minBytesPerSecond: 1024 });
    const read = async () => {
      for await (const chunk of paced(stalled(), pace)) void chunk;
    };
    // The pace's timer does not hold the process (a socket does, in the server): this does.
    const alive = setInterval(() => {}, 1000);
    try {
      await assert.rejects(read(), (e: unknown) => e instanceof TooSlowError);
    } finally {
      clearInterval(alive);
      release();
    }
  });
});

