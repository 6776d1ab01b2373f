// Which character set a message is read in, and bytes that are not valid in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEncoding, configuredCharset, declaredCharset, messageCharset } from '../../../src/hl7/charset.js';
import { Hl7Error } from '../../../src/hl7/message.js';

const msh18 = (value: string) => Buffer.from(`MSH|^~\\&|A|B|C|D|20260101||ADT^A08|1|P|2.5.1||||||${value}\rPID|1`, 'latin1');
const utf8 = configuredCharset('UTF-8');

test('MSH-18: its first repetition, upper case; empty falls back to hl7.charset; a set we cannot read is null', () => {
  assert.equal(declaredCharset(msh18('unicode utf-8')), 'UNICODE UTF-8');
  assert.equal(declaredCharset(msh18('8859/1~ISO IR87')), '8859/1', 'later repetitions are sets switched to by escapes');
  assert.equal(declaredCharset(msh18('')), '');
  assert.deepEqual(messageCharset('', configuredCharset('ISO-8859-1')), { encoding: 'latin1', name: '8859/1' });
  assert.deepEqual(messageCharset('8859/1', utf8), { encoding: 'latin1', name: '8859/1' });
  assert.equal(messageCharset('8859/2', utf8), null);
  assert.equal(messageCharset('TOSTRING', utf8), null);
});

test('bytes that are not UTF-8: AE 102 naming the first field that holds them', () => {
  const bad = (text: string, where: string | null) => {
    const bytes = Buffer.from(text, 'latin1');
    assert.throws(() => checkEncoding(bytes, utf8), (e: unknown) => e instanceof Hl7Error && e.ack === 'AE' && e.code === 102 && e.location === where, text);
  };
  bad('MSH|^~\\&|A|B\rPID|1||P1||M\xdcLLER^J\xd6RG', 'PID-5');
  bad('MSH|^~\\&|\xc4PP|B\rPID|1', 'MSH-3');
  bad('MSH|^~\\&|A|B\nPV1|1|O|R\xc4UM', 'PV1-3');
  checkEncoding(Buffer.from('MSH|^~\\&|A|B\rPID|1||P1||MÜLLER', 'utf8'), utf8);
  checkEncoding(Buffer.from('MSH|^~\\&|A|B\rPID|1||P1||M\xdcLLER', 'latin1'), configuredCharset('ISO-8859-1'));
});

test('MSH-18 is read from the MSH the parser reads: after blank lines, and however long the MSH is', () => {
  assert.equal(declaredCharset(Buffer.concat([Buffer.from('\r\n\r'), msh18('UNICODE UTF-8')])), 'UNICODE UTF-8');
  assert.equal(declaredCharset(Buffer.from(msh18('8859/1').toString('latin1').replace('|A|', `|${'A'.repeat(5000)}|`), 'latin1')), '8859/1');
  assert.equal(declaredCharset(Buffer.from(msh18('UNICODE UTF-8').toString('latin1').replace(/\r/g, '\n'), 'latin1')), 'UNICODE UTF-8', 'LF-only message');
});
