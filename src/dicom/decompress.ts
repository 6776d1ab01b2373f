// The dataset side of decompression: an encapsulated dataset (explicit VR LE, PS3.5 A.4) taken
// apart into its Image Pixel Module and compressed frames, and put together again around the
// decoded frames. Every element is kept byte for byte except those the decoding makes wrong:
// Pixel Data becomes native OB/OW, Photometric Interpretation follows the decoder (YBR → RGB
// where it converted colour), Planar Configuration becomes 0 (decoders interleave samples),
// the Extended Offset Table and its lengths go, since they describe fragments, and Lossy Image
// Compression becomes 01 when the compression was lossy (PS3.3 C.7.6.1.1.5: once lossy, always
// 01; the caller knows from the syntax and the codestream), added if absent; group lengths
// (gggg,0000) go, as the new Pixel Data and Photometric Interpretation change theirs (PS3.5 7.2:
// retired outside the File Meta). Lossy Image Compression's ratio and method, and everything else,
// stay as they are: decompressing never undoes a loss.
import { PacsError } from '../core/errors.js';
import { encapsulatedFrames } from './encapsulated.js';
import { trailingPaddingAt } from './padding.js';
import { isGroupLength } from './transcode.js';
import { VR_BY_CODE } from './vr.js';

const UNDEFINED = 0xffffffff;
const PIXEL_DATA = 0x7fe00010;
const EXTENDED_OFFSET_TABLE = 0x7fe00001;
const EXTENDED_OFFSET_TABLE_LENGTHS = 0x7fe00002;
const PHOTOMETRIC = 0x00280004;
const PLANAR_CONFIGURATION = 0x00280006;
const NUMBER_OF_FRAMES = 0x00280008;
const LOSSY_IMAGE_COMPRESSION = 0x00282110;

/** What a decoder must know of the image, from the Image Pixel Module. */
export interface PixelModule {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  photometric: string;
}

export interface CompressedDataset {
  /** Null when the dataset has no Pixel Data: it converts without decoding anything. */
  image: PixelModule | null;
  frames: Buffer[];
  /**
   * The dataset in Explicit VR Little Endian around the decoded frames (in the order of `frames`);
   * `lossy`: the frames went through a lossy compression (Lossy Image Compression is then 01).
   */
  rebuild(pixels: Buffer[], photometric: string, lossy?: boolean): Buffer;
}

function fail(why: string): never {
  throw new PacsError('DICOM_PARSE', `cannot decompress: ${why}`);
}

/**
 * Where the element starting at `pos` (explicit VR LE, or implicit inside UN sequences) ends,
 * walking sequences. Encapsulated values exist only at the top level: one found inside a
 * sequence (an icon image compressed too) cannot be made native here, so it is refused.
 */
function skipElement(d: Buffer, pos: number, implicit: boolean): number {
  const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
  let len: number;
  let vr: string;
  let at: number;
  if (implicit) {
    len = d.readUInt32LE(pos + 4);
    vr = len === UNDEFINED ? 'SQ' : 'UN';
    at = pos + 8;
  } else {
    const info = VR_BY_CODE.get(d.readUInt16BE(pos + 4)) ?? fail(`invalid VR at offset ${pos}`);
    vr = info.vr;
    len = info.long ? d.readUInt32LE(pos + 8) : d.readUInt16LE(pos + 6);
    at = pos + (info.long ? 12 : 8);
  }
  // UN of undefined length holds an implicit VR LE sequence (PS3.5 6.2.2).
  if (vr === 'SQ' || (vr === 'UN' && len === UNDEFINED)) return skipItems(d, at, len, implicit || vr === 'UN', pos);
  if (len === UNDEFINED) fail(`(${tag.toString(16).padStart(8, '0')}) ${vr} of undefined length: encapsulated data other than the top-level Pixel Data (an icon image?)`);
  if (at + len > d.length) fail(`value of (${tag.toString(16).padStart(8, '0')}) runs past the end`);
  return at + len;
}

