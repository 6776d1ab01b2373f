// One SOP Instance UID at a time: sections with one key run one after another, in arrival
// order; other keys are not held up; a failing section releases the key.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KeyedMutex } from '../../../src/core/keyed-mutex.js';

const tick = (ms = 1): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('KeyedMutex', () => {
  test('sections with the same key run one at a time, in the order they arrived', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    let inside = 0;
    const section = (name: string, ms: number) =>
      m.run('k', async () => {
        inside++;
        assert.equal(inside, 1, 'never two at once');
        log.push(`${name}+`);
        await tick(ms);
        log.push(`${name}-`);
        inside--;
        return name;
      });
    const results = await Promise.all([section('a', 15), section('b', 1), section('c', 5)]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(log, ['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    assert.equal(m.size, 0);
  });

  test('sections with different keys run at the same time', async () => {
    const m = new KeyedMutex();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = m.run('a', async () => {
      await gate;
      return 'a';
    });
    // 'b' finishes while 'a' is still held.
    assert.equal(await m.run('b', async () => 'b'), 'b');
    assert.equal(m.size, 1);
    release();
    assert.equal(await slow, 'a');
    assert.equal(m.size, 0);
  });

  test('a section that throws releases the key; the error reaches its caller only', async () => {
    const m = new KeyedMutex();
    const order: string[] = [];
    const failing = m.run('k', async () => {
      await tick();
      order.push('fail');
      throw new Error('boom');
    });
    const next = m.run('k', async () => {
      order.push('next');
      return 42;
    });
    await assert.rejects(failing, /boom/);
    assert.equal(await next, 42);
    assert.deepEqual(order, ['fail', 'next']);
    assert.equal(m.size, 0);
  });

  test('a synchronous throw inside the section releases too', async () => {
    const m = new KeyedMutex();
    await assert.rejects(
      m.run('k', () => {
        throw new Error('sync');
      }),
      /sync/,
    );
    assert.equal(await m.run('k', async () => 'ok'), 'ok');
    assert.equal(m.size, 0);
  });

  test('the map is emptied after many keys and many waiters', async () => {
    const m = new KeyedMutex();
    const counts = new Map<string, number>();
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        m.run(`k${i % 7}`, async () => {
          const k = `k${i % 7}`;
          const before = counts.get(k) ?? 0;
          await tick(0);
          counts.set(k, before + 1); // a lost update would show if sections overlapped
        }),
      ),
    );
    assert.equal([...counts.values()].reduce((s, v) => s + v, 0), 200);
    assert.equal(m.size, 0);
  });
});
