// The HL7 v2 parser, MLLP framing, the ACK and the ORM → worklist mapping, without a socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Hl7Error, Hl7Message, MAX_SEGMENTS, escapeHl7, unescapeHl7, DEFAULT_DELIMITERS } from '../../../src/hl7/message.js';
import { MllpDecoder, frame } from '../../../src/hl7/mllp.js';
import { buildAck } from '../../../src/hl7/ack.js';
import { personName, readOrders } from '../../../src/hl7/orders.js';
import { dateTime } from '../../../src/hl7/values.js';

/** An OBR segment with the fields given by number. */
function obr(fields: Record<number, string>): string {
  const out = ['OBR', '1'];
  for (let n = 2; n <= 24; n++) out.push(fields[n] ?? '');
  return out.join('|');
}

const ORM = [
  'MSH|^~\\&|RIS|HOSP|PACS|RAD|20260312083000||ORM^O01|MSG001|P|2.5.1',
  'PID|1||P77^^^HOSP^MR~X9^^^OTHER||M\\XC39C\\LLER^J\\S\\RG^^^DR||19800102|F',
  'PV1|1|O|CTROOM1|||||DOC1^WHO^ANNE',
  'ORC|NW|PL123|FI456||||^^^20260312093000',
  obr({ 2: 'PL123', 3: 'FI456', 4: 'CTCHEST^CT Chest \\T\\ Abdomen^LOCAL', 18: 'ACC789', 19: 'RP1', 20: 'SPS1', 24: 'CT' }),
].join('\r');

test('segments, fields, repetitions, components and subcomponents; MSH numbering', () => {
  const m = Hl7Message.parse(ORM);
  const msh = m.segment('MSH');
  assert.equal(m.get(msh, 1), '|');
  assert.equal(m.get(msh, 2), '^~\\&');
  assert.equal(m.get(msh, 9), 'ORM');
  assert.equal(m.get(msh, 9, 2), 'O01');
  assert.equal(m.get(msh, 10), 'MSG001');
  const pid = m.segment('PID');
  assert.equal(m.get(pid, 3), 'P77');
  assert.equal(m.get(pid, 3, 4), 'HOSP');
  assert.equal(m.get(pid, 3, 1, 1), 'X9', 'second repetition');
  assert.equal(m.repetitions(pid, 3).length, 2);
  assert.equal(m.get(pid, 5), 'MÜLLER', '\\XC39C\\: the UTF-8 bytes of Ü');
  assert.equal(m.get(pid, 5, 2), 'J^RG', '\\S\\ is an escaped component separator, not a split');
  assert.equal(m.get(m.segment('OBR'), 4, 2), 'CT Chest & Abdomen');
  assert.equal(m.get(m.segment('PV1'), 8, 2), 'WHO');
  assert.equal(m.get(pid, 99), '', 'an absent field is empty');
  assert.equal(Hl7Message.parse(ORM.replace(/\r/g, '\n')).all('OBR').length, 1, 'LF tolerated');
});

test('segments end with CR (CRLF too); a bare LF ends one only in a message without CR, elsewhere it is text in its field', () => {
  const lines = ['MSH|^~\\&|A|B|C|D|20260101||ORM^O01|1|P|2.5.1', 'NTE|1||line one\nline two', 'PID|1||P1'];
  for (const [name, text] of [['CR', lines.join('\r')], ['CRLF', lines.join('\r\n')], ['CR, blank lines first', `\r\n\r${lines.join('\r')}\r\n`]]) {
    const m = Hl7Message.parse(text!);
    assert.deepEqual(m.segments.map((s) => s.name), ['MSH', 'NTE', 'PID'], name);
    assert.equal(m.raw(m.segment('NTE'), 3), 'line one\nline two', name);
  }
  // No CR at all: LF is the segment terminator (hand-made messages), and "line two" a segment name no more.
  const lf = Hl7Message.read(lines.join('\n'));
  assert.deepEqual([lf.segments.map((s) => s.name), lf.malformed?.ack], [['MSH', 'NTE', 'PID'], 'AR']);
  // LF-separated with a CR (or CRLF, or several) only at the end: still LF-separated, not one segment.
  const ok = ['MSH|^~\\&|A|B|C|D|20260101||ORM^O01|1|P|2.5.1', 'PID|1||P1', 'OBR|1|PL1'];
  for (const end of ['\r', '\r\n', '\n\r\r\n']) assert.deepEqual(Hl7Message.parse(ok.join('\n') + end).segments.map((s) => s.name), ['MSH', 'PID', 'OBR'], JSON.stringify(end));
});

