// The names a request without credentials may give in Host, and the warning at start about an
// anonymous role that may change things on a port others can reach.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostAllowed, hostName } from '../../../src/http/host-check.js';
import { dicomwebCredentialWarnings, httpStartWarnings } from '../../../src/http/exposure.js';
import { dicomwebServersSchema } from '../../../src/config/dicomweb-schema.js';
import type { HttpConfig } from '../../../src/config/schema.js';

test('hostName: lower case, no port, no final dot; bracketed IPv6; malformed is null', () => {
  assert.equal(hostName('PACS.Example.org.:8080'), 'pacs.example.org');
  assert.equal(hostName('[::1]:8080'), '[::1]');
  assert.equal(hostName('::1'), null);
  assert.equal(hostName('[nope]'), null);
  assert.equal(hostName(':80'), null);
});

test('hostAllowed: literals, localhost, the machine (full and short name), the list', () => {
  const allowed = (h: string, list: string[] = [], machine = 'pacs1.hospital.example') => hostAllowed(h, list, machine);
  for (const h of ['10.1.2.3:8080', '[fe80::1]', 'localhost', 'pacs1.hospital.example', 'pacs1:8080', '']) assert.ok(allowed(h), h);
  for (const h of ['pacs1.evil.example', 'hospital.example', 'localhost.evil.example', '10.1.2', '0x7f000001']) assert.ok(!allowed(h), h);
  assert.ok(allowed('web.hospital.example', ['*.hospital.example']));
  assert.ok(!allowed('evilhospital.example', ['*.hospital.example']));
  assert.ok(allowed('anything.example', ['*']));
  assert.ok(!allowed('pacs1', [], 'pacs2'), 'a short machine name matches only itself');
});

test('a warning at start when the anonymous role may write and the port is not on loopback, or when nothing is configured (remote callers refused)', () => {
  const c = (over: Partial<HttpConfig>) => ({ host: '0.0.0.0', users: [], tokens: [], ...over }) as HttpConfig;
  assert.match(httpStartWarnings(c({}))[0]!.message, /only requests from this machine are answered/, 'nothing configured: remote callers refused, said so');
  assert.match(httpStartWarnings(c({ anonymous_role: 'admin' }))[0]!.message, /admin role/);
  assert.equal(httpStartWarnings(c({ host: '127.0.0.1' })).length, 0);
  assert.equal(httpStartWarnings(c({ anonymous_role: 'read' })).length, 0);
  assert.equal(httpStartWarnings(c({ anonymous_role: 'write', host: '::' })).length, 1);
  // Users set and anonymous read left as it defaults: every study readable without logging in.
  const tokens = [{ name: 'robot', token: 'x'.repeat(20), role: 'write' }] as HttpConfig['tokens'];
  assert.match(httpStartWarnings(c({ tokens }))[0]!.message, /without credentials read every study/);
  assert.equal(httpStartWarnings(c({ tokens, anonymous_role: 'none' })).length, 0);
  assert.equal(httpStartWarnings(c({ tokens, host: '127.0.0.1' })).length, 0);
});

test('a DICOMweb server given credentials over plain HTTP is warned of at start, unless it is on this machine', () => {
  const servers = dicomwebServersSchema.parse([
    { name: 'CLEAR', url: 'http://lab.example.org/dicom-web', token: 'secret-token' },
    { name: 'SAFE', url: 'https://lab.example.org/dicom-web', username: 'u', password: 'p' },
    { name: 'LOCAL', url: 'http://127.0.0.1:8042/dicom-web', username: 'u', password: 'p' },
    { name: 'OPEN', url: 'http://lab.example.org/dicom-web' },
  ]);
  const warnings = dicomwebCredentialWarnings(servers);
  assert.deepEqual(warnings.map((w) => w.fields.dicomwebServer), ['CLEAR']);
  assert.match(warnings[0]!.message, /plain HTTP.*https:\/\//);
  assert.doesNotMatch(JSON.stringify(warnings), /secret-token/);
});
