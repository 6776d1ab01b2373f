// GET /api/instances: the instance list, with the same filters (C-FIND matching), paging and
// total as the other lists.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

type Rows = { items: Record<string, unknown>[]; more: boolean; total: number | null; offset: number; limit: number };
const CT_CLASS = '1.2.840.10008.5.1.4.1.1.2';

describe('instance list', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const get = async (url: string) => {
    const r = await web.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
    return r.json<Rows>();
  };
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    for (const f of ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CT2_17106.dcm']) {
      const r = await web.inject({ method: 'POST', url: '/api/instances', payload: fs.readFileSync(path.join(SAMPLES, f)), headers: { 'content-type': 'application/dicom' } });
      assert.equal(r.statusCode, 201, r.body);
    }
  });
  after(() => pacs.stop());

  test('all of them with the total; filters; paging; a bad filter is a 400', async () => {
    const all = await get('/api/instances');
    assert.equal(all.items.length, 3);
    assert.equal(all.total, 3);
    assert.ok(all.items.every((i) => typeof i.SOPInstanceUID === 'string' && typeof i.StudyInstanceUID === 'string'));
    const ct = await get(`/api/instances?SOPClassUID=${CT_CLASS}`);
    assert.equal(ct.items.length, 2);
    assert.equal(ct.total, null, 'no total for a filtered list');
    const oneStudy = await get(`/api/instances?StudyInstanceUID=${String(all.items[0]!.StudyInstanceUID)}`);
    assert.ok(oneStudy.items.every((i) => i.StudyInstanceUID === all.items[0]!.StudyInstanceUID));
    const first = await get('/api/instances?limit=2');
    const rest = await get('/api/instances?limit=2&offset=2');
    assert.equal(first.more, true);
    assert.equal(rest.more, false);
    assert.deepEqual([...first.items, ...rest.items].map((i) => i.SOPInstanceUID).sort(), all.items.map((i) => i.SOPInstanceUID).sort());
    assert.equal((await web.inject({ method: 'GET', url: '/api/instances?InstanceNumber=abc' })).statusCode, 400);
    const doc = (await web.inject({ method: 'GET', url: '/api/docs/json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    assert.ok(doc.paths['/api/instances']?.get, 'GET /api/instances documented');
  });
});
