// Named, ordered hook lists: the order of registration (or before: another), unique names,
// removal, and the first hook that throws stops the rest.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PacsError, isPacsError } from '../../../src/core/errors.js';
import { HookList } from '../../../src/core/hooks.js';

describe('HookList', () => {
  test('hooks run in the order they were added, each awaited, with the payload', async () => {
    const h = new HookList<{ log: string[] }>();
    h.add('a', async (p) => {
      await new Promise((r) => setTimeout(r, 5));
      p.log.push('a');
    });
    h.add('b', (p) => void p.log.push('b'));
    h.add('c', (p) => void p.log.push('c'));
    const payload = { log: [] as string[] };
    await h.run(payload);
    assert.deepEqual(payload.log, ['a', 'b', 'c']);
    assert.equal(h.size, 3);
  });

  test('before: puts a hook ahead of another; an unknown name appends', async () => {
    const h = new HookList<string[]>();
    h.add('a', (l) => void l.push('a'));
    h.add('c', (l) => void l.push('c'));
    h.add('b', (l) => void l.push('b'), { before: 'c' });
    h.add('first', (l) => void l.push('first'), { before: 'a' });
    h.add('last', (l) => void l.push('last'), { before: 'nope' });
    const log: string[] = [];
    await h.run(log);
    assert.deepEqual(log, ['first', 'a', 'b', 'c', 'last']);
  });

  test('a name can be registered once', () => {
    const h = new HookList<void>();
    h.add('x', () => {});
    assert.throws(() => h.add('x', () => {}), /already registered/);
    assert.equal(h.size, 1);
  });

  test('remove takes a hook out (and its name can be used again); unknown names are ignored', async () => {
    const h = new HookList<string[]>();
    h.add('a', (l) => void l.push('a'));
    h.add('b', (l) => void l.push('b'));
    h.remove('a');
    h.remove('nope');
    assert.equal(h.size, 1);
    h.add('a', (l) => void l.push('a2'));
    const log: string[] = [];
    await h.run(log);
    assert.deepEqual(log, ['b', 'a2']);
  });

  test('the first hook that throws stops the rest; its error propagates', async () => {
    const h = new HookList<string[]>();
    h.add('ok', (l) => void l.push('ok'));
    h.add('refuse', () => {
      throw new PacsError('REJECTED_BY_HOOK', 'refused');
    });
    h.add('async-refuse', async () => {
      throw new Error('never reached');
    });
    h.add('after', (l) => void l.push('after'));
    const log: string[] = [];
    await assert.rejects(h.run(log), (e: unknown) => isPacsError(e, 'REJECTED_BY_HOOK'));
    assert.deepEqual(log, ['ok']);
  });

  test('a rejected promise stops the rest too', async () => {
    const h = new HookList<string[]>();
    h.add('reject', async () => {
      await new Promise((r) => setTimeout(r, 1));
      throw new PacsError('REJECTED_BY_HOOK', 'later');
    });
    h.add('after', (l) => void l.push('after'));
    const log: string[] = [];
    await assert.rejects(h.run(log), /later/);
    assert.deepEqual(log, []);
  });

  test('an empty list runs', async () => {
    await new HookList<number>().run(1);
  });
});
