// HL7 v2 over MLLP against a running server: orders sent over a real socket appear in (and a
// cancel leaves) the worklist as DCMTK's findscu -W sees it; ADT^A08 and ADT^A40 change the
// patient in the worklist and in the index; malformed and unsupported messages get AE/AR ACKs
// with their reason, and the server stays up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { findscuWorklist, item, value } from '../helpers/worklist.js';
import { MllpDecoder, frame } from '../../src/hl7/mllp.js';
import { Hl7Message } from '../../src/hl7/message.js';
import { jsonElementText } from '../../src/dicom/json-encode.js';
import { CT, record } from '../contract/fixtures.js';

/** Sends messages on one connection and collects `expected` ACKs (one per message by default). */
async function send(port: number, messages: (string | Buffer)[], expected = messages.length): Promise<Hl7Message[]> {
  const socket = net.connect({ port, host: '127.0.0.1' });
  const decoder = new MllpDecoder();
  const acks: Hl7Message[] = [];
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      for (const m of decoder.push(d)) acks.push(Hl7Message.parse(m.toString('utf8')));
      if (acks.length === expected) {
        socket.end();
        resolve(acks);
      }
    });
    socket.on('connect', () => {
      for (const m of messages) socket.write(frame(typeof m === 'string' ? Buffer.from(m, 'utf8') : m));
    });
  });
}

const msa = (ack: Hl7Message) => ({ code: ack.get(ack.segment('MSA'), 1), control: ack.get(ack.segment('MSA'), 2), text: ack.get(ack.segment('MSA'), 3), err: ack.get(ack.segment('ERR'), 3) });

let seq = 0;
function orm(control: string, placer: string, opts: { pid?: string; name?: string; modality?: string; when?: string; charset?: string } = {}): string {
  const obr = ['OBR', '1', placer, `F${placer}`, 'CTHEAD^CT Head^LOCAL', ...Array<string>(13).fill(''), `ACC${placer}`, '', '', '', '', '', opts.modality ?? 'CT'];
  return [
    `MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||ORM^O01|C${++seq}|P|2.5.1||||||${opts.charset ?? ''}`,
    `PID|1||${opts.pid ?? 'H100'}^^^HOSP||${opts.name ?? 'DOE^JANE'}||19800102|F`,
    'PV1|1|O|CTROOM1|||||D1^REFER^RITA',
    `ORC|${control}|${placer}|F${placer}`,
    `TQ1|1||||||${opts.when ?? '202603120930'}`,
    obr.join('|'),
  ].join('\r');
}