test("MSH-2 of three characters with '&' as the field separator: refused, the default subcomponent separator would be the field separator", () => {
  const text = 'MSH&^~\\&A&B&C&D&20260101&&ORM^O01&1&P&2.5.1\rPID&1&&P1';
  assert.throws(() => Hl7Message.read(text), (e: unknown) => e instanceof Hl7Error && e.ack === 'AR' && /subcomponent/.test(e.message));
  // With a fourth character naming another subcomponent separator it reads.
  const four = Hl7Message.parse('MSH&^~\\#&A&B&C&D&20260101&&ORM^O01&1&P&2.5.1\rPID&1&&P1#X');
  assert.deepEqual([four.get(four.segment('MSH'), 3), four.get(four.segment('PID'), 3), four.get(four.segment('PID'), 3, 1, 0, 2)], ['A', 'P1', 'X']);
});

test('a malformed segment after a readable MSH: read() keeps the message for the ACK and says what is wrong, parse() throws', () => {
  const text = 'MSH|^~\\&|A|B|C|D|20260101||ORM^O01|CTRL9|P|2.5.1\rp!d|1\rPID|1||P1';
  const m = Hl7Message.read(text);
  assert.equal(m.get(m.segment('MSH'), 10), 'CTRL9');
  assert.deepEqual(m.segments.map((s) => s.name), ['MSH', 'PID']);
  assert.ok(m.malformed instanceof Hl7Error && m.malformed.ack === 'AR' && m.malformed.code === 100, String(m.malformed));
  assert.throws(() => Hl7Message.parse(text), (e: unknown) => e instanceof Hl7Error && e.ack === 'AR');
  assert.equal(Hl7Message.read(ORM).malformed, null);
});

test('escape sequences both ways', () => {
  const d = DEFAULT_DELIMITERS;
  assert.equal(unescapeHl7('a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f', d), 'a|b^c&d~e\\f');
  assert.equal(unescapeHl7('line1\\.br\\line2', d), 'line1\nline2');
  assert.equal(unescapeHl7('\\H\\bold\\N\\', d), 'bold');
  assert.equal(unescapeHl7('\\X4142\\', d), 'AB');
  assert.equal(unescapeHl7('\\Zunknown\\', d), '\\Zunknown\\', 'unknown escapes kept');
  assert.equal(unescapeHl7('trailing\\', d), 'trailing\\');
  const tricky = 'a|b^c&d~e\\f';
  assert.equal(escapeHl7(tricky), 'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f');
  assert.equal(unescapeHl7(escapeHl7(tricky), d), tricky);
});

test('names an object inherits are no escape sequences and no table entries', () => {
  const d = DEFAULT_DELIMITERS;
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
    assert.equal(unescapeHl7(`A\\${name}\\B`, d), `A\\${name}\\B`, name);
    const m = Hl7Message.parse(ORM.replace('|CTROOM1|', `|${name}|`));
    const [order] = readOrders(m, { stationAE: { CT: 'CT_ANY' } });
    const step = order!.steps[0]!.dataset['00400100']!.Value![0] as Record<string, { Value?: unknown[] }>;
    assert.deepEqual(step['00400001']!.Value, ['CT_ANY'], `PV1-3 ${name}: the modality's station`);
  }
});

test('other delimiters from MSH-2 are honoured', () => {
  const m = Hl7Message.parse('MSH#*@!$#A#B#C#D#20260101##ADT*A08#1#P#2.5\rPID#1##ID1*1*2*AUTH##FAM*GIV$SUB');
  assert.equal(m.get(m.segment('PID'), 3, 4), 'AUTH');
  assert.equal(m.get(m.segment('PID'), 5, 2), 'GIV');
  assert.equal(m.get(m.segment('PID'), 5, 2, 0, 2), 'SUB');
});

test('a byte order mark (U+FEFF) before the MSH is dropped', () => {
  const m = Hl7Message.parse(`\uFEFF${ORM}`);
  assert.deepEqual([m.segments[0]!.name, m.get(m.segment('MSH'), 10)], ['MSH', 'MSG001']);
});

