// OMI^O23 imaging orders (HL7 v2.5.1 4.4.9; IHE RAD-4, RAD-13): each IPC segment a Scheduled
// Procedure Step, a worklist entry of its own under the order's key and its step ID; the IPC
// values over those of OBR and ZDS; a resend, a change and a cancel of the order apply to all its
// steps. Through the HL7 service on a SQLite index in a temporary directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/logging.js';
import type { JsonDataset } from '../../../src/dicom/json.js';
import { jsonElementText } from '../../../src/dicom/json-encode.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { WorklistService } from '../../../src/services/worklist.js';
import { Hl7Service } from '../../../src/hl7/service.js';
import { Hl7Message } from '../../../src/hl7/message.js';
import { stepKey, stepKeyPrefix } from '../../../src/hl7/ipc.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-omi-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let databases = 0;

async function service() {
  const index = SqliteIndex.open({ path: join(dir, `${++databases}.db`), walMode: true });
  await index.migrate();
  after(() => index.close());
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }), index);
  const hl7 = new Hl7Service({ worklist, index, logger: createLogger({ level: 'silent' }), settings: () => ({ charset: 'UTF-8', stationAE: { CT: 'CT_BY_CONFIG' }, processingIds: ['P'], maxOrders: 100 }) });
  const send = async (message: string) => {
    const ack = Hl7Message.parse((await hl7.handle(Buffer.from(message, 'utf8')))!.toString('utf8'));
    const err = ack.segment('ERR');
    return { code: ack.get(ack.segment('MSA'), 1), text: ack.get(ack.segment('MSA'), 3), err: ack.get(err, 3), where: ack.raw(err, 2), type: ack.raw(ack.segment('MSH'), 9) };
  };
  /** The hl7 entries of an order, by source key. */
  const entries = async () => new Map((await worklist.list({ source: 'hl7', limit: -1, offset: 0 })).entries.map((e) => [e.sourceKey!, e]));
  return { send, worklist, index, entries };
}

const step = (ds: JsonDataset): JsonDataset => ds['00400100']!.Value![0] as JsonDataset;
const text = (ds: JsonDataset | undefined, tag: string): string => jsonElementText(ds?.[tag]);

let controls = 0;
/** An OMI^O23 with one order: ORC, TQ1, OBR (OBR-18/19/20/24 and a ZDS the IPCs override), NTE, then `ipcs`. */
function omi(control: string, placer: string, ipcs: string[], o: { when?: string; type?: string } = {}): string {
  const obr = ['OBR', '1', placer, `F${placer}`, 'CTHEAD^CT Head^LOCAL', ...Array<string>(13).fill(''), 'OBRACC', 'OBRRP', 'OBRSPS', '', '', '', 'MR'];
  return [
    `MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||${o.type ?? 'OMI^O23^OMI_O23'}|OMI${++controls}|P|2.5.1`,
    'PID|1||H1^^^HOSP||DOE^JANE||19800102|F',
    'PV1|1|O|CTROOM1',
    `ORC|${control}|${placer}|F${placer}`,
    `TQ1|1||||||${o.when ?? '202603120930'}`,
    obr.join('|'),
    'ZDS|1.2.3.999^PACS^Application^DICOM',
    'NTE|1||a comment',
    ...ipcs,
  ].join('\r');
}

/** An IPC: accession, requested procedure, study, step, modality, protocol codes, station name, location, station AE. */
const ipc = (sps: string, extra: Partial<Record<1 | 2 | 3 | 5 | 6 | 7 | 8 | 9, string>> = {}): string => {
  const f = { 1: 'ACC1', 2: 'RP1', 3: '1.2.3.4', 5: 'CT', 6: '', 7: '', 8: '', 9: '', ...extra };
  return `IPC|${f[1]}|${f[2]}|${f[3]}|${sps}|${f[5]}|${f[6]}|${f[7]}|${f[8]}|${f[9]}`;
};

