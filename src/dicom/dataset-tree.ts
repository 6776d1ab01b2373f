// A whole dataset as a tree of elements whose values are slices of the original bytes, and its
// encoding back, for rewriting steps (de-identification) that must keep everything they do
// not change exactly as stored: private elements, odd VRs, encapsulated Pixel Data (its
// fragments are copied as raw bytes). Sequences and items are written with undefined length,
// which every syntax allows, so no length above a changed value needs computing.
import { PacsError } from '../core/errors.js';
import { implicitVR } from './dictionary.js';
import { transferSyntaxInfo } from './transfer-syntax.js';
import { LONG_LENGTH_VRS, VR_BY_CODE } from './vr.js';

const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;

export interface TreeElement {
  tag: number;
  vr: string;
  /** The value (not for sequences); for encapsulated Pixel Data, the raw items and delimiter. */
  value: Buffer;
  /** Items of a sequence (SQ, or UN of undefined length, which holds implicit VR LE items). */
  items?: TreeElement[][];
  encapsulated?: boolean;
}

export interface Syntax {
  explicitVR: boolean;
  littleEndian: boolean;
}

export function syntaxOf(transferSyntaxUID: string): Syntax & { deflated: boolean } {
  const ts = transferSyntaxInfo(transferSyntaxUID);
  // PS3.5 10: an unknown (private) syntax is explicit VR LE.
  return { explicitVR: ts?.explicitVR ?? true, littleEndian: ts?.littleEndian ?? true, deflated: ts?.deflated ?? false };
}

/** Parses a whole dataset (the bytes after the File Meta, inflated if deflated). */
export function parseTree(data: Buffer, s: Syntax): TreeElement[] {
  return parser(data, s, false);
}

/**
 * The items of a sequence held in a UN value of defined length (a sequence sent as UN by a
 * sender that did not know it): implicit VR Little Endian whatever the file's syntax (PS3.5 6.2.2).
 */
export function parseUnItems(value: Buffer): TreeElement[][] {
  return parser(value, { explicitVR: false, littleEndian: true }, true);
}

