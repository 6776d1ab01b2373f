// Known nodes through the REST API: checked as the configuration file checks them (AE title,
// host), and a change keeps what its body leaves out (permissions, tls, description).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('known nodes through the API', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const put = (ae: string, payload: unknown) => web.inject({ method: 'PUT', url: `/api/nodes/${ae}`, payload: payload as object });
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());

  test('an all-spaces AE title or a malformed host is a 400, as in the configuration file; nothing kept', async () => {
    for (const [ae, body] of [
      ['%20%20%20', { host: '127.0.0.1', port: 104 }],
      ['OK_AE', { host: 'not a host!', port: 104 }],
      ['OK_AE', { host: '999.1.2.3', port: 104 }],
      ['OK_AE', { host: ' ', port: 104 }],
    ] as const) {
      const r = await put(ae, body);
      assert.equal(r.statusCode, 400, `${ae} ${JSON.stringify(body)}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /problem\+json/);
    }
    assert.deepEqual(await pacs.server.archive.nodes.list(), []);
    assert.equal((await web.inject({ method: 'GET', url: '/api/nodes/%20' })).statusCode, 400);
  });

  test('a change keeps the permissions, tls and description its body leaves out; a new node needs host and port', async () => {
    assert.equal((await put('LIMITED', { host: '127.0.0.1', port: 104, permissions: ['find'], description: 'the lab' })).statusCode, 201);
    const changed = await put('LIMITED', { host: '127.0.0.2', port: 105 });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(
      (({ host, port, tls, permissions, description }) => ({ host, port, tls, permissions, description }))(changed.json()),
      { host: '127.0.0.2', port: 105, tls: false, permissions: ['find'], description: 'the lab' },
    );
    const onlyPermissions = await put('LIMITED', { permissions: ['find', 'store'] });
    assert.equal(onlyPermissions.statusCode, 200, onlyPermissions.body);
    assert.equal(onlyPermissions.json().host, '127.0.0.2');
    assert.deepEqual(onlyPermissions.json().permissions, ['find', 'store']);
    const fresh = await put('NEW_NODE', { host: '127.0.0.1' });
    assert.equal(fresh.statusCode, 400, fresh.body);
    assert.match(fresh.json().detail, /needs host and port/);
    const defaults = await put('NEW_NODE', { host: 'pacs.example.org', port: 104 });
    assert.equal(defaults.statusCode, 201);
    assert.equal(defaults.json().permissions.length, 7, 'a new node may ask for everything unless told');
  });
});
