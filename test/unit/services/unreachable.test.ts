// A node that could not be reached is not tried again for a while: its other jobs fail at once
// (retryable, no sooner than the hold ends) instead of each holding a worker for the connect
// timeout and ARTIM. Our own cancel says nothing about the node; a success ends the hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UnreachableNodes } from '../../../src/services/unreachable.js';
import { RetryableJobError } from '../../../src/services/jobs.js';
import { AssociationError } from '../../../src/net/association.js';

const node = (ae: string, port = 104) => ({ ae_title: ae, host: '10.0.0.9', port });
const DOWN = node('DOWN');

test('a failed connection holds the node: the next job fails without trying, retryable after the hold', async () => {
  const nodes = new UnreachableNodes(() => 60_000);
  let tries = 0;
  const silent = async (): Promise<never> => {
    tries++;
    throw new Error('no A-ASSOCIATE-AC within 30 s');
  };
  await assert.rejects(nodes.connect(DOWN, silent), /no A-ASSOCIATE-AC/);
  await assert.rejects(nodes.connect(DOWN, silent), (e: unknown) => e instanceof RetryableJobError && /DOWN could not be reached moments ago \(no A-ASSOCIATE-AC within 30 s\)/.test(e.message) && e.notBeforeMs !== null && e.notBeforeMs > 50_000);
  assert.equal(tries, 1, 'not tried again while held');
  assert.equal(await nodes.connect(node('UP'), async () => 'association'), 'association', 'other nodes are tried');
});

test('the hold ends: tried again, and a success clears it', async () => {
  const nodes = new UnreachableNodes(() => 0);
  await assert.rejects(nodes.connect(node('FLAKY'), async () => Promise.reject(new Error('ECONNREFUSED'))));
  assert.equal(await nodes.connect(node('FLAKY'), async () => 'back'), 'back');
  nodes.check(node('FLAKY'));
});

test('a connection given up by our own cancel does not hold the node', async () => {
  const nodes = new UnreachableNodes(() => 60_000);
  const abort = new AbortController();
  abort.abort(new Error('canceled'));
  await assert.rejects(nodes.connect(node('SLOW'), async () => Promise.reject(new Error('canceled')), abort.signal));
  nodes.check(node('SLOW'));
});

test("a node that answered with A-ASSOCIATE-RJ is not held; one whose address was corrected is tried at once", async () => {
  const nodes = new UnreachableNodes(() => 60_000);
  const busy = new AssociationError('rejected (transient): local limit exceeded', { type: 3, result: 2, source: 3, reason: 2 } as never);
  await assert.rejects(nodes.connect(node('BUSY'), async () => Promise.reject(busy)));
  nodes.check(node('BUSY'));
  await assert.rejects(nodes.connect(node('MOVED', 104), async () => Promise.reject(new Error('ECONNREFUSED'))));
  assert.throws(() => nodes.check(node('MOVED', 104)), RetryableJobError);
  nodes.check(node('MOVED', 11112));
});
