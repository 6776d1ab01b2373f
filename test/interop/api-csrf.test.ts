// Cross-site request forgery: a page of another origin cannot make a browser POST, PUT or DELETE
// here with cached credentials (form enctype text/plain, a bodyless POST); the page itself, a
// listed CORS origin and clients without Origin (curl, DICOMweb tools) still can.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('cross-site requests', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  let port = 0;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', cors_origins: ['https://viewer.example.org'], trust_proxy: ['127.0.0.1'], allowed_hosts: ['pacs.example.org'] } });
    web = pacs.server.httpServer!;
    const a = web.server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  after(() => pacs.stop());

  /** A request over a real socket, as curl sends it (Host is the address dialled). */
  const post = (path: string, headers: Record<string, string>, body = ''): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });

  test('the repro: POST /api/retention/run from another origin with a text/plain body is refused (403), nothing queued', async () => {
    const r = await post('/api/retention/run', { origin: 'https://evil.example', 'content-type': 'text/plain' }, 'a');
    assert.equal(r.status, 403, r.body);
    assert.match(r.body, /another origin/);
    assert.equal((await pacs.server.archive.index.jobs.list({ type: 'retention', limit: 10, offset: 0 })).total, 0);
  });

  test('other unsafe requests from other origins or sites: refused', async () => {
    for (const [method, url, headers] of [
      ['POST', '/api/nodes/X/echo', { origin: 'https://evil.example' }],
      ['POST', '/api/jobs/1/cancel', { origin: 'null' }],
      ['DELETE', '/api/studies/1.2.3', { origin: `http://127.0.0.1:${port + 1}` }],
      ['PUT', '/api/nodes/X', { 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }],
      ['POST', '/dicom-web/studies', { origin: 'https://viewer.example.org.evil.example' }],
    ] as const) {
      const r = await web.inject({ method, url, headers: { host: `127.0.0.1:${port}`, ...headers }, ...(method === 'PUT' ? { payload: '{"host":"h","port":1}' } : {}) });
      assert.equal(r.statusCode, 403, `${method} ${url} ${JSON.stringify(headers)}: ${r.body}`);
    }
  });

  test('the page itself, a trusted proxy\'s forwarded host, a listed CORS origin, and clients without Origin: allowed', async () => {
    const same = await post('/api/retention/run', { origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' });
    assert.equal(same.status, 202, same.body);
    const proxied = await post('/api/retention/run', { origin: 'https://pacs.example.org', 'x-forwarded-host': 'pacs.example.org', 'x-forwarded-proto': 'https' });
    assert.equal(proxied.status, 202, proxied.body);
    const listed = await post('/api/retention/run', { origin: 'https://viewer.example.org', 'sec-fetch-site': 'cross-site' });
    assert.equal(listed.status, 202, listed.body);
    assert.equal((await post('/api/retention/run', {})).status, 202, 'curl');
    // GET stays open to any origin (CORS decides what a page may read).
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies', headers: { origin: 'https://evil.example' } })).statusCode, 200);
  });

  test('API routes do not parse text/plain bodies (415); their own types still work', async () => {
    const r = await post('/api/retention/run', { 'content-type': 'text/plain' }, 'a');
    assert.equal(r.status, 415, r.body);
    const json = await web.inject({ method: 'PUT', url: '/api/nodes/CSRF_OK', payload: { host: '127.0.0.1', port: 104 } });
    assert.equal(json.statusCode, 201, json.body);
  });
});
