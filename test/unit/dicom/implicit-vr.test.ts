// One rule for the VR of implicit-VR elements, the same in every reader: "US or SS" values by
// the dataset's Pixel Representation (signed values were read as unsigned in DICOM JSON),
// Pixel Data by Bits Allocated, "OB or OW" as OW, private creators LO, unknown UN.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { implicitVR } from '../../../src/dicom/dictionary.js';
import { datasetToJson } from '../../../src/dicom/json.js';
import { encodeTree, parseTree } from '../../../src/dicom/dataset-tree.js';
import { transcodeDataset } from '../../../src/dicom/transcode.js';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** An implicit VR little endian element. */
const el = (group: number, element: number, value: Buffer): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
};
const us = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v & 0xffff, 0);
  return b;
};

/** Bits Allocated 16, Pixel Representation `pr`, Smallest/Largest Image Pixel Value −1024 / 3071. */
const dataset = (pr: number): Buffer =>
  Buffer.concat([
    el(0x0028, 0x0100, us(16)),
    el(0x0028, 0x0103, us(pr)),
    el(0x0028, 0x0106, us(-1024)),
    el(0x0028, 0x0107, us(3071)),
  ]);

describe('implicit VR', () => {
  it('decides what the dictionary leaves open', () => {
    const signed = { pixelRepresentation: 1, bitsAllocated: 16 };
    const unsigned = { pixelRepresentation: 0, bitsAllocated: 8 };
    assert.equal(implicitVR(0x00280106, signed), 'SS');
    assert.equal(implicitVR(0x00280106, unsigned), 'US');
    assert.equal(implicitVR(0x7fe00010, signed), 'OW');
    assert.equal(implicitVR(0x7fe00010, unsigned), 'OB');
    assert.equal(implicitVR(0x60003000, unsigned), 'OW'); // Overlay Data, OB or OW
    assert.equal(implicitVR(0x00283006, signed), 'OW'); // LUT Data, US or OW
    assert.equal(implicitVR(0x00090010, signed), 'LO'); // a private creator
    assert.equal(implicitVR(0x00091001, signed), 'UN');
    assert.equal(implicitVR(0x00100020, signed), 'LO');
  });

  it('DICOM JSON reads signed "US or SS" values as SS when Pixel Representation is 1', () => {
    const opts = { transferSyntaxUID: IMPLICIT_LE, bulkDataURI: (p: string) => p };
    const signed = datasetToJson(dataset(1), opts).json;
    assert.deepEqual(signed['00280106'], { vr: 'SS', Value: [-1024] });
    assert.deepEqual(signed['00280107'], { vr: 'SS', Value: [3071] });
    const unsigned = datasetToJson(dataset(0), opts).json;
    assert.deepEqual(unsigned['00280106'], { vr: 'US', Value: [64512] });
  });

  it('the dataset tree and the transcoder write SS into explicit VR', () => {
    const tree = parseTree(dataset(1), { explicitVR: false, littleEndian: true });
    assert.equal(tree.find((e) => e.tag === 0x00280106)?.vr, 'SS');
    for (const explicit of [encodeTree(tree, { explicitVR: true, littleEndian: true }), transcodeDataset(dataset(1), IMPLICIT_LE, EXPLICIT_LE)]) {
      const json = datasetToJson(explicit, { transferSyntaxUID: EXPLICIT_LE, bulkDataURI: (p) => p }).json;
      assert.deepEqual(json['00280106'], { vr: 'SS', Value: [-1024] });
    }
  });
});