test('not a message: Hl7Error asking for AR', () => {
  for (const bad of ['', 'hello', 'PID|1', 'MSH|^^^^|x', 'MSH|^~\\&|A\rp!d|1']) {
    assert.throws(() => Hl7Message.parse(bad), (e: unknown) => e instanceof Hl7Error && e.ack === 'AR', bad);
  }
});

test('unusable MSH-2 encoding characters: AR with Table 0357 code 102 (data type), as docs/conformance.md says', () => {
  for (const bad of ['MSH|^^^^|x', 'MSH|^~|x', 'MSH|^~|&|x']) {
    assert.throws(() => Hl7Message.parse(bad), (e: unknown) => e instanceof Hl7Error && e.ack === 'AR' && e.code === 102 && e.location === 'MSH-2', bad);
  }
  // dist/test/unit/hl7 → the repository root
  const doc = readFileSync(fileURLToPath(new URL('../../../../docs/conformance.md', import.meta.url)), 'utf8');
  const rows = doc.split('\n').filter((l) => l.includes('encoding characters') && l.startsWith('|'));
  assert.deepEqual(rows.map((r) => r.split('|').map((c) => c.trim()).slice(1, 3)), [['`AR`', '102']]);
});

test('MLLP frames split and joined across chunks, junk between frames ignored', () => {
  const d = new MllpDecoder();
  const a = frame(Buffer.from('MSH|one'));
  const b = frame(Buffer.from('MSH|two'));
  const all = Buffer.concat([Buffer.from('\n'), a, Buffer.from('\n'), b]);
  const got: string[] = [];
  for (let i = 0; i < all.length; i += 3) got.push(...d.push(all.subarray(i, i + 3)).map((x) => x.toString()));
  assert.deepEqual(got, ['MSH|one', 'MSH|two']);
  // Only chunks holding a byte of a frame are progress (the listener's idle timer counts those).
  const p = new MllpDecoder();
  assert.deepEqual([p.push(Buffer.from('\n\n')), p.progressed], [[], false]);
  assert.deepEqual([p.push(Buffer.from('\n\x0bMS')), p.progressed], [[], true]);
  assert.deepEqual([p.push(Buffer.from('H')), p.progressed], [[], true]);
  assert.deepEqual([p.push(Buffer.from('\x1c')).length, p.progressed], [1, true]);
  assert.deepEqual([p.push(Buffer.from('\r')), p.progressed], [[], true]);
  assert.deepEqual([p.push(Buffer.from('\r\n')), p.progressed], [[], false]);
});

test('MLLP: every chunk size gives the same messages; a large frame in small pieces is not copied again per piece; a frame past 16 MB is refused', () => {
  const msgs = ['MSH|a', 'MSH|' + 'x'.repeat(5000), 'MSH|c'];
  const all = Buffer.concat([Buffer.from('junk'), ...msgs.map((m) => Buffer.concat([frame(Buffer.from(m)), Buffer.from('\n')]))]);
  for (const size of [1, 2, 7, 64, 4096, all.length]) {
    const d = new MllpDecoder();
    const got: string[] = [];
    for (let i = 0; i < all.length; i += size) got.push(...d.push(all.subarray(i, i + size)).map((x) => x.toString()));
    assert.deepEqual(got, msgs, `chunks of ${size}`);
  }
  // 8 MB in 1 KB pieces: linear (a re-concatenation per piece would copy ~32 GB).
  const big = new MllpDecoder();
  const piece = Buffer.alloc(1024, 0x41);
  big.push(Buffer.from([0x0b]));
  for (let i = 0; i < 8 * 1024; i++) assert.deepEqual(big.push(piece), []);
  const [message] = big.push(Buffer.from([0x1c, 0x0d]));
  assert.equal(message!.length, 8 * 1024 * 1024);
  const huge = new MllpDecoder();
  huge.push(Buffer.from([0x0b]));
  assert.throws(() => {
    for (let i = 0; i < 17; i++) huge.push(Buffer.alloc(1024 * 1024));
  }, /longer than/);
});