test('each IPC is a step of its own, keyed by the order and its step ID; IPC values win over OBR, ZDS and hl7.station_ae; the ACK is ACK^O23^ACK', async () => {
  const { send, entries } = await service();
  const ack = await send(
    omi('NW', 'P1', [
      ipc('S1', { 6: 'P-HEAD^Head routine^99LOCAL~P-NECK^Neck', 7: 'CTSTATION1', 8: 'ROOM1^CT room 1', 9: 'CT_ONE' }),
      ipc('S2', { 5: 'MR^^DCM', 8: '^MR room' }),
    ]),
  );
  assert.deepEqual(ack, { code: 'AA', text: 'order P1 step S1 scheduled; order P1 step S2 scheduled', err: '', where: '', type: 'ACK^O23^ACK' });
  const all = await entries();
  assert.deepEqual([...all.keys()], ['P1^S1', 'P1^S2']);
  const s1 = all.get('P1^S1')!.dataset;
  assert.deepEqual(
    [text(s1, '00080050'), text(s1, '00401001'), text(s1, '0020000D'), text(s1, '00402016'), text(step(s1), '00400009'), text(step(s1), '00080060')],
    ['ACC1', 'RP1', '1.2.3.4', 'P1', 'S1', 'CT'],
  );
  assert.deepEqual([text(step(s1), '00400010'), text(step(s1), '00400011'), text(step(s1), '00400001')], ['CTSTATION1', 'ROOM1', 'CT_ONE']);
  const protocols = (step(s1)['00400008']!.Value as JsonDataset[]).map((c) => [text(c, '00080100'), text(c, '00080102'), text(c, '00080104')]);
  assert.deepEqual(protocols, [['P-HEAD', '99LOCAL', 'Head routine'], ['P-NECK', 'L', 'Neck']]);
  const s2 = all.get('P1^S2')!.dataset;
  assert.deepEqual([text(step(s2), '00080060'), text(step(s2), '00400011'), text(step(s2), '00400001'), text(s2, '0020000D')], ['MR', 'MR room', '', '1.2.3.4']);
  assert.equal(step(s2)['00400008'], undefined);
});

test('without IPC values the OBR and ZDS ones are taken, as in an ORM^O01; an OMI^O23 without IPC is one step keyed by the order', async () => {
  const { send, entries } = await service();
  assert.equal((await send(omi('NW', 'P2', ['IPC||||S9|']))).code, 'AA');
  const ds = (await entries()).get('P2^S9')!.dataset;
  assert.deepEqual([text(ds, '00080050'), text(ds, '00401001'), text(ds, '0020000D'), text(step(ds), '00080060'), text(step(ds), '00400001')], ['OBRACC', 'OBRRP', '1.2.3.999', 'MR', '']);
  const bare = await send(omi('NW', 'P3', []));
  assert.deepEqual([bare.code, bare.text], ['AA', 'order P3 step OBRSPS scheduled']);
  assert.ok((await entries()).has('P3^OBRSPS'));
});

test('a resent OMI duplicates nothing; an XO changes the steps it names, adds new ones and cancels those it leaves out', async () => {
  const { send, entries } = await service();
  const nw = omi('NW', 'P4', [ipc('S1'), ipc('S2')]);
  assert.equal((await send(nw)).code, 'AA');
  const again = await send(nw);
  assert.deepEqual([again.code, again.text], ['AA', 'order P4 step S1 unchanged; order P4 step S2 unchanged']);
  assert.equal((await entries()).size, 2);
  const xo = await send(omi('XO', 'P4', [ipc('S1'), ipc('S3')], { when: '202603121100' }));
  assert.deepEqual([xo.code, xo.text], ['AA', 'order P4 step S1 changed; order P4 step S3 scheduled; order P4 step S2 canceled']);
  const all = await entries();
  assert.deepEqual([...all].map(([k, e]) => [k, e.status, text(step(e.dataset), '00400003')]), [['P4^S1', 'SCHEDULED', '1100'], ['P4^S2', 'CANCELED', '0930'], ['P4^S3', 'SCHEDULED', '1100']]);
  // A resent NW naming fewer steps (one message per step) cancels none.
  assert.equal((await send(omi('NW', 'P4', [ipc('S1')]))).code, 'AA');
  assert.equal((await entries()).get('P4^S3')?.status, 'SCHEDULED');
});

