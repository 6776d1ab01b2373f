// The 12-bit sequential DCT JPEG decoder (src/codecs/jpeg12.ts). Codestreams come from two
// places: a minimal encoder written here from T.81 (flat 8×8 blocks: DC only, so the decoded
// image is known exactly), which lets the tests use restart intervals, stuffed 0xFF bytes and
// truncation that DCMTK's encoder cannot be asked for; and DCMTK's dcmcjpeg (process 4, 12
// bits), decoded by dcmdjpeg for reference. The pydicom sample is in samples.test.ts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodeJpeg12 } from '../../../src/codecs/jpeg12.js';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { convertDataset } from '../../../src/codecs/convert.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { converted, hasTool, imageOf, maxDifference, readFile } from '../../helpers/pixels.js';
import { run } from '../../helpers/dcmtk.js';
import { writeSyntheticCT } from '../../../bench/synthetic.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-jpeg12-'));
const pool = new DecoderPool();
after(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Bits written MSB first, 0xFF followed by a stuffed 0x00 (T.81 F.1.2.3). */
class BitWriter {
  readonly bytes: number[] = [];
  private acc = 0;
  private n = 0;
  put(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((value >> i) & 1);
      if (++this.n === 8) this.flush();
    }
  }
  /** Pads the last byte with 1-bits (F.1.2.3), as before a marker. */
  align(): void {
    while (this.n) this.put(1, 1);
  }
  private flush(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
}

const segment = (marker: number, body: number[]): number[] => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];

/**
 * A 12-bit grey-scale codestream whose every block is flat: block values `dc[i]` (quantiser 8,
 * so a pixel is dc + 2048). DC categories 0–14 have 4-bit codes and 15 a 5-bit one (no all-ones
 * code); the AC table holds only EOB, code "0".
 */
function flatJpeg(rows: number, columns: number, dc: number[], opts: { restart?: number; sof?: number; components?: number; truncate?: number } = {}): Uint8Array {
  const dcCounts = Array(16).fill(0);
  dcCounts[3] = 15; // 15 codes of length 4: 0000 … 1110
  dcCounts[4] = 1; //  one of length 5: 11110
  const dcValues = Array.from({ length: 16 }, (_, i) => i);
  const acCounts = Array(16).fill(0);
  acCounts[0] = 1;
  const dcCode = (cat: number): [number, number] => (cat < 15 ? [cat, 4] : [0b11110, 5]);
  const comps = opts.components ?? 1;
  const out: number[] = [0xff, 0xd8];
  out.push(...segment(0xdb, [0x10, ...Array.from({ length: 64 }, () => [0, 8]).flat()])); // 16-bit table 0: all 8
  out.push(...segment(0xc4, [0x00, ...dcCounts, ...dcValues]));
  out.push(...segment(0xc4, [0x10, ...acCounts, 0x00]));
  if (opts.restart) out.push(...segment(0xdd, [opts.restart >> 8, opts.restart & 0xff]));
  const compSpecs = Array.from({ length: comps }, (_, i) => [i + 1, 0x11, 0]).flat();
  out.push(...segment(opts.sof ?? 0xc1, [12, rows >> 8, rows & 0xff, columns >> 8, columns & 0xff, comps, ...compSpecs]));
  out.push(...segment(0xda, [1, 1, 0x00, 0, 63, 0]));
  const w = new BitWriter();
  let pred = 0;
  let rst = 0;
  dc.forEach((value, i) => {
    if (opts.restart && i > 0 && i % opts.restart === 0) {
      w.align();
      w.bytes.push(0xff, 0xd0 + (rst++ % 8));
      pred = 0;
    }
    const diff = value - pred;
    pred = value;
    const cat = diff === 0 ? 0 : Math.floor(Math.log2(Math.abs(diff))) + 1;
    w.put(...dcCode(cat));
    if (cat) w.put(diff > 0 ? diff : diff + (1 << cat) - 1, cat);
    w.put(0, 1); // EOB
  });
  w.align();
  const data = opts.truncate ? w.bytes.slice(0, opts.truncate) : w.bytes;
  return Uint8Array.from([...out, ...data, 0xff, 0xd9]);
}

