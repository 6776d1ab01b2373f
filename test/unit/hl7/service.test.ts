// What the HL7 service does with a message, without a socket: the ACK it answers and what it
// changes in the worklist and the index (a SQLite index in a temporary directory).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/logging.js';
import type { AuditEntry } from '../../../src/core/events.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { WorklistService } from '../../../src/services/worklist.js';
import { Hl7Service } from '../../../src/hl7/service.js';
import { Hl7Message } from '../../../src/hl7/message.js';
import { jsonElementText } from '../../../src/dicom/json-encode.js';
import { CT, record } from '../../contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-hl7-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let databases = 0;

/** A service on an index of its own; `charset` is hl7.charset, `maxOrders` hl7.max_orders_per_message; its log lines go to `logged`. */
async function service(charset = 'UTF-8', logged?: string[], processingIds: readonly string[] = ['P'], maxOrders = 100) {
  const index = SqliteIndex.open({ path: join(dir, `${++databases}.db`), walMode: true });
  await index.migrate();
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }), index); // the index's merge links, as in app.ts
  const hl7 = new Hl7Service({ worklist, index, logger: logged ? createLogger({ level: 'info' }, { stdout: { write: (line: string) => logged.push(line) } }) : createLogger({ level: 'silent' }), settings: () => ({ charset, stationAE: {}, processingIds, maxOrders }) });
  const send = async (message: string | Buffer) => {
    const bytes = await hl7.handle(typeof message === 'string' ? Buffer.from(message, 'utf8') : message);
    assert.ok(bytes, 'an original-mode message is always answered');
    const ack = Hl7Message.parse(bytes.toString('latin1'));
    const msa = ack.segment('MSA');
    return { code: ack.get(msa, 1), control: ack.get(msa, 2), text: ack.get(msa, 3), err: ack.get(ack.segment('ERR'), 3), size: bytes.length, ack };
  };
  after(() => index.close());
  return { index, worklist, hl7, send };
}

const MSH = (type: string, control = 'C1', charset = '') => `MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||${type}|${control}|P|2.5.1||||||${charset}`;

interface OrderOptions {
  control?: string;
  pid?: string;
  name?: string;
  /** MSH-18. */
  charset?: string;
  /** Segments after the OBR. */
  extra?: string[];
}

/** An ORM^O01 with one order; CR-terminated. */
function orm(order: string, placer: string, o: OrderOptions = {}): string {
  const obr = ['OBR', '1', placer, `F${placer}`, 'CTHEAD^CT Head^LOCAL', ...Array<string>(13).fill(''), `ACC${placer}`, '', '', '', '', '', 'CT'];
  return [
    MSH('ORM^O01', o.control ?? `C-${placer}`, o.charset),
    `PID|1||${o.pid ?? 'H1^^^HOSP'}||${o.name ?? 'DOE^JANE'}||19800102|F`,
    `ORC|${order}|${placer}|F${placer}`,
    'TQ1|1||||||202603120930',
    obr.join('|'),
    ...(o.extra ?? []),
  ].join('\r');
}

/**
 * How many characters Buffer and String indexOf looked at while `fn` ran (a search from `from`
 * reads up to what it finds, or to the end): the work of scanning a message for delimiters.
 */
async function scanned(fn: () => Promise<unknown>): Promise<number> {
  const buffer = Buffer.prototype.indexOf;
  const string = String.prototype.indexOf;
  let work = 0;
  const count = (length: number, at: number, from: unknown, width: number): void => {
    const start = typeof from === 'number' && from > 0 ? from : 0;
    work += Math.max(0, (at < 0 ? length : at + width) - start);
  };
  Buffer.prototype.indexOf = function (this: Buffer, ...args: Parameters<typeof buffer>) {
    const at = buffer.apply(this, args);
    count(this.length, at, args[1], 1);
    return at;
  };
  String.prototype.indexOf = function (this: string, search: string, from?: number) {
    const at = string.call(this, search, from);
    count(this.length, at, from, search.length);
    return at;
  };
  try {
    await fn();
  } finally {
    Buffer.prototype.indexOf = buffer;
    String.prototype.indexOf = string;
  }
  return work;
}

test('a message of 90,000 CR-terminated segments (under MAX_SEGMENTS) with a bad byte at the end: AE 102 where it is, found in one pass', async () => {
  const { send } = await service();
  const message = (segments: number) => Buffer.concat([Buffer.from(`${MSH('ADT^A08')}\r${'ZZZ|a\r'.repeat(segments)}ZZZ|b|`, 'latin1'), Buffer.from([0xff, 0x0d])]);
  const big = message(90_000);
  assert.ok(big.length > 540_000);
  const ack = await send(big);
  assert.deepEqual([ack.code, ack.err, ack.control, ack.ack.raw(ack.ack.segment('ERR'), 2)], ['AE', '102', 'C1', 'ZZZ^1^2']);
  // Linear: the characters the scans read grow with the message, not with its square (each
  // segment's search for a line end used to read the rest of the message: 16 times the work
  // for 4 times the segments, 10^11 characters at 2 MB). A message of more segments than
  // MAX_SEGMENTS is refused whole (message.test.ts).
  const [small, large] = [message(20_000), message(80_000)];
  const [workSmall, workLarge] = [await scanned(() => send(small)), await scanned(() => send(large))];
  assert.ok(workLarge < 4 * large.length, `${workLarge} characters read for a message of ${large.length}`);
  assert.ok(workLarge < 5 * workSmall, `${workSmall} → ${workLarge} for 4 times the segments`);
});

