// /health/live and /health/ready on the web port, for load balancers and orchestrators: open to
// all, but only a caller with the read role is told the errors' messages (paths, database hosts);
// the readiness probe (a file written and synced) runs at most once per 5 s.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic } from '../helpers/http-users.js';

describe('health probes', () => {
  let pacs: TestPacs;
  const admin = basic('admin', 'pw');
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, viewer: false, anonymous_role: 'none', users: [{ username: 'admin', password: 'pw', role: 'admin' }] } });
  });
  after(() => pacs.stop());
  const ready = (headers: Record<string, string> = {}) => pacs.server.httpServer!.inject({ method: 'GET', url: '/health/ready', headers });
  /** A reload with an equal configuration: the readiness cache starts afresh. */
  const fresh = () => pacs.server.reload({ ...pacs.server.archive.config() });

  test('live and ready answer without credentials; ready probes index, storage and disk and leaves no file', async () => {
    const app = pacs.server.httpServer!;
    const before = pacs.files();
    const live = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    const anonymous = await ready();
    assert.equal(anonymous.statusCode, 200, anonymous.body);
    assert.deepEqual(anonymous.json(), { status: 'ready', codes: [] }, 'no details without a role');
    const r = await ready(admin);
    const body = r.json<{ status: string; checks: Record<string, { ok: boolean }> }>();
    assert.equal(body.status, 'ready');
    assert.deepEqual(Object.fromEntries(Object.entries(body.checks).map(([k, v]) => [k, v.ok])), { index: true, storage: true, disk: true });
    assert.deepEqual(pacs.files(), before, 'the probe file is gone');
  });

  test('one probe per 5 s however often it is asked; a reload probes again', async () => {
    const objects = pacs.server.archive.objects;
    const stage = objects.stage.bind(objects);
    let probes = 0;
    objects.stage = (...a: Parameters<typeof stage>) => (probes++, stage(...a));
    try {
      fresh();
      await Promise.all([ready(), ready(admin), ready()]);
      for (let i = 0; i < 5; i++) assert.equal((await ready()).statusCode, 200);
      assert.equal(probes, 1);
      fresh();
      await ready();
      assert.equal(probes, 2);
    } finally {
      objects.stage = stage;
    }
  });

  test('below storage.min_free_mb: 503 with the reason code, the reason in words for a role; live stays 200', async () => {
    const app = pacs.server.httpServer!;
    const c = pacs.server.archive.config();
    pacs.server.reload({ ...c, storage: { ...c.storage, min_free_mb: 100_000_000 } });
    const anonymous = await ready();
    assert.equal(anonymous.statusCode, 503);
    assert.deepEqual(anonymous.json(), { status: 'not ready', codes: ['disk-below-minimum'] });
    const body = (await ready(admin)).json<{ status: string; reasons: string[] }>();
    assert.equal(body.status, 'not ready');
    assert.match(body.reasons.join('\n'), /disk: .* MB free, below storage.min_free_mb/);
    assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    pacs.server.reload(c);
  });

  test('a storage directory that cannot take files: 503 "storage-not-writable"; the path only for a role', async () => {
    // As root, permissions do not stop writes: the staging directory is replaced by a file.
    const staging = pacs.server.archive.config().storage.temp_dir;
    pacs.server.archive.objects.close(); // drop the spare files made ahead of need
    fs.rmSync(staging, { recursive: true, force: true });
    fs.writeFileSync(staging, 'not a directory');
    try {
      fresh();
      const anonymous = await ready();
      assert.equal(anonymous.statusCode, 503, anonymous.body);
      assert.deepEqual(anonymous.json(), { status: 'not ready', codes: ['storage-not-writable'] });
      assert.ok(!anonymous.body.includes(pacs.dir), 'no path of the server');
      const r = await ready(admin);
      assert.match(r.json<{ reasons: string[] }>().reasons.join('\n'), /storage not writable/);
    } finally {
      fs.rmSync(staging);
      fs.mkdirSync(path.join(staging));
    }
  });

  test('/health: an index that fails says so; its message (database host, user) only to a role', async () => {
    const app = pacs.server.httpServer!;
    const index = pacs.server.archive.index;
    const statistics = index.statistics.bind(index);
    index.statistics = async () => {
      throw new Error('password authentication failed for user "pacs" at db.internal.example');
    };
    try {
      const anonymous = await app.inject({ method: 'GET', url: '/health' });
      assert.equal(anonymous.statusCode, 503);
      assert.deepEqual(anonymous.json(), { status: 'unavailable', codes: ['index-unavailable'] });
      const r = await app.inject({ method: 'GET', url: '/health', headers: admin });
      assert.match(r.json<{ detail: string }>().detail, /db\.internal\.example/);
      const wrong = await app.inject({ method: 'GET', url: '/health', headers: basic('admin', 'wrong') });
      assert.equal(wrong.statusCode, 503, 'wrong credentials on an open route: answered as nobody');
      assert.deepEqual(wrong.json(), { status: 'unavailable', codes: ['index-unavailable'] });
    } finally {
      index.statistics = statistics;
    }
  });
});
