// Pixels of DICOM files for codec tests: read Pixel Data and a few Image Pixel attributes,
// compare two decodings sample by sample, and wrap codestreams made by outside encoders into
// an encapsulated dataset.
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { encodeFileMetaInformation, parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';
import { DatasetStreamReader } from '../../src/dicom/reader.js';
import { transcodeDataset } from '../../src/dicom/transcode.js';

export const PIXEL_DATA = 0x7fe00010;
const ATTRS = [0x00280004, 0x00280006, 0x00280010, 0x00280011, 0x00280002, 0x00280100, 0x00280101, 0x00280103, 0x00282110, PIXEL_DATA];

export interface Image {
  ts: string;
  dataset: Buffer;
  photometric: string;
  planar: number;
  rows: number;
  columns: number;
  samples: number;
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  lossy: string;
  pixels: Buffer;
}

/** The parts of a dataset a pixel comparison needs. */
export async function imageOf(dataset: Buffer, ts: string): Promise<Image> {
  const reader = new DatasetStreamReader({ transferSyntaxUID: ts, collect: new Set(ATTRS), maxCollectLength: 1 << 30 });
  reader.push(dataset);
  const v = (await reader.end()).values;
  const us = (t: number): number => v.get(t)?.bytes.readUInt16LE(0) ?? 0;
  const str = (t: number): string => v.get(t)?.bytes.toString('latin1').replace(/[\0 ]+$/, '') ?? '';
  return {
    ts,
    dataset,
    photometric: str(0x00280004),
    planar: us(0x00280006),
    rows: us(0x00280010),
    columns: us(0x00280011),
    samples: us(0x00280002),
    bitsAllocated: us(0x00280100),
    bitsStored: us(0x00280101),
    signed: us(0x00280103) === 1,
    lossy: str(0x00282110),
    pixels: v.get(PIXEL_DATA)?.bytes ?? Buffer.alloc(0),
  };
}

export function readFile(file: string): { ts: string; dataset: Buffer } {
  const buf = fs.readFileSync(file);
  const p = parsePart10Prefix(buf, true)!;
  return { ts: p.transferSyntaxUID, dataset: buf.subarray(p.datasetOffset) };
}

export async function imageOfFile(file: string): Promise<Image> {
  const { ts, dataset } = readFile(file);
  return imageOf(dataset, ts);
}

/**
 * How far two decodings are apart, over the stored bits (values taken modulo 2^Bits Stored,
 * sign-extended if signed, so bits above them, which readers mask, do not count).
 */
export function difference(a: Image, b: Image): { max: number; mean: number } {
  if (a.pixels.length < b.pixels.length - 1 || a.pixels.length > b.pixels.length + 1) return { max: Infinity, mean: Infinity };
  const bytes = a.bitsAllocated / 8;
  const bits = a.bitsStored;
  const value = (px: Buffer, i: number): number => {
    const raw = (bytes === 2 ? px.readUInt16LE(2 * i) : px[i]!) % 2 ** bits;
    return a.signed && raw >= 2 ** (bits - 1) ? raw - 2 ** bits : raw;
  };
  const n = Math.floor(Math.min(a.pixels.length, b.pixels.length) / bytes);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(value(a.pixels, i) - value(b.pixels, i));
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / n };
}

export const maxDifference = (a: Image, b: Image): number => difference(a, b).max;

/** Runs a converter from DCMTK or GDCM and reads its output. */
export async function converted(cmd: string, args: string[], input: string, output: string): Promise<Image> {
  execFileSync(cmd, [...args, input, output], { stdio: 'pipe' });
  return imageOfFile(output);
}

export const hasTool = (cmd: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};

const LONG = new Set(['OB', 'OW', 'OF', 'SQ', 'UT', 'UN', 'UC', 'UR', 'OD', 'OL', 'OV', 'SV', 'UV']);