test('an LF inside NTE text of a CR-terminated message: AA, MSA-2 its control ID; a bad segment name: AR 100 still quoting MSH-10 and MSH-9', async () => {
  const { send, worklist } = await service();
  const ok = await send(orm('NW', 'LF1', { control: 'CTL-LF', extra: ['NTE|1||first line\nsecond line'] }));
  assert.deepEqual([ok.code, ok.control, ok.text], ['AA', 'CTL-LF', 'order LF1 scheduled']);
  assert.notEqual(await worklist.bySourceKey('hl7', 'LF1'), null);
  const bad = await send(orm('NW', 'LF2', { control: 'CTL-BAD', extra: ['n t e|1||text'] }));
  assert.deepEqual([bad.code, bad.err, bad.control, bad.ack.get(bad.ack.segment('MSH'), 9, 2)], ['AR', '100', 'CTL-BAD', 'O01']);
  assert.equal(await worklist.bySourceKey('hl7', 'LF2'), null, 'nothing of a rejected message is taken');
});

test('MSH-18 after an empty line is honoured: UNICODE UTF-8 with hl7.charset ISO-8859-1 stores MÜLLER, not its UTF-8 bytes read as Latin-1', async () => {
  const { send, worklist } = await service('ISO-8859-1');
  const ack = await send(Buffer.from(`\r${orm('NW', 'CS1', { name: 'MÜLLER^JÖRG', charset: 'UNICODE UTF-8' })}`, 'utf8'));
  assert.deepEqual([ack.code, ack.ack.get(ack.ack.segment('MSH'), 18)], ['AA', 'UNICODE UTF-8']);
  const entry = await worklist.bySourceKey('hl7', 'CS1');
  assert.deepEqual(entry?.dataset['00100010']?.Value, [{ Alphabetic: 'MÜLLER^JÖRG' }]);
});

test('ADT^A08 without PID-3.4 changes only entries without issuer; with one, that issuer\'s (and those without), never another issuer\'s', async () => {
  const { send, worklist } = await service();
  const name = async (key: string) => jsonElementText((await worklist.bySourceKey('hl7', key))!.dataset['00100010']);
  for (const [key, pid] of [['IH', 'P5^^^HOSP'], ['IE', 'P5^^^ELSEWHERE']] as const) assert.equal((await send(orm('NW', key, { pid, name: 'OLD^NAME' }))).code, 'AA');
  const a08 = (pid: string, name: string) => [MSH('ADT^A08', `U-${name}`), 'EVN|A08|20260312', `PID|1||${pid}||${name}`].join('\r');

  const none = await send(a08('P5', 'NO^ISSUER'));
  assert.deepEqual([none.code, none.text], ['AA', 'patient P5: 0 worklist entries updated']);
  assert.deepEqual([await name('IH'), await name('IE')], ['OLD^NAME', 'OLD^NAME'], 'no issuer in the message: neither issuer\'s entry');

  const hosp = await send(a08('P5^^^HOSP', 'HOSP^ONLY'));
  assert.equal(hosp.code, 'AA');
  assert.deepEqual([await name('IH'), await name('IE')], ['HOSP^ONLY', 'OLD^NAME']);

  assert.equal((await send(orm('NW', 'IN', { pid: 'P5', name: 'OLD^NAME' }))).code, 'AA');
  await send(a08('P5', 'BARE^ONE'));
  assert.deepEqual([await name('IH'), await name('IE'), await name('IN')], ['HOSP^ONLY', 'OLD^NAME', 'BARE^ONE'], 'the entry without issuer only');
});

test('ADT^A08 while an MPPS completes the step: the entry keeps COMPLETED (the status read before is not written back)', async () => {
  const { send, worklist } = await service();
  assert.equal((await send(orm('NW', 'RACE', { pid: 'P9^^^HOSP', name: 'OLD^NAME' }))).code, 'AA');
  const entry = (await worklist.bySourceKey('hl7', 'RACE'))!;
  // The ADT reads the patient's entries (status SCHEDULED); before it writes, the step is completed.
  const list = worklist.list.bind(worklist);
  worklist.list = async (filter) => {
    const read = await list(filter);
    await worklist.stepPerformed([{ scheduledProcedureStepID: entry.scheduledProcedureStepID, studyInstanceUID: entry.studyInstanceUID, accessionNumber: entry.accessionNumber }], 'COMPLETED');
    return read;
  };
  const ack = await send([MSH('ADT^A08', 'U-RACE'), 'EVN|A08|20260312', 'PID|1||P9^^^HOSP||NEW^NAME'].join('\r'));
  assert.equal(ack.code, 'AA', ack.text);
  const after = (await worklist.bySourceKey('hl7', 'RACE'))!;
  assert.equal(after.status, 'COMPLETED');
  assert.equal(jsonElementText(after.dataset['00100010']), 'NEW^NAME');
});

