// MPPS SCP through our SCU and hand-built PDUs: N-CREATE IN PROGRESS, N-SET to COMPLETED, the
// worklist entry following (and leaving the worklist seen by findscu -W), and every failure
// status with its comment: 0x0111 duplicate, 0x0110 + A710 after the final state, 0x0112
// unknown instance, 0x0120 / 0x0121 missing attributes, 0x0106 bad or unchangeable values.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { findscuWorklist, value } from '../helpers/worklist.js';
import { RawPeer, associateRQ, EXPLICIT_LE } from '../helpers/raw-peer.js';
import { connectWorkflow, mppsCreate, mppsSet } from '../../src/services/workflow-scu.js';
import type { ScuAssociation } from '../../src/net/client.js';
import type { JsonDataset } from '../../src/dicom/json.js';
import { CommandField } from '../../src/net/dimse/command.js';
import { SopClass } from '../../src/dicom/uids.js';

const MPPS = SopClass.ModalityPerformedProcedureStep;
const STUDY = '1.2.826.0.1.3680043.8.498.1';
const t = (vr: string, v?: string): { vr: string; Value?: unknown[] } => (v === undefined ? { vr } : { vr, Value: [vr === 'PN' ? { Alphabetic: v } : v] });

/** An N-CREATE dataset as a modality sends it: type 2 attributes present, empty when unknown. */
function created(overrides: JsonDataset = {}): JsonDataset {
  return {
    '00080060': t('CS', 'CT'),
    '00100010': t('PN', 'DOE^JANE'),
    '00100020': t('LO', 'P1'),
    '00100030': t('DA'),
    '00100040': t('CS'),
    '00200010': t('SH'),
    '00400241': t('AE', 'CT1'),
    '00400244': t('DA', '20260312'),
    '00400245': t('TM', '091500'),
    '00400250': t('DA'),
    '00400251': t('TM'),
    '00400252': t('CS', 'IN PROGRESS'),
    '00400253': t('SH', 'PPS1'),
    '00400270': { vr: 'SQ', Value: [{ '0020000D': t('UI', STUDY), '00080050': t('SH', 'A1'), '00400009': t('SH', 'SPS1'), '00401001': t('SH', 'RP1') }] },
    '00400340': { vr: 'SQ' },
    ...overrides,
  } as JsonDataset;
}

const completed: JsonDataset = {
  '00400252': t('CS', 'COMPLETED'),
  '00400250': t('DA', '20260312'),
  '00400251': t('TM', '093000'),
  '00400340': { vr: 'SQ', Value: [{ '0020000E': t('UI', `${STUDY}.1`), '00081140': { vr: 'SQ' }, '00400254': t('LO', 'chest') }] },
} as JsonDataset;

