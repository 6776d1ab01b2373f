// The general acknowledgment as buildAck writes it: what it echoes from the message's MSH.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hl7Message } from '../../../src/hl7/message.js';
import { ackControlId, buildAck } from '../../../src/hl7/ack.js';

const message = (msh3: string, msh10: string): Hl7Message => Hl7Message.read(`MSH|^~\\&|${msh3}|HOSP|PACS|RAD|20260312||ADT^A08|${msh10}|P|2.5.1\rEVN|A08|20260312`);

// Whatever the message holds, the ACK holds no control character but its CR segment ends.
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const CONTROL = /[\u0000-\u000c\u000e-\u001f\u007f-\u009f\u2028\u2029]/;

test('MSH-10 echoed into MSA-2 loses its control characters and has its delimiters escaped; its escape sequences are kept, a lone escape character escaped', () => {
  const msg = message('RIS', 'C1\nZZZ^X&Y~Z\u000b\\F\\end\\');
  const text = buildAck(msg, 'AA', 'done', null, 'UNICODE UTF-8');
  assert.doesNotMatch(text, CONTROL);
  const ack = Hl7Message.parse(text);
  assert.deepEqual(ack.segments.map((s) => s.name), ['MSH', 'MSA'], 'no segment forged by an LF');
  assert.equal(ack.raw(ack.segment('MSA'), 2), 'C1ZZZ\\S\\X\\T\\Y\\R\\Z\\F\\end\\E\\');
  assert.equal(ack.get(ack.segment('MSA'), 2), 'C1ZZZ^X&Y~Z|end\\', 'one value, the control ID without its control characters');
  assert.equal(ack.raw(ack.segment('MSA'), 3), 'done', 'the next field is not taken into an open escape sequence');
});

test('MSH-3 to MSH-6 addressed back keep their components, lose control characters, repetitions and open escapes', () => {
  const msg = message('RIS^1.2.3^ISO~OTHER\u000b\u2028\\', 'C1');
  const ack = Hl7Message.parse(buildAck(msg, 'AE', 'bad', { code: 101, text: 'bad', location: 'PID-3' }, 'UNICODE UTF-8'));
  const msh = ack.segment('MSH');
  assert.equal(ack.raw(msh, 5), 'RIS^1.2.3^ISO\\R\\OTHER\\E\\');
  assert.deepEqual(ack.components(msh, 5), ['RIS', '1.2.3', 'ISO~OTHER\\']);
  assert.deepEqual([ack.raw(msh, 3), ack.raw(msh, 4), ack.raw(msh, 6)], ['PACS', 'RAD', 'HOSP']);
});

test('an echoed value is cut between characters and sequences: a long one, or one of control characters, stays within its length', () => {
  const big = `${'\n'.repeat(100)}${'C'.repeat(196)}\\X0D0A\\${'D'.repeat(1024 * 1024)}`;
  const ack = Hl7Message.parse(buildAck(message('RIS', big), 'AA', 'done', null, 'UNICODE UTF-8'));
  assert.equal(ack.raw(ack.segment('MSA'), 2), 'C'.repeat(196), 'the escape sequence would pass 199 characters: cut before it');
});

test('our MSH-10 is 16 characters, always (v2.5.1 allows 20), and differs from one ACK to the next across the counter wrapping', () => {
  const ids = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const ack = Hl7Message.read(buildAck(message('RIS', `C${i}`), 'AA', 'ok', null, 'UNICODE UTF-8'));
    const id = ack.get(ack.segment('MSH'), 10);
    assert.match(id, /^ACK[0-9A-Z]{13}$/);
    ids.add(id);
  }
  assert.equal(ids.size, 20_000);
  // Past 36^4 ACKs in one millisecond the counter wraps: the length stays; far in the future too.
  const now = Date.now();
  const first = ackControlId(now);
  for (let i = 1; i < 1_679_616; i++) ackControlId(now);
  assert.equal(ackControlId(now), first);
  assert.equal(ackControlId(36 ** 9 - 1).length, 16);
});