test('an order resent after it was canceled, completed or started keeps its status; an XO does not bring a completed one back', async () => {
  const { send, worklist } = await service();
  const status = async (key: string) => (await worklist.bySourceKey('hl7', key))?.status;
  const listed = async (key: string) => (await worklist.find({ '00402016': { vr: 'LO', Value: [key] } })).length;
  const performed = async (key: string, mpps: string) => {
    const ds = (await worklist.bySourceKey('hl7', key))!.dataset;
    const step = ds['00400100']!.Value![0] as typeof ds;
    await worklist.stepPerformed([{ scheduledProcedureStepID: jsonElementText(step['00400009']), studyInstanceUID: jsonElementText(ds['0020000D']), accessionNumber: null }], mpps);
  };

  // NW, CA, the same NW again (its ACK was lost): still canceled, not in the worklist.
  const nw = orm('NW', 'R1', { control: 'NW-R1' });
  assert.equal((await send(nw)).code, 'AA');
  assert.equal((await send(orm('CA', 'R1'))).code, 'AA');
  const again = await send(nw);
  assert.deepEqual([again.code, again.control, again.text], ['AA', 'NW-R1', 'order R1 is CANCELED: unchanged']);
  assert.deepEqual([await status('R1'), await listed('R1')], ['CANCELED', 0]);

  // NW, MPPS COMPLETED, the NW again and an XO moving it: still completed, its time unchanged.
  assert.equal((await send(orm('NW', 'R2'))).code, 'AA');
  await performed('R2', 'COMPLETED');
  assert.equal(await status('R2'), 'COMPLETED');
  assert.equal((await send(orm('NW', 'R2'))).code, 'AA');
  const moved = await send(orm('XO', 'R2').replace('202603120930', '202603121500'));
  assert.deepEqual([moved.code, moved.text], ['AA', 'order R2 is COMPLETED: unchanged']);
  const step = (await worklist.bySourceKey('hl7', 'R2'))!.dataset['00400100']!.Value![0] as Record<string, { Value?: unknown[] }>;
  assert.deepEqual([await status('R2'), await listed('R2'), step['00400003']!.Value], ['COMPLETED', 0, ['0930']]);

  // Started: a resent NW (and an XO) change the order but not its status.
  assert.equal((await send(orm('NW', 'R3'))).code, 'AA');
  await performed('R3', 'IN PROGRESS');
  assert.equal((await send(orm('NW', 'R3', { name: 'NEW^NAME' }))).code, 'AA');
  const [found] = await worklist.find({ '00402016': { vr: 'LO', Value: ['R3'] }, '00100010': { vr: 'PN' }, '00400100': { vr: 'SQ', Value: [{ '00400020': { vr: 'CS' } }] } });
  assert.deepEqual([found?.['00100010']?.Value, (found?.['00400100']?.Value?.[0] as typeof found)?.['00400020']?.Value], [[{ Alphabetic: 'NEW^NAME' }], ['STARTED']]);
  // A feed saying SCHEDULED (a folder file read again at a restart) cannot take it back either.
  const entry = (await worklist.bySourceKey('hl7', 'R3'))!;
  await worklist.upsertFromSource('hl7', 'R3', { ...entry.dataset, '00400100': { vr: 'SQ', Value: [{ ...(entry.dataset['00400100']!.Value![0] as object), '00400020': { vr: 'CS', Value: ['SCHEDULED'] } }] } });
  assert.equal(await status('R3'), 'STARTED');
});

test('ADT^A08 with a PID-5 of delimiters only (^^^, ~DOE^J) leaves the name in the worklist and the index; "" still deletes it', async () => {
  const { send, worklist, index } = await service();
  await index.storeInstance(record({ sop: '7.1.1', study: '7.1', patientId: 'P7', issuer: 'HOSP', patientName: 'KEEP^ME', sopClass: CT }), 'insert');
  assert.equal((await send(orm('NW', 'N7', { pid: 'P7^^^HOSP', name: 'KEEP^ME' }))).code, 'AA');
  const names = async () => [jsonElementText((await worklist.bySourceKey('hl7', 'N7'))!.dataset['00100010']), (await index.findPatient('P7', 'HOSP'))?.PatientName];
  for (const name of ['^^^', '^^^^^^', '~DOE^J', '^']) {
    const ack = await send([MSH('ADT^A08'), 'EVN|A08|20260312', `PID|1||P7^^^HOSP||${name}||19900101`].join('\r'));
    assert.equal(ack.code, 'AA', ack.text);
    assert.deepEqual(await names(), ['KEEP^ME', 'KEEP^ME'], name);
  }
  assert.equal((await index.findPatient('P7', 'HOSP'))?.PatientBirthDate, '19900101', 'the rest of the message is taken');
  assert.equal((await send([MSH('ADT^A08'), 'EVN|A08|20260312', 'PID|1||P7^^^HOSP||""'].join('\r'))).code, 'AA');
  assert.deepEqual(await names(), ['', null]);
});

