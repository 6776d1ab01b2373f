// The DICOM JSON model (PS3.18 F.2) of an encoded dataset, for WADO-RS metadata. Every element
// is kept (private ones too, as their VR says or UN); binary values above a threshold, and
// Pixel Data always, become BulkDataURI references that remember where the bytes are, so the
// bulk data can be served later without parsing the file again.
import { PacsError } from '../core/errors.js';
import { decodeText } from './charset.js';
import { implicitVR } from './dictionary.js';
import { transferSyntaxInfo } from './transfer-syntax.js';
import { VR_BY_CODE } from './vr.js';

export type JsonValue = string | number | null | PersonNameJson | JsonDataset;
export interface PersonNameJson {
  Alphabetic?: string;
  Ideographic?: string;
  Phonetic?: string;
}
export interface JsonElement {
  vr: string;
  Value?: JsonValue[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type JsonDataset = Record<string, JsonElement>;

/** Where a bulk value lies in the dataset bytes (after inflation, for deflated syntaxes). */
export interface BulkRef {
  /** Tag path: "7FE00010", or "00540016/0/00181072" inside a sequence item. */
  path: string;
  vr: string;
  offset: number;
  /** -1: encapsulated (fragments up to the sequence delimiter). */
  length: number;
}

export interface DatasetJsonOptions {
  transferSyntaxUID: string;
  /** Binary values longer than this become bulk data references (default 1024). */
  bulkThreshold?: number;
  /** The URI put into BulkDataURI for a tag path. */
  bulkDataURI: (path: string) => string;
  /**
   * The data is only the start of the dataset: a top-level Pixel Data value that runs past it
   * (as a rule the last element) ends the parse instead of failing it.
   */
  partial?: boolean;
  /** With `partial`: any top-level binary value that runs past the data ends the parse (what follows it is left out). */
  stopAtAnyBinary?: boolean;
  /**
   * A standard element sent as UN is read as the VR PS3.6 gives it (its value is implicit VR
   * little endian, PS3.5 6.2.2): for requests and worklist files (decodeJsonDataset), where a
   * relay that did not know the element turned a worklist key into UN and a key that is no key
   * matched every entry. Metadata of stored files keeps their UN as written. Little endian only.
   */
  resolveUN?: boolean;
  /**
   * Most sequence items in the whole dataset (OUT_OF_RESOURCES past it): a 16 MB request of
   * empty items became 600,000 objects and 2 GB of heap before anything counted them.
   */
  maxItems?: number;
}

/** Thrown in partial mode when more than the head is needed (the caller reads the whole file). */
export class NeedMoreData extends Error {}

const UNDEFINED = 0xffffffff;
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const SINGLE_VALUE_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
const PIXEL_DATA = 0x7fe00010;
/** Pixel Data, Float and Double Float Pixel Data: the last elements a header parse needs to reach. */
const PIXEL_TAGS = new Set([PIXEL_DATA, 0x7fe00008, 0x7fe00009]);
const hex8 = (tag: number): string => tag.toString(16).toUpperCase().padStart(8, '0');

function fail(why: string): never {
  throw new PacsError('DICOM_PARSE', `dataset: ${why}`);
}

class JsonBuilder {
  readonly bulk: BulkRef[] = [];
  private itemsSeen = 0;
  private readonly explicit: boolean;
  private readonly le: boolean;
  private readonly threshold: number;
  private readonly partial: boolean;

  constructor(
    private readonly d: Buffer,
    private readonly opts: DatasetJsonOptions,
  ) {
    const ts = transferSyntaxInfo(opts.transferSyntaxUID);
    this.explicit = ts?.explicitVR ?? true;
    this.le = ts?.littleEndian ?? true;
    this.threshold = opts.bulkThreshold ?? 1024;
    this.partial = opts.partial ?? false;
  }

  private u16(p: number): number {
    return this.le ? this.d.readUInt16LE(p) : this.d.readUInt16BE(p);
  }
  private u32(p: number): number {
    return this.le ? this.d.readUInt32LE(p) : this.d.readUInt32BE(p);
  }
  private tagAt(p: number): number {
    return ((this.u16(p) << 16) | this.u16(p + 2)) >>> 0;
  }

  /**
   * Parses elements from `pos` to `end` (or to an item delimiter when `end` is undefined).
   * Returns the dataset and the position after it (after the delimiter, if any).
   */
  dataset(pos: number, end: number | undefined, charset: string | null, prefix: string, implicitUN: boolean): { ds: JsonDataset; pos: number } {
    const ds: JsonDataset = {};
    const limit = end ?? this.d.length;
    let cs = charset;
    // What implicit VR leaves open (US or SS, OB or OW) is read from earlier elements here.
    const ctx = { pixelRepresentation: 0, bitsAllocated: 16 };
    while (pos < limit) {
      if (pos + 12 > this.d.length && this.partial) throw new NeedMoreData();
      if (pos + 8 > this.d.length) {
        // Trailing zero padding after the last element (some writers leave it): the end.
        if (end === undefined) this.truncated(`item without a delimiter at offset ${pos}`);
        break;
      }
      const tag = this.tagAt(pos);
      if (tag === 0xfffee00d) return { ds, pos: pos + 8 };
      if (tag === 0 && this.d.subarray(pos, limit).every((b) => b === 0)) break;
      let vr: string;
      let len: number;
      let at: number;
      const implicit = !this.explicit || implicitUN;
      if (implicit) {
        vr = implicitVR(tag, ctx);
        len = this.u32(pos + 4);
        at = pos + 8;
      } else {
        const info = VR_BY_CODE.get(this.d.readUInt16BE(pos + 4)) ?? fail(`invalid VR at offset ${pos}`);
        vr = info.vr;
        len = info.long ? this.u32(pos + 8) : this.u16(pos + 6);
        at = pos + (info.long ? 12 : 8);
      }
      if (vr === 'UN' && !implicit && this.le && this.opts.resolveUN && len !== UNDEFINED) {
        const standard = implicitVR(tag, ctx);
        if (standard !== 'UN') {
          if (standard !== 'SQ') vr = standard;
          else {
            // Items that do not read as implicit VR (a relay that wrote them explicit) stay the UN they came as.
            let items: { values: JsonDataset[] } | null = null;
            try {
              items = this.items(at, at + len, cs, prefix + hex8(tag), true);
            } catch (e) {
              if (!(e instanceof PacsError && e.code === 'DICOM_PARSE')) throw e;
            }
            if (items) {
              ds[hex8(tag)] = { vr: 'SQ', ...(items.values.length ? { Value: items.values } : {}) };
              pos = at + len;
              continue;
            }
          }
        }
      }
      const key = hex8(tag);
      const path = prefix + key;
      if ((tag & 0xffff) === 0 || tag >>> 16 === 0x0002) {
        // Group lengths are retired and file meta does not belong to the dataset's model.
        pos = len === UNDEFINED ? this.skipUndefined(at, implicit) : at + len;
        continue;
      }
      if (len === UNDEFINED) {
        if (tag === PIXEL_DATA || (vr !== 'SQ' && vr !== 'UN')) {
          // Encapsulated Pixel Data: fragments, always bulk.
          this.bulk.push({ path, vr: 'OB', offset: at, length: -1 });
          ds[key] = { vr: 'OB', BulkDataURI: this.opts.bulkDataURI(path) };
          if (this.partial && prefix === '') return { ds, pos: limit }; // its fragments are not here
          pos = this.skipUndefined(at, true);
          continue;
        }
        // A sequence of undefined length; UN of undefined length is an implicit VR LE sequence.
        const items = this.items(at, undefined, cs, path, implicit || vr === 'UN');
        ds[key] = { vr: 'SQ', ...(items.values.length ? { Value: items.values } : {}) };
        pos = items.pos;
        continue;
      }
      if (at + len > this.d.length) {
        if (!this.partial) fail(`${key} runs past the end of the data`);
        // Only the pixels may be left unread: any other element cut off here (a private CSA
        // header, overlay data) has elements after it that the answer must hold.
        if (prefix !== '' || !BINARY_VRS.has(vr) || (!PIXEL_TAGS.has(tag) && !this.opts.stopAtAnyBinary)) throw new NeedMoreData();
        this.bulk.push({ path, vr, offset: at, length: len });
        ds[key] = { vr, BulkDataURI: this.opts.bulkDataURI(path) };
        return { ds, pos: limit };
      }
      if (vr === 'SQ') {
        const items = this.items(at, at + len, cs, path, implicit);
        ds[key] = { vr: 'SQ', ...(items.values.length ? { Value: items.values } : {}) };
      } else {
        const bytes = this.d.subarray(at, at + len);
        if ((tag === 0x00280100 || tag === 0x00280103) && len >= 2) ctx[tag === 0x00280100 ? 'bitsAllocated' : 'pixelRepresentation'] = this.u16(at);
        if (tag === 0x00080005) {
          // JSON text is UTF-8 whatever the dataset used (PS3.18 F.2): say so.
          cs = decodeText(bytes, null, 'CS');
          ds[key] = { vr: 'CS', Value: ['ISO_IR 192'] };
        } else ds[key] = this.element(vr, bytes, cs, path, at);
      }
      pos = at + len;
    }
    if (end === undefined) this.truncated('item without a delimiter');
    return { ds, pos: limit };
  }

  private items(pos: number, end: number | undefined, charset: string | null, path: string, implicit: boolean): { values: JsonDataset[]; pos: number } {
    const values: JsonDataset[] = [];
    const limit = end ?? this.d.length;
    while (pos + 8 <= limit) {
      const tag = this.tagAt(pos);
      const len = this.u32(pos + 4);
      pos += 8;
      if (tag === 0xfffee0dd) return { values, pos };
      if (tag !== 0xfffee000) fail(`expected an item in ${path} at offset ${pos - 8}`);
      if (++this.itemsSeen > (this.opts.maxItems ?? Infinity)) throw new PacsError('OUT_OF_RESOURCES', `dataset: more than ${this.opts.maxItems} sequence items`);
      const itemPrefix = `${path}/${values.length}/`;
      if (len === UNDEFINED) {
        const r = this.dataset(pos, undefined, charset, itemPrefix, implicit);
        values.push(r.ds);
        pos = r.pos;
      } else {
        values.push(this.dataset(pos, pos + len, charset, itemPrefix, implicit).ds);
        pos += len;
      }
    }
    if (end === undefined) this.truncated(`sequence ${path} has no delimiter`);
    return { values, pos: limit };
  }

  /** Position after an undefined-length value (items to the sequence delimiter). */
  private skipUndefined(pos: number, implicit: boolean): number {
    while (pos + 8 <= this.d.length) {
      const tag = this.tagAt(pos);
      const len = this.u32(pos + 4);
      pos += 8;
      if (tag === 0xfffee0dd) return pos;
      if (len !== UNDEFINED) pos += len;
      else pos = this.dataset(pos, undefined, null, '', implicit).pos;
    }
    return this.truncated('undefined-length value without a delimiter');
  }

  /** The data ended early: a parse error, or in partial mode a request for the whole file. */
  private truncated(why: string): never {
    if (this.partial) throw new NeedMoreData(why);
    return fail(why);
  }

  private element(vr: string, bytes: Buffer, charset: string | null, path: string, offset: number): JsonElement {
    if (BINARY_VRS.has(vr)) {
      if (bytes.length > this.threshold || path === hex8(PIXEL_DATA)) {
        this.bulk.push({ path, vr, offset, length: bytes.length });
        return { vr, BulkDataURI: this.opts.bulkDataURI(path) };
      }
      if (bytes.length === 0) return { vr };
      return { vr, InlineBinary: this.littleEndianBytes(vr, bytes).toString('base64') };
    }
    const values = this.values(vr, bytes, charset);
    return values.length ? { vr, Value: values } : { vr };
  }

  /** InlineBinary is little endian (PS3.18 F.2.7): swap words of a big endian dataset. */
  private littleEndianBytes(vr: string, bytes: Buffer): Buffer {
    return this.le ? bytes : littleEndianCopy(vr, bytes);
  }

  private values(vr: string, b: Buffer, charset: string | null): JsonValue[] {
    const le = this.le;
    const nums = (width: number, read: (p: number) => JsonValue | bigint): JsonValue[] => {
      const out: JsonValue[] = [];
      for (let p = 0; p + width <= b.length; p += width) {
        const v = read(p);
        out.push(typeof v === 'bigint' ? (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString()) : v);
      }
      return out;
    };
    switch (vr) {
      case 'US': return nums(2, (p) => (le ? b.readUInt16LE(p) : b.readUInt16BE(p)));
      case 'SS': return nums(2, (p) => (le ? b.readInt16LE(p) : b.readInt16BE(p)));
      case 'UL': return nums(4, (p) => (le ? b.readUInt32LE(p) : b.readUInt32BE(p)));
      case 'SL': return nums(4, (p) => (le ? b.readInt32LE(p) : b.readInt32BE(p)));
      case 'FL': return nums(4, (p) => shortestFloat32(le ? b.readFloatLE(p) : b.readFloatBE(p)));
      case 'FD': return nums(8, (p) => (le ? b.readDoubleLE(p) : b.readDoubleBE(p)));
      case 'UV': return nums(8, (p) => (le ? b.readBigUInt64LE(p) : b.readBigUInt64BE(p)));
      case 'SV': return nums(8, (p) => (le ? b.readBigInt64LE(p) : b.readBigInt64BE(p)));
      case 'AT': return nums(4, (p) => hex8(((this.u16At(b, p) << 16) | this.u16At(b, p + 2)) >>> 0));
    }
    return jsonValuesOfText(vr, decodeText(b, charset, vr));
  }

  private u16At(b: Buffer, p: number): number {
    return this.le ? b.readUInt16LE(p) : b.readUInt16BE(p);
  }
}

/** One value of a text element as DICOM JSON: null when empty, PN as its groups, IS/DS as numbers. */
function textValue(vr: string, raw: string): JsonValue {
  const v = raw.trim();
  if (v === '') return null;
  if (vr === 'PN') {
    const [a, i, p] = raw.split('=');
    // A group of nothing but component separators ("^^^^") is an empty name.
    const given = (g: string | undefined): g is string => g !== undefined && g.replace(/\^/g, '').trim() !== '';
    const pn: PersonNameJson = {};
    if (given(a)) pn.Alphabetic = a.trim();
    if (given(i)) pn.Ideographic = i.trim();
    if (given(p)) pn.Phonetic = p.trim();
    return Object.keys(pn).length ? pn : null;
  }
  if (vr === 'IS' || vr === 'DS') {
    const n = Number(v);
    // A malformed number stays text rather than being lost.
    return Number.isFinite(n) ? n : v;
  }
  return v;
}

/** The JSON values of a decoded text value (backslash-separated values; PN, IS, DS as PS3.18 F.2 says). */
export function jsonValuesOfText(vr: string, text: string): JsonValue[] {
  if (text === '') return [];
  if (SINGLE_VALUE_TEXT.has(vr)) return [text];
  const values = text.split('\\').map((v) => textValue(vr, v));
  return values.every((v) => v === null) ? [] : values;
}

/** The shortest decimal that reads back as the same 32-bit float (3.1, not 3.0999999046325684). */
function shortestFloat32(v: number): number {
  if (!Number.isFinite(v)) return v;
  for (let digits = 6; digits < 9; digits++) {
    const n = Number(v.toPrecision(digits));
    if (Math.fround(n) === v) return n;
  }
  return Number(v.toPrecision(9));
}

/**
 * The DICOM JSON object of a dataset and where its bulk values are. A deflated dataset is
 * inflated by the caller first (bounded, off the event loop: ./inflate.ts) and given here as the
 * Explicit VR Little Endian it is.
 */
export function datasetToJson(data: Buffer, opts: DatasetJsonOptions): { json: JsonDataset; bulk: BulkRef[] } {
  if (transferSyntaxInfo(opts.transferSyntaxUID)?.deflated) throw new Error('datasetToJson: inflate the deflated dataset first');
  const b = new JsonBuilder(data, opts);
  const { ds } = b.dataset(0, data.length, null, '', false);
  return { json: ds, bulk: b.bulk };
}


/**
 * A big endian binary value (OW, OF, OL, OD, OV) in little endian order, as DICOMweb sends binary
 * values (InlineBinary, PS3.18 F.2.7; bulk data as application/octet-stream, whose default is
 * Explicit VR Little Endian): a copy with its words swapped. OB and UN are bytes: as they are.
 */
export function littleEndianCopy(vr: string, bytes: Buffer): Buffer {
  if (vr === 'OB' || vr === 'UN') return bytes;
  const copy = Buffer.from(bytes);
  const width = vr === 'OW' ? 2 : vr === 'OF' || vr === 'OL' ? 4 : 8;
  if (copy.length % width !== 0) return copy;
  if (width === 2) copy.swap16();
  else if (width === 4) copy.swap32();
  else copy.swap64();
  return copy;
}