describe('HL7 v2 orders and patient updates over MLLP', () => {
  let pacs: TestPacs;
  let port: number;
  const wl = (keys: string[]) => findscuWorklist(pacs.port, keys);

  before(async () => {
    pacs = await startTestPacs({ hl7: { enabled: true, port: 0, host: '127.0.0.1', station_ae: { CTROOM1: 'CT_ROOM1' } } });
    port = pacs.server.feeds.hl7Port!;
  });
  after(() => pacs.stop());

  test('a new order appears in the worklist with its mapped attributes; a cancel removes it', async () => {
    const [ack] = await send(port, [orm('NW', 'O1')]);
    assert.deepEqual(msa(ack!), { code: 'AA', control: `C${seq}`, text: 'order O1 scheduled', err: '' });
    const r = await wl(['PatientID=H100', 'PatientName', 'IssuerOfPatientID', 'PatientBirthDate', 'AccessionNumber', 'ReferringPhysicianName', 'RequestedProcedureDescription', 'PlacerOrderNumberImagingServiceRequest', 'ScheduledProcedureStepSequence']);
    assert.equal(r.answers.length, 1, r.out);
    const a = r.answers[0]!;
    assert.equal(value(a, '00100010'), 'DOE^JANE');
    assert.equal(value(a, '00100021'), 'HOSP');
    assert.equal(value(a, '00100030'), '19800102');
    assert.equal(value(a, '00080050'), 'ACCO1');
    assert.equal(value(a, '00080090'), 'REFER^RITA');
    assert.equal(value(a, '00321060'), 'CT Head');
    assert.equal(value(a, '00402016'), 'O1');
    const step = item(a, '00400100');
    assert.equal(value(step, '00080060'), 'CT');
    assert.equal(value(step, '00400001'), 'CT_ROOM1');
    assert.equal(value(step, '00400002'), '20260312');
    assert.equal(value(step, '00400003'), '0930');

    const [changed] = await send(port, [orm('XO', 'O1', { when: '202603121100' })]);
    assert.equal(msa(changed!).code, 'AA');
    const moved = await wl(['PatientID=H100', 'ScheduledProcedureStepSequence[0].ScheduledProcedureStepStartTime']);
    assert.equal(value(item(moved.answers[0], '00400100'), '00400003'), '1100');

    const [canceled] = await send(port, [orm('CA', 'O1')]);
    assert.deepEqual(msa(canceled!), { code: 'AA', control: `C${seq}`, text: 'order O1 canceled', err: '' });
    assert.equal((await wl(['PatientID=H100'])).answers.length, 0);
    const [again] = await send(port, [orm('CA', 'NOPE')]);
    assert.equal(msa(again!).code, 'AE');
    assert.equal(msa(again!).err, '204');
  });

  test('an OMI^O23 with two IPC segments: two scheduled steps of one study findscu sees, IPC values in them; ACK^O23^ACK; a cancel removes both', async () => {
    const omi = (control: string) =>
      [
        `MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||OMI^O23^OMI_O23|C${++seq}|P|2.5.1`,
        'PID|1||H600^^^HOSP||DOE^JOHN||19700101|M',
        'PV1|1|O|CTROOM1',
        `ORC|${control}|OM1|FOM1`,
        'TQ1|1||||||202603121000',
        'OBR|1|OM1|FOM1|CTHEAD^CT Head^LOCAL',
        'IPC|ACC600|RP600|1.2.826.0.1.600|SPS1|CT|P1^Plain^99LOCAL|CTSTATION|ROOM1|CT_IPC',
        'IPC|ACC600|RP600|1.2.826.0.1.600|SPS2|CT||||',
      ].join('\r');
    const [ack] = await send(port, [omi('NW')]);
    assert.deepEqual(msa(ack!), { code: 'AA', control: `C${seq}`, text: 'order OM1 step SPS1 scheduled; order OM1 step SPS2 scheduled', err: '' });
    assert.equal(ack!.raw(ack!.segment('MSH'), 9), 'ACK^O23^ACK');
    const keys = ['PatientID=H600', 'AccessionNumber', 'StudyInstanceUID', 'RequestedProcedureID', 'ScheduledProcedureStepSequence'];
    const r = await wl(keys);
    assert.equal(r.answers.length, 2, r.out);
    const steps = r.answers.map((a) => item(a, '00400100'));
    assert.deepEqual(steps.map((s) => value(s, '00400009')).sort(), ['SPS1', 'SPS2']);
    assert.deepEqual(r.answers.map((a) => [value(a, '00080050'), value(a, '0020000D'), value(a, '00401001')]), Array(2).fill(['ACC600', '1.2.826.0.1.600', 'RP600']));
    const first = steps.find((s) => value(s, '00400009') === 'SPS1');
    assert.deepEqual([value(first, '00400001'), value(first, '00400010'), value(first, '00400011')], ['CT_IPC', 'CTSTATION', 'ROOM1']);
    assert.equal(msa((await send(port, [omi('NW')]))[0]!).code, 'AA');
    assert.equal((await wl(keys)).answers.length, 2, 'a resend makes no more');
    const [canceled] = await send(port, [omi('CA')]);
    assert.equal(msa(canceled!).code, 'AA', msa(canceled!).text);
    assert.equal((await wl(['PatientID=H600'])).answers.length, 0);
  });

  test('an ORM whose later order cancels an unknown one is refused whole: the earlier new order is not scheduled', async () => {
    const worklist = pacs.server.archive.worklist;
    const both = `${orm('NW', 'O20', { pid: 'H2000' })}\rORC|CA|NOPE20|FNOPE20`;
    const [ack] = await send(port, [both]);
    assert.equal(msa(ack!).code, 'AE');
    assert.equal(msa(ack!).err, '204');
    assert.match(msa(ack!).text, /NOPE20/);
    assert.equal(await worklist.bySourceKey('hl7', 'O20'), null, 'nothing of the message applied');
    // A cancel of an order that the same message schedules first is no unknown order.
    const [ok] = await send(port, [`${orm('NW', 'O21', { pid: 'H2100' })}\rORC|CA|O21|FO21`]);
    assert.equal(msa(ok!).code, 'AA', msa(ok!).text);
    assert.equal((await worklist.bySourceKey('hl7', 'O21'))?.status, 'CANCELED');
  });

  test('MSH-18 8859/1: Latin-1 bytes read as such', async () => {
    const [ack] = await send(port, [Buffer.from(orm('NW', 'O2', { pid: 'H200', name: 'MÜLLER^JÖRG', charset: '8859/1' }), 'latin1')]);
    assert.equal(msa(ack!).code, 'AA');
    const r = await wl(['PatientID=H200', 'PatientName']);
    assert.equal(value(r.answers[0], '00100010'), 'MÜLLER^JÖRG');
  });

  test('bytes that are not in the message character set: AE 102, nothing stored; MSH-18 naming a set we cannot read: AR 103', async () => {
    const worklist = pacs.server.archive.worklist;
    // Latin-1 bytes from a sender leaving MSH-18 empty (hl7.charset UTF-8) or saying UTF-8.
    for (const charset of ['', 'UNICODE UTF-8']) {
      const [ack] = await send(port, [Buffer.from(orm('NW', 'O40', { pid: 'H4000', name: 'MÜLLER^JÖRG', charset }), 'latin1')]);
      assert.deepEqual(msa(ack!), { code: 'AE', control: `C${seq}`, text: msa(ack!).text, err: '102' }, charset);
      assert.equal(ack!.get(ack!.segment('ERR'), 2), 'PID', charset);
      assert.equal(ack!.get(ack!.segment('ERR'), 2, 3), '5', charset);
      assert.equal(await worklist.bySourceKey('hl7', 'O40'), null, 'no name with U+FFFD stored');
    }
    const [ack] = await send(port, [Buffer.from(orm('NW', 'O41', { pid: 'H4100', name: 'NOVÁK^JAN', charset: '8859/2' }), 'latin1')]);
    assert.deepEqual(msa(ack!), { code: 'AR', control: `C${seq}`, text: msa(ack!).text, err: '103' });
    assert.match(msa(ack!).text, /8859\/2/);
    assert.equal(ack!.get(ack!.segment('MSH'), 18), 'UNICODE UTF-8', 'the ACK names the set it is written in');
    assert.equal(await worklist.bySourceKey('hl7', 'O41'), null);
  });

  test('bad messages get AE or AR with the reason; the server stays up', async () => {
    const acks = await send(port, [
      'this is not HL7',
      orm('NW', 'O3', { modality: 'XYZ' }),
      orm('NW', 'O4', { when: 'tomorrow' }),
      orm('NW', 'O5').replace('ORM^O01', 'ORU^R01'),
      orm('NW', 'O6').replace('ORM^O01', 'ADT^A99'),
      orm('NW', 'O7').replace(/^PID.*$/m, 'PID|1'),
    ]);
    assert.deepEqual(acks.map((a) => [msa(a).code, msa(a).err]), [['AR', '100'], ['AE', '103'], ['AE', '102'], ['AR', '200'], ['AR', '201'], ['AE', '101']]);
    assert.match(msa(acks[1]!).text, /OBR-24 "XYZ"/);
    assert.equal(acks[1]!.get(acks[1]!.segment('ERR'), 2), 'OBR');
    // Garbage outside frames and a connection cut mid-frame do not hurt either.
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.on('connect', r));
    s.end(Buffer.from('\x0bMSH|^~\\&|half a message'));
    const [ok] = await send(port, [orm('NW', 'O8', { pid: 'H800' })]);
    assert.equal(msa(ok!).code, 'AA');
    assert.equal((await wl(['PatientID=H800'])).answers.length, 1);
  });

  test('ADT^A08: an empty PID field changes nothing, "" deletes; entries of the same Patient ID from another issuer are left alone', async () => {
    const { index, worklist } = pacs.server.archive;
    await index.storeInstance(record({ sop: '9.3.1', study: '9.3', patientId: 'H3000', issuer: 'HOSP', sopClass: CT }), 'insert');
    assert.equal(msa((await send(port, [orm('NW', 'O30', { pid: 'H3000', name: 'OLD^NAME' })]))[0]!).code, 'AA');
    const other = orm('NW', 'O31', { pid: 'H3000', name: 'OTHER^PERSON' }).replace('H3000^^^HOSP', 'H3000^^^ELSEWHERE');
    assert.equal(msa((await send(port, [other]))[0]!).code, 'AA');
    const entry = async (key: string) => {
      const ds = (await worklist.bySourceKey('hl7', key))!.dataset;
      return ['00100010', '00100030', '00100040', '00100021'].map((t) => jsonElementText(ds[t]));
    };
    const a08 = (pid: string) => ['MSH|^~\\&|ADT|HOSP|PACS|RAD|20260312||ADT^A08|U3|P|2.5.1', 'EVN|A08|20260312', pid].join('\r');

    const [named] = await send(port, [a08('PID|1||H3000^^^HOSP||NEW^NAME')]);
    assert.equal(msa(named!).code, 'AA', msa(named!).text);
    assert.match(msa(named!).text, /1 worklist entries updated/);
    assert.deepEqual(await entry('O30'), ['NEW^NAME', '19800102', 'F', 'HOSP'], 'birth date and sex kept');
    assert.deepEqual(await entry('O31'), ['OTHER^PERSON', '19800102', 'F', 'ELSEWHERE'], 'another issuer: another patient');
    const p = await index.findPatient('H3000', 'HOSP');
    assert.deepEqual([p?.PatientName, p?.PatientBirthDate, p?.PatientSex], ['NEW^NAME', '19700101', 'F']);

    const [cleared] = await send(port, [a08('PID|1||H3000^^^HOSP||NEW^""||""|')]);
    assert.equal(msa(cleared!).code, 'AA', msa(cleared!).text);
    assert.deepEqual(await entry('O30'), ['NEW', '', 'F', 'HOSP'], '"" deletes, the empty PID-8 keeps the sex');
    const q = await index.findPatient('H3000', 'HOSP');
    assert.deepEqual([q?.PatientName, q?.PatientBirthDate, q?.PatientSex], ['NEW', null, 'F']);
  });

  test('enhanced acknowledgment mode (MSH-15/16) on one connection: no ACK for NE/NE, CA for AL/NE, AE for NE/AL, CR for AL/AL; every order as its message says', async () => {
    const worklist = pacs.server.archive.worklist;
    const mode = (message: string, accept: string, application: string) => message.replace(/^(MSH(?:\|[^|\r]*){11})/, `$1|||${accept}|${application}`);
    const messages = [
      mode(orm('NW', 'E1', { pid: 'H5001' }), 'NE', 'NE'),
      mode(orm('NW', 'E2', { pid: 'H5002' }), 'AL', 'NE'),
      mode(orm('NW', 'E3', { pid: 'H5003', modality: 'XYZ' }), 'NE', 'AL'),
      mode(orm('NW', 'E4', { pid: 'H5004' }).replace('ORM^O01', 'ORU^R01'), 'AL', 'AL'),
      orm('NW', 'E5', { pid: 'H5005' }),
    ];
    const controls = messages.map((m) => /^MSH(?:\|[^|]*){8}\|([^|]*)/.exec(m)![1]);
    // Four ACKs for five messages, in order: had the NE/NE one been answered, the first would quote it.
    const acks = await send(port, messages, 4);
    assert.deepEqual(
      acks.map((a) => [msa(a).code, msa(a).control, msa(a).err]),
      [['CA', controls[1], ''], ['AE', controls[2], '103'], ['CR', controls[3], '200'], ['AA', controls[4], '']],
    );
    assert.equal(msa(acks[0]!).text, 'order E2 scheduled', 'the accept ACK says what was done');
    assert.notEqual(await worklist.bySourceKey('hl7', 'E1'), null, 'the unanswered NE/NE order was taken');
    assert.equal((await wl(['PatientID=H5001'])).answers.length, 1);
    assert.notEqual(await worklist.bySourceKey('hl7', 'E2'), null);
    assert.equal(await worklist.bySourceKey('hl7', 'E3'), null);
    assert.equal(await worklist.bySourceKey('hl7', 'E4'), null);
  });

  test('an order first sent with its filler number only is found by it when the placer number comes: XO changes it, CA cancels it (no second entry)', async () => {
    const worklist = pacs.server.archive.worklist;
    // ORC|NW||FO77: no placer number yet, keyed by the filler's.
    const fillerOnly = orm('NW', 'O77', { pid: 'H7700' }).replace('ORC|NW|O77|FO77', 'ORC|NW||FO77').replace('OBR|1|O77|FO77', 'OBR|1||FO77');
    assert.equal(msa((await send(port, [fillerOnly]))[0]!).code, 'AA');
    assert.ok(await worklist.bySourceKey('hl7', 'FO77'));
    const [changed] = await send(port, [orm('XO', 'O77', { pid: 'H7700', when: '202603121400' })]);
    assert.equal(msa(changed!).code, 'AA', msa(changed!).text);
    assert.match(msa(changed!).text, /changed/, msa(changed!).text);
    assert.equal(await worklist.bySourceKey('hl7', 'O77'), null, `no second entry under the placer number: ${msa(changed!).text}`);
    const entry = (await worklist.bySourceKey('hl7', 'FO77'))!;
    assert.equal(jsonElementText((entry.dataset['00400100']!.Value![0] as Record<string, { Value?: unknown[] }>)['00400003'] as never), '1400');
    const [canceled] = await send(port, [orm('CA', 'O77', { pid: 'H7700' })]);
    assert.equal(msa(canceled!).code, 'AA', msa(canceled!).text);
    assert.equal((await worklist.bySourceKey('hl7', 'FO77'))!.status, 'CANCELED');
  });

  test('ADT^A08 updates the patient in the worklist and in the index; ADT^A40 merges', async () => {
    const index = pacs.server.archive.index;
    await index.storeInstance(record({ sop: '9.1.1', study: '9.1', patientId: 'H900', sopClass: CT }), 'insert');
    await index.storeInstance(record({ sop: '9.2.1', study: '9.2', patientId: 'H901', sopClass: CT }), 'insert');
    assert.equal(msa((await send(port, [orm('NW', 'O9', { pid: 'H900', name: 'OLD^NAME' })]))[0]!).code, 'AA');
    const a08 = ['MSH|^~\\&|ADT|HOSP|PACS|RAD|20260312||ADT^A08|U1|P|2.5.1', 'EVN|A08|20260312', 'PID|1||H900^^^HOSP||NEW^NAME^^^MRS||19750505|F'].join('\r');
    const [updated] = await send(port, [a08]);
    assert.equal(msa(updated!).code, 'AA', msa(updated!).text);
    assert.equal(value((await wl(['PatientID=H900', 'PatientName', 'PatientBirthDate'])).answers[0], '00100010'), 'NEW^NAME^^MRS');
    assert.equal((await index.findPatient('H900', null))?.PatientName, 'NEW^NAME^^MRS');
    assert.equal((await index.findPatient('H900', null))?.PatientBirthDate, '19750505');

    const a40 = ['MSH|^~\\&|ADT|HOSP|PACS|RAD|20260312||ADT^A40|M1|P|2.5.1', 'EVN|A40|20260312', 'PID|1||H901^^^HOSP||KEEP^ME||19750505|F', 'MRG|H900^^^HOSP'].join('\r');
    const [merged] = await send(port, [a40]);
    assert.equal(msa(merged!).code, 'AA', msa(merged!).text);
    assert.match(msa(merged!).text, /H900 merged into H901: 1 worklist entries, 1 studies moved/);
    assert.equal((await wl(['PatientID=H900'])).answers.length, 0);
    assert.equal(value((await wl(['PatientID=H901', 'PatientName'])).answers[0], '00100010'), 'KEEP^ME');
    assert.equal(await index.findPatient('H900', null), null);
    assert.equal((await index.findInstance('9.1.1'))?.PatientID, 'H901');
    assert.equal((await index.findPatient('H901', null))?.NumberOfPatientRelatedStudies, 2);
    assert.equal((await index.findPatient('H901', null))?.PatientName, 'KEEP^ME', 'the survivor as the PID describes it, in the index too (RAD-12)');
    // The survivor not indexed yet: the prior patient takes its place, and the PID's name with it.
    await index.storeInstance(record({ sop: '9.7.1', study: '9.7', patientId: 'T123', patientName: 'UNKNOWN^TRAUMA', sopClass: CT }), 'insert');
    const trauma = a40.replace('M1|', 'M2|').replace('H901^^^HOSP||KEEP^ME||19750505|F', 'H456^^^HOSP||SMITH^JOHN||19600101|M').replace('MRG|H900^^^HOSP', 'MRG|T123^^^HOSP');
    assert.equal(msa((await send(port, [trauma]))[0]!).code, 'AA');
    const survivor = (await index.findPatient('H456', 'HOSP')) ?? (await index.findPatient('H456', null));
    assert.deepEqual([survivor?.PatientName, survivor?.PatientBirthDate, survivor?.PatientSex], ['SMITH^JOHN', '19600101', 'M']);
    const [noMrg] = await send(port, [a40.replace(/\rMRG.*$/, '')]);
    assert.equal(msa(noMrg!).code, 'AE');
    // The survivor named without an issuer: the moved entries keep none, not the prior one's.
    assert.equal(msa((await send(port, [orm('NW', 'O40', { pid: 'H4000', name: 'PRIOR^ONE' })]))[0]!).code, 'AA');
    assert.equal(jsonElementText((await pacs.server.archive.worklist.bySourceKey('hl7', 'O40'))!.dataset['00100021']), 'HOSP');
    const [bare] = await send(port, [a40.replace('H901^^^HOSP', 'H4001').replace('MRG|H900^^^HOSP', 'MRG|H4000^^^HOSP')]);
    assert.equal(msa(bare!).code, 'AA', msa(bare!).text);
    const moved = (await pacs.server.archive.worklist.bySourceKey('hl7', 'O40'))!.dataset;
    assert.deepEqual([jsonElementText(moved['00100020']), moved['00100021']], ['H4001', undefined]);
  });

  test('ADT^A40 for a patient not indexed yet: an image with the prior ID, C-STOREd afterwards, is filed under the survivor; C-FIND finds no prior patient', async () => {
    const a40 = (prior: string, surviving: string, control: string) =>
      [`MSH|^~\\&|ADT|HOSP|PACS|RAD|20260312||ADT^A40|${control}|P|2.5.1`, 'EVN|A40|20260312', `PID|1||${surviving}^^^HOSP||SURVIVING^PAT`, `MRG|${prior}^^^HOSP`].join('\r');
    const [merged] = await send(port, [a40('H5000', 'H5001', 'M50')]);
    assert.deepEqual([msa(merged!).code, msa(merged!).text], ['AA', 'H5000 merged into H5001: 0 worklist entries, 0 studies moved']);
    // A scanner that fetched its worklist before the merge sends the prior ID, and no issuer.
    const file = path.join(pacs.dir, 'prior-patient.dcm');
    fs.copyFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm'), file);
    assert.equal((await run('dcmodify', ['-nb', '-m', 'PatientID=H5000', file])).code, 0);
    const stored = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), file]);
    assert.equal(stored.code, 0, stored.stderr);
    const patients = async (id: string) => {
      const r = await run('findscu', ['-v', '-P', '-aec', 'PACS_SERVER', '-k', '0008,0052=PATIENT', '-k', `PatientID=${id}`, '-k', 'NumberOfPatientRelatedStudies', '127.0.0.1', String(pacs.port)]);
      const out = r.stdout + r.stderr;
      assert.match(out, /Received Final Find Response \(Success\)/);
      return [...out.matchAll(/Find Response: \d+ \(Pending\)[\s\S]*?\(0020,1200\) IS \[(\d+)/g)].map((m) => `${id}: ${m[1]} studies`);
    };
    assert.deepEqual(await patients('H5000'), []);
    assert.deepEqual(await patients('H5001'), ['H5001: 1 studies']);
    assert.equal((await pacs.server.archive.index.findInstance('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'))?.PatientID, 'H5001');
    // A merge back would make a cycle: refused, nothing changed.
    const [back] = await send(port, [a40('H5001', 'H5000', 'M51')]);
    assert.deepEqual([msa(back!).code, msa(back!).err], ['AE', '205']);
    assert.match(msa(back!).text, /^merging H5001\^\^\^HOSP into H5000\^\^\^HOSP would make a cycle/);
    assert.deepEqual(await patients('H5001'), ['H5001: 1 studies']);
  });
});