test('ADT^A40 whose second PID/MRG pair is invalid: AE, and the first pair is not merged either', async () => {
  const { send, worklist, index } = await service();
  await index.storeInstance(record({ sop: '8.1.1', study: '8.1', patientId: 'OLD8', issuer: 'HOSP', sopClass: CT }), 'insert');
  assert.equal((await send(orm('NW', 'M8', { pid: 'OLD8^^^HOSP' }))).code, 'AA');
  const a40 = (second: string) => [MSH('ADT^A40', 'M-8'), 'EVN|A40|20260312', 'PID|1||NEW8^^^HOSP||NEW^PATIENT', 'MRG|OLD8^^^HOSP', ...second.split('\r')].join('\r');
  for (const second of ['PID|1||NEW9^^^HOSP\rMRG|', 'PID|1||\rMRG|OLD9^^^HOSP', 'PID|1||NEW9^^^HOSP||X||not-a-date\rMRG|OLD9^^^HOSP']) {
    const ack = await send(a40(second));
    assert.deepEqual([ack.code, ack.control], ['AE', 'M-8'], second);
    assert.equal(jsonElementText((await worklist.bySourceKey('hl7', 'M8'))!.dataset['00100020']), 'OLD8', second);
    assert.notEqual(await index.findPatient('OLD8', 'HOSP'), null, second);
    assert.equal(await index.findPatient('NEW8', 'HOSP'), null, second);
  }
  const ok = await send(a40('PID|1||NEW9^^^HOSP\rMRG|OLD9^^^HOSP'));
  assert.equal(ok.code, 'AA', ok.text);
  assert.equal(jsonElementText((await worklist.bySourceKey('hl7', 'M8'))!.dataset['00100020']), 'NEW8');
  assert.equal((await index.findInstance('8.1.1'))?.PatientID, 'NEW8');
});

test('ADT^A40 links the prior patient, indexed or not: its images stored later go to the survivor; a resend is AA, a cycle or a second survivor AE 205 changing nothing', async () => {
  const { send, worklist, index } = await service();
  const a40 = (control: string, ...pairs: [string, string][]) =>
    [MSH('ADT^A40', control), 'EVN|A40|20260312', ...pairs.flatMap(([prior, surviving]) => [`PID|1||${surviving}^^^HOSP||SURVIVING^PAT`, `MRG|${prior}^^^HOSP`])].join('\r');
  const merged = await send(a40('L-1', ['OLDL', 'NEWL']));
  assert.deepEqual([merged.code, merged.text], ['AA', 'OLDL merged into NEWL: 0 worklist entries, 0 studies moved']);
  assert.deepEqual([(await index.patientLink({ PatientID: 'OLDL', IssuerOfPatientID: 'HOSP' }))?.controlId], ['L-1']);
  await index.storeInstance(record({ sop: '9.1.1', study: '9.1', patientId: 'OLDL', sopClass: CT }), 'insert');
  assert.equal((await index.findInstance('9.1.1'))?.PatientID, 'NEWL');
  assert.equal(await index.findPatient('OLDL', null), null);
  assert.equal((await send(a40('L-1', ['OLDL', 'NEWL']))).code, 'AA', 'the same message again (its ACK was lost)');
  // Refused whole: the first pair's order keeps its patient.
  assert.equal((await send(orm('NW', 'L2', { pid: 'OTHERL^^^HOSP' }))).code, 'AA');
  for (const [message, text] of [
    [a40('L-3', ['OTHERL', 'THIRDL'], ['NEWL', 'OLDL']), /^merging NEWL\^\^\^HOSP into OLDL\^\^\^HOSP would make a cycle: OLDL\^\^\^HOSP was merged into NEWL\^\^\^HOSP \(message L-1\)$/],
    [a40('L-4', ['OTHERL', 'THIRDL'], ['OLDL', 'ELSEL']), /^OLDL\^\^\^HOSP was already merged into NEWL\^\^\^HOSP \(message L-1\): not merged into ELSEL\^\^\^HOSP$/],
  ] as const) {
    const ack = await send(message);
    assert.deepEqual([ack.code, ack.err], ['AE', '205'], ack.text);
    assert.match(ack.ack.get(ack.ack.segment('ERR'), 8), text, 'ERR-8: the reason whole');
    assert.equal(jsonElementText((await worklist.bySourceKey('hl7', 'L2'))!.dataset['00100020']), 'OTHERL');
    assert.equal(await index.patientLink({ PatientID: 'OTHERL', IssuerOfPatientID: 'HOSP' }), null);
  }
  assert.equal((await index.findInstance('9.1.1'))?.PatientID, 'NEWL');
});