/** The top-level elements of an explicit VR LE dataset whose sequences are all of undefined length (as transcodeDataset writes them). */
export function* topLevel(d: Buffer): Generator<{ tag: number; start: number; end: number }> {
  let pos = 0;
  while (pos < d.length) {
    const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
    const long = LONG.has(d.toString('latin1', pos + 4, pos + 6));
    const len = long ? d.readUInt32LE(pos + 8) : d.readUInt16LE(pos + 6);
    const end = len === 0xffffffff ? skipUndefined(d, pos + 12) : pos + (long ? 12 : 8) + len;
    yield { tag, start: pos, end };
    pos = end;
  }
}

/** Past a sequence of undefined length: counts sequence delimiters against nested undefined-length values. */
function skipUndefined(d: Buffer, p: number): number {
  let depth = 1;
  while (p < d.length && depth > 0) {
    const t = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
    if (t === 0xfffee0dd) depth--;
    if (t === 0xfffee0dd || t === 0xfffee00d || t === 0xfffee000) {
      const l = d.readUInt32LE(p + 4);
      p += 8 + (t === 0xfffee000 && l !== 0xffffffff ? l : 0);
      continue;
    }
    const long = LONG.has(d.toString('latin1', p + 4, p + 6));
    const len = long ? d.readUInt32LE(p + 8) : d.readUInt16LE(p + 6);
    if (len === 0xffffffff) {
      depth++;
      p += 12;
    } else p += (long ? 12 : 8) + len;
  }
  return p;
}

/** The Sequence Delimitation Item that ends encapsulated Pixel Data (little endian). */
export const SEQUENCE_DELIMITER = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** An item of encapsulated Pixel Data (little endian) holding `b`, padded to even length. */
export function item(b: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0xe000fffe, 0);
  const padded = b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b;
  h.writeUInt32LE(padded.length, 4);
  return Buffer.concat([h, padded]);
}

/**
 * A Part 10 file made of `original` (uncompressed) with its Pixel Data replaced by encapsulated
 * fragments in `ts`: `fragments` lists each frame's fragments; `offsets` fills the Basic Offset
 * Table (empty by default); `replace` swaps whole top-level elements (say, the Photometric
 * Interpretation) for the given bytes.
 */
export async function encapsulate(original: string, fragments: Buffer[][], ts: string, out: string, options: { offsets?: boolean; replace?: Record<number, Buffer> } = {}): Promise<void> {
  const { ts: from, dataset } = readFile(original);
  const explicit = transcodeDataset(dataset, from, '1.2.840.10008.1.2.1');
  const parts: Buffer[] = [];
  for (const e of topLevel(explicit)) {
    if (e.tag !== PIXEL_DATA) {
      parts.push(options.replace?.[e.tag] ?? explicit.subarray(e.start, e.end));
      continue;
    }
    const items = fragments.map((frame) => frame.map(item));
    const offsets = Buffer.alloc(options.offsets ? 4 * fragments.length : 0);
    let at = 0;
    items.forEach((frame, i) => {
      if (options.offsets) offsets.writeUInt32LE(at, 4 * i);
      at += frame.reduce((n, b) => n + b.length, 0);
    });
    const header = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    parts.push(header, item(offsets), ...items.flat(), SEQUENCE_DELIMITER);
  }
  const h = await readPart10Header(original);
  const meta = encodeFileMetaInformation({
    mediaStorageSOPClassUID: h.sopClassUID ?? '',
    mediaStorageSOPInstanceUID: h.sopInstanceUID ?? '',
    transferSyntaxUID: ts,
    implementationClassUID: '1.2.826.0.1.3680043.10.1',
    implementationVersionName: 'PACS_TEST',
  });
  fs.writeFileSync(out, Buffer.concat([meta, ...parts]));
}

/** An explicit VR LE element of a short VR, for `encapsulate`'s `replace`. */
export function shortElement(tag: number, vr: string, value: Buffer): Buffer {
  const v = value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' ? [0] : [0x20])]) : value;
  const b = Buffer.alloc(8);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write(vr, 4, 'latin1');
  b.writeUInt16LE(v.length, 6);
  return Buffer.concat([b, v]);
}
