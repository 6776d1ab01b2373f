// One signal for work that several things can end, and unhooked when the work is done: an
// association's signal must not collect a listener per operation it served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { abortedBy, linkSignals } from '../../../src/core/abort.js';

test('linkSignals aborts with the reason of the first source to abort, and unhooks from all', () => {
  const a = new AbortController();
  const b = new AbortController();
  const linked = linkSignals(a.signal, undefined, b.signal);
  assert.equal(linked.signal.aborted, false);
  b.abort(new Error('cancelled'));
  assert.equal(linked.signal.aborted, true);
  assert.equal((linked.signal.reason as Error).message, 'cancelled');
  assert.equal(getEventListeners(a.signal, 'abort').length, 0, 'no listener left on the other source');
});

test('linkSignals: a source already aborted aborts it at once; dispose() unhooks a long-lived source', () => {
  assert.equal(linkSignals(AbortSignal.abort(new Error('gone'))).signal.aborted, true);
  const association = new AbortController();
  for (let i = 0; i < 100; i++) linkSignals(association.signal, new AbortController().signal).dispose();
  assert.equal(getEventListeners(association.signal, 'abort').length, 0);
});

test('abortedBy: ABORTED, naming why', () => {
  const e = abortedBy(AbortSignal.abort(new Error('the client closed the connection')), 'rendering 1.2.3');
  assert.equal(e.code, 'ABORTED');
  assert.equal(e.message, 'rendering 1.2.3 given up: the client closed the connection');
});
