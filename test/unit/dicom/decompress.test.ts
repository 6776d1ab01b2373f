// The dataset side of decompression: every element but the pixel ones kept byte for byte,
// Photometric Interpretation following the decoder, Planar Configuration 0, the Extended
// Offset Table dropped, Lossy Image Compression kept, compressed icons refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { openCompressedDataset } from '../../../src/dicom/decompress.js';
import { encodeDataset, type DatasetElement } from '../../../src/dicom/writer.js';
import { convertDataset } from '../../../src/codecs/convert.js';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { readFile, topLevel } from '../../helpers/pixels.js';

const LE = { explicitVR: true, littleEndian: true };
const us = (n: number): Buffer => Buffer.from([n & 0xff, n >> 8]);
const text = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
const item = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0]), Buffer.from(Uint32Array.of(b.length).buffer), b]);
const encapsulated = (tag: number, frames: Buffer[]): Buffer =>
  Buffer.concat([Buffer.from(Uint16Array.of(tag >>> 16, tag & 0xffff).buffer), Buffer.from('OB\0\0'), Buffer.from([0xff, 0xff, 0xff, 0xff]), item(Buffer.alloc(0)), ...frames.map(item), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);

function dataset(extra: DatasetElement[] = []): Buffer {
  const eot = Buffer.alloc(16);
  eot.writeBigUInt64LE(0n, 0);
  eot.writeBigUInt64LE(12n, 8);
  const elements: DatasetElement[] = [
    { tag: 0x00080018, vr: 'UI', value: text('1.2.3') },
    { tag: 0x00280002, vr: 'US', value: us(3) },
    { tag: 0x00280004, vr: 'CS', value: text('YBR_FULL_422') },
    { tag: 0x00280006, vr: 'US', value: us(1) },
    { tag: 0x00280008, vr: 'IS', value: text('2') },
    { tag: 0x00280010, vr: 'US', value: us(1) },
    { tag: 0x00280011, vr: 'US', value: us(1) },
    { tag: 0x00280100, vr: 'US', value: us(8) },
    { tag: 0x00282110, vr: 'CS', value: text('01') },
    { tag: 0x00291010, vr: 'OB', value: Buffer.from('private bytes!') },
    { tag: 0x7fe00001, vr: 'OV', value: eot },
    { tag: 0x7fe00002, vr: 'OV', value: Buffer.alloc(16) },
    ...extra,
  ];
  return Buffer.concat([encodeDataset(elements, LE), encapsulated(0x7fe00010, [Buffer.from('AAAA'), Buffer.from('BBBB')])]);
}

test('taken apart: geometry, frames by the Extended Offset Table; rebuilt around native pixels', () => {
  const d = dataset();
  const ds = openCompressedDataset(d);
  assert.deepEqual(ds.image, { rows: 1, columns: 1, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometric: 'YBR_FULL_422' });
  assert.deepEqual(ds.frames.map(String), ['AAAA', 'BBBB']);
  const out = ds.rebuild([Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6])], 'RGB');
  const before = new Map([...topLevel(d)].map((e) => [e.tag, d.subarray(e.start, e.end)]));
  const after = new Map([...topLevel(out)].map((e) => [e.tag, out.subarray(e.start, e.end)]));
  assert.ok(!after.has(0x7fe00001) && !after.has(0x7fe00002), 'the Extended Offset Table and its lengths are gone');
  assert.equal(after.get(0x00280004)!.subarray(8).toString(), 'RGB ');
  assert.equal(after.get(0x00280006)!.readUInt16LE(8), 0, 'Planar Configuration 0');
  const px = after.get(0x7fe00010)!;
  assert.equal(px.toString('latin1', 4, 6), 'OB');
  assert.equal(px.readUInt32LE(8), 6);
  assert.deepEqual([...px.subarray(12)], [1, 2, 3, 4, 5, 6]);
  for (const [tag, bytes] of before) {
    if ([0x00280004, 0x00280006, 0x7fe00001, 0x7fe00002, 0x7fe00010].includes(tag)) continue;
    assert.ok(after.get(tag)?.equals(bytes), `(${tag.toString(16)}) kept byte for byte`);
  }
  assert.equal(after.get(0x00282110)!.subarray(8).toString(), '01', 'Lossy Image Compression stays 01');
});

test('odd native lengths are padded to even; an unchanged Photometric Interpretation is not rewritten', () => {
  const ds = openCompressedDataset(dataset());
  const out = ds.rebuild([Buffer.from([1, 2, 3]), Buffer.from([4, 5])], 'YBR_FULL_422');
  const px = [...topLevel(out)].find((e) => e.tag === 0x7fe00010)!;
  assert.equal(out.readUInt32LE(px.start + 8), 6);
  assert.equal(out[px.end - 1], 0);
});

test('an encapsulated value inside a sequence (a compressed icon) is refused, in items of either length', () => {
  const icon = encapsulated(0x7fe00010, [Buffer.from('icon')]);
  const undefinedItem = Buffer.concat([Buffer.from([0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]), icon, Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0])]);
  const sq = (items: Buffer): Buffer => Buffer.concat([Buffer.from([0x88, 0x00, 0x00, 0x02]), Buffer.from('SQ\0\0'), Buffer.from(Uint32Array.of(items.length).buffer), items]);
  const d = dataset();
  const at = d.indexOf(Buffer.from([0xe0, 0x7f, 0x01, 0x00]));
  for (const seq of [sq(undefinedItem), sq(item(icon))]) {
    const withIcon = Buffer.concat([d.subarray(0, at), seq, d.subarray(at)]);
    assert.throws(() => openCompressedDataset(withIcon), /undefined length: encapsulated data other than the top-level Pixel Data/);
  }
  // A native icon is fine.
  const native = Buffer.concat([Buffer.from([0xe0, 0x7f, 0x10, 0x00]), Buffer.from('OB\0\0'), Buffer.from(Uint32Array.of(4).buffer), Buffer.from('icon')]);
  assert.equal(openCompressedDataset(Buffer.concat([d.subarray(0, at), sq(item(native)), d.subarray(at)])).frames.length, 2);
});

const pool = new DecoderPool({ size: 1 });
after(() => pool.close());

test('a real JPEG: YBR_FULL_422 becomes RGB; every element but the pixel ones byte for byte', async () => {
  const { ts, dataset: d } = readFile(path.join(SAMPLES, 'pydicom__SC_rgb_jpeg_dcmtk.dcm'));
  const out = await convertDataset(d, ts, TS.ExplicitVRLittleEndian, pool);
  const before = [...topLevel(d)].filter((e) => e.tag >>> 16 !== 0x7fe0 && e.tag !== 0x00280004 && e.tag !== 0x00280006);
  const after = new Map([...topLevel(out)].map((e) => [e.tag, out.subarray(e.start, e.end)]));
  assert.equal(after.get(0x00280004)!.subarray(8).toString().trim(), 'RGB');
  for (const e of before) assert.ok(after.get(e.tag)?.equals(d.subarray(e.start, e.end)), `(${e.tag.toString(16)}) kept`);
});
