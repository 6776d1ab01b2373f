// Wrong passwords per client address (10 a minute, then 429 until the minute is over), in
// bounded memory; and at most two scrypt checks at once, whatever comes in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FailedLogins, clientKey } from '../../../src/http/login-limit.js';
import { passwordMatches, scryptSlots } from '../../../src/core/passwords.js';

test('ten failures a minute, then refused until the window passes; a right password is not a failure', () => {
  let now = 1_000_000;
  const logins = new FailedLogins(10, 100, () => now);
  for (let i = 0; i < 9; i++) {
    assert.equal(logins.begin('10.0.0.1'), 0);
    logins.end('10.0.0.1', false);
  }
  assert.equal(logins.begin('10.0.0.1'), 0);
  logins.end('10.0.0.1', true); // the 10th was right: still 9 failures
  assert.equal(logins.begin('10.0.0.1'), 0);
  logins.end('10.0.0.1', false);
  now += 20_000;
  assert.equal(logins.begin('10.0.0.1'), 40, 'seconds until the minute is over');
  assert.equal(logins.begin('10.0.0.2'), 0, 'another address');
  now += 40_000;
  assert.equal(logins.begin('10.0.0.1'), 0, 'a new minute');
});

test('guesses in parallel count before they fail: the 11th at once is refused', () => {
  const logins = new FailedLogins(10, 100, () => 0);
  for (let i = 0; i < 10; i++) assert.equal(logins.begin('10.0.0.1'), 0);
  assert.ok(logins.begin('10.0.0.1') > 0);
});

test('bounded memory: the oldest address is dropped, expired ones go first', () => {
  let now = 0;
  const logins = new FailedLogins(10, 3, () => now);
  for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) {
    logins.begin(ip);
    now += 1000;
  }
  assert.equal(logins.size, 3);
  now += 60_000;
  logins.begin('10.0.0.5');
  assert.equal(logins.size, 1);
});

test('IPv6 clients are counted by /64; IPv4-mapped addresses as IPv4', () => {
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientKey('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(clientKey('192.0.2.1'), '192.0.2.1');
});

test('at most two scrypt checks run at once; the others wait in line', async () => {
  const hash = `scrypt:${Buffer.alloc(16, 1).toString('base64')}:${Buffer.alloc(32, 2).toString('base64')}`;
  const checks = Array.from({ length: 6 }, (_v, i) => passwordMatches(`guess-${i}`, hash));
  assert.equal(scryptSlots.active, 2);
  assert.equal(scryptSlots.waiting, 4);
  assert.deepEqual(await Promise.all(checks), [false, false, false, false, false, false]);
  assert.equal(scryptSlots.active, 0);
  assert.equal(scryptSlots.waiting, 0);
});
