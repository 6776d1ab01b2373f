// Password hashes that carry their scrypt cost ("scrypt$N$r$p$SALT$HASH"), the older
// "scrypt:SALT:HASH" still verified, damaged hashes refused by the configuration, and the warning
// at start for plain-text passwords.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { badHash, decoyLike, hashPassword, isPasswordHash, passwordMatches, plainTextUsers } from '../../../src/core/passwords.js';
import { httpStartWarnings } from '../../../src/http/exposure.js';
import type { HttpConfig } from '../../../src/config/schema.js';

const salt = Buffer.from('0123456789abcdef');

test('new hashes name their cost, N=2^14 r=8 p=5 by default, and verify', async () => {
  const hash = hashPassword('s3cret', salt);
  assert.match(hash, /^scrypt\$16384\$8\$5\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]{44}$/);
  assert.equal(await passwordMatches('s3cret', hash), true);
  assert.equal(await passwordMatches('s3creT', hash), false);
});

test('another cost is read from the hash itself', async () => {
  const cheap = hashPassword('s3cret', salt, { N: 1024, r: 4, p: 2 });
  assert.match(cheap, /^scrypt\$1024\$4\$2\$/);
  assert.equal(await passwordMatches('s3cret', cheap), true);
  assert.equal(await passwordMatches('other', cheap), false);
});

test('the older scrypt:SALT:HASH (Node defaults N=16384, r=8, p=1) still verifies', async () => {
  const legacy = `scrypt:${salt.toString('base64')}:${scryptSync('s3cret', salt, 32).toString('base64')}`;
  assert.equal(isPasswordHash(legacy), true);
  assert.equal(await passwordMatches('s3cret', legacy), true);
  assert.equal(await passwordMatches('nope', legacy), false);
});

test('a damaged or too costly hash is not taken for a plain password', () => {
  assert.equal(badHash('plain text'), null);
  assert.equal(badHash(hashPassword('x', salt, { N: 1024, r: 1, p: 1 })), null);
  for (const bad of ['scrypt$1000$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2g=', 'scrypt$4194304$8$1$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaGhhc2g=', 'scrypt$16384$8$1$c2FsdA==', 'scrypt:only-one-part'])
    assert.match(badHash(bad) ?? '', /expected a hash of pacs hash-password/, bad);
});

test('a decoy has the form and cost of the hash it imitates', () => {
  assert.match(decoyLike(hashPassword('x', salt, { N: 1024, r: 2, p: 1 })), /^scrypt\$1024\$2\$1\$/);
  assert.match(decoyLike(`scrypt:${salt.toString('base64')}:${Buffer.alloc(32).toString('base64')}`), /^scrypt:[^:]+:[^:]+$/);
  assert.equal(isPasswordHash(decoyLike(undefined)), false);
});

test('plain-text passwords are named in a warning at start; hashes are not', () => {
  const users = [{ username: 'ann', password: 'plain', role: 'read' }, { username: 'bob', password: hashPassword('x', salt, { N: 1024, r: 1, p: 1 }), role: 'read' }];
  assert.deepEqual(plainTextUsers(users), ['ann']);
  const [w] = httpStartWarnings({ host: '127.0.0.1', users, tokens: [] } as unknown as HttpConfig);
  assert.deepEqual(w!.fields, { users: ['ann'] });
  assert.match(w!.message, /http\.users has passwords in plain text/);
});
