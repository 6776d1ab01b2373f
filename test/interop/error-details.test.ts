// What the server tells about itself: a stored file that cannot be read is a 404 without its
// path (the log has it), and /status and /api/status show the storage directory and the allowed
// AE titles to administrators only.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';

describe('details in answers', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const reader = basic('reader', 'r-secret');
  const boss = basic('boss', 'b-secret');
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', viewer: false, anonymous_role: 'none', users: [...ROLE_USERS] }, access_control: { allowed_ae_titles: ['CT_*'] } });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());

  test('bulk data whose file cannot be read: 404 naming the instance, not the path', async () => {
    const file = fs.readFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm'));
    const up = await web.inject({ method: 'POST', url: '/api/instances', headers: { 'content-type': 'application/dicom', ...boss }, payload: file });
    assert.equal(up.statusCode, 201, up.body);
    const [row] = await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'SOPInstanceUID', value: '' }], relational: true });
    const loc = (await pacs.server.archive.index.findInstance(String(row!.SOPInstanceUID)))!;
    const url = `/dicom-web/studies/${loc.StudyInstanceUID}/series/${loc.SeriesInstanceUID}/instances/${loc.SOPInstanceUID}/bulkdata/7FE00010`;
    assert.equal((await web.inject({ method: 'GET', url, headers: reader })).statusCode, 200, 'read while the file is there');
    fs.rmSync(path.join(pacs.storageDir, loc.path));
    const r = await web.inject({ method: 'GET', url, headers: reader });
    assert.equal(r.statusCode, 404, r.body);
    assert.match(r.json<{ detail: string }>().detail, new RegExp(`${loc.SOPInstanceUID.replaceAll('.', '\\.')} cannot be read`));
    assert.ok(!r.body.includes(pacs.dir) && !r.body.includes('ENOENT'), r.body);
  });

  test('the storage directory and the allowed AE titles: admin only', async () => {
    for (const url of ['/api/status', '/status']) {
      const read = (await web.inject({ method: 'GET', url, headers: reader })).json<{ config: Record<string, unknown> }>().config;
      assert.equal(read.storage, undefined, url);
      assert.equal(read.allowedAETitles, undefined, url);
      assert.equal(typeof read.knownNodes, 'number', 'the rest stays');
      const admin = (await web.inject({ method: 'GET', url, headers: boss })).json<{ config: Record<string, unknown> }>().config;
      assert.equal(admin.storage, pacs.storageDir, url);
      assert.deepEqual(admin.allowedAETitles, ['CT_*'], url);
    }
  });
});
