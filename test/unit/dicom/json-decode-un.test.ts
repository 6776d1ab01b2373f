// A request's standard elements sent as UN (a relay that did not know them) are read by the VR
// PS3.6 gives them, sequences included (their value is implicit VR little endian, PS3.5 6.2.2):
// a worklist key that stayed UN was no key and matched every station's entries.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJsonDataset } from '../../../src/dicom/json-encode.js';
import { datasetToJson } from '../../../src/dicom/json.js';
import { encodeDataset } from '../../../src/dicom/writer.js';

const EXPLICIT = '1.2.840.10008.1.2.1';
const text = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');

function request(): Buffer {
  const inner = encodeDataset([{ tag: 0x00400001, vr: 'AE', value: text('CT_1') }, { tag: 0x00400002, vr: 'DA', value: text('20260101') }], { explicitVR: false, littleEndian: true });
  const item = Buffer.alloc(8);
  item.writeUInt16LE(0xfffe, 0);
  item.writeUInt16LE(0xe000, 2);
  item.writeUInt32LE(inner.length, 4);
  return encodeDataset(
    [
      { tag: 0x00100020, vr: 'UN', value: text('P1') },
      { tag: 0x00400100, vr: 'UN', value: Buffer.concat([item, inner]) },
      { tag: 0x00990010, vr: 'UN', value: text('X') },
    ],
    { explicitVR: true, littleEndian: true },
  );
}

test('decodeJsonDataset reads UN of standard elements, and of a sequence\'s items, by their VR', async () => {
  const { dataset } = await decodeJsonDataset(request(), EXPLICIT);
  assert.deepEqual(dataset['00100020'], { vr: 'LO', Value: ['P1'] });
  assert.deepEqual(dataset['00400100'], { vr: 'SQ', Value: [{ '00400001': { vr: 'AE', Value: ['CT_1'] }, '00400002': { vr: 'DA', Value: ['20260101'] } }] });
  assert.equal(dataset['00990010']?.vr, 'LO', 'a private creator is LO');
});

test('a file read for metadata keeps its UN as written', () => {
  const { json } = datasetToJson(request(), { transferSyntaxUID: EXPLICIT, bulkDataURI: () => '' });
  assert.equal(json['00100020']?.vr, 'UN');
  assert.equal(json['00400100']?.vr, 'UN');
});

test('a sequence sent as UN whose items are not implicit VR (a relay wrote them explicit) stays UN, the rest read', async () => {
  const inner = encodeDataset([{ tag: 0x00400001, vr: 'AE', value: text('CT_1') }], { explicitVR: true, littleEndian: true });
  const item = Buffer.alloc(8);
  item.writeUInt16LE(0xfffe, 0);
  item.writeUInt16LE(0xe000, 2);
  item.writeUInt32LE(inner.length, 4);
  const bytes = encodeDataset(
    [
      { tag: 0x00100020, vr: 'UN', value: text('P1') },
      { tag: 0x00400100, vr: 'UN', value: Buffer.concat([item, inner]) },
    ],
    { explicitVR: true, littleEndian: true },
  );
  const { dataset } = await decodeJsonDataset(bytes, EXPLICIT);
  assert.deepEqual(dataset['00100020'], { vr: 'LO', Value: ['P1'] });
  assert.equal(dataset['00400100']?.vr, 'UN');
});