test('a cancel (OMI or ORM) applies to every step of the order; a done step stays so; a started one refuses it (AE 206) and nothing is canceled', async () => {
  const { send, entries, worklist } = await service();
  assert.equal((await send(omi('NW', 'P5', [ipc('S1'), ipc('S2'), ipc('S3')]))).code, 'AA');
  await worklist.stepPerformed([{ scheduledProcedureStepID: 'S3', studyInstanceUID: '1.2.3.4', accessionNumber: null }], 'COMPLETED');
  const ca = await send(omi('CA', 'P5', []));
  // MSA-3 is cut at 80 characters (the log line has it all).
  assert.deepEqual([ca.code, ca.text], ['AA', 'order P5 step S1 canceled; order P5 step S2 canceled; order P5 step S3 is COMPLE']);
  assert.deepEqual([...(await entries()).values()].map((e) => e.status), ['CANCELED', 'CANCELED', 'COMPLETED']);

  assert.equal((await send(omi('NW', 'P6', [ipc('S1', { 3: '1.2.3.6' }), ipc('S2', { 3: '1.2.3.6' })]))).code, 'AA');
  await worklist.stepPerformed([{ scheduledProcedureStepID: 'S2', studyInstanceUID: '1.2.3.6', accessionNumber: null }], 'IN PROGRESS');
  const orm = omi('CA', 'P6', []).replace('OMI^O23^OMI_O23', 'ORM^O01');
  for (const message of [omi('CA', 'P6', []), orm, omi('XO', 'P6', [ipc('S1', { 3: '1.2.3.6' })])]) {
    const refused = await send(message);
    assert.deepEqual([refused.code, refused.err], ['AE', '206'], refused.text);
    assert.match(refused.text, /order "P6" step "S2" is in progress/);
  }
  assert.deepEqual([...(await entries()).values()].slice(3).map((e) => e.status), ['SCHEDULED', 'STARTED']);
  const unknown = await send(omi('CA', 'P7', []));
  assert.deepEqual([unknown.code, unknown.err], ['AE', '204']);
});

test('the steps of one order are one study: without IPC-3 or ZDS-1 they share the Study Instance UID made here, and a step added later takes it', async () => {
  const { send, entries } = await service();
  const noStudy = (m: string) => m.replace(/\rZDS[^\r]*/, '');
  assert.equal((await send(noStudy(omi('NW', 'P8', [ipc('S1', { 3: '' }), ipc('S2', { 3: '' })])))).code, 'AA');
  const uids = [...(await entries()).values()].map((e) => e.studyInstanceUID);
  assert.match(uids[0]!, /^2\.25\.\d+$/);
  assert.equal(uids[1], uids[0]);
  assert.equal((await send(noStudy(omi('XO', 'P8', [ipc('S1', { 3: '' }), ipc('S2', { 3: '' }), ipc('S3', { 3: '' })])))).code, 'AA');
  assert.deepEqual([...(await entries()).values()].map((e) => e.studyInstanceUID), [uids[0], uids[0], uids[0]]);
});

