import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DatasetStreamReader } from '../../../src/dicom/reader.js';
import { Tag } from '../../../src/dicom/tags.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import {
  encodeDataset,
  encodeElement,
  encodeHeader,
  encodeSequenceItems,
  encodeText,
  encodeUL,
  encodeUS,
} from '../../../src/dicom/writer.js';

const ELE = { explicitVR: true, littleEndian: true };
const ILE = { explicitVR: false, littleEndian: true };
const EBE = { explicitVR: true, littleEndian: false };

describe('writer', () => {
  it('pads text to even length: space, or NUL for UI', () => {
    assert.deepEqual(encodeText('ABC', 'CS'), Buffer.from('ABC '));
    assert.deepEqual(encodeText('1.2.3', 'UI'), Buffer.from('1.2.3\0'));
    assert.deepEqual(encodeText('AB', 'LO'), Buffer.from('AB'));
    assert.deepEqual(encodeText('Jé', 'PN'), Buffer.from([0x4a, 0xe9]));
  });

  it('encodes US and UL in either byte order', () => {
    assert.deepEqual(encodeUS(0x0102), Buffer.from([0x02, 0x01]));
    assert.deepEqual(encodeUS([1, 2], false), Buffer.from([0, 1, 0, 2]));
    assert.deepEqual(encodeUL(0x01020304), Buffer.from([4, 3, 2, 1]));
    assert.deepEqual(encodeUL(0x01020304, false), Buffer.from([1, 2, 3, 4]));
  });

  it('writes explicit VR headers with 2- and 4-byte lengths', () => {
    assert.deepEqual(
      encodeElement(Tag.PatientID, 'LO', Buffer.from('AB'), ELE),
      Buffer.from([0x10, 0x00, 0x20, 0x00, 0x4c, 0x4f, 0x02, 0x00, 0x41, 0x42]),
    );
    assert.deepEqual(
      encodeElement(Tag.PixelData, 'OW', Buffer.from([1, 2]), ELE),
      Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0, 0x02, 0, 0, 0, 1, 2]),
    );
    assert.deepEqual(
      encodeElement(Tag.PatientID, 'LO', Buffer.from('AB'), EBE),
      Buffer.from([0x00, 0x10, 0x00, 0x20, 0x4c, 0x4f, 0x00, 0x02, 0x41, 0x42]),
    );
  });

  it('writes implicit VR, item and delimiter headers without a VR', () => {
    assert.deepEqual(encodeElement(Tag.PatientID, 'LO', Buffer.from('AB'), ILE), Buffer.from([0x10, 0, 0x20, 0, 2, 0, 0, 0, 0x41, 0x42]));
    assert.deepEqual(encodeHeader(Tag.Item, '', 0xffffffff, ELE), Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]));
    assert.deepEqual(encodeHeader(Tag.SequenceDelimitationItem, '', 0, EBE), Buffer.from([0xff, 0xfe, 0xe0, 0xdd, 0, 0, 0, 0]));
  });

  it('pads odd values, and refuses bad VRs and oversize short values', () => {
    assert.equal(encodeElement(Tag.PatientID, 'LO', Buffer.from('A'), ELE).length, 10);
    assert.equal(encodeElement(0x00091010, 'OB', Buffer.from([1]), ELE).at(-1), 0);
    assert.throws(() => encodeElement(Tag.PatientID, 'ZZ', Buffer.alloc(2), ELE), /invalid VR/);
    assert.throws(() => encodeElement(Tag.PatientID, 'LO', Buffer.alloc(0x10000), ELE), /exceeds/);
  });

  it('writes datasets in ascending tag order, which the reader reads back', async () => {
    const opts = ELE;
    const seq = encodeSequenceItems([encodeDataset([{ tag: Tag.ReferencedSOPInstanceUID, vr: 'UI', value: encodeText('1.2', 'UI') }], opts)], opts);
    const ds = encodeDataset(
      [
        { tag: Tag.PatientName, vr: 'PN', value: encodeText('Doe^J', 'PN') },
        { tag: 0x00081140, vr: 'SQ', value: seq },
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText('1.2.3', 'UI') },
      ],
      opts,
    );
    assert.equal(ds.readUInt16LE(0), 0x0008);
    assert.equal(ds.readUInt16LE(2), 0x0018);
    const r = new DatasetStreamReader({ transferSyntaxUID: TS.ExplicitVRLittleEndian, collect: new Set([Tag.PatientName, Tag.SOPInstanceUID]) });
    r.push(ds);
    const s = await r.end();
    assert.equal(s.values.get(Tag.PatientName)?.bytes.toString(), 'Doe^J ');
    assert.equal(s.bytesRead, ds.length);
  });
});
