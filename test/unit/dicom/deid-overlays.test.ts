// Overlays after de-identification (review): the whole Overlay Plane module goes, in every
// overlay group, not only Overlay Data and Comments (the rest was left as an invalid module with
// its free-text label and description); an overlay drawn in the unused bits of native pixels is
// cleared, every pixel keeping its value (unsigned or signed).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TreeElement } from '../../../src/dicom/dataset-tree.js';
import { clearPixelOverlayBits, clearUnusedBits } from '../../../src/dicom/deid-pixels.js';
import { type DeidProfile, deidentifyElements } from '../../../src/dicom/deidentify.js';

const BASIC: DeidProfile = { retainModifiedDates: false, retainPatientCharacteristics: false, retainDeviceIdentity: false, cleanDescriptors: false, safePrivate: [] };
const us = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);

test('every element of overlay groups 6000-601E goes, the first and the last', () => {
  const overlay = (g: number): TreeElement[] => [
    { tag: (g << 16) | 0x0010, vr: 'US', value: us(512) }, // Overlay Rows
    { tag: (g << 16) | 0x0011, vr: 'US', value: us(512) }, // Overlay Columns
    { tag: (g << 16) | 0x0022, vr: 'LO', value: Buffer.from('Doe John 1970') }, // Overlay Description
    { tag: (g << 16) | 0x0040, vr: 'CS', value: Buffer.from('G ') }, // Overlay Type
    { tag: (g << 16) | 0x0050, vr: 'SS', value: Buffer.from([1, 0, 1, 0]) }, // Overlay Origin
    { tag: (g << 16) | 0x0100, vr: 'US', value: us(1) }, // Overlay Bits Allocated
    { tag: (g << 16) | 0x0102, vr: 'US', value: us(12) }, // Overlay Bit Position
    { tag: (g << 16) | 0x1500, vr: 'LO', value: Buffer.from('MRN 12345 ') }, // Overlay Label
  ];
  const input = [...overlay(0x6000), ...overlay(0x601e), { tag: 0x00280010, vr: 'US', value: us(512) }];
  const { elements } = deidentifyElements(input, { profile: BASIC, pseudonym: 'ANONX', shiftDays: 0, mapUid: (u) => u });
  assert.deepEqual(elements.filter((e) => e.tag >>> 16 >= 0x6000 && e.tag >>> 16 <= 0x60ff), []);
  assert.ok(elements.some((e) => e.tag === 0x00280010));
});

test('unused high bits are cleared; stored values unchanged, unsigned and signed', () => {
  // 12 bits stored in 16; bit 12 set by an overlay (Overlay Bit Position 12).
  const px = Buffer.alloc(6);
  px.writeUInt16LE(0x1000 | 0x0abc, 0);
  px.writeUInt16LE(0x0123, 2);
  px.writeUInt16LE(0x1fff, 4);
  const u = clearUnusedBits(px, { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false }, true)!;
  assert.deepEqual([u.readUInt16LE(0), u.readUInt16LE(2), u.readUInt16LE(4)], [0x0abc, 0x0123, 0x0fff]);
  assert.equal(px.readUInt16LE(0), 0x1abc, 'the stored bytes are not written over');
  // Signed: -1 (0xFFFF sign-extended) stays, -1 with an overlay bit cleared becomes 0xFFFF again.
  const s = Buffer.alloc(4);
  s.writeUInt16LE(0xffff, 0);
  s.writeUInt16LE(0x1800, 2); // 12-bit field 0x800 = -2048, high bits 0001 instead of 1111
  const signed = clearUnusedBits(s, { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: true }, true)!;
  assert.deepEqual([signed.readInt16LE(0), signed.readInt16LE(2)], [-1, -2048]);
  // Nothing to clear: null (the value is carried byte for byte).
  assert.equal(clearUnusedBits(Buffer.from([0xbc, 0x0a]), { bitsAllocated: 16, bitsStored: 12, highBit: 11, signed: false }, true), null);
  assert.equal(clearUnusedBits(px, { bitsAllocated: 16, bitsStored: 16, highBit: 15, signed: false }, true), null);
});

test('a dataset\'s native Pixel Data is cleared by its own Bits Allocated, Stored and High Bit (big endian too)', () => {
  const be = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff]);
  const elements: TreeElement[] = [
    { tag: 0x00280100, vr: 'US', value: be(16) },
    { tag: 0x00280101, vr: 'US', value: be(10) },
    { tag: 0x00280102, vr: 'US', value: be(9) },
    { tag: 0x00280103, vr: 'US', value: be(0) },
    { tag: 0x7fe00010, vr: 'OW', value: Buffer.from([0x84, 0x01]) }, // 0x8401: bit 15 set, field 0x001
  ];
  assert.equal(clearPixelOverlayBits(elements, false), true);
  assert.deepEqual([...elements[4]!.value], [0x00, 0x01]);
  const encapsulated: TreeElement[] = [...elements.slice(0, 4), { tag: 0x7fe00010, vr: 'OB', value: Buffer.from([0xff, 0xff]), encapsulated: true }];
  assert.equal(clearPixelOverlayBits(encapsulated, false), false, 'compressed pixels are not decoded');
});