test('IPC values are checked as the others: AE naming the IPC field; steps an order cannot tell apart are refused', async () => {
  const { send, entries } = await service();
  const cases: Array<[string[], string, string]> = [
    [[ipc('S1', { 5: 'XYZ' })], '103', 'IPC^1^5'],
    [[ipc('S1', { 1: 'A'.repeat(17) })], '102', 'IPC^1^1'],
    [[ipc('S1', { 3: 'not-a-uid' })], '102', 'IPC^1^3'],
    [[ipc('S1', { 9: 'CT\\E\\ONE' })], '102', 'IPC^1^9'],
    [[ipc('S1', { 7: 'STATION-NAME-TOO-LONG' })], '102', 'IPC^1^7'],
    [[ipc('S1', { 6: `${'C'.repeat(17)}^Long code` })], '102', 'IPC^1^6^1^1'],
    [[ipc('S1'), ipc('S1')], '205', 'IPC^2^4'], // the second names an ID taken
    [[ipc(''), ipc('')], '205', 'IPC^2^4'], // both the OBR-20 step ID
    [[ipc('S1'), ipc('S2', { 5: 'XYZ' })], '103', 'IPC^2^5'], // the second step's own field
  ];
  for (const [ipcs, err, where] of cases) {
    const ack = await send(omi('NW', 'P9', ipcs));
    assert.deepEqual([ack.code, ack.err, ack.where], ['AE', err, where], ack.text);
  }
  const noIds = await send(omi('NW', 'P9', [ipc(''), ipc('')]).replace('OBRSPS', ''));
  assert.deepEqual([noIds.code, noIds.err, noIds.where], ['AE', '101', 'IPC^2^4'], noIds.text);
  const noModality = await send(omi('NW', 'P9', [ipc('S1', { 5: '' })]).replace('|||MR\r', '|||\r'));
  assert.deepEqual([noModality.code, noModality.err, noModality.where], ['AE', '101', 'IPC^1^5'], noModality.text);
  assert.equal((await entries()).size, 0);
});

test('OMI events other than O23 are refused AR 201; other message types AR 200 as before', async () => {
  const { send } = await service();
  const o99 = await send(omi('NW', 'P10', [ipc('S1')], { type: 'OMI^O99' }));
  assert.deepEqual([o99.code, o99.err], ['AR', '201']);
  assert.match(o99.text, /OMI\^O23/);
  const ori = await send(omi('NW', 'P10', [ipc('S1')], { type: 'ORI^O24' }));
  assert.deepEqual([ori.code, ori.err], ['AR', '200']);
});

test('step keys: the order key and the step ID with ^ and \\ escaped, so no two pairs make one key; no ID: the order key', () => {
  assert.equal(stepKey('P1', 'S1'), 'P1^S1');
  assert.equal(stepKey('P1', ''), 'P1');
  assert.notEqual(stepKey('A^B', 'C'), stepKey('A', 'B^C'));
  assert.equal(stepKey('A^B', 'C\\D'), 'A\\S\\B^C\\E\\D');
  assert.ok(stepKey('A^B', 'C').startsWith(stepKeyPrefix('A^B')));
  assert.ok(!stepKey('A^B', 'C').startsWith(stepKeyPrefix('A')));
});

test('an IPC-6 of 200,000 repetitions is read at once, its first 64 codes kept; more IPCs than hl7.max_orders_per_message: AE at IPC, none taken', { timeout: 60_000 }, async () => {
  const { send, entries } = await service();
  // Each repetition was read by splitting the whole field again: quadratic, minutes of the one thread.
  const codes = Array.from({ length: 200_000 }, (_, i) => `P${i}^Protocol ${i}^LOCAL`).join('~');
  const r = await send(omi('NW', 'BIG6', [ipc('S1', { 6: codes })]));
  assert.equal(r.code, 'AA', r.text);
  const protocols = step(([...(await entries()).values()][0]!).dataset)['00400008']?.Value ?? [];
  assert.equal(protocols.length, 64);
  const many = await send(omi('NW', 'MANY', Array.from({ length: 101 }, (_, i) => ipc(`S${i}`))));
  assert.deepEqual([many.code, many.err, many.where], ['AE', '100', 'IPC^101'], 'the first IPC past the limit');
  assert.match(many.text, /more than 100 scheduled steps/);
  assert.equal((await entries()).size, 1, 'none of its steps taken');
});