test('MLLP: a VT inside an unfinished frame drops what it gathered and starts a new frame there, in any chunking; the drop and bytes between frames are told', () => {
  const resent = 'MSH|^~\\&|RIS|H|PACS|R|20260312||ORM^O01|C2|P|2.5.1\rPID|1||P1';
  const all = Buffer.concat([Buffer.from('junk'), Buffer.from([0x0b]), Buffer.from('MSH|^~\\&|A'), frame(Buffer.from(resent)), frame(Buffer.from('MSH|next'))]);
  for (const size of [1, 3, 16, all.length]) {
    const dropped: number[] = [];
    const ignored: string[] = [];
    const d = new MllpDecoder({ restarted: (n) => dropped.push(n), ignored: (b) => ignored.push(b.toString()) });
    const got: string[] = [];
    for (let i = 0; i < all.length; i += size) got.push(...d.push(all.subarray(i, i + size)).map((x) => x.toString()));
    assert.deepEqual(got, [resent, 'MSH|next'], `chunks of ${size}`);
    assert.deepEqual(dropped, ['MSH|^~\\&|A'.length], `chunks of ${size}`);
    assert.equal(ignored.join(''), 'junk', `chunks of ${size}`);
  }
  // Many VTs in one chunk: each restart is found from where the last one was, not by a search to the end.
  const vts = new MllpDecoder();
  assert.deepEqual(vts.push(Buffer.concat([Buffer.alloc(200_000, 0x0b), frame(Buffer.from('MSH|last'))])).map(String), ['MSH|last']);
});

test('an ACK quotes the control ID, addresses the sender, and explains an error', () => {
  const m = Hl7Message.parse(ORM);
  const ok = Hl7Message.parse(buildAck(m, 'AA', 'done', null, 'UNICODE UTF-8'));
  assert.equal(ok.get(ok.segment('MSH'), 5), 'RIS');
  assert.equal(ok.get(ok.segment('MSH'), 3), 'PACS');
  assert.equal(ok.get(ok.segment('MSH'), 9, 2), 'O01');
  assert.equal(ok.get(ok.segment('MSH'), 18), 'UNICODE UTF-8');
  assert.equal(ok.get(ok.segment('MSA'), 1), 'AA');
  assert.equal(ok.get(ok.segment('MSA'), 2), 'MSG001');
  assert.equal(ok.segment('ERR'), undefined);
  const bad = Hl7Message.parse(buildAck(m, 'AE', 'OBR-24 | bad', { code: 103, text: 'OBR-24 | bad', location: 'OBR-24' }, '8859/1'));
  assert.equal(bad.get(bad.segment('MSA'), 3), 'OBR-24 | bad');
  assert.equal(bad.get(bad.segment('ERR'), 3), '103');
  assert.equal(bad.get(bad.segment('ERR'), 2), 'OBR');
  assert.equal(bad.get(bad.segment('ERR'), 2, 3), '24');
  const none = Hl7Message.parse(buildAck(null, 'AR', 'garbage', { code: 100, text: 'garbage', location: null }, 'UNICODE UTF-8'));
  assert.equal(none.get(none.segment('MSA'), 1), 'AR');
  // A component is named (it was dropped); a place that is no segment (a setting) is left to the text.
  const component = Hl7Message.parse(buildAck(m, 'AE', 'PID-3.4 bad', { code: 102, text: 'PID-3.4 bad', location: 'PID-3.4' }, '8859/1'));
  assert.deepEqual(component.components(component.segment('ERR'), 2), ['PID', '1', '3', '1', '4']);
  const setting = Hl7Message.parse(buildAck(m, 'AE', 'no station', { code: 101, text: 'no station', location: 'hl7.station_ae' }, '8859/1'));
  assert.equal(setting.get(setting.segment('ERR'), 2), '');
  assert.equal(bad.get(bad.segment('ERR'), 1), '', 'v2.5.1: ERR-1 is retired');
  // v2.3: ERR-1 (ELD) as well, the code in its 4th component.
  const old = Hl7Message.parse(buildAck(Hl7Message.parse(ORM.replace('|P|2.5.1', '|P|2.3')), 'AE', 'OBR-24 bad', { code: 103, text: 'OBR-24 bad', location: 'OBR-24' }, '8859/1'));
  assert.deepEqual(old.components(old.segment('ERR'), 1).slice(0, 4), ['OBR', '1', '24', '103']);
  assert.equal(old.get(old.segment('ERR'), 1, 4, 0, 3), 'HL70357');
});

