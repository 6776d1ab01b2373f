// /health/live and /health/ready on the web port, for load balancers and orchestrators.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('health probes', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, viewer: false, anonymous_role: 'none', users: [{ username: 'admin', password: 'pw', role: 'admin' }] } });
  });
  after(() => pacs.stop());

  test('live and ready answer without credentials; ready probes index, storage and disk and leaves no file', async () => {
    const app = pacs.server.httpServer!;
    const before = pacs.files();
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
    const body = ready.json<{ status: string; checks: Record<string, { ok: boolean }> }>();
    assert.equal(body.status, 'ready');
    assert.deepEqual(Object.fromEntries(Object.entries(body.checks).map(([k, v]) => [k, v.ok])), { index: true, storage: true, disk: true });
    assert.deepEqual(pacs.files(), before, 'the probe file is gone');
  });

  test('below storage.min_free_mb: 503 with the reason; live stays 200', async () => {
    const app = pacs.server.httpServer!;
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, storage: { ...c.storage, min_free_mb: 100_000_000 } });
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    const body = ready.json<{ status: string; reasons: string[] }>();
    assert.equal(body.status, 'not ready');
    assert.match(body.reasons.join('\n'), /disk: .* MB free, below storage.min_free_mb/);
    assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    pacs.server.reload(c);
  });

  test('a storage directory that cannot take files: 503 "storage not writable"', async () => {
    // As root, permissions do not stop writes: the staging directory is replaced by a file.
    const app = pacs.server.httpServer!;
    const staging = pacs.server.archive.config().storage.temp_dir;
    pacs.server.archive.objects.close(); // drop the spare files made ahead of need
    fs.rmSync(staging, { recursive: true, force: true });
    fs.writeFileSync(staging, 'not a directory');
    const ready = await app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 503, ready.body);
    assert.match(ready.json<{ reasons: string[] }>().reasons.join('\n'), /storage not writable/);
    fs.rmSync(staging);
    fs.mkdirSync(path.join(staging));
  });
});
