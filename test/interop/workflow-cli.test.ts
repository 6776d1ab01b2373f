// pacs worklist, pacs mpps and pacs commit, run from bin/ as a user would, against an
// in-process server: query the worklist, start and complete the step (the entry follows),
// commit to what storescu sent, with the report on the same and on a new association.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, freePort, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { BIN } from '../e2e/spawn.js';

const pacsCli = (args: string[]) => run(process.execPath, [path.join(BIN, 'pacs'), ...args], { timeoutMs: 30_000 });

describe('pacs worklist / mpps / commit', () => {
  let pacs: TestPacs;
  let listenPort: number;
  const target = () => ['-aet', 'CT1', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)];

  before(async () => {
    listenPort = await freePort();
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, known_nodes: [{ ae_title: 'CT1', host: '127.0.0.1', port: listenPort }] as never });
    const r = await pacs.server.httpServer!.inject({
      method: 'POST',
      url: '/api/worklist',
      payload: { PatientID: 'P7', PatientName: 'ROE^RICHARD', AccessionNumber: 'ACC7', StudyInstanceUID: '1.2.826.0.1.3680043.8.498.7', Modality: 'MR', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20260401', ScheduledProcedureStepDescription: 'Brain' },
    });
    assert.equal(r.statusCode, 201, r.body);
    const s = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm')]);
    assert.equal(s.code, 0, s.stderr);
  });
  after(() => pacs.stop());

  test('worklist as a table and as DICOM JSON, with a key of the scheduled step', async () => {
    const table = await pacsCli(['worklist', '-k', 'ScheduledStationAETitle=CT1', ...target()]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /P7\s+ROE\^RICHARD\s+ACC7\s+MR\s+CT1\s+20260401/);
    assert.match(table.stdout, /1 scheduled step\n/);
    const none = await pacsCli(['worklist', '-k', 'Modality=CT', ...target()]);
    assert.match(none.stdout, /0 scheduled steps/);
    const json = await pacsCli(['worklist', '--json', '-k', 'PatientID=P7', ...target()]);
    const answers = JSON.parse(json.stdout) as Record<string, { Value?: unknown[] }>[];
    assert.equal(answers[0]!['00080050']!.Value![0], 'ACC7');
  });

  test('mpps create then set COMPLETED: the entry follows; a second set is refused', async () => {
    const create = await pacsCli(['mpps', 'create', '-k', 'PatientID=P7', '-k', 'Modality=MR', '-k', 'ScheduledStepAttributesSequence[0].StudyInstanceUID=1.2.826.0.1.3680043.8.498.7', '-k', 'ScheduledStepAttributesSequence[0].AccessionNumber=ACC7', '-k', 'ScheduledStepAttributesSequence[0].ScheduledProcedureStepID=ACC7', ...target()]);
    assert.equal(create.code, 0, create.stderr);
    const uid = create.stdout.trim();
    assert.match(uid, /^2\.25\.\d+$/);
    const started = await pacsCli(['worklist', '-k', 'PatientID=P7', ...target()]);
    assert.match(started.stdout, /STARTED/);
    const noSeries = await pacsCli(['mpps', 'set', uid, '--status', 'COMPLETED', ...target()]);
    assert.equal(noSeries.code, 1);
    assert.match(noSeries.stderr, /0x0121: COMPLETED: PerformedSeriesSequence has no item/);
    const done = await pacsCli(['mpps', 'set', uid, '--status', 'COMPLETED', '-k', 'PerformedSeriesSequence[0].SeriesInstanceUID=1.2.826.0.1.3680043.8.498.7.1', ...target()]);
    assert.equal(done.code, 0, done.stderr);
    const gone = await pacsCli(['worklist', '-k', 'PatientID=P7', ...target()]);
    assert.match(gone.stdout, /0 scheduled steps/);
    const late = await pacsCli(['mpps', 'set', uid, '--status', 'DISCONTINUED', ...target()]);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /0x0110: MPPS is COMPLETED: it may no longer be updated/);
  });

  test('commit files: on the same association, and with --listen on a new one', async () => {
    const same = await pacsCli(['commit', ...target(), path.join(SAMPLES, 'pydicom__CT_small.dcm')]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /1 of 1 committed by PACS_SERVER \(same association\)/);
    const twice = await pacsCli(['commit', ...target(), path.join(SAMPLES, 'pydicom__CT_small.dcm'), path.join(SAMPLES, 'pydicom__CT_small.dcm')]);
    assert.equal(twice.code, 0, twice.stdout + twice.stderr);
    assert.match(twice.stdout, /1 of 1 committed/, 'one file given twice is one instance');
    const other = await pacsCli(['commit', '--listen', String(listenPort), ...target(), path.join(SAMPLES, 'pydicom__CT_small.dcm'), path.join(SAMPLES, 'pydicom__MR_small.dcm')]);
    assert.equal(other.code, 1, 'the MR was never sent');
    assert.match(other.stdout, /failed +1\.3\.6\.1\.4\.1\.5962\.1\.1\.4\.1\.1\.20040826185059\.5457 \(reason 0x0112\)/);
    // Released at once, the report comes on a new association — or on the request's, when the
    // server sent it before the release got there: the tool acknowledged it, so it must use it.
    assert.match(other.stdout, /1 of 2 committed by PACS_SERVER \((new|same) association\)/);
  });
});
