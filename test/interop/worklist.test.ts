// Modality Worklist SCP against DCMTK's findscu -W: entries made through the REST API (simple
// form and DICOM JSON), matching inside the Scheduled Procedure Step Sequence (station AE,
// modality, date and time ranges, performing physician), patient keys, return keys inside
// sequences, character sets, canceled entries, and a bad value answered 0xA900.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { findscuWorklist, item, value } from '../helpers/worklist.js';

const SPS = '00400100';

describe('Modality Worklist with findscu -W', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const ids: Record<string, number> = {};
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) => {
    const r = await web.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as string }) });
    return { status: r.statusCode, json: () => r.json() as Record<string, unknown> };
  };
  const wl = (keys: string[], extra: string[] = []) => findscuWorklist(pacs.port, keys, extra);
  const patients = (answers: { [k: string]: unknown }[]) => answers.map((a) => value(a as never, '00100020')).sort();

  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    const simple = await call('POST', '/api/worklist', {
      PatientID: 'P1', PatientName: 'DOE^JANE', PatientBirthDate: '19800101', PatientSex: 'F', AccessionNumber: 'A1',
      RequestedProcedureDescription: 'CT chest', Modality: 'CT', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20260312',
      ScheduledProcedureStepStartTime: '0900', ScheduledPerformingPhysicianName: 'WHO^DOCTOR', ScheduledProcedureStepDescription: 'Chest',
    });
    assert.equal(simple.status, 201, JSON.stringify(simple.json()));
    ids.P1 = simple.json().id as number;
    const json = await call('POST', '/api/worklist', {
      '00100020': { vr: 'LO', Value: ['P2'] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'MÜLLER^JÖRG' }] },
      '00080050': { vr: 'SH', Value: ['A2'] },
      '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['MR'] }, '00400001': { vr: 'AE', Value: ['MR1'] }, '00400002': { vr: 'DA', Value: ['20260312'] }, '00400003': { vr: 'TM', Value: ['140000'] } }] },
    });
    assert.equal(json.status, 201, JSON.stringify(json.json()));
    ids.P2 = json.json().id as number;
    const cjk = await call('POST', '/api/worklist', { dataset: { '00100020': { vr: 'LO', Value: ['P3'] }, '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] }, '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] }, '00400001': { vr: 'AE', Value: ['CT2'] }, '00400002': { vr: 'DA', Value: ['20260313'] }, '00400003': { vr: 'TM', Value: ['080000'] } }] } } });
    assert.equal(cjk.status, 201, JSON.stringify(cjk.json()));
    const gone = await call('POST', '/api/worklist', { PatientID: 'P4', Modality: 'CT', ScheduledStationAETitle: 'CT1', ScheduledProcedureStepStartDate: '20260312' });
    ids.P4 = gone.json().id as number;
    assert.equal((await call('DELETE', `/api/worklist/${ids.P4}`)).json().status, 'CANCELED');
  });
  after(() => pacs.stop());

  test('a whole sequence as return key: every open step with its item, canceled ones left out', async () => {
    const r = await wl(['PatientID', 'PatientName', 'AccessionNumber', 'StudyInstanceUID', 'ScheduledProcedureStepSequence']);
    assert.equal(r.final, 'Success', r.out);
    assert.deepEqual(patients(r.answers), ['P1', 'P2', 'P3']);
    const p1 = r.answers.find((a) => value(a, '00100020') === 'P1')!;
    const step = item(p1, SPS);
    assert.equal(value(step, '00400001'), 'CT1');
    assert.equal(value(step, '00400020'), 'SCHEDULED');
    assert.equal(value(step, '00400009'), 'A1', 'step ID made from the accession number');
    assert.match(value(p1, '0020000D') ?? '', /^2\.25\.\d+$/, 'a Study Instance UID was made');
  });

  test('matching in the scheduled step: modality, station AE and date; return keys inside the item only', async () => {
    const ct = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].Modality=CT']);
    assert.deepEqual(patients(ct.answers), ['P1', 'P3']);
    const station = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260312', 'ScheduledProcedureStepSequence[0].Modality']);
    assert.deepEqual(patients(station.answers), ['P1']);
    assert.deepEqual(Object.keys(item(station.answers[0], SPS)!).sort(), ['00080060', '00400001', '00400002']);
    assert.equal(value(item(station.answers[0], SPS), '00080060'), 'CT');
    assert.ok(!('00100010' in station.answers[0]!), 'PatientName was not asked for');
  });

  test('a private block in the query (as some modalities send) is not matched: the worklist still answers', async () => {
    const r = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].Modality=CT', '(0009,0010)=ACME 1.0']);
    assert.equal(r.final, 'Success', r.out);
    assert.deepEqual(patients(r.answers), ['P1', 'P3']);
  });

  test('date and time ranges combine; performing physician and patient name wildcards', async () => {
    const afternoon = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260312-20260313', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime=1000-1800']);
    assert.deepEqual(patients(afternoon.answers), ['P2', 'P3'], '12 March 10:00 to 13 March 18:00');
    const from = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=20260313-']);
    assert.deepEqual(patients(from.answers), ['P3']);
    const doctor = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledPerformingPhysicianName=WHO*']);
    assert.deepEqual(patients(doctor.answers), ['P1']);
    const name = await wl(['PatientID', 'PatientName=doe*', 'PatientBirthDate']);
    assert.deepEqual(patients(name.answers), ['P1']);
    assert.equal(value(name.answers[0], '00100030'), '19800101');
  });

  test('character sets: Latin-1 when asked and enough, UTF-8 when the text needs it', async () => {
    const latin = await wl(['SpecificCharacterSet=ISO_IR 100', 'PatientID=P2', 'PatientName']);
    assert.equal(latin.answers.length, 1);
    assert.deepEqual(latin.charsets, ['ISO_IR 100']);
    assert.equal(value(latin.answers[0], '00100010'), 'MÜLLER^JÖRG');
    const cjk = await wl(['PatientID=P3', 'PatientName']);
    assert.deepEqual(cjk.charsets, ['ISO_IR 192']);
    assert.deepEqual(cjk.answers[0]!['00100010']!.Value, [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }]);
  });

  test('a status key sees canceled steps; the REST API changes and lists entries', async () => {
    const canceled = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus=CANCELED']);
    assert.deepEqual(patients(canceled.answers), ['P4']);
    // "*" alone is universal matching (PS3.4 C.2.2.2.4): open steps only, as an empty key.
    const star = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStatus=*']);
    assert.deepEqual(patients(star.answers), ['P1', 'P2', 'P3']);
    const entry = (await call('GET', `/api/worklist/${ids.P1}`)).json();
    const changed = await call('PUT', `/api/worklist/${ids.P1}`, entry.dataset as Record<string, unknown>);
    assert.equal(changed.status, 200);
    const moved = structuredClone(entry.dataset) as Record<string, { Value: Record<string, { Value: string[] }>[] }>;
    moved[SPS]!.Value[0]!['00400001']!.Value = ['CT9'];
    assert.equal((await call('PUT', `/api/worklist/${ids.P1}`, { dataset: moved })).json().ScheduledStationAETitle, 'CT9');
    const ct9 = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT9']);
    assert.deepEqual(patients(ct9.answers), ['P1']);
    const list = (await call('GET', '/api/worklist?status=CANCELED')).json();
    assert.equal(list.total, 1);
    assert.equal((await call('POST', '/api/worklist', { PatientID: 'X' })).status, 400, 'no scheduled step: refused');
    assert.equal((await call('GET', '/api/worklist/999')).status, 404);
  });

  test('a value no VR allows: 0xA900 with a comment naming it', async () => {
    const r = await wl(['PatientID', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartDate=2026XX12']);
    assert.equal(r.answers.length, 0);
    assert.match(r.out, /0xa900|Identifier does not match|DataSetDoesNotMatch/i);
    assert.match(r.out, /ScheduledProcedureStepStartDate/);
  });

  test('an entry whose value cannot be encoded: the C-FIND ends with 0xC001 and the reason, not in silence', async () => {
    const entry = {
      '00100020': { vr: 'LO', Value: ['P9'] },
      '001021C0': { vr: 'US', Value: [70000] },
      '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] }, '00400001': { vr: 'AE', Value: ['CT9'] }, '00400002': { vr: 'DA', Value: ['20260312'] } }] },
    };
    const refused = await call('POST', '/api/worklist', entry);
    assert.equal(refused.status, 400);
    // Refused by the check of values against their VRs, before the encoding would fail.
    assert.match(String(refused.json().detail), /^PregnancyStatus \(001021C0\): out of range for US/);
    // One already in the index (from before that check): the query still gets an answer.
    const added = await pacs.server.archive.index.worklist.add('api', null, { ...entry, '00400100': { vr: 'SQ', Value: [{ ...entry['00400100'].Value[0], '00400020': { vr: 'CS', Value: ['SCHEDULED'] } }] } } as never);
    try {
      const r = await wl(['PatientID=P9', 'PregnancyStatus']);
      assert.match(r.out, /Received Final Find Response \(Failed: UnableToProcess\)/);
    } finally {
      await call('DELETE', `/api/worklist/${added.id}`);
    }
  });
});
