// GET /api/me: who is asking, with the role the server gives them, and whether a log-in would
// give more (the web page offers a "Log in" then, which asks /api/me?login=1: a Basic
// challenge while the caller has no credentials).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';

type Me = { name: string | null; role: string; login: boolean };

describe('GET /api/me', () => {
  const servers: TestPacs[] = [];
  const web = async (http: Record<string, unknown>): Promise<FastifyInstance> => {
    const pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', ...http } });
    servers.push(pacs);
    return pacs.server.httpServer!;
  };
  after(async () => {
    for (const s of servers) await s.stop();
  });

  let withUsers: FastifyInstance;
  before(async () => {
    withUsers = await web({ users: [...ROLE_USERS] });
  });

  test('no users configured: anonymous is admin, and there is nobody to log in as', async () => {
    const open = await web({});
    const r = await open.inject({ url: '/api/me' });
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json<Me>(), { name: null, role: 'admin', login: false });
    assert.equal((await open.inject({ url: '/api/me?login=1' })).statusCode, 200, 'no challenge: no user would have more');
  });

  test('users configured: anonymous is read and may log in for more; a user is named with their role', async () => {
    assert.deepEqual((await withUsers.inject({ url: '/api/me' })).json<Me>(), { name: null, role: 'read', login: true });
    assert.deepEqual((await withUsers.inject({ url: '/api/me', headers: basic('writer', 'w-secret') })).json<Me>(), { name: 'writer', role: 'write', login: false });
    assert.deepEqual((await withUsers.inject({ url: '/api/me?login=1', headers: basic('boss', 'b-secret') })).json<Me>(), { name: 'boss', role: 'admin', login: false });
  });

  test('?login=1 without credentials: 401 with a Basic challenge; wrong credentials: 401', async () => {
    const r = await withUsers.inject({ url: '/api/me?login=1' });
    assert.equal(r.statusCode, 401);
    assert.match(String(r.headers['www-authenticate']), /^Basic realm="pacs-server"/);
    assert.equal((await withUsers.inject({ url: '/api/me', headers: basic('boss', 'wrong') })).statusCode, 401);
  });

  test('anonymous_role none: 401 (the page asks for a log-in at once)', async () => {
    const closed = await web({ users: [...ROLE_USERS], anonymous_role: 'none' });
    const r = await closed.inject({ url: '/api/me' });
    assert.equal(r.statusCode, 401);
    assert.match(String(r.headers['www-authenticate']), /^Basic/);
    assert.deepEqual((await closed.inject({ url: '/api/me', headers: basic('reader', 'r-secret') })).json<Me>(), { name: 'reader', role: 'read', login: false });
  });

  test('a token is named by its name', async () => {
    const tokens = await web({ tokens: [{ name: 'forwarder', token: 'a-long-random-string-of-32-chars!!', role: 'write' }] });
    const r = await tokens.inject({ url: '/api/me', headers: { authorization: 'Bearer a-long-random-string-of-32-chars!!' } });
    assert.deepEqual(r.json<Me>(), { name: 'forwarder', role: 'write', login: false });
  });

  test('in the OpenAPI document', async () => {
    const doc = (await withUsers.inject({ url: '/api/docs/json' })).json<{ paths: Record<string, unknown> }>();
    assert.ok(doc.paths['/api/me'], Object.keys(doc.paths).join(' '));
  });
});