test('an order after ADT^A40 naming the prior patient is scheduled under the survivor, as its images will be filed; so is an entry made by hand', async () => {
  const { send, worklist } = await service();
  const merged = await send([MSH('ADT^A40', 'W-1'), 'EVN|A40|20260312', 'PID|1||NEWW^^^HOSP||SURVIVING^PAT', 'MRG|OLDW^^^HOSP'].join('\r'));
  assert.equal(merged.code, 'AA', merged.text);
  assert.equal((await send(orm('NW', 'W2', { pid: 'OLDW^^^HOSP' }))).code, 'AA');
  const entry = (await worklist.bySourceKey('hl7', 'W2'))!;
  assert.deepEqual([jsonElementText(entry.dataset['00100020']), jsonElementText(entry.dataset['00100021'])], ['NEWW', 'HOSP']);
  // Without an issuer (an entry from the REST API or a worklist file): the hospital's link is followed.
  // (Another study: the same step twice is refused.)
  const byHand = await worklist.create({ ...entry.dataset, '00100020': { vr: 'LO', Value: ['OLDW'] }, '00100021': { vr: 'LO' }, '00080050': { vr: 'SH', Value: ['ACC-W3'] }, '0020000D': { vr: 'UI', Value: ['1.2.826.0.1.3680043.8.498.4711'] } });
  assert.equal(jsonElementText(byHand.dataset['00100020']), 'NEWW');
  // A patient never merged keeps its ID.
  assert.equal((await send(orm('NW', 'W4', { pid: 'KEPT^^^HOSP' }))).code, 'AA');
  assert.equal(jsonElementText((await worklist.bySourceKey('hl7', 'W4'))!.dataset['00100020']), 'KEPT');
});

test('a megabyte in any field the ACK or the log would quote: an ACK of a few hundred bytes, MSA-2 the first 199 characters of MSH-10', async () => {
  const logged: string[] = [];
  const { send } = await service('UTF-8', logged);
  const big = 'X'.repeat(1024 * 1024);
  const a08 = (pid = 'P1^^^HOSP') => [MSH('ADT^A08', 'BIG'), 'EVN|A08|20260312', `PID|1||${pid}||DOE^J`].join('\r');
  const cases: Array<[string, string, string]> = [
    ['OBR-24', orm('NW', 'B1', { control: 'BIG' }).replace(/\|CT$/m, `|${big}`), 'AE 103'],
    ['TQ1-7', orm('NW', 'B2', { control: 'BIG' }).replace('202603120930', `2026${big}`), 'AE 102'],
    ['ORC-1', orm(big, 'B3', { control: 'BIG' }), 'AE 103'],
    ['OBR-18', orm('NW', 'B4', { control: 'BIG' }).replace('ACCB4', big), 'AE 102'],
    ['ORC-2 of a cancel', orm('CA', big, { control: 'BIG' }), 'AE 204'],
    ['PID-3', a08(big), 'AE 102'],
    ['MRG-1', [MSH('ADT^A40', 'BIG'), 'PID|1||P2^^^HOSP', `MRG|${big}`].join('\r'), 'AE 102'],
    ['MSH-9', a08().replace('ADT^A08', `${big}^A08`), 'AR 200'],
    ['MSH-9.2', a08().replace('ADT^A08', `ADT^${big}`), 'AR 201'],
    ['MSH-11', a08().replace('|BIG|P|', `|BIG|${big}|`), 'AR 202'],
    ['MSH-18', a08().replace(/^(MSH.*)$/m, `$1${big}`), 'AR 103'],
    ['MSH-3', a08().replace('|RIS|', `|${big}|`), 'AA '],
    ['segment name', `${a08()}\r${big}|1`, 'AR 100'],
  ];
  for (const [where, message, expected] of cases) {
    logged.length = 0;
    const ack = await send(message);
    assert.ok(ack.size < 1500, `${where}: an ACK of ${ack.size} bytes`);
    assert.equal(`${ack.code} ${ack.err}`, expected, `${where}: ${ack.text}`);
    assert.equal(ack.control, 'BIG', where);
    for (const line of logged) assert.ok(line.length < 2500, `${where}: a log line of ${line.length} characters`);
  }
  // MSH-10 itself: MSA-2 echoes what HL7 v2.7 allows of it, cut outside its escape sequences.
  for (const control of [big, `${'C'.repeat(197)}\\F\\${big}`]) {
    logged.length = 0;
    const ack = await send(a08().replace('|BIG|', `|${control}|`));
    assert.equal(ack.code, 'AA', ack.text);
    const echoed = ack.ack.raw(ack.ack.segment('MSA'), 2);
    assert.ok(echoed.length <= 199 && echoed.length >= 197 && control.startsWith(echoed), echoed.slice(190));
    for (const line of logged) assert.ok(line.length < 2500, `a log line of ${line.length} characters`);
  }
  // A message whose MSH-2 cannot be read (no control ID to quote) says so briefly too.
  const ack = await send(`MSH|^~\\&${big}|A`);
  assert.deepEqual([ack.code, ack.err], ['AR', '102']);
  assert.ok(ack.size < 1500, `an ACK of ${ack.size} bytes`);
});