describe('MPPS SCP', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  let scu: ScuAssociation;
  let entryId: number;
  const get = async (url: string) => (await web.inject({ method: 'GET', url })).json() as Record<string, unknown>;

  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    const r = await web.inject({
      method: 'POST',
      url: '/api/worklist',
      payload: { PatientID: 'P1', PatientName: 'DOE^JANE', AccessionNumber: 'A1', StudyInstanceUID: STUDY, RequestedProcedureID: 'RP1', ScheduledProcedureStepID: 'SPS1', Modality: 'CT', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20260312' },
    });
    assert.equal(r.statusCode, 201, r.body);
    entryId = (r.json() as { id: number }).id;
    scu = await connectWorkflow({ host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'CT1' }, [MPPS]);
  });
  after(async () => {
    await scu.release();
    await pacs.stop();
  });

  test('N-CREATE IN PROGRESS: the worklist entry is STARTED and still on the worklist; a second one is 0x0111', async () => {
    const rsp = await mppsCreate(scu, `${STUDY}.9`, created());
    assert.equal(rsp.Status, 0x0000, rsp.ErrorComment);
    assert.equal(rsp.AffectedSOPInstanceUID, `${STUDY}.9`);
    assert.equal((await get(`/api/worklist/${entryId}`)).status, 'STARTED');
    const wl = await findscuWorklist(pacs.port, ['PatientID=P1', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus']);
    assert.equal(wl.answers.length, 1);
    const dup = await mppsCreate(scu, `${STUDY}.9`, created());
    assert.equal(dup.Status, 0x0111);
    assert.match(dup.ErrorComment ?? '', /exists/);
  });

  test('two N-SETs of one step at once, from two associations: both changes kept', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.2.1';
    assert.equal((await mppsCreate(scu, uid, created({ '00400253': t('SH', 'PPS-CONCURRENT') } as JsonDataset))).Status, 0x0000);
    const other = await connectWorkflow({ host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'CT1' }, [MPPS]);
    try {
      const [a, b] = await Promise.all([mppsSet(scu, uid, { '00400254': t('LO', 'described') } as JsonDataset), mppsSet(other, uid, { '00400280': t('ST', 'commented') } as JsonDataset)]);
      assert.equal(a.Status, 0x0000);
      assert.equal(b.Status, 0x0000);
    } finally {
      await other.release();
    }
    const step = (await pacs.server.archive.mpps.get(uid))!;
    assert.deepEqual(step.dataset['00400254']?.Value, ['described']);
    assert.deepEqual(step.dataset['00400280']?.Value, ['commented']);
  });

  test('N-CREATE without a UID gets one of ours; missing and wrong attributes are refused', async () => {
    const mine = await mppsCreate(scu, null, created({ '00400270': { vr: 'SQ', Value: [{ '0020000D': t('UI', '1.2.3'), '00400009': t('SH') }] } } as JsonDataset));
    assert.equal(mine.Status, 0x0000, mine.ErrorComment);
    assert.match(mine.AffectedSOPInstanceUID ?? '', /^2\.25\.\d+$/);
    const noStation = created();
    delete noStation['00400241'];
    const missing = await mppsCreate(scu, null, noStation);
    assert.equal(missing.Status, 0x0120);
    assert.equal(missing.AffectedSOPInstanceUID, undefined, 'a UID made for a step never created names nothing (PS3.7 10.1.5.1.4)');
    assert.deepEqual(missing.AttributeIdentifierList, [0x00400241]);
    assert.match(missing.ErrorComment ?? '', /PerformedStationAETitle/);
    const empty = await mppsCreate(scu, null, created({ '00400253': t('SH') } as JsonDataset));
    assert.equal(empty.Status, 0x0121);
    const done = await mppsCreate(scu, null, created({ '00400252': t('CS', 'COMPLETED') } as JsonDataset));
    assert.equal(done.Status, 0x0106);
    assert.deepEqual(done.OffendingElement, [0x00400252]);
    const noStudy = await mppsCreate(scu, null, created({ '00400270': { vr: 'SQ', Value: [{ '00400009': t('SH', 'X') }] } } as JsonDataset));
    assert.equal(noStudy.Status, 0x0121);
    // 50,001 empty items (400 KB on the wire, gigabytes as objects): a resource limitation, said as one.
    const many = await mppsCreate(scu, null, created({ '00400340': { vr: 'SQ', Value: Array.from({ length: 50_001 }, () => ({})) } } as JsonDataset));
    assert.equal(many.Status, 0x0213, many.ErrorComment);
    assert.match(many.ErrorComment ?? '', /50000/);
    // 101 scheduled steps (each a worklist look-up, now and at every N-SET): refused before any is looked up.
    const steps = await mppsCreate(scu, null, created({ '00400270': { vr: 'SQ', Value: Array.from({ length: 101 }, (_, i) => ({ '0020000D': t('UI', `${STUDY}.${i}`) })) } } as JsonDataset));
    assert.equal(steps.Status, 0x0213, steps.ErrorComment);
    assert.match(steps.ErrorComment ?? '', /at most 100/);
  });

  test('N-SET: fixed attributes stay, COMPLETED needs its end, then the step is final (0x0110, A710)', async () => {
    const uid = `${STUDY}.9`;
    const modality = await mppsSet(scu, uid, { '00080060': t('CS', 'MR') } as JsonDataset);
    assert.equal(modality.Status, 0x0106);
    assert.match(modality.ErrorComment ?? '', /Modality/);
    const same = await mppsSet(scu, uid, { '00080060': t('CS', 'CT'), '00400254': t('LO', 'chest CT') } as JsonDataset);
    assert.equal(same.Status, 0x0000, 'repeating a fixed value is no change');
    const noEnd = await mppsSet(scu, uid, { '00400252': t('CS', 'COMPLETED') } as JsonDataset);
    assert.equal(noEnd.Status, 0x0121);
    assert.deepEqual(noEnd.AttributeIdentifierList, [0x00400250, 0x00400251]);
    // A completed step names its series (PS3.4 table F.7.2-1 note 2).
    const noSeries = await mppsSet(scu, uid, { ...completed, '00400340': { vr: 'SQ' } } as JsonDataset);
    assert.equal(noSeries.Status, 0x0121);
    assert.deepEqual(noSeries.AttributeIdentifierList, [0x00400340]);
    assert.match(noSeries.ErrorComment ?? '', /PerformedSeriesSequence has no item/);
    const noSeriesUid = await mppsSet(scu, uid, { ...completed, '00400340': { vr: 'SQ', Value: [{ '0008103E': t('LO', 'axial') }] } } as JsonDataset);
    assert.equal(noSeriesUid.Status, 0x0121);
    assert.match(noSeriesUid.ErrorComment ?? '', /lacks SeriesInstanceUID/);
    const bad = await mppsSet(scu, uid, { '00400252': t('CS', 'FINISHED') } as JsonDataset);
    assert.equal(bad.Status, 0x0106);
    const done = await mppsSet(scu, uid, completed);
    assert.equal(done.Status, 0x0000, done.ErrorComment);
    assert.equal(done.AffectedSOPInstanceUID, uid);
    const again = await mppsSet(scu, uid, { '00400254': t('LO', 'late') } as JsonDataset);
    assert.equal(again.Status, 0x0110);
    assert.equal(again.ErrorID, 0xa710);
    assert.match(again.ErrorComment ?? '', /no longer be updated/);
    const unknown = await mppsSet(scu, '1.2.3.4.5', completed);
    assert.equal(unknown.Status, 0x0112);
  });

  test('the worklist follows: COMPLETED leaves the worklist; the REST API shows the step', async () => {
    assert.equal((await get(`/api/worklist/${entryId}`)).status, 'COMPLETED');
    const wl = await findscuWorklist(pacs.port, ['PatientID=P1']);
    assert.equal(wl.answers.length, 0);
    const list = await get('/api/mpps?status=COMPLETED');
    assert.equal(list.total, 1);
    const one = await get(`/api/mpps/${STUDY}.9`);
    assert.equal(one.status, 'COMPLETED');
    assert.equal(one.PerformedProcedureStepEndTime, '093000');
    assert.equal(one.PerformedProcedureStepDescription ?? value(one.dataset as JsonDataset, '00400254'), 'chest CT');
    assert.deepEqual(one.scheduledSteps, [{ studyInstanceUID: STUDY, scheduledProcedureStepID: 'SPS1', accessionNumber: 'A1' }]);
    assert.equal((await web.inject({ method: 'GET', url: '/api/mpps/1.2.3' })).statusCode, 404);
  });

  test('a second MPPS for a completed step (images added later) leaves its worklist entry COMPLETED, off the worklist; N-SET may not change the issuer', async () => {
    const uid = `${STUDY}.10`;
    assert.equal((await mppsCreate(scu, uid, created())).Status, 0x0000);
    assert.equal((await get(`/api/worklist/${entryId}`)).status, 'COMPLETED', 'not STARTED again');
    assert.equal((await findscuWorklist(pacs.port, ['PatientID=P1'])).answers.length, 0);
    const issuer = await mppsSet(scu, uid, { '00100021': t('LO', 'OTHER') } as JsonDataset);
    assert.equal(issuer.Status, 0x0106);
    assert.match(issuer.ErrorComment ?? '', /IssuerOfPatientID/);
    // Discontinued before anything was acquired: no series, and it may still end.
    const stopped = await mppsSet(scu, uid, { ...completed, '00400252': t('CS', 'DISCONTINUED'), '00400340': { vr: 'SQ' } } as JsonDataset);
    assert.equal(stopped.Status, 0x0000, stopped.ErrorComment);
    assert.equal((await get(`/api/worklist/${entryId}`)).status, 'COMPLETED', 'a done exam stays done');
  });

  test('hand-built: N-SET without Requested SOP Instance UID, an unparseable dataset, N-DELETE', async () => {
    const peer = await RawPeer.connect(pacs.port);
    try {
      await peer.accepted(associateRQ({ contexts: [{ abstractSyntax: MPPS, transferSyntaxes: [EXPLICIT_LE] }] }));
      await peer.sendMessage(1, { CommandField: CommandField.N_SET_RQ, MessageID: 1, RequestedSOPClassUID: MPPS, CommandDataSetType: 0x0000 }, Buffer.from([0x40, 0, 0x52, 2, 0x43, 0x53, 2, 0, 0x58, 0x20]));
      const noUid = await peer.readCommand();
      assert.equal(noUid.command.Status, 0x0112);
      await peer.sendMessage(1, { CommandField: CommandField.N_CREATE_RQ, MessageID: 2, AffectedSOPClassUID: MPPS, AffectedSOPInstanceUID: '1.2.3.77', CommandDataSetType: 0x0000 }, Buffer.from('this is not a dataset'));
      const garbage = await peer.readCommand();
      assert.equal(garbage.command.Status, 0x0106);
      assert.match(garbage.command.ErrorComment ?? '', /cannot be parsed/);
      await peer.sendMessage(1, { CommandField: CommandField.N_DELETE_RQ, MessageID: 3, RequestedSOPClassUID: MPPS, RequestedSOPInstanceUID: '1.2.3.77', CommandDataSetType: 0x0101 });
      assert.equal((await peer.readCommand()).command.Status, 0x0211);
    } finally {
      peer.destroy();
    }
  });
});
