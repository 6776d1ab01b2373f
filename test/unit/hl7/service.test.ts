// What the HL7 service does with a message, without a socket: the ACK it answers and what it
// changes in the worklist and the index (a SQLite index in a temporary directory).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { WorklistService } from '../../../src/services/worklist.js';
import { Hl7Service } from '../../../src/hl7/service.js';
import { Hl7Message } from '../../../src/hl7/message.js';
import { jsonElementText } from '../../../src/dicom/json-encode.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-hl7-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let databases = 0;

/** A service on an index of its own; `charset` is hl7.charset. */
async function service(charset = 'UTF-8') {
  const index = SqliteIndex.open({ path: join(dir, `${++databases}.db`), walMode: true });
  await index.migrate();
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const hl7 = new Hl7Service({ worklist, index, logger: createLogger({ level: 'silent' }), settings: () => ({ charset, stationAE: {} }) });
  const send = async (message: string | Buffer) => {
    const ack = Hl7Message.parse((await hl7.handle(typeof message === 'string' ? Buffer.from(message, 'utf8') : message)).toString('latin1'));
    const msa = ack.segment('MSA');
    return { code: ack.get(msa, 1), control: ack.get(msa, 2), text: ack.get(msa, 3), err: ack.get(ack.segment('ERR'), 3), where: ack.get(ack.segment('ERR'), 2), ack };
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

test('a 2 MB message of 320,000 CR-terminated segments with a bad byte at the end: AE 102 where it is, found in one pass', async () => {
  const { send } = await service();
  const message = (segments: number) => Buffer.concat([Buffer.from(`${MSH('ADT^A08')}\r${'ZZZ|a\r'.repeat(segments)}ZZZ|b|`, 'latin1'), Buffer.from([0xff, 0x0d])]);
  const big = message(320_000);
  assert.ok(big.length > 1_900_000);
  const ack = await send(big);
  assert.deepEqual([ack.code, ack.err, ack.control, ack.ack.raw(ack.ack.segment('ERR'), 2)], ['AE', '102', 'C1', 'ZZZ^1^2']);
  // Linear: the characters the scans read grow with the message, not with its square (each
  // segment's search for a line end used to read the rest of the message: 16 times the work
  // for 4 times the segments, 10^11 characters at 2 MB).
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