describe('HL7 listener access: hl7.allowed_addresses and hl7.max_connections_per_address', () => {
  let pacs: TestPacs;
  let port: number;
  const lines: string[] = [];
  const open: net.Socket[] = [];

  before(async () => {
    // 127.0.0.0/8 is all loopback on Linux: 127.0.0.2 and 127.0.0.3 are other hosts to the listener.
    pacs = await startTestPacs(
      { hl7: { enabled: true, port: 0, host: '127.0.0.1', allowed_addresses: ['127.0.0.1', '127.0.0.4/31'], max_connections_per_address: 2 }, logging: { level: 'info' } },
      { logStream: { write: (l: string) => void lines.push(l) } },
    );
    port = pacs.server.feeds.hl7Port!;
  });
  after(async () => {
    for (const s of open) s.destroy();
    await pacs.stop();
  });

  /** A bare connection from `from`; resolves once connected. */
  const connect = async (from: string): Promise<net.Socket> => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: from });
    open.push(socket);
    socket.on('error', () => {});
    await new Promise((r) => socket.once('connect', r));
    return socket;
  };
  /** True when the server closes the socket within `ms` (it sends nothing to a refused peer). */
  const closedWithin = (socket: net.Socket, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (socket.destroyed || socket.readableEnded) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      socket.once('close', () => (clearTimeout(t), resolve(true)));
      socket.once('end', () => (clearTimeout(t), resolve(true)));
    });
  const logged = (text: string) => lines.filter((l) => l.includes(text)).map((l) => JSON.parse(l) as { level: number; address?: string });
  const ack = async (socket: net.Socket, control: string): Promise<string> => {
    const decoder = new MllpDecoder();
    const answer = new Promise<string>((resolve) => socket.on('data', (d: Buffer) => decoder.push(d).forEach((m) => resolve(msa(Hl7Message.parse(m.toString('utf8'))).code))));
    socket.write(frame(Buffer.from(orm('NW', control, { pid: `H${control}` }), 'utf8')));
    return answer;
  };

  test('a host not in hl7.allowed_addresses is closed at once, logged with its address; listed addresses and CIDR blocks are served', async () => {
    const stranger = await connect('127.0.0.2');
    assert.equal(await closedWithin(stranger, 2000), true, 'the stranger is closed');
    const [refused] = logged('is not in hl7.allowed_addresses');
    assert.equal(refused?.address, '127.0.0.2');
    assert.equal(refused?.level, 40, 'at warn');
    assert.equal(await ack(await connect('127.0.0.1'), 'P1'), 'AA');
    assert.equal(await ack(await connect('127.0.0.5'), 'P2'), 'AA', '127.0.0.4/31 holds 127.0.0.5');
  });

  test('past hl7.max_connections_per_address a new connection from that address is closed, logged; other addresses and a freed place are taken', async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const [a, b] = [await connect('127.0.0.1'), await connect('127.0.0.1')];
    const c = await connect('127.0.0.1');
    assert.equal(await closedWithin(c, 2000), true, 'the third from 127.0.0.1 is closed');
    assert.equal(logged('has hl7.max_connections_per_address open').at(-1)?.address, '127.0.0.1');
    assert.equal(await closedWithin(a, 200), false, 'the first two stay');
    assert.equal(await ack(await connect('127.0.0.4'), 'P3'), 'AA', 'another address is not limited by 127.0.0.1');
    assert.equal(await ack(b, 'P4'), 'AA');
    a.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const d = await connect('127.0.0.1');
    assert.equal(await closedWithin(d, 300), false, 'room again once one closed');
  });

  test('both are live: a reload lets the stranger in and gives each address more room', async () => {
    for (const s of open) s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    const c = pacs.server.archive.config();
    const { live, restart } = pacs.server.reload({ ...c, hl7: { ...c.hl7, allowed_addresses: [], max_connections_per_address: 3 } });
    assert.deepEqual([live, restart], [['hl7.allowed_addresses', 'hl7.max_connections_per_address'], []]);
    try {
      assert.equal(await ack(await connect('127.0.0.2'), 'P5'), 'AA', 'empty: any address');
      const three = [await connect('127.0.0.1'), await connect('127.0.0.1'), await connect('127.0.0.1')];
      assert.equal(await closedWithin(three[2]!, 300), false, 'a third is taken now');
    } finally {
      pacs.server.reload(c);
    }
  });
});
