// GET /api/worklist lists newest first (as /api/jobs and /api/mpps): with the oldest first, a
// page of 200 showed the same old entries for ever once there were more. order=oldest keeps the
// order they were added; status may be repeated; the worklist C-FIND (findscu -W) still answers
// in the order the entries were added.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { findscuWorklist, value } from '../helpers/worklist.js';

type List = { items: { PatientID: string; status: string }[]; total: number; offset: number; limit: number };

describe('GET /api/worklist: order, statuses, pages', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const list = async (q: string): Promise<List> => {
    const r = await web.inject({ url: `/api/worklist${q}` });
    assert.equal(r.statusCode, 200, r.body);
    return r.json<List>();
  };
  const ids = (l: List) => l.items.map((i) => i.PatientID);
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    for (const [id, status] of [['P1', 'SCHEDULED'], ['P2', 'STARTED'], ['P3', 'COMPLETED'], ['P4', 'SCHEDULED']]) {
      const r = await web.inject({ method: 'POST', url: '/api/worklist', payload: { PatientID: id, Modality: 'CT', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20260312', ScheduledProcedureStepStatus: status } });
      assert.equal(r.statusCode, 201, r.body);
    }
  });
  after(() => pacs.stop());

  test('newest first by default, in pages with the total; order=oldest as added', async () => {
    assert.deepEqual(ids(await list('')), ['P4', 'P3', 'P2', 'P1']);
    const second = await list('?limit=2&offset=2');
    assert.deepEqual([ids(second), second.total], [['P2', 'P1'], 4]);
    assert.deepEqual(ids(await list('?order=oldest')), ['P1', 'P2', 'P3', 'P4']);
  });

  test('status, once or repeated', async () => {
    assert.deepEqual(ids(await list('?status=SCHEDULED')), ['P4', 'P1']);
    const open = await list('?status=SCHEDULED&status=ARRIVED&status=READY&status=STARTED');
    assert.deepEqual([ids(open), open.total], [['P4', 'P2', 'P1'], 3]);
    assert.equal((await web.inject({ url: '/api/worklist?status=OPEN' })).statusCode, 400);
  });

  test('the worklist C-FIND answers in the order the entries were added', async () => {
    // Without a status key the SCP answers the steps still to be done.
    const r = await findscuWorklist(pacs.port, ['PatientID']);
    assert.equal(r.final, 'Success', r.out);
    assert.deepEqual(r.answers.map((a) => value(a, '00100020')), ['P1', 'P2', 'P4']);
  });
});