test('MSA-3 is cut to 80 characters between characters, never inside an escape sequence', () => {
  const m = Hl7Message.parse(ORM);
  for (const text of ['x'.repeat(79) + '|tail', 'x'.repeat(78) + '^^', 'x'.repeat(79) + '\n', 'x'.repeat(77) + '&&&', 'y'.repeat(100)]) {
    const ack = Hl7Message.parse(buildAck(m, 'AE', text, null, 'UNICODE UTF-8'));
    const raw = ack.raw(ack.segment('MSA'), 3);
    assert.ok(raw.length <= 80, `${raw.length} characters`);
    const got = ack.get(ack.segment('MSA'), 3);
    assert.ok(text.startsWith(got) && got.length >= 77, JSON.stringify(got));
  }
});

test('an ORM order as a worklist entry', () => {
  const [order] = readOrders(Hl7Message.parse(ORM), { stationAE: { CTROOM1: 'CT_ROOM1' } });
  assert.equal(order!.control, 'new');
  assert.equal(order!.key, 'PL123');
  const ds = order!.steps[0]!.dataset;
  const v = (k: string, d = ds) => d[k]?.Value?.[0];
  assert.equal(v('00100020'), 'P77');
  assert.equal(v('00100021'), 'HOSP');
  assert.deepEqual(v('00100010'), { Alphabetic: 'MÜLLER^J RG^^DR' }, 'a ^ inside a component cannot stay: PN uses it');
  assert.equal(v('00100030'), '19800102');
  assert.equal(v('00100040'), 'F');
  assert.deepEqual(v('00080090'), { Alphabetic: 'WHO^ANNE' });
  assert.equal(v('00080050'), 'ACC789');
  assert.equal(v('00401001'), 'RP1');
  assert.equal(v('00402016'), 'PL123');
  assert.equal(v('00402017'), 'FI456');
  assert.equal(v('00321060'), 'CT Chest & Abdomen');
  const step = ds['00400100']!.Value![0] as typeof ds;
  assert.equal(v('00080060', step), 'CT');
  assert.equal(v('00400001', step), 'CT_ROOM1');
  assert.equal(v('00400002', step), '20260312');
  assert.equal(v('00400003', step), '093000');
  assert.equal(v('00400009', step), 'SPS1');
});

test('an order carries the whole patient: PID fields empty or "" (the HL7 null) are empty attributes, not the text ""', () => {
  for (const fields of ['||||', '||""||""|""']) {
    const [order] = readOrders(Hl7Message.parse(ORM.replace(/^PID.*$/m, `PID|1||P77^^^HOSP${fields}`)), { stationAE: {} });
    const ds = order!.steps[0]!.dataset;
    assert.deepEqual([ds['00100010'], ds['00100030'], ds['00100040']], [{ vr: 'PN' }, { vr: 'DA' }, { vr: 'CS' }], fields);
  }
});

test('orders that cannot be scheduled say why and where', () => {
  const bad = (orm: string, where: string) =>
    assert.throws(() => readOrders(Hl7Message.parse(orm), { stationAE: {} }), (e: unknown) => e instanceof Hl7Error && e.location === where && e.ack === 'AE', where);
  bad(ORM.replace(/\|CT$/, '|'), 'OBR-24');
  bad(ORM.replace(/\|CT$/, '|XYZ'), 'OBR-24');
  bad(ORM.replace('ORC|NW', 'ORC|ZZ'), 'ORC-1');
  bad(ORM.replace('^^^20260312093000', ''), 'TQ1-7');
  bad(ORM.replace('^^^20260312093000', '^^^2026-03-12'), 'ORC-7.4');
  bad(ORM.replace('PID|1||P77^^^HOSP^MR~X9^^^OTHER', 'PID|1||'), 'PID-3');
  bad(ORM.replace('ACC789', 'A'.repeat(17)), 'OBR-18');
  const [cancel] = readOrders(Hl7Message.parse(ORM.replace('ORC|NW', 'ORC|CA')), { stationAE: {} });
  assert.deepEqual(cancel, { control: 'cancel', key: 'PL123', steps: [], complete: false, otherKey: 'FI456' });
});

