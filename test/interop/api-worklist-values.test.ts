// Worklist entries through the REST API: each value is checked against its VR, in the simple
// form and in DICOM JSON, and a misfit is a 400 problem naming the attribute; nothing is kept.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('worklist values and their VRs', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
  });
  after(() => pacs.stop());
  const good = { PatientID: 'P1', PatientName: 'DOE^JANE', Modality: 'CT', ScheduledProcedureStepStartDate: '20260312', ScheduledProcedureStepStartTime: '0900' };

  test('a DA with dashes, a TM of "9am", a 5,000-character LO, a US "abc": 400 naming the attribute', async () => {
    for (const [change, keyword] of [
      [{ ScheduledProcedureStepStartDate: '2026-03-12' }, 'ScheduledProcedureStepStartDate'],
      [{ ScheduledProcedureStepStartTime: '9am' }, 'ScheduledProcedureStepStartTime'],
      [{ PatientID: 'P'.repeat(5000) }, 'PatientID'],
      [{ NumberOfFrames: 'abc' }, 'NumberOfFrames'],
      [{ Modality: 'ct scanner' }, 'Modality'],
    ] as const) {
      const r = await web.inject({ method: 'POST', url: '/api/worklist', payload: { ...good, ...change } });
      assert.equal(r.statusCode, 400, `${keyword}: ${r.body}`);
      assert.match(r.json<{ detail: string }>().detail, new RegExp(`^${keyword} `));
    }
    const usJson = { '00100020': { vr: 'LO', Value: ['P1'] }, '00280008': { vr: 'IS', Value: ['x'] }, '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] }, '00400002': { vr: 'DA', Value: ['20260312'] }, '00280010': { vr: 'US', Value: [70000] } }] } };
    const r = await web.inject({ method: 'POST', url: '/api/worklist', payload: usJson });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json<{ detail: string }>().detail, /NumberOfFrames/);
    assert.equal((await web.inject({ method: 'GET', url: '/api/worklist' })).json<{ total: number }>().total, 0, 'nothing kept');
  });

  test('good values are kept; a replacement is checked too', async () => {
    const created = await web.inject({ method: 'POST', url: '/api/worklist', payload: good });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json<{ id: number }>().id;
    const bad = await web.inject({ method: 'PUT', url: `/api/worklist/${id}`, payload: { ...good, ScheduledProcedureStepStartDate: '12.03.2026' } });
    assert.equal(bad.statusCode, 400, bad.body);
    assert.equal((await web.inject({ method: 'GET', url: `/api/worklist/${id}` })).json<{ ScheduledProcedureStepStartDate: string }>().ScheduledProcedureStepStartDate, '20260312');
  });
});
