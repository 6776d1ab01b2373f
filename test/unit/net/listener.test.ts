// The DICOM listener once it listens: an error of its socket (an accept failing for want of
// descriptors) is reported, not thrown into the event loop where it would end the process.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type net from 'node:net';
import { connect as netConnect } from 'node:net';
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

test('past maxConnections a new connection is closed at once, and said (onRefused); the others stay', async () => {
  const refused: string[] = [];
  const listener = new DicomListener({
    host: '127.0.0.1',
    port: 0,
    maxPduLength: 16384,
    timeouts: () => ({ artimMs: 10_000, idleMs: 10_000 }),
    userFor: () => ({ onCommand: () => null }),
    maxConnections: () => 2,
    onRefused: (address, why) => refused.push(`${address} ${why}`),
  });
  const { port } = await listener.start();
  const open = (): Promise<{ socket: net.Socket; closed: Promise<void> }> =>
    new Promise((resolve, reject) => {
      const socket = netConnect(port, '127.0.0.1');
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      socket.once('connect', () => resolve({ socket, closed }));
      socket.once('error', reject);
    });
  const a = await open();
  const b = await open();
  await new Promise((r) => setTimeout(r, 100)); // both accepted
  const c = await open().catch(() => null);
  if (c) await c.closed; // accepted by the kernel, closed by us at once
  let early = false;
  void a.closed.then(() => (early = true));
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(early, false, 'the connections within the limit stay open');
  assert.deepEqual(refused, ['127.0.0.1 too many connections']);
  a.socket.destroy();
  b.socket.destroy();
  await listener.stop(0);
});
