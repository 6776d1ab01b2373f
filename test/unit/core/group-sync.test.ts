// Group commit: callers arriving while a sync runs share the next one; nobody is answered by a
// sync that began before their call; a failure reaches exactly those who shared it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GroupSync } from '../../../src/core/group-sync.js';

/** A sync function whose runs finish only when the test says so. */
function manual(): { group: GroupSync; started: number; finish: (error?: Error) => void } {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const state = {
    group: new GroupSync(
      () =>
        new Promise<void>((resolve, reject) => {
          state.started++;
          pending.push({ resolve, reject });
        }),
    ),
    started: 0,
    finish: (error?: Error) => {
      const p = pending.shift();
      assert.ok(p, 'no sync is running');
      if (error) p.reject(error);
      else p.resolve();
    },
  };
  return state;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('one caller, one sync; idle again afterwards', async () => {
  const m = manual();
  assert.equal(m.group.idle, true);
  const a = m.group.sync();
  assert.equal(m.started, 1);
  assert.equal(m.group.idle, false);
  m.finish();
  await a;
  assert.equal(m.group.idle, true);
});

test('callers during a running sync wait for the next one, which they all share', async () => {
  const m = manual();
  const order: string[] = [];
  const first = m.group.sync().then(() => order.push('first'));
  const later = [m.group.sync(), m.group.sync(), m.group.sync()].map((p, i) => p.then(() => order.push(`later${i}`)));
  assert.equal(m.started, 1, 'the second sync starts only after the first');
  m.finish();
  await first;
  await tick();
  assert.deepEqual(order, ['first'], 'the first sync began before the later calls: it does not answer them');
  assert.equal(m.started, 2);
  m.finish();
  await Promise.all(later);
  assert.equal(m.started, 2, 'three callers, one sync');
  assert.equal(m.group.idle, true);
});

test('a failed sync rejects those who shared it; the next callers get a fresh sync', async () => {
  const m = manual();
  const failed = m.group.sync();
  const queued = m.group.sync();
  m.finish(new Error('EIO'));
  await assert.rejects(failed, /EIO/);
  await tick();
  assert.equal(m.started, 2, 'the queued callers still get their own sync after a failure');
  m.finish();
  await queued;
  const again = m.group.sync();
  m.finish();
  await again;
  assert.equal(m.started, 3);
});

test('onIdle is called once the last sync ends with none waiting', async () => {
  let idle = 0;
  let finish!: () => void;
  const group = new GroupSync(
    () => new Promise<void>((r) => (finish = r)),
    () => idle++,
  );
  const a = group.sync();
  const b = group.sync();
  finish();
  await a;
  assert.equal(idle, 0, 'a sync is still waiting');
  await new Promise((r) => setImmediate(r));
  finish();
  await b;
  assert.equal(idle, 1);
});
