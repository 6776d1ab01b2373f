// Encapsulated (compressed) datasets to native Explicit VR Little Endian, for a receiver that
// did not accept the stored syntax. Every element is copied as it is but Pixel Data, which is
// decoded frame by frame; RLE Lossless is decoded here (our own, PS3.5 Annex G). The other
// codecs (JPEG family, JPEG-LS, JPEG 2000) are not available yet.
import { PacsError } from '../core/errors.js';
import { VR_BY_CODE } from './vr.js';
import { decodeRleFrame, type FrameGeometry } from './rle.js';
import { transcodeDataset, UNCOMPRESSED } from './transcode.js';

export const RLE_LOSSLESS = '1.2.840.10008.1.2.5';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const UNDEFINED = 0xffffffff;

/** Transfer syntaxes we can turn into `to`: the same, re-encoded, or decompressed. */
export function canConvert(from: string, to: string): boolean {
  if (from === to) return true;
  if (!UNCOMPRESSED.has(to)) return false;
  return UNCOMPRESSED.has(from) || from === RLE_LOSSLESS;
}

/** The dataset re-expressed in `to` (an uncompressed syntax). */
export function convertDataset(data: Buffer, from: string, to: string): Buffer {
  if (from === to) return data;
  if (from === RLE_LOSSLESS) return transcodeDataset(decompressRle(data), EXPLICIT_LE, to);
  return transcodeDataset(data, from, to);
}

function fail(why: string): never {
  throw new PacsError('DICOM_PARSE', `cannot decompress: ${why}`);
}

/** Where the element starting at `pos` (explicit VR LE) ends, walking sequences. */
function skipElement(d: Buffer, pos: number, implicit: boolean): number {
  const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
  let len: number;
  let vr: string;
  let at: number;
  if (implicit || tag >>> 16 === 0xfffe) {
    len = d.readUInt32LE(pos + 4);
    vr = len === UNDEFINED ? 'SQ' : 'UN';
    at = pos + 8;
  } else {
    const info = VR_BY_CODE.get(d.readUInt16BE(pos + 4)) ?? fail(`invalid VR at offset ${pos}`);
    vr = info.vr;
    len = info.long ? d.readUInt32LE(pos + 8) : d.readUInt16LE(pos + 6);
    at = pos + (info.long ? 12 : 8);
  }
  if (len !== UNDEFINED) return at + len;
  // Undefined length: items up to the sequence delimiter (UN inside is implicit VR LE).
  const inner = implicit || vr === 'UN';
  let p = at;
  while (p + 8 <= d.length) {
    const t = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
    const l = d.readUInt32LE(p + 4);
    p += 8;
    if (t === 0xfffee0dd) return p;
    if (l !== UNDEFINED) p += l;
    else
      while (p + 8 <= d.length) {
        const it = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
        if (it === 0xfffee00d) {
          p += 8;
          break;
        }
        p = skipElement(d, p, inner);
      }
  }
  return fail(`sequence at offset ${pos} has no end`);
}

function decompressRle(d: Buffer): Buffer {
  const out: Buffer[] = [];
  const us = new Map<number, number>();
  let frames = 1;
  let pos = 0;
  while (pos + 8 <= d.length) {
    const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
    if (tag === 0x7fe00010) {
      const g: FrameGeometry = {
        rows: us.get(0x00280010) ?? fail('no Rows'),
        columns: us.get(0x00280011) ?? fail('no Columns'),
        samplesPerPixel: us.get(0x00280002) ?? 1,
        bitsAllocated: us.get(0x00280100) ?? fail('no Bits Allocated'),
      };
      const { pixels, end } = rleFrames(d, pos, g, frames);
      const header = Buffer.alloc(12);
      header.writeUInt16LE(0x7fe0, 0);
      header.writeUInt16LE(0x0010, 2);
      header.write(g.bitsAllocated > 8 ? 'OW' : 'OB', 4, 'latin1');
      const padded = pixels.length % 2 ? Buffer.concat([pixels, Buffer.alloc(1)]) : pixels;
      header.writeUInt32LE(padded.length, 8);
      out.push(header, padded);
      pos = end;
      continue;
    }
    const end = skipElement(d, pos, false);
    let element = d.subarray(pos, end);
    if (tag >>> 16 === 0x0028 && end - pos === 10) us.set(tag, d.readUInt16LE(pos + 8));
    if (tag === 0x00280008) frames = Number.parseInt(d.toString('latin1', pos + 8, end).trim(), 10) || 1;
    // Decoded samples are interleaved, whatever the encoder's planes were.
    if (tag === 0x00280006 && end - pos === 10) {
      element = Buffer.from(element);
      element.writeUInt16LE(0, 8);
    }
    out.push(element);
    pos = end;
  }
  return Buffer.concat(out);
}

/** Decodes the fragments of encapsulated Pixel Data: one fragment per frame for RLE (PS3.5 A.4.2). */
function rleFrames(d: Buffer, pos: number, g: FrameGeometry, frames: number): { pixels: Buffer; end: number } {
  if (d.readUInt32LE(pos + 8) !== UNDEFINED) fail('Pixel Data is not encapsulated');
  let p = pos + 12;
  const fragments: Buffer[] = [];
  let first = true;
  while (p + 8 <= d.length) {
    const tag = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
    const len = d.readUInt32LE(p + 4);
    p += 8;
    if (tag === 0xfffee0dd) break;
    if (tag !== 0xfffee000 || p + len > d.length) fail('malformed Pixel Data fragment');
    if (!first) fragments.push(d.subarray(p, p + len)); // the first item is the Basic Offset Table
    first = false;
    p += len;
  }
  if (fragments.length !== frames) fail(`${fragments.length} fragments for ${frames} frames`);
  return { pixels: Buffer.concat(fragments.map((f) => decodeRleFrame(f, g))), end: p };
}