/** The items of a sequence whose value starts at `at`, each element of each item walked. */
function skipItems(d: Buffer, at: number, len: number, implicit: boolean, pos: number): number {
  const end = len === UNDEFINED ? d.length : at + len;
  if (end > d.length) fail(`sequence at offset ${pos} runs past the end`);
  let p = at;
  while (p + 8 <= end) {
    const t = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
    const l = d.readUInt32LE(p + 4);
    p += 8;
    if (t === 0xfffee0dd) return p;
    if (t !== 0xfffee000) fail(`sequence at offset ${pos}: an item expected at ${p - 8}`);
    if (l === UNDEFINED) {
      for (;;) {
        if (p + 8 > d.length) fail(`item at offset ${p} has no end`);
        if ((((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0) === 0xfffee00d) {
          p += 8;
          break;
        }
        p = skipElement(d, p, implicit);
      }
    } else {
      const itemEnd = p + l;
      while (p < itemEnd) p = skipElement(d, p, implicit);
      if (p !== itemEnd) fail(`item at offset ${itemEnd - l - 8} overruns its length`);
    }
  }
  if (len !== UNDEFINED) return end;
  return fail(`sequence at offset ${pos} has no end`);
}

interface Replacement {
  start: number;
  end: number;
  with: (pixels: Buffer[], photometric: string, lossy: boolean) => Buffer | null;
}

/**
 * Takes an encapsulated dataset apart. `startsFrame` tells a frame's first fragment by its
 * codestream's start marker, for multi-frame objects with neither offset table.
 */
export function openCompressedDataset(d: Buffer, startsFrame?: (b: Buffer) => boolean): CompressedDataset {
  const us = new Map<number, number>();
  const replacements: Replacement[] = [];
  let photometric = '';
  let frameCount = 1;
  let extendedOffsets: number[] | undefined;
  let frames: Buffer[] = [];
  let image: PixelModule | null = null;
  let lossyFlagSeen = false;
  let pos = 0;
  while (pos < d.length) {
    // Zeros after the last element, as the reader allows them on ingest: the end, left out.
    if (trailingPaddingAt(d, pos)) {
      replacements.push({ start: pos, end: d.length, with: () => null });
      break;
    }
    if (pos + 8 > d.length) fail(`element header at offset ${pos} cut short`);
    const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
    if (!lossyFlagSeen && tag > LOSSY_IMAGE_COMPRESSION) {
      // No Lossy Image Compression: its place (elements in tag order), filled if the frames were lossy.
      lossyFlagSeen = true;
      replacements.push({ start: pos, end: pos, with: (_p, _ph, lossy) => (lossy ? csElement(LOSSY_IMAGE_COMPRESSION, '01') : null) });
    }
    if (tag === PIXEL_DATA) {
      if (d.readUInt32LE(pos + 8) !== UNDEFINED) fail('Pixel Data is not encapsulated');
      image = {
        rows: us.get(0x00280010) ?? fail('no Rows'),
        columns: us.get(0x00280011) ?? fail('no Columns'),
        samplesPerPixel: us.get(0x00280002) ?? 1,
        bitsAllocated: us.get(0x00280100) ?? fail('no Bits Allocated'),
        bitsStored: us.get(0x00280101) ?? us.get(0x00280100)!,
        pixelRepresentation: us.get(0x00280103) ?? 0,
        photometric,
      };
      const split = encapsulatedFrames(d, pos + 12, { frames: frameCount, extendedOffsets, startsFrame });
      frames = split.frames;
      const bitsAllocated = image.bitsAllocated;
      replacements.push({ start: pos, end: split.end, with: (pixels) => nativePixelData(pixels, bitsAllocated) });
      pos = split.end;
      continue;
    }
    const end = skipElement(d, pos, false);
    const valueAt = pos + 8;
    if (tag >>> 16 === 0x0028 && end - pos === 10) us.set(tag, d.readUInt16LE(valueAt));
    if (tag === NUMBER_OF_FRAMES) frameCount = Number.parseInt(d.toString('latin1', valueAt, end).trim(), 10) || 1;
    if (tag === PHOTOMETRIC) {
      photometric = d.toString('latin1', valueAt, end).replace(/[\0 ]+$/, '');
      const original = d.subarray(pos, end);
      replacements.push({ start: pos, end, with: (_p, ph) => (ph === photometric ? original : csElement(PHOTOMETRIC, ph)) });
    }
    if (tag === PLANAR_CONFIGURATION && end - pos === 10) {
      const zero = Buffer.from(d.subarray(pos, end));
      zero.writeUInt16LE(0, 8);
      replacements.push({ start: pos, end, with: () => zero });
    }
    if (tag === EXTENDED_OFFSET_TABLE) {
      const at = pos + 12;
      extendedOffsets = [];
      for (let o = at; o + 8 <= end; o += 8) extendedOffsets.push(Number(d.readBigUInt64LE(o)));
      replacements.push({ start: pos, end, with: () => null });
    }
    if (tag === EXTENDED_OFFSET_TABLE_LENGTHS || isGroupLength(tag)) replacements.push({ start: pos, end, with: () => null });
    if (tag === LOSSY_IMAGE_COMPRESSION) {
      lossyFlagSeen = true;
      const original = d.subarray(pos, end);
      const said = d.toString('latin1', valueAt, end).replace(/[\0 ]+$/, '');
      replacements.push({ start: pos, end, with: (_p, _ph, lossy) => (lossy && said !== '01' ? csElement(LOSSY_IMAGE_COMPRESSION, '01') : original) });
    }
    pos = end;
  }
  return {
    image,
    frames,
    rebuild(pixels, newPhotometric, lossy = false) {
      const parts: Buffer[] = [];
      let at = 0;
      for (const r of replacements) {
        parts.push(d.subarray(at, r.start));
        const b = r.with(pixels, newPhotometric, lossy);
        if (b) parts.push(b);
        at = r.end;
      }
      parts.push(d.subarray(at));
      return Buffer.concat(parts);
    },
  };
}

/** Native Pixel Data: OW above 8 bits allocated, else OB (PS3.5 A.2), padded to even length. */
function nativePixelData(pixels: Buffer[], bitsAllocated: number): Buffer {
  const length = pixels.reduce((n, p) => n + p.length, 0);
  const header = Buffer.alloc(12);
  header.writeUInt16LE(0x7fe0, 0);
  header.writeUInt16LE(0x0010, 2);
  header.write(bitsAllocated > 8 ? 'OW' : 'OB', 4, 'latin1');
  header.writeUInt32LE(length + (length % 2), 8);
  return Buffer.concat(length % 2 ? [header, ...pixels, Buffer.alloc(1)] : [header, ...pixels]);
}

/** An explicit VR LE CS element, space-padded to even length. */
function csElement(tag: number, value: string): Buffer {
  const v = value.length % 2 ? `${value} ` : value;
  const b = Buffer.alloc(8 + v.length);
  b.writeUInt16LE(tag >>> 16, 0);
  b.writeUInt16LE(tag & 0xffff, 2);
  b.write('CS', 4, 'latin1');
  b.writeUInt16LE(v.length, 6);
  b.write(v, 8, 'latin1');
  return b;
}
