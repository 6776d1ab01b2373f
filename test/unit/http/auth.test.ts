// HTTP authentication: Basic users with plain or scrypt passwords, Bearer tokens, the anonymous
// role, and `pacs hash-password` producing a hash the server accepts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { anonymousRole, authenticate, callerAddress, roleAllows } from '../../../src/http/auth.js';
import { passwordMatches } from '../../../src/core/passwords.js';
import type { HttpConfig } from '../../../src/config/schema.js';

const BIN = new URL('../../../../bin/pacs', import.meta.url).pathname;
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

test('pacs hash-password: reads standard input, prints a scrypt hash that matches only that password', async () => {
  const r = spawnSync(process.execPath, [BIN, 'hash-password'], { input: 'correct horse battery\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const hash = r.stdout.trim();
  assert.match(hash, /^scrypt\$16384\$8\$5\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/, 'the cost is in the hash');
  assert.equal(await passwordMatches('correct horse battery', hash), true);
  assert.equal(await passwordMatches('correct horse batterY', hash), false);
  const again = spawnSync(process.execPath, [BIN, 'hash-password'], { input: 'correct horse battery\n', encoding: 'utf8' });
  assert.notEqual(again.stdout.trim(), hash, 'a new salt each time');
  const noArgs = spawnSync(process.execPath, [BIN, 'hash-password', 'secret'], { encoding: 'utf8' });
  assert.notEqual(noArgs.status, 0, 'a password on the command line is refused');
});

test('authenticate: users, tokens, anonymous, wrong credentials', async () => {
  const hash = spawnSync(process.execPath, [BIN, 'hash-password'], { input: 's3cret\n', encoding: 'utf8' }).stdout.trim();
  const c = {
    users: [{ username: 'ann', password: hash, role: 'admin' }, { username: 'bob', password: 'plain-pw', role: 'read' }],
    tokens: [{ name: 'robot', token: 'abcdefghijklmnopqrstuvwxyz', role: 'write' }],
  } as unknown as HttpConfig;
  assert.deepEqual(await authenticate(basic('ann', 's3cret'), c), { role: 'admin', name: 'ann' });
  assert.deepEqual(await authenticate(basic('bob', 'plain-pw'), c), { role: 'read', name: 'bob' });
  assert.ok('invalid' in (await authenticate(basic('ann', 'wrong'), c))!);
  assert.deepEqual(await authenticate('Bearer abcdefghijklmnopqrstuvwxyz', c), { role: 'write', name: 'robot' });
  assert.ok('invalid' in (await authenticate('Bearer nope', c))!);
  assert.ok('invalid' in (await authenticate('', c))!, 'an empty header is not anonymous');
  // An address over its rate limit is refused before its password is hashed — a bare "Basic"
  // (no credentials) too, which skipped the limit and still cost a scrypt.
  let gated = 0;
  assert.equal(await authenticate('Basic', c, async () => (gated++, false)), null);
  assert.equal(gated, 1);
  assert.ok('invalid' in (await authenticate(`Basic ${Buffer.from('no-colon').toString('base64')}`, c))!);
  let asked = 0;
  assert.equal(await authenticate(basic('ann', 'guess'), c, async () => (asked++, false)), null);
  assert.equal(asked, 1);
  assert.deepEqual(await authenticate(basic('ann', 's3cret'), c, async () => (asked++, false)), { role: 'admin', name: 'ann' }, 'verified before: no hashing, no check');
  assert.equal(asked, 1);
  assert.equal(anonymousRole(c), 'read');
  assert.equal(anonymousRole({ users: [], tokens: [] } as unknown as HttpConfig), 'admin');
  // Nothing configured: administrator on this machine only; from another, nothing.
  const fresh = { users: [], tokens: [] } as unknown as HttpConfig;
  for (const from of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) assert.equal(anonymousRole(fresh, from), 'admin', from);
  for (const from of ['10.1.2.3', '::ffff:10.1.2.3', 'fe80::1']) assert.equal(anonymousRole(fresh, from), 'none', from);
  assert.equal(anonymousRole({ ...fresh, anonymous_role: 'admin' } as HttpConfig, '10.1.2.3'), 'admin', 'said explicitly: as said');
  assert.deepEqual(await authenticate(undefined, fresh, undefined, '10.1.2.3'), { role: 'none', name: null });
  // The address judged: a proxy beside us names the client; one elsewhere is judged itself; a
  // request forwarded from this machine is never this machine (a proxy not in trust_proxy, or a
  // client's own X-Forwarded-For: 127.0.0.1 passed through).
  const xff = { 'x-forwarded-for': '192.0.2.7' };
  assert.equal(callerAddress({ ip: '192.0.2.7', socket: { remoteAddress: '127.0.0.1' }, headers: xff }), '192.0.2.7');
  assert.equal(callerAddress({ ip: '127.0.0.1', socket: { remoteAddress: '10.9.0.5' }, headers: xff }), '10.9.0.5');
  assert.equal(callerAddress({ ip: '127.0.0.1', socket: { remoteAddress: '127.0.0.1' }, headers: {} }), '127.0.0.1');
  for (const headers of [xff, { forwarded: 'for=192.0.2.7' }, { 'x-real-ip': '192.0.2.7' }, { 'x-forwarded-for': '127.0.0.1' }])
    assert.equal(anonymousRole(fresh, callerAddress({ ip: '127.0.0.1', socket: { remoteAddress: '127.0.0.1' }, headers })), 'none', JSON.stringify(headers));
  assert.equal(roleAllows('write', 'read'), true);
  assert.equal(roleAllows('write', 'admin'), false);
  assert.equal(roleAllows('read', 'none'), true);
});

test('an unknown user name costs the same scrypt as a wrong password of a known user (no timing tells which names exist)', async () => {
  const hash = spawnSync(process.execPath, [BIN, 'hash-password'], { input: 's3cret\n', encoding: 'utf8' }).stdout.trim();
  const c = { users: [{ username: 'ann', password: hash, role: 'admin' }], tokens: [] } as unknown as HttpConfig;
  const time = async (user: string): Promise<number> => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      assert.ok('invalid' in (await authenticate(basic(user, `wrong-${i}`), c))!);
      best = Math.min(best, performance.now() - t0);
    }
    return best;
  };
  const known = await time('ann');
  const unknown = await time('nobody');
  // A scrypt takes tens of milliseconds; answering without one, well under one.
  assert.ok(unknown > known / 3, `unknown user ${unknown.toFixed(2)} ms, known user with a wrong password ${known.toFixed(2)} ms`);
});
