// Who the HL7 listener takes connections from (hl7.allowed_addresses) and how many each address
// may hold (hl7.max_connections_per_address), without sockets; the interop test has them on real ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PeerGate, hl7StartWarning, peerAddress } from '../../../src/hl7/peers.js';

test('peerAddress: an IPv4 peer of a dual-stack socket is its IPv4 address; others as they are', () => {
  assert.equal(peerAddress('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(peerAddress('2001:db8::1'), '2001:db8::1');
  assert.equal(peerAddress(undefined), '?');
});

test('allowed addresses and CIDR blocks; empty allows any; read at every connection', () => {
  let allowed: string[] = ['192.0.2.0/24', '2001:db8::1'];
  const gate = new PeerGate({ allowedAddresses: () => allowed, maxPerAddress: () => 0 });
  assert.equal(gate.admit('192.0.2.9').admitted, true);
  assert.equal(gate.admit('2001:db8::1').admitted, true);
  const refused = gate.admit('198.51.100.1');
  assert.deepEqual(refused, { admitted: false, reason: 'address not allowed', warn: true });
  assert.equal(gate.count('198.51.100.1'), 0, 'a refused connection is not counted');
  assert.equal(gate.admit('?').admitted, false, 'a peer whose address is unknown is not in any list');
  allowed = [];
  assert.equal(gate.admit('198.51.100.1').admitted, true);
});

test('a refused address is said at warn once a minute, at debug in between', () => {
  const gate = new PeerGate({ allowedAddresses: () => ['192.0.2.1'], maxPerAddress: () => 0 });
  const warn = (address: string, now: number) => {
    const a = gate.admit(address, now);
    return !a.admitted && a.warn;
  };
  assert.deepEqual([warn('10.0.0.1', 0), warn('10.0.0.1', 1000), warn('10.0.0.2', 1000), warn('10.0.0.1', 60_000)], [true, false, true, true]);
});

test('at most maxPerAddress connections of one address; a closed one frees its place; said once while at the limit', () => {
  let limit = 2;
  const gate = new PeerGate({ allowedAddresses: () => [], maxPerAddress: () => limit });
  assert.equal(gate.admit('192.0.2.1').admitted, true);
  assert.equal(gate.admit('192.0.2.1').admitted, true);
  assert.deepEqual(gate.admit('192.0.2.1'), { admitted: false, reason: 'too many connections from the address', limit: 2, warn: true });
  assert.deepEqual(gate.admit('192.0.2.1'), { admitted: false, reason: 'too many connections from the address', limit: 2, warn: false });
  assert.equal(gate.admit('192.0.2.2').admitted, true, 'another address has its own count');
  gate.closed('192.0.2.1');
  assert.equal(gate.count('192.0.2.1'), 1);
  assert.equal(gate.admit('192.0.2.1').admitted, true);
  const again = gate.admit('192.0.2.1');
  assert.equal(!again.admitted && again.warn, true, 'at the limit again after one closed: said again');
  limit = 3;
  assert.equal(gate.admit('192.0.2.1').admitted, true, 'the limit is read at every connection');
  for (let i = 0; i < 3; i++) gate.closed('192.0.2.1');
  assert.equal(gate.count('192.0.2.1'), 0);
});

test('a warning at start when the listener is on more than loopback and takes any host', () => {
  assert.match(hl7StartWarning('0.0.0.0', []) ?? '', /from any host .*hl7\.allowed_addresses/);
  assert.equal(hl7StartWarning('0.0.0.0', ['10.1.2.3']), null);
  assert.equal(hl7StartWarning('127.0.0.1', []), null);
});
