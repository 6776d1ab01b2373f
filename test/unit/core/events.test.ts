// The event bus: listeners in order, a throwing listener reported to onError without keeping
// the others from running or breaking the emitter.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventBus, type PacsEvents } from '../../../src/core/events.js';

const closed: PacsEvents['association.closed'] = {
  callingAE: 'A',
  calledAE: 'B',
  remoteAddress: '127.0.0.1',
  outcome: 'released',
  instances: 3,
  failures: 0,
  lastError: null,
  operations: {},
  bytesOut: 0,
  bytesIn: 100,
  durationMs: 5,
};

describe('EventBus', () => {
  test('listeners get the payload, in the order they were added', () => {
    const bus = new EventBus();
    const log: string[] = [];
    bus.on('association.closed', (p) => log.push(`1:${p.instances}`));
    bus.on('association.closed', (p) => log.push(`2:${p.callingAE}`));
    bus.emit('association.closed', closed);
    assert.deepEqual(log, ['1:3', '2:A']);
  });

  test('a throwing listener does not stop the others and goes to onError', () => {
    const bus = new EventBus();
    const errors: { e: unknown; event: string }[] = [];
    bus.onError = (e, event) => errors.push({ e, event });
    const log: string[] = [];
    bus.on('association.closed', () => log.push('before'));
    bus.on('association.closed', () => {
      throw new Error('listener bug');
    });
    bus.on('association.closed', () => log.push('after'));
    assert.doesNotThrow(() => bus.emit('association.closed', closed));
    assert.deepEqual(log, ['before', 'after']);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.event, 'association.closed');
    assert.match((errors[0]!.e as Error).message, /listener bug/);
  });

  test('without an onError set, a throwing listener is swallowed', () => {
    const bus = new EventBus();
    let reached = false;
    bus.on('association.closed', () => {
      throw new Error('x');
    });
    bus.on('association.closed', () => (reached = true));
    assert.doesNotThrow(() => bus.emit('association.closed', closed));
    assert.equal(reached, true);
  });

  test('the function returned by on() unsubscribes', () => {
    const bus = new EventBus();
    let count = 0;
    const off = bus.on('association.closed', () => count++);
    bus.emit('association.closed', closed);
    off();
    bus.emit('association.closed', closed);
    assert.equal(count, 1);
  });

  test('a listener removed during an emit still gets that emit (the list is taken first)', () => {
    const bus = new EventBus();
    const log: string[] = [];
    // eslint-disable-next-line prefer-const -- assigned after the listener that uses it
    let offB: () => void;
    bus.on('association.closed', () => {
      log.push('a');
      offB();
    });
    offB = bus.on('association.closed', () => log.push('b'));
    bus.emit('association.closed', closed);
    bus.emit('association.closed', closed);
    assert.deepEqual(log, ['a', 'b', 'a']);
  });
});