test('values that do not fit their DICOM attribute: AE 102 naming the field (a decoded backslash, a long name, no real date or time, a UID that is none)', () => {
  const read = (orm: string) => readOrders(Hl7Message.parse(orm), { stationAE: {} });
  const pid = (fields: string) => ORM.replace(/^PID.*$/m, `PID|1||${fields}`);
  const cases: Array<[string, string]> = [
    [pid('12\\E\\34^^^HOSP||DOE^J'), 'PID-3'],
    [pid('P77^^^HOSP||O\\E\\BRIEN^PAT'), 'PID-5'],
    [pid(`P77^^^HOSP||${'F'.repeat(40)}^${'G'.repeat(30)}`), 'PID-5'],
    [ORM.replace('^^^20260312093000', '^^^20261399'), 'ORC-7.4'],
    [ORM.replace('^^^20260312093000', '^^^202603120930.5'), 'ORC-7.4'],
    [ORM.replace('^^^20260312093000', '^^^20260312093'), 'ORC-7.4'],
    [ORM.replace('^^^20260312093000', '^^^202603122460'), 'ORC-7.4'],
    [`${ORM}\rZDS|hello^RIS^Application^DICOM`, 'ZDS-1'],
    [ORM.replace('CTCHEST^CT Chest', 'CTCHEST^CT Chest\\E\\'), 'OBR-4'],
  ];
  for (const [orm, where] of cases)
    assert.throws(() => read(orm), (e: unknown) => e instanceof Hl7Error && e.location === where && e.code === 102 && e.ack === 'AE' && e.message.startsWith(where), where);
  // A birth date to the year or the month (HL7 allows it, a DA cannot hold it), or no real date
  // (00000000 for "unknown", a 13th month): left empty, the order taken.
  for (const date of ['1970', '197005', '00000000', '19801340']) assert.deepEqual(read(pid(`P77^^^HOSP||DOE^J||${date}|F`))[0]!.steps[0]!.dataset['00100030'], { vr: 'DA' }, date);
  assert.equal(read(pid('P77^^^HOSP||DOE^J||198002291230|F'))[0]!.steps[0]!.dataset['00100030']?.Value?.[0], '19800229');
});

test('the orders of a message are read in one pass: the segments visited grow with the orders, not their square; fields past the 256th are not split', () => {
  // No PV1 and no ZDS: each order looking for them read every segment of the message.
  const orm = (n: number) =>
    [ORM.split('\r')[0], 'PID|1||P1', ...Array.from({ length: n }, (_, i) => `ORC|NW|P${i}\rTQ1|1||||||202603120930\r${obr({ 2: `P${i}`, 18: `A${i}`, 24: 'CT' })}`)].join('\r');
  const visited = (n: number): number => {
    const msg = Hl7Message.parse(orm(n));
    let reads = 0;
    const counted = new Proxy(msg.segments, { get: (t, k, r) => ((reads += typeof k === 'string' && /^\d+$/.test(k) ? 1 : 0), Reflect.get(t, k, r)) });
    Object.defineProperty(msg, 'segments', { value: counted });
    assert.equal(readOrders(msg, { stationAE: {} }).length, n);
    return reads;
  };
  const [small, large] = [visited(500), visited(2000)];
  assert.ok(large < 5 * small && large < 10 * 2000, `${small} → ${large} segments visited for 4 times the orders`);
  const wide = Hl7Message.parse(`${ORM}\rZZZ${'|x'.repeat(100_000)}`);
  assert.equal(wide.segment('ZZZ')!.fields.length, 257);
});

test('a message of more than MAX_SEGMENTS segments: read up to there (the ACK still quotes its MSH), refused AR', () => {
  const text = `MSH|^~\\&|RIS|H|PACS|R|20260312||ADT^A08|BIG|P|2.5.1\r${'ZZZ|a\r'.repeat(MAX_SEGMENTS + 5)}`;
  const msg = Hl7Message.read(text);
  assert.equal(msg.segments.length, MAX_SEGMENTS);
  assert.equal(msg.get(msg.segment('MSH'), 10), 'BIG');
  assert.match(String(msg.malformed?.message), /more than 100000 segments/);
  assert.throws(() => Hl7Message.parse(text), (e: unknown) => e instanceof Hl7Error && e.ack === 'AR');
  assert.equal(Hl7Message.read(`MSH|^~\\&|RIS|H|PACS|R|20260312||ADT^A08|OK|P|2.5.1\r${'ZZZ|a\r'.repeat(MAX_SEGMENTS - 1)}`).malformed, null);
});