/** The image flatJpeg's blocks decode to. */
function expected(rows: number, columns: number, dc: number[]): number[] {
  const perLine = Math.ceil(columns / 8);
  return Array.from({ length: rows * columns }, (_, i) => dc[Math.floor(Math.floor(i / columns) / 8) * perLine + Math.floor((i % columns) / 8)]! + 2048);
}

// 21×13 pixels: 3×2 blocks, the last column and row of blocks cut by the image edge. The values
// span the 12-bit range (0 and 4095 decoded); their differences are of size classes 0, 2, 10,
// 11 and 12, both signs, and make 0xFF bytes that need stuffing.
const ROWS = 13;
const COLUMNS = 21;
const DC = [-2048, 2047, 2047, 1, -1, 1000];

test('flat blocks decode exactly: the whole 12-bit range, partial blocks at the edges, stuffed 0xFF bytes', () => {
  const jpeg = flatJpeg(ROWS, COLUMNS, DC);
  const image = decodeJpeg12(jpeg);
  assert.equal(image.rows, ROWS);
  assert.equal(image.columns, COLUMNS);
  assert.deepEqual([...image.samples], expected(ROWS, COLUMNS, DC));
  const entropy = jpeg.subarray(jpeg.length - 40);
  assert.ok(entropy.some((b, i) => b === 0xff && entropy[i + 1] === 0), 'the test data holds a stuffed 0xFF');
});

test('restart intervals: markers between intervals, the DC predictor reset at each', () => {
  for (const restart of [1, 2, 4]) {
    const image = decodeJpeg12(flatJpeg(ROWS, COLUMNS, DC, { restart }));
    assert.deepEqual([...image.samples], expected(ROWS, COLUMNS, DC), `restart interval ${restart}`);
  }
});

test('what it cannot decode is an error with the reason, never wrong pixels', () => {
  assert.throws(() => decodeJpeg12(flatJpeg(ROWS, COLUMNS, DC, { truncate: 3 })), /12-bit JPEG: the entropy-coded data ends before the last block/);
  assert.throws(() => decodeJpeg12(flatJpeg(ROWS, COLUMNS, DC, { sof: 0xc2 })), /SOF2 is not supported at 12 bits/);
  assert.throws(() => decodeJpeg12(flatJpeg(ROWS, COLUMNS, DC, { components: 3 })), /3 components: only grey-scale/);
  assert.throws(() => decodeJpeg12(flatJpeg(ROWS, COLUMNS, DC, { restart: 2 }).map((b, i, a) => (b === 0xff && a[i + 1]! >= 0xd0 && a[i + 1]! <= 0xd7 ? 0x00 : b))), /12-bit JPEG/);
  assert.throws(() => decodeJpeg12(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9])), /no frame or no scan/);
});

test('a 12-bit JPEG Extended image made by DCMTK decodes as dcmdjpeg decodes it', { skip: !hasTool('dcmcjpeg') && 'dcmcjpeg is not installed' }, async () => {
  // 70 × 101 (not a multiple of 8), values all over the 12-bit range.
  const [source] = writeSyntheticCT({ dir: path.join(dir, 'src'), count: 1, rows: 70, columns: 101, set: 12 });
  const jpeg = path.join(dir, 'ct-jpeg12.dcm');
  const r = await run('dcmcjpeg', ['+ee', '+q', '75', source!, jpeg]);
  assert.equal(r.code, 0, r.stderr);
  const { ts, dataset } = readFile(jpeg);
  assert.equal(ts, TS.JPEGExtended12Bit);
  const ours = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian);
  const theirs = await converted('dcmdjpeg', [], jpeg, path.join(dir, 'ref.dcm'));
  assert.equal(ours.pixels.length, theirs.pixels.length);
  const diff = maxDifference(ours, theirs);
  assert.ok(diff <= 2, `largest difference from dcmdjpeg ${diff}, at most 2 allowed (integer and float inverse DCTs round apart)`);
});