test('line breaks and other control characters in names and IDs are stripped: \\X0D0A\\, \\.br\\, a bare LF, \\X07\\ each become one space', async () => {
  const { send, worklist, index } = await service();
  await index.storeInstance(record({ sop: '6.1.1', study: '6.1', patientId: 'P6', issuer: 'HOSP', sopClass: CT }), 'insert');
  assert.equal((await send(orm('NW', 'K6', { pid: 'P6\\X0A\\^^^HOSP', name: 'DOE\\X0D0A\\EVIL^J\\.br\\ANE' }))).code, 'AA');
  const stored = (await worklist.bySourceKey('hl7', 'K6'))!.dataset;
  assert.deepEqual([stored['00100010']?.Value, stored['00100020']?.Value], [[{ Alphabetic: 'DOE EVIL^J ANE' }], ['P6']]);
  for (const [name, expected] of [['DOE\\X0D0A\\EVIL^J', 'DOE EVIL^J'], ['DOE\nEVIL^J', 'DOE EVIL^J'], ['DOE\\X07\\\\X1B\\BELL^J', 'DOE BELL^J'], ['DOE\\XC285\\NEL^J', 'DOE NEL^J']]) {
    const ack = await send([MSH('ADT^A08'), 'EVN|A08|20260312', `PID|1||P6^^^HOSP||${name}`].join('\r'));
    assert.equal(ack.code, 'AA', ack.text);
    assert.deepEqual([jsonElementText((await worklist.bySourceKey('hl7', 'K6'))!.dataset['00100010']), (await index.findPatient('P6', 'HOSP'))?.PatientName], [expected, expected], name);
  }
});

test('a training or debugging message (MSH-11 T, D) is refused with AR 202 and changes nothing, unless hl7.processing_ids lists it', async () => {
  const a08 = (processing: string, name: string) => [MSH('ADT^A08', `PID-${processing}`).replace('|P|2.5.1', `|${processing}|2.5.1`), 'EVN|A08|20260312', `PID|1||T1||${name}`].join('\r');
  const { index, send } = await service();
  await index.storeInstance(record({ sop: '7.7.1', study: '7.7', patientId: 'T1', patientName: 'Real^Name' }), 'insert');
  for (const processing of ['T', 'D']) {
    const r = await send(a08(processing, 'Training^Name'));
    assert.deepEqual([r.code, r.control], ['AR', `PID-${processing}`], processing);
    assert.match(r.text, /not applied here/);
  }
  assert.equal((await index.findPatient('T1', null))?.PatientName, 'Real^Name', 'nothing changed');
  assert.equal((await send(a08('P', 'Updated^Name'))).code, 'AA');
  const test = await service('UTF-8', undefined, ['P', 'T']);
  await test.index.storeInstance(record({ sop: '7.8.1', study: '7.8', patientId: 'T1', patientName: 'Real^Name' }), 'insert');
  assert.equal((await test.send(a08('T', 'Training^Name'))).code, 'AA', 'a test server may take them');
});

test('a message of another HL7 version than 2.x (MSH-12) is refused with AR 203 and changes nothing', async () => {
  const { index, send } = await service();
  await index.storeInstance(record({ sop: '7.9.1', study: '7.9', patientId: 'V1', patientName: 'Real^Name' }), 'insert');
  const a08 = (version: string) => [MSH('ADT^A08', `V-${version}`).replace('|P|2.5.1', `|P|${version}`), 'EVN|A08|20260312', 'PID|1||V1||Other^Name'].join('\r');
  const r = await send(a08('3.0'));
  assert.deepEqual([r.code, r.err], ['AR', '203']);
  assert.match(r.text, /MSH-12 version "3.0"/);
  assert.equal((await index.findPatient('V1', null))?.PatientName, 'Real^Name', 'nothing changed');
  for (const v of ['2.3', '2.5.1', '2.8^INT']) assert.equal((await send(a08(v))).code, 'AA', v);
});

test('a value that does not fit its DICOM attribute is AE 102 with the field in ERR-2, nothing taken; a birth date to the year only is left empty', async () => {
  const { send, worklist, index } = await service();
  await index.storeInstance(record({ sop: '5.1.1', study: '5.1', patientId: 'P5B', patientName: 'KEEP^ME' }), 'insert');
  for (const [message, location] of [
    [orm('NW', 'V1', { pid: '12\\E\\34^^^HOSP' }), 'PID^1^3'],
    [orm('NW', 'V2', { extra: ['ZDS|hello'] }), 'ZDS^1^1'],
    [orm('NW', 'V3').replace('202603120930', '20261399'), 'TQ1^1^7'],
    [[MSH('ADT^A08'), 'EVN|A08|20260312', 'PID|1||P5B||O\\E\\BRIEN^PAT'].join('\r'), 'PID^1^5'],
  ] as const) {
    const ack = await send(message);
    assert.deepEqual([ack.code, ack.err, ack.ack.raw(ack.ack.segment('ERR'), 2)], ['AE', '102', location], ack.text);
  }
  assert.deepEqual([await worklist.bySourceKey('hl7', 'V1'), await worklist.bySourceKey('hl7', 'V2'), await worklist.bySourceKey('hl7', 'V3')], [null, null, null]);
  assert.equal((await index.findPatient('P5B', null))?.PatientName, 'KEEP^ME');
  const year = await send(orm('NW', 'V4').replace('|19800102|', '|1970|'));
  assert.equal(year.code, 'AA', year.text);
  assert.deepEqual((await worklist.bySourceKey('hl7', 'V4'))!.dataset['00100030'], { vr: 'DA' });
});