function parser(data: Buffer, s: Syntax, items: false): TreeElement[];
function parser(data: Buffer, s: Syntax, items: true): TreeElement[][];
function parser(data: Buffer, s: Syntax, items: boolean): TreeElement[] | TreeElement[][] {
  let pos = 0;
  const fail = (why: string): never => {
    throw new PacsError('DICOM_PARSE', `dataset: ${why} at offset ${pos}`);
  };
  const r16 = (o: number): number => (s.littleEndian ? data.readUInt16LE(o) : data.readUInt16BE(o));
  const r32 = (o: number): number => (s.littleEndian ? data.readUInt32LE(o) : data.readUInt32BE(o));
  const readTag = (o: number): number => ((r16(o) << 16) | r16(o + 2)) >>> 0;

  const elements = (end: number, until: number | null, implicitHere: boolean): TreeElement[] => {
    const out: TreeElement[] = [];
    // What implicit VR leaves open is read from earlier elements of this dataset (PS3.5 A.1).
    const ctx = { pixelRepresentation: 0, bitsAllocated: 16 };
    while (pos < end) {
      // Trailing zero padding after the last element (seen in the wild) is not an element.
      if (until === null && data.readUInt32LE(pos) === 0 && data.subarray(pos, end).every((b) => b === 0)) break;
      if (pos + 8 > data.length) fail('element header cut short');
      const tag = readTag(pos);
      if (until !== null && tag === until) {
        pos += 8;
        return out;
      }
      let vr: string;
      let len: number;
      if (implicitHere || !s.explicitVR) {
        len = r32(pos + 4);
        vr = len === UNDEFINED && tag !== 0x7fe00010 ? 'SQ' : implicitVR(tag, ctx);
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
      if (len === UNDEFINED && tag === 0x7fe00010) {
        // Encapsulated Pixel Data: the raw item bytes up to and including the sequence delimiter.
        const start = pos;
        for (;;) {
          if (pos + 8 > data.length) fail('encapsulated Pixel Data cut short');
          const t = readTag(pos);
          const l = r32(pos + 4);
          pos += 8 + (t === SEQ_END ? 0 : l);
          if (t === SEQ_END) break;
        }
        out.push({ tag, vr: vr === 'OW' ? 'OW' : 'OB', value: data.subarray(start, pos), encapsulated: true });
        continue;
      }
      if (vr === 'SQ' || (len === UNDEFINED && vr === 'UN')) {
        const inner = vr === 'UN' || implicitHere || !s.explicitVR;
        out.push({ tag, vr: 'SQ', value: Buffer.alloc(0), items: sequence(len === UNDEFINED ? -1 : pos + len, inner) });
        continue;
      }
      if (len === UNDEFINED) fail(`undefined length on (${tag.toString(16)}) ${vr}`);
      if (pos + len > data.length) fail(`value of (${tag.toString(16)}) cut short`);
      const value = data.subarray(pos, pos + len);
      pos += len;
      if (tag === 0x00280100 && len >= 2) ctx.bitsAllocated = r16(pos - len);
      if (tag === 0x00280103 && len >= 2) ctx.pixelRepresentation = r16(pos - len);
      out.push({ tag, vr, value });
    }
    return out;
  };

  const sequence = (end: number, implicitItems: boolean): TreeElement[][] => {
    const items: TreeElement[][] = [];
    while (end < 0 || pos < end) {
      if (pos + 8 > data.length) fail('sequence cut short');
      const tag = readTag(pos);
      const len = r32(pos + 4);
      pos += 8;
      if (tag === SEQ_END) break;
      if (tag !== ITEM) fail(`expected an item, found (${tag.toString(16)})`);
      items.push(len === UNDEFINED ? elements(Number.MAX_SAFE_INTEGER, ITEM_END, implicitItems) : elements(pos + len, null, implicitItems));
    }
    return items;
  };

  return items ? sequence(data.length, true) : elements(data.length, null, false);
}

/** Values at least this long are kept apart by encodeTreeParts, not copied. */
export const KEPT_APART_BYTES = 64 * 1024;

/** Encodes a tree in the given syntax (values must already be in its byte order). */
export function encodeTree(elements: readonly TreeElement[], s: Syntax): Buffer {
  return Buffer.concat(encodeTreeParts(elements, s));
}

/**
 * Encodes a tree as a list of buffers to be written one after the other: each value of at least
 * KEPT_APART_BYTES (Pixel Data, a large private block) is the value itself — for a parsed file,
 * a slice of its bytes, not a copy, so a de-identified copy of a 1 GB image costs the 1 GB read
 * once rather than three times —, and everything between such values is packed into one buffer.
 */
export function encodeTreeParts(elements: readonly TreeElement[], s: Syntax): Buffer[] {
  const out: Buffer[] = [];
  let packed: Buffer[] = [];
  const put = (b: Buffer): void => {
    if (b.length < KEPT_APART_BYTES) {
      packed.push(b);
      return;
    }
    if (packed.length) out.push(Buffer.concat(packed));
    packed = [];
    out.push(b);
  };
  // Tag, then (explicit VR) the VR, then the length: one small buffer per element header.
  const head = (t: number, vr: string | null, length: number): void => {
    const long = vr !== null && LONG_LENGTH_VRS.has(vr);
    const b = Buffer.alloc(long ? 12 : 8);
    const w16 = (n: number, at: number): number => (s.littleEndian ? b.writeUInt16LE(n, at) : b.writeUInt16BE(n, at));
    const w32 = (n: number, at: number): number => (s.littleEndian ? b.writeUInt32LE(n >>> 0, at) : b.writeUInt32BE(n >>> 0, at));
    w16(t >>> 16, 0);
    w16(t & 0xffff, 2);
    if (vr === null) w32(length, 4);
    else {
      b.write(vr, 4, 'latin1');
      if (long) w32(length, 8);
      else w16(length, 6);
    }
    put(b);
  };
  // Items and delimiters are never explicit-VR (PS3.5 7.5).
  const header = (t: number, vr: string, length: number, implicit: boolean): void => head(t, implicit || !s.explicitVR ? null : vr, length);
  const write = (list: readonly TreeElement[], implicit: boolean): void => {
    for (const e of [...list].sort((a, b) => a.tag - b.tag)) {
      if (e.items) {
        header(e.tag, 'SQ', UNDEFINED, implicit);
        for (const item of e.items) {
          head(ITEM, null, UNDEFINED);
          write(item, implicit);
          head(ITEM_END, null, 0);
        }
        head(SEQ_END, null, 0);
        continue;
      }
      if (e.encapsulated) {
        header(e.tag, e.vr, UNDEFINED, implicit);
        put(e.value);
        continue;
      }
      // A short-length VR cannot carry more than 65535 bytes: such a value goes as UN.
      const vr = !LONG_LENGTH_VRS.has(e.vr) && e.value.length > 0xffff ? 'UN' : e.vr;
      header(e.tag, vr, e.value.length, implicit);
      put(e.value);
    }
  };
  write(elements, false);
  if (packed.length) out.push(Buffer.concat(packed));
  return out;
}
