import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addressAllowed, checkUserIdentity } from '../../../src/scp/user-identity.js';
import { FAILED_LOGINS_LIMIT, FailedLogins } from '../../../src/core/failed-logins.js';
import { hashPassword } from '../../../src/core/passwords.js';

const id = (type: number, user: string, pass = '', positive = false) => ({ type, positiveResponseRequested: positive, primaryField: Buffer.from(user), secondaryField: Buffer.from(pass) });
const policy = { required: true, users: [{ username: 'alice', password: 'pw' }, { username: 'ct1' }] };

test('user identity verdicts', async () => {
  assert.deepEqual(await checkUserIdentity(null, undefined), { ok: true, user: null, respond: false });
  assert.deepEqual(await checkUserIdentity(id(2, 'alice', 'x'), undefined), { ok: true, user: null, respond: false }, 'no policy: not checked');
  assert.deepEqual(await checkUserIdentity(id(2, 'alice', 'pw', true), policy), { ok: true, user: 'alice', respond: true });
  assert.deepEqual(await checkUserIdentity(id(1, 'ct1'), policy), { ok: true, user: 'ct1', respond: false });
  assert.equal((await checkUserIdentity(id(1, 'alice'), policy)).ok, false, 'a user with a password needs it');
  assert.equal((await checkUserIdentity(id(2, 'alice', 'nope'), policy)).ok, false);
  assert.equal((await checkUserIdentity(id(2, 'bob', 'pw'), policy)).ok, false);
  assert.equal((await checkUserIdentity(null, policy)).ok, false);
  assert.equal((await checkUserIdentity(id(5, 'jwt'), policy)).ok, false, 'JWT not supported when required');
  assert.deepEqual(await checkUserIdentity(id(5, 'jwt'), { ...policy, required: false }), { ok: true, user: null, respond: false });
  assert.equal((await checkUserIdentity(id(2, 'alice', 'nope'), { ...policy, required: false })).ok, false, 'wrong credentials: refused even when optional');
});

test('an unknown user name is quoted at most 64 characters long (it goes to the log and the audit trail)', async () => {
  const r = await checkUserIdentity(id(1, 'x'.repeat(65_000)), policy);
  assert.equal(r.ok, false);
  assert.ok(!r.ok && r.why.length < 100, `${!r.ok ? r.why.length : 0} characters`);
  assert.ok(!r.ok && r.why.startsWith(`unknown user "${'x'.repeat(64)}…"`));
});

test('wrong passwords from one address: past the limit none is checked, whatever calling AE title or user name it uses; others are not held back', async () => {
  const logins = new FailedLogins();
  const guard = (address: string) => ({ logins, address });
  for (let i = 0; i < FAILED_LOGINS_LIMIT; i++) assert.equal((await checkUserIdentity(id(2, i % 2 ? 'alice' : `nobody${i}`, 'guess'), policy, guard('192.0.2.9'))).ok, false);
  const limited = await checkUserIdentity(id(2, 'alice', 'pw'), policy, guard('192.0.2.9'));
  assert.ok(!limited.ok && /more than 10 wrong passwords a minute from 192\.0\.2\.9/.test(limited.why), 'the right password too, until the minute is over');
  assert.equal((await checkUserIdentity(id(2, 'alice', 'pw'), policy, guard('192.0.2.10'))).ok, true, 'another address');
  assert.equal((await checkUserIdentity(id(1, 'ct1'), policy, guard('192.0.2.9'))).ok, true, 'a user without a password checks none');
});

test('an unknown user name with a password costs the scrypt a known one does (no timing tells which names exist)', async () => {
  const hashed = { required: true, users: [{ username: 'alice', password: hashPassword('pw', randomBytes(16)) }] };
  const time = async (user: string): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      assert.equal((await checkUserIdentity(id(2, user, `guess-${i}`), hashed)).ok, false);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const known = await time('alice');
  const unknown = await time('nobody');
  // A scrypt takes tens of milliseconds; answering without one, well under one.
  assert.ok(unknown > known / 3, `unknown user ${unknown.toFixed(2)} ms, known user with a wrong password ${known.toFixed(2)} ms`);
});

test('addresses and CIDR blocks, IPv4-mapped IPv6 included', () => {
  assert.equal(addressAllowed('192.0.2.7', ['192.0.2.0/24']), true);
  assert.equal(addressAllowed('::ffff:192.0.2.7', ['192.0.2.0/24']), true);
  assert.equal(addressAllowed('192.0.3.7', ['192.0.2.0/24', '10.1.1.1']), false);
  assert.equal(addressAllowed('10.1.1.1', ['192.0.2.0/24', '10.1.1.1']), true);
  assert.equal(addressAllowed('2001:db8::5', ['2001:db8::/32']), true);
  assert.equal(addressAllowed('', ['0.0.0.0/0']), false);
});