test('the HL7 null "" is no value in every field read: ORC-2 "" keys orders by their filler number, OBR-18 and ZDS-1 "" are not the text "", PID-3 and MRG-1 "" are missing', async () => {
  const { send, worklist } = await service();
  const nullPlacer = (placer: string) => orm('NW', placer, { extra: ['ZDS|""'] }).replace(`ORC|NW|${placer}|`, 'ORC|NW|""|').replace(`OBR|1|${placer}|`, 'OBR|1|""|').replace(`ACC${placer}`, '""');
  for (const placer of ['Q1', 'Q2']) assert.equal((await send(nullPlacer(placer))).text, `order F${placer} scheduled`);
  assert.equal(await worklist.bySourceKey('hl7', '""'), null);
  for (const placer of ['Q1', 'Q2']) {
    const ds = (await worklist.bySourceKey('hl7', `F${placer}`))!.dataset;
    assert.deepEqual([jsonElementText(ds['00402016']), jsonElementText(ds['00080050'])], ['', `F${placer}`], placer);
    assert.notEqual(jsonElementText(ds['0020000D']), '""');
  }
  const pid = await send(orm('NW', 'Q3', { pid: '""' }));
  assert.deepEqual([pid.code, pid.err], ['AE', '101']);
  const mrg = await send([MSH('ADT^A40'), 'EVN|A40|20260312', 'PID|1||NEWQ^^^HOSP', 'MRG|""'].join('\r'));
  assert.deepEqual([mrg.code, mrg.err], ['AE', '101']);
});

test('an ORM^O01 with more orders than hl7.max_orders_per_message: AE 100 at ORC saying so, none of them taken; as many is taken', async () => {
  const { send, worklist } = await service('UTF-8', undefined, ['P'], 3);
  const orders = (n: number) => {
    const [msh, pid, ...order] = orm('NW', 'X').split('\r');
    return [msh, pid, ...Array.from({ length: n }, (_, i) => order.join('\r').replaceAll('|X|', `|X${i}|`)).join('\r').split('\r')].join('\r');
  };
  const many = await send(orders(4));
  assert.deepEqual([many.code, many.err, many.ack.raw(many.ack.segment('ERR'), 2)], ['AE', '100', 'ORC^4'], 'the first ORC past the limit');
  assert.match(many.ack.get(many.ack.segment('ERR'), 8), /more than 3 orders .*hl7\.max_orders_per_message/);
  assert.equal(await worklist.bySourceKey('hl7', 'X0'), null);
  const ok = await send(orders(3));
  assert.deepEqual([ok.code, ok.text], ['AA', 'order X0 scheduled; order X1 scheduled; order X2 scheduled']);
});

test('a cancel (CA, DC) of a completed or discontinued step answers AA leaving it so; of a started one AE 206, nothing of the message taken', async () => {
  const { send, worklist } = await service();
  const status = async (key: string) => (await worklist.bySourceKey('hl7', key))?.status;
  const performed = async (key: string, mpps: string) => {
    const ds = (await worklist.bySourceKey('hl7', key))!.dataset;
    const step = ds['00400100']!.Value![0] as typeof ds;
    await worklist.stepPerformed([{ scheduledProcedureStepID: jsonElementText(step['00400009']), studyInstanceUID: jsonElementText(ds['0020000D']), accessionNumber: null }], mpps);
  };
  for (const [key, mpps, final] of [['D1', 'COMPLETED', 'COMPLETED'], ['D2', 'DISCONTINUED', 'DISCONTINUED']] as const) {
    assert.equal((await send(orm('NW', key))).code, 'AA');
    await performed(key, mpps);
    for (const control of ['CA', 'DC']) {
      const ack = await send(orm(control, key));
      assert.deepEqual([ack.code, ack.text], ['AA', `order ${key} is ${final}: not canceled`], control);
      assert.equal(await status(key), final);
    }
  }
  assert.equal((await send(orm('NW', 'D3'))).code, 'AA');
  await performed('D3', 'IN PROGRESS');
  for (const control of ['CA', 'DC']) {
    const ack = await send(orm(control, 'D3'));
    assert.deepEqual([ack.code, ack.err, ack.ack.raw(ack.ack.segment('ERR'), 2)], ['AE', '206', 'ORC^1^1'], control);
    assert.match(ack.text, /in progress/);
  }
  assert.equal(await status('D3'), 'STARTED');
  // With a new order before it in the same message: neither is taken.
  const [msh, pid, ...nw] = orm('NW', 'D4').split('\r');
  const both = await send([msh, pid, ...nw, ...orm('CA', 'D3').split('\r').slice(2)].join('\r'));
  assert.deepEqual([both.code, both.err, await worklist.bySourceKey('hl7', 'D4')], ['AE', '206', null]);
  assert.equal(both.ack.raw(both.ack.segment('ERR'), 2), 'ORC^2^1', 'the second order, the cancel, is named');
});

