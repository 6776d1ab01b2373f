// DNS rebinding: a request without credentials must name this server (IP literal, localhost,
// the machine's host name, http.allowed_hosts), else 421 before anything else happens; a
// trusted proxy's X-Forwarded-Host is the name checked, anyone else's is not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic } from '../helpers/http-users.js';

describe('host names of requests without credentials', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({
      // anonymous_role said: without it a caller from another machine (the proxy here) is refused outright.
      http: { enabled: true, port: 0, host: '127.0.0.1', viewer: false, trust_proxy: ['10.9.0.0/16'], allowed_hosts: ['pacs.example.org', '*.lab.example'], anonymous_role: 'admin' },
    });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());
  const get = (host: string, url = '/api/studies', more: Record<string, string> = {}, remoteAddress?: string) =>
    web.inject({ method: 'GET', url, headers: { host, ...more }, ...(remoteAddress ? { remoteAddress } : {}) });

  test('the repro: a rebound name (Origin = Host = evil.example) cannot delete or read: 421 problem+json', async () => {
    const del = await web.inject({ method: 'DELETE', url: '/api/studies/1.2.3', headers: { host: 'evil.example:8080', origin: 'http://evil.example:8080', 'sec-fetch-site': 'same-origin' } });
    assert.equal(del.statusCode, 421, del.body);
    assert.match(String(del.headers['content-type']), /application\/problem\+json/);
    assert.match(del.json<{ detail: string }>().detail, /http\.allowed_hosts/);
    assert.equal((await get('evil.example:8080', '/api/status')).statusCode, 421);
    assert.equal((await get('pacs1.evil.example')).statusCode, 421, 'the short host name as the start of another name');
    // An empty Authorization header (a rebinding page's fetch may send one) is no credentials: it
    // was let past this check and then served as anonymous — the admin of a server without users.
    for (const authorization of ['', ' '])
      assert.equal((await get('evil.example:8080', '/api/me', { authorization })).statusCode, 421, `Authorization: "${authorization}"`);
  });

  test('IP literals, localhost, the host name and allowed_hosts (names and wildcards) are answered', async () => {
    const short = os.hostname().split('.')[0]!;
    for (const host of ['127.0.0.1:8080', '192.0.2.7', '[::1]:8080', 'localhost:8080', 'LOCALHOST.', os.hostname(), short, 'pacs.example.org', 'PACS.example.org:443', 'ct.lab.example'])
      assert.equal((await get(host)).statusCode, 200, host);
    assert.equal((await get('lab.example')).statusCode, 421, '*.lab.example does not cover lab.example itself');
  });

  test('with credentials the request goes on to authentication; open health checks stay open', async () => {
    assert.equal((await get('evil.example', '/api/studies', basic('nobody', 'x'))).statusCode, 401);
    assert.equal((await get('evil.example', '/health/live')).statusCode, 200);
  });

  test('a trusted proxy\'s X-Forwarded-Host is checked, an untrusted client\'s is ignored', async () => {
    assert.equal((await get('127.0.0.1', '/api/studies', { 'x-forwarded-host': 'evil.example' }, '10.9.0.5')).statusCode, 421);
    assert.equal((await get('backend', '/api/studies', { 'x-forwarded-host': 'pacs.example.org' }, '10.9.0.5')).statusCode, 200);
    assert.equal((await get('evil.example', '/api/studies', { 'x-forwarded-host': 'pacs.example.org' }, '192.0.2.9')).statusCode, 421);
  });

  test('http.allowed_hosts reloads live; "*" turns the check off', async () => {
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, http: { ...c.http, allowed_hosts: ['*'] } });
    try {
      assert.equal((await get('evil.example')).statusCode, 200);
    } finally {
      pacs.server.reload(c);
    }
    assert.equal((await get('evil.example')).statusCode, 421);
  });
});

describe('a fresh install (no users, tokens or anonymous_role): administrator on this machine, refused from any other', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', viewer: false, trust_proxy: ['10.9.0.0/16'] } });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());

  test('a request from another machine is 403 saying what to configure, with no login prompt; from this one it is answered', async () => {
    const from = (remoteAddress: string, method: 'GET' | 'DELETE' | 'PUT' = 'GET', url = '/api/studies', headers: Record<string, string> = {}) =>
      web.inject({ method, url, remoteAddress, headers: { host: '192.0.2.1:8080', ...headers }, ...(method === 'PUT' ? { payload: { host: '203.0.113.66', port: 104 } } : {}) });
    for (const [method, url] of [['GET', '/api/studies'], ['DELETE', '/api/studies/1.2.826.99.1.1'], ['PUT', '/api/nodes/EVIL'], ['GET', '/dicom-web/studies']] as const) {
      const r = await from('192.0.2.9', method, url);
      assert.equal(r.statusCode, 403, `${method} ${url}: ${r.body}`);
      assert.equal(r.headers['www-authenticate'], undefined, 'no accounts to log in with: no prompt');
      assert.match(r.json<{ detail: string }>().detail, /no http\.users, http\.tokens or http\.anonymous_role/);
    }
    assert.equal((await pacs.server.archive.nodes.find('EVIL')), null, 'no node was added');
    assert.equal((await from('127.0.0.1')).statusCode, 200, 'this machine: administrator');
    // A trusted proxy on another machine forwarding its own 127.0.0.1 is not this machine.
    assert.equal((await from('10.9.0.5', 'GET', '/api/studies', { 'x-forwarded-for': '192.0.2.77' })).statusCode, 403);
    assert.equal((await from('10.9.0.5', 'GET', '/api/studies', { 'x-forwarded-for': '127.0.0.1' })).statusCode, 403);
    // A proxy on this machine (not in trust_proxy here): what it forwards is not this machine,
    // whatever its X-Forwarded-For says.
    for (const headers of [{ 'x-forwarded-for': '192.0.2.77' }, { 'x-forwarded-for': '127.0.0.1' }, { 'x-real-ip': '192.0.2.77' }] as Record<string, string>[])
      assert.equal((await from('127.0.0.1', 'GET', '/api/studies', headers)).statusCode, 403, JSON.stringify(headers));
    assert.equal((await from('192.0.2.9', 'GET', '/health/live')).statusCode, 200, 'open health checks stay open');
  });
});
