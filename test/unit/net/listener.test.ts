// The DICOM listener once it listens: an error of its socket (an accept failing for want of
// descriptors) is reported, not thrown into the event loop where it would end the process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type net from 'node:net';
import { DicomListener } from '../../../src/net/listener.js';

test('an error of the listening socket goes to onError', async () => {
  const errors: Error[] = [];
  const listener = new DicomListener({
    host: '127.0.0.1',
    port: 0,
    maxPduLength: 16384,
    timeouts: () => ({ artimMs: 1000, idleMs: 1000 }),
    userFor: () => {
      throw new Error('no connection expected');
    },
    onError: (e) => errors.push(e),
  });
  await listener.start();
  const server = (listener as unknown as { server: net.Server }).server;
  server.emit('error', Object.assign(new Error('accept: too many open files'), { code: 'EMFILE' }));
  assert.deepEqual(errors.map((e) => e.message), ['accept: too many open files']);
  await listener.stop(0);
});