test('a UTF-8 byte order mark before the MSH is no part of it: the message is taken, its MSH-18 honoured', async () => {
  const { send, worklist } = await service('ISO-8859-1');
  const bom = Buffer.from([0xef, 0xbb, 0xbf]);
  const ack = await send(Buffer.concat([bom, Buffer.from(orm('NW', 'BOM1', { name: 'MÜLLER^JÖRG', charset: 'UNICODE UTF-8', control: 'C-BOM' }), 'utf8')]));
  assert.deepEqual([ack.code, ack.control, ack.ack.get(ack.ack.segment('MSH'), 18)], ['AA', 'C-BOM', 'UNICODE UTF-8'], ack.text);
  assert.deepEqual((await worklist.bySourceKey('hl7', 'BOM1'))?.dataset['00100010']?.Value, [{ Alphabetic: 'MÜLLER^JÖRG' }]);
});

test('an ACK sent to us is not answered (two sides answering everything would ACK each other for ever)', async () => {
  const { hl7 } = await service();
  assert.equal(await hl7.handle(Buffer.from([MSH('ACK^O01^ACK', 'A-1'), 'MSA|AA|C-1'].join('\r'))), null);
});

test('a Latin-1 ACK holds only Latin-1: a character from an escape beyond it goes as "?", not as its low byte (U+011C was 0x1C, the frame end)', async () => {
  const { hl7 } = await service();
  // MSH-9 XYZ^<U+011C U+010D U+010B> as UTF-8 in \X..\: FS CR VT once written as their low bytes.
  const bytes = (await hl7.handle(Buffer.from([`${MSH('XYZ^\\XC49CC48DC48B\\', 'L-1', '8859/1')}`, 'PID|1||P1'].join('\r'), 'latin1')))!;
  const controls = [...bytes].filter((b) => b < 0x20 && b !== 0x0d);
  assert.deepEqual(controls, [], bytes.toString('latin1'));
  assert.equal(Hl7Message.parse(bytes.toString('latin1')).get(Hl7Message.parse(bytes.toString('latin1')).segment('MSA'), 1), 'AR');
});

test('ADT^A40 with more than 100 MRG segments: AE, none merged', async () => {
  const { send } = await service();
  const pairs = Array.from({ length: 101 }, (_, i) => `MRG|OLD${i}^^^HOSP`);
  const r = await send([MSH('ADT^A40', 'M-101'), 'EVN|A40|20260312', 'PID|1||NEW101^^^HOSP||NEW^PATIENT', ...pairs].join('\r'));
  assert.equal(r.code, 'AE');
  assert.match(r.ack.get(r.ack.segment('ERR'), 8), /more than 100 MRG/);
});

test('an error in a later order of a message names that order\'s segment in ERR-2 (segment sequence), and in ERR-1 before v2.5', async () => {
  const { send, worklist } = await service();
  const [msh, pid, ...first] = orm('NW', 'S1').split('\r');
  const second = orm('NW', 'S2').split('\r').slice(2);
  const message = (order: string[], version = '2.5.1') => [msh!.replace('|P|2.5.1', `|P|${version}`), pid, ...first, ...order].join('\r');
  for (const [order, location] of [
    [second.map((s) => (s.startsWith('ORC|') ? s.replace('ORC|NW|', 'ORC|ZZ|') : s)), 'ORC^2^1'],
    [second.map((s) => s.replace('202603120930', '20261399')), 'TQ1^2^7'],
    [[...second, second.find((s) => s.startsWith('OBR|'))!], 'OBR^3'],
    [orm('NW', 'S1').split('\r').slice(2), 'ORC^2^2'],
  ] as const) {
    const ack = await send(message([...order]));
    assert.equal(ack.code, 'AE', ack.text);
    assert.equal(ack.ack.raw(ack.ack.segment('ERR'), 2), location, ack.text);
  }
  const old = await send(message(second.map((s) => s.replace('202603120930', '20261399')), '2.3'));
  assert.match(old.ack.raw(old.ack.segment('ERR'), 1), /^TQ1\^2\^7\^102&/);
  assert.deepEqual([await worklist.bySourceKey('hl7', 'S1'), await worklist.bySourceKey('hl7', 'S2')], [null, null], 'nothing of the message taken');
});

test('each message acted on or refused leaves an audit line: the sending application, the address, what was done or why not', async () => {
  const index = SqliteIndex.open({ path: join(dir, `${++databases}.db`), walMode: true });
  await index.migrate();
  after(() => index.close());
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }), index);
  const audited: AuditEntry[] = [];
  const hl7 = new Hl7Service({ worklist, index, logger: createLogger({ level: 'silent' }), settings: () => ({ charset: 'UTF-8', stationAE: {}, processingIds: ['P'], maxOrders: 100 }), audit: (e) => audited.push(e) });
  await hl7.handle(Buffer.from(orm('NW', 'AU1')), '192.0.2.10');
  await hl7.handle(Buffer.from(orm('ZZ', 'AU2')), '192.0.2.10');
  assert.deepEqual(
    audited.map((e) => [e.action, e.outcome, e.who, e.from, (e.what as { ack: string }).ack]),
    [
      ['hl7', 'success', 'RIS', '192.0.2.10', 'AA'],
      ['hl7', 'failure', 'RIS', '192.0.2.10', 'AE'],
    ],
  );
  assert.match(String((audited[0]!.what as { result: string }).result), /order AU1 scheduled/);
});