test('names and times', () => {
  assert.equal(personName(['DOE', 'JOHN', 'Q', 'JR', 'DR']), 'DOE^JOHN^Q^DR^JR');
  assert.equal(personName(['DOE', 'JOHN']), 'DOE^JOHN');
  // With an offset: the server's local time of that instant (this process's time zone).
  const local = (utc: number, digits: number): { date: string; time: string } => {
    const t = new Date(utc);
    const p = (n: number) => String(n).padStart(2, '0');
    return { date: `${t.getFullYear()}${p(t.getMonth() + 1)}${p(t.getDate())}`, time: `${p(t.getHours())}${p(t.getMinutes())}${p(t.getSeconds())}`.slice(0, digits) };
  };
  assert.deepEqual(dateTime('202603120930+0100', 'x'), local(Date.UTC(2026, 2, 12, 8, 30), 4));
  assert.deepEqual(dateTime('20260312', 'x'), { date: '20260312', time: '' });
  const late = local(Date.UTC(2026, 2, 12, 14, 30, 15), 6);
  assert.deepEqual(dateTime('20260312093015.1234-0500', 'x'), { ...late, time: `${late.time}.1234` });
  assert.deepEqual(dateTime('2026031223', 'x'), { date: '20260312', time: '23' });
});

test('HL7 review: a ZDS is its own order\'s; several OBRs in one order, or one order twice, are refused; an offset moves a time to local; an authority given as a universal ID', () => {
  const read = (orm: string) => readOrders(Hl7Message.parse(orm), { stationAE: {} });
  const second = `ORC|NW|PL2|FI2||||^^^20260312100000\r${obr({ 2: 'PL2', 3: 'FI2', 4: 'MRHEAD^MR Head^LOCAL', 18: 'ACC2', 24: 'MR' })}`;
  const uid = (o: ReturnType<typeof read>[number]) => o.steps[0]!.dataset['0020000D']?.Value?.[0];
  // The first order's ZDS went to the second order too: two exams, one study.
  const two = read(`${ORM}\rZDS|1.2.3.4^RIS^Application^DICOM\r${second}`);
  assert.deepEqual(two.map(uid), ['1.2.3.4', undefined]);
  assert.deepEqual(read(`${ORM}\r${second}\rZDS|1.2.3.5^RIS^Application^DICOM`).map(uid), [undefined, '1.2.3.5'], 'a ZDS at the end is the last order\'s');
  assert.equal(uid(read(`${ORM.split('\r').slice(0, 3).join('\r')}\rZDS|1.2.3.6^RIS^Application^DICOM\r${ORM.split('\r').slice(3).join('\r')}`)[0]!), '1.2.3.6', 'one order alone: the message\'s ZDS, wherever it stands');
  // A second OBR in one order: its procedure and accession were lost, answered AA.
  assert.throws(() => read(`${ORM}\r${obr({ 2: 'PL123b', 4: 'CTHEAD^CT Head^LOCAL', 18: 'ACC790', 24: 'CT' })}`), (e: unknown) => e instanceof Hl7Error && e.code === 100 && /several OBR segments/.test(e.message));
  assert.throws(() => read(`${ORM}\r${second.replaceAll('PL2', 'PL123')}`), (e: unknown) => e instanceof Hl7Error && e.code === 205 && /given as new \(NW\) twice/.test(e.message));
  // 23:30 at UTC is the server's local time of that instant (the day may change).
  const at = new Date(Date.UTC(2025, 0, 1, 23, 30, 0));
  const two2 = (n: number) => String(n).padStart(2, '0');
  assert.deepEqual(dateTime('20250101233000+0000', 'TQ1-7'), { date: `${at.getFullYear()}${two2(at.getMonth() + 1)}${two2(at.getDate())}`, time: `${two2(at.getHours())}${two2(at.getMinutes())}00` });
  const east = new Date(Date.UTC(2025, 5, 30, 22, 15, 0)); // 2025-07-01 03:45 at +0530
  assert.deepEqual(dateTime('202507010345+0530', 'OBR-27.4'), { date: `${east.getFullYear()}${two2(east.getMonth() + 1)}${two2(east.getDate())}`, time: `${two2(east.getHours())}${two2(east.getMinutes())}` }, 'in the precision given');
  assert.deepEqual(dateTime('20250101233000', 'TQ1-7'), { date: '20250101', time: '233000' }, 'without an offset: as written');
  assert.deepEqual(dateTime('19800102+0500', 'PID-7'), { date: '19800102', time: '' }, 'a date alone stays');
  // CX-4 as a universal ID without a namespace: that is the issuer.
  assert.equal(read(ORM.replace(/^PID.*$/m, 'PID|1||555^^^&2.16.840.1.1&ISO^MR||DOE^J'))[0]!.steps[0]!.dataset['00100021']?.Value?.[0], '2.16.840.1.1');
});
