// Re-encoding a dataset between the uncompressed transfer syntaxes (Implicit VR Little Endian,
// Explicit VR Little Endian, Explicit VR Big Endian), for a receiver that did not accept the
// one an instance is stored in. Values are copied (byte-swapped by VR across byte orders);
// sequences and items are written with undefined length, which every syntax allows and which
// spares computing lengths that change with the header sizes. For the same reason group lengths
// (gggg,0000) are left out: header sizes change them, and outside the File Meta they are retired
// and optional (PS3.5 7.2), as DCMTK leaves them out or recomputes them.
import { PacsError } from '../core/errors.js';
import { implicitVR } from './dictionary.js';
import { trailingPaddingAt } from './padding.js';
import { transferSyntaxInfo } from './transfer-syntax.js';
import { LONG_LENGTH_VRS, VR_BY_CODE } from './vr.js';

const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;

/** Bytes per swapped unit of a binary VR, for the byte order change. */
const SWAP: Record<string, number> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 };

export const UNCOMPRESSED = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);

interface Syntax {
  explicit: boolean;
  little: boolean;
}

function syntax(uid: string): Syntax {
  const ts = transferSyntaxInfo(uid);
  if (!ts || !UNCOMPRESSED.has(uid)) throw new PacsError('DICOM_PARSE', `cannot re-encode from or to ${uid}: only uncompressed syntaxes`);
  return { explicit: ts.explicitVR, little: ts.littleEndian };
}

export function canTranscode(from: string, to: string): boolean {
  return UNCOMPRESSED.has(from) && UNCOMPRESSED.has(to);
}

class Writer {
  private parts: Buffer[] = [];
  constructor(private readonly s: Syntax) {}
  u16(n: number): Buffer {
    const b = Buffer.alloc(2);
    if (this.s.little) b.writeUInt16LE(n);
    else b.writeUInt16BE(n);
    return b;
  }
  u32(n: number): Buffer {
    const b = Buffer.alloc(4);
    if (this.s.little) b.writeUInt32LE(n >>> 0);
    else b.writeUInt32BE(n >>> 0);
    return b;
  }
  tag(t: number): Buffer {
    return Buffer.concat([this.u16(t >>> 16), this.u16(t & 0xffff)]);
  }
  /** An element header; `length` UNDEFINED for sequences. */
  header(tag: number, vr: string, length: number): void {
    if (!this.s.explicit) {
      this.parts.push(this.tag(tag), this.u32(length));
      return;
    }
    const vrBytes = Buffer.from(vr, 'latin1');
    if (LONG_LENGTH_VRS.has(vr)) this.parts.push(this.tag(tag), vrBytes, Buffer.alloc(2), this.u32(length));
    else this.parts.push(this.tag(tag), vrBytes, this.u16(length));
  }
  marker(tag: number, length: number): void {
    this.parts.push(this.tag(tag), this.u32(length));
  }
  raw(b: Buffer): void {
    this.parts.push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Re-encodes a whole dataset (the bytes after the File Meta) from one uncompressed syntax to another. */
export function transcodeDataset(data: Buffer, fromUid: string, toUid: string): Buffer {
  if (fromUid === toUid) return data;
  const from = syntax(fromUid);
  const out = new Writer(syntax(toUid));
  const to = syntax(toUid);
  let pos = 0;
  const fail = (why: string): never => {
    throw new PacsError('DICOM_PARSE', `cannot re-encode: ${why} at offset ${pos}`);
  };
  const r16 = (o: number): number => (from.little ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const r32 = (o: number): number => (from.little ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const readTag = (o: number): number => ((r16(o) << 16) | r16(o + 2)) >>> 0;


  /** Copies elements until `end` (a defined length) or the given delimiter tag; `top`: of the dataset itself, not an item. */
  const elements = (end: number, until: number | null, implicitHere: boolean, top = false): void => {
    let pixelRepresentation = 0;
    let bitsAllocated = 16;
    while (pos < end) {
      // Zeros after the last element, as the reader allows them on ingest: the end, left out.
      if (top && trailingPaddingAt(data, pos)) {
        pos = end;
        return;
      }
      if (pos + 8 > data.length) fail('header cut short');
      const tag = readTag(pos);
      if (until !== null && tag === until) {
        pos += 8;
        return;
      }
      let vr: string;
      let len: number;
      if (implicitHere || !from.explicit) {
        len = r32(pos + 4);
        vr = len === UNDEFINED ? 'SQ' : implicitVR(tag, { pixelRepresentation, bitsAllocated });
        pos += 8;
      } else {
        const info = VR_BY_CODE.get(data.readUInt16BE(pos + 4));
        if (!info) fail(`invalid VR for (${tag.toString(16)})`);
        vr = info!.vr;
        if (info!.long) {
          len = r32(pos + 8);
          pos += 12;
        } else {
          len = r16(pos + 6);
          pos += 8;
        }
      }
      if (vr === 'SQ' || (len === UNDEFINED && vr === 'UN')) {
        // UN of undefined length holds an implicit VR LE sequence (PS3.5 6.2.2).
        const inner = vr === 'UN' || implicitHere || !from.explicit;
        out.header(tag, 'SQ', UNDEFINED);
        sequence(len === UNDEFINED ? -1 : pos + len, inner);
        continue;
      }
      if (len === UNDEFINED) fail(`undefined length on (${tag.toString(16)}) ${vr} in an uncompressed syntax`);
      if (pos + len > data.length) fail(`value of (${tag.toString(16)}) cut short`);
      let value = data.subarray(pos, pos + len);
      pos += len;
      if (tag === 0x00280103 && len >= 2) pixelRepresentation = from.little ? value.readUInt16LE(0) : value.readUInt16BE(0);
      if (tag === 0x00280100 && len >= 2) bitsAllocated = from.little ? value.readUInt16LE(0) : value.readUInt16BE(0);
      if (isGroupLength(tag)) continue;
      if (from.little !== to.little && SWAP[vr]) value = swapped(value, SWAP[vr]!);
      // A short-length VR cannot say more than 65535 bytes: such a value goes as UN.
      const outVr = to.explicit && !LONG_LENGTH_VRS.has(vr) && len > 0xffff ? 'UN' : vr;
      out.header(tag, outVr, len);
      out.raw(value);
    }
  };

  const sequence = (end: number, implicitItems: boolean): void => {
    while (end < 0 || pos < end) {
      if (pos + 8 > data.length) fail('sequence cut short');
      const tag = readTag(pos);
      const len = r32(pos + 4);
      pos += 8;
      if (tag === SEQ_END) break;
      if (tag !== ITEM) fail(`expected an item, found (${tag.toString(16)})`);
      out.marker(ITEM, UNDEFINED);
      if (len === UNDEFINED) elements(Number.MAX_SAFE_INTEGER, ITEM_END, implicitItems);
      else elements(pos + len, null, implicitItems);
      out.marker(ITEM_END, 0);
    }
    out.marker(SEQ_END, 0);
  };

  elements(data.length, null, false, true);
  return out.done();
}

/**
 * A group length (gggg,0000) that a re-encoding or decompression would make wrong; the File Meta's
 * (0002,0000) is never in a dataset here, but is not ours to drop if one is.
 */
export const isGroupLength = (tag: number): boolean => (tag & 0xffff) === 0 && tag >>> 16 !== 0x0002;

function swapped(v: Buffer, unit: number): Buffer {
  const b = Buffer.from(v);
  if (unit === 2) b.swap16();
  else if (unit === 4) b.swap32();
  else if (unit === 8) b.swap64();
  return b;
}
