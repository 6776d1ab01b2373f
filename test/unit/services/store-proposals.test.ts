// The contexts proposed to a C-MOVE destination or a send's node: every (class, stored syntax)
// pair and each class in the uncompressed syntaxes; past the 128 an association holds, every
// instance is still covered (converted where its syntax allows) before syntaxes that spare a conversion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeProposals } from '../../../src/services/send.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import type { InstanceLocation } from '../../../src/index/types.js';

const inst = (sopClass: string, ts: string) => ({ SOPClassUID: sopClass, transferSyntaxUID: ts }) as InstanceLocation;
const MPEG2 = '1.2.840.10008.1.2.4.100';

test('few pairs: each stored syntax, and each class uncompressed', () => {
  const p = storeProposals([inst('1.2.3.1', TS.JPEG2000Lossless), inst('1.2.3.1', TS.ExplicitVRLittleEndian), inst('1.2.3.2', MPEG2)]);
  assert.deepEqual(p.map((c) => [c.abstractSyntax, c.transferSyntaxes[0]]), [
    ['1.2.3.1', TS.JPEG2000Lossless],
    ['1.2.3.1', TS.ExplicitVRLittleEndian],
    ['1.2.3.2', MPEG2],
    ['1.2.3.1', TS.ExplicitVRLittleEndian],
  ]);
});

test('past 128 pairs: every class uncompressed and every syntax that cannot be converted come first', () => {
  const instances: InstanceLocation[] = [];
  for (let c = 0; c < 70; c++) instances.push(inst(`1.2.3.${c}`, TS.JPEG2000Lossless), inst(`1.2.3.${c}`, TS.RLELossless));
  for (let c = 0; c < 5; c++) instances.push(inst(`1.2.4.${c}`, MPEG2));
  const p = storeProposals(instances);
  assert.equal(p.length, 128);
  for (let c = 0; c < 70; c++) assert.ok(p.some((x) => x.abstractSyntax === `1.2.3.${c}` && x.transferSyntaxes.includes(TS.ExplicitVRLittleEndian)), `class ${c} uncompressed`);
  for (let c = 0; c < 5; c++) assert.ok(p.some((x) => x.abstractSyntax === `1.2.4.${c}` && x.transferSyntaxes[0] === MPEG2), `video class ${c} as stored`);
});
