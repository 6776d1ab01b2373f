// Encoding of elements and small datasets (PS3.5 7): File Meta, C-FIND identifiers, N-*
// payloads. Stored instances are never re-encoded here: they are kept byte for byte.
import { PacsError } from '../core/errors.js';
import { formatTag } from './dictionary.js';
import { LONG_LENGTH_VRS, TEXT_VRS, VR_BY_CODE } from './vr.js';

const ITEM = 0xfffee000;

export interface EncodeOptions {
  explicitVR: boolean;
  littleEndian: boolean;
}

export interface DatasetElement {
  tag: number;
  vr: string;
  value: Buffer;
}

/**
 * An element header alone: for values written separately (streamed Pixel Data) or of
 * undefined length (0xFFFFFFFF, then items and a delimiter follow).
 */
export const encodeHeader = (tag: number, vr: string, length: number, opts: EncodeOptions): Buffer => {
  const le = opts.littleEndian;
  const group = tag >>> 16;
  const element = tag & 0xffff;
  // Items and delimiters have no VR in any syntax; implicit VR elements neither.
  const long = !opts.explicitVR || group === 0xfffe || LONG_LENGTH_VRS.has(vr);
  if (!long && length > 0xffff) {
    throw new PacsError('DICOM_PARSE', `cannot encode ${formatTag(tag)}: ${vr} value of ${length} bytes exceeds 65534`);
  }
  if (opts.explicitVR && group !== 0xfffe && !VR_BY_CODE.has(((vr.charCodeAt(0) << 8) | vr.charCodeAt(1)) >>> 0)) {
    throw new PacsError('DICOM_PARSE', `cannot encode ${formatTag(tag)}: invalid VR "${vr}"`);
  }
  const explicit = opts.explicitVR && group !== 0xfffe;
  const h = Buffer.alloc(explicit && long ? 12 : 8);
  if (le) {
    h.writeUInt16LE(group, 0);
    h.writeUInt16LE(element, 2);
  } else {
    h.writeUInt16BE(group, 0);
    h.writeUInt16BE(element, 2);
  }
  if (explicit) h.write(vr, 4, 'latin1');
  if (!explicit) {
    if (le) h.writeUInt32LE(length, 4);
    else h.writeUInt32BE(length, 4);
  } else if (long) {
    if (le) h.writeUInt32LE(length, 8);
    else h.writeUInt32BE(length, 8);
  } else if (le) h.writeUInt16LE(length, 6);
  else h.writeUInt16BE(length, 6);
  return h;
};

/**
 * One element: header and value. The value must already be in the target byte order. An SQ
 * value is its encoded items (encodeSequenceItems), written with a defined length.
 */
export const encodeElement = (tag: number, vr: string, value: Buffer, opts: EncodeOptions): Buffer => {
  // PS3.5 7.1.1: values have even length. Pad rather than fail: text with a space, the rest
  // (UI, binary) with a NUL.
  const even =
    value.length % 2 === 0 ? value : Buffer.concat([value, Buffer.from([TEXT_VRS.has(vr) && vr !== 'UI' ? 0x20 : 0x00])]);
  return Buffer.concat([encodeHeader(tag, vr, even.length, opts), even]);
};

/**
 * Text as the bytes of a value: latin1 for now (ISO_IR 100 covers the default repertoire too),
 * padded to even length with a space, or with a NUL for UI (PS3.5 6.2).
 */
export const encodeText = (text: string, vr: string): Buffer => {
  const raw = Buffer.from(text, 'latin1');
  if (raw.length % 2 === 0) return raw;
  return Buffer.concat([raw, Buffer.from([vr === 'UI' ? 0x00 : 0x20])]);
};

/** US values (one or more), in the given byte order. */
export const encodeUS = (values: number | readonly number[], littleEndian = true): Buffer => {
  const list = typeof values === 'number' ? [values] : values;
  const b = Buffer.alloc(list.length * 2);
  list.forEach((v, i) => (littleEndian ? b.writeUInt16LE(v, i * 2) : b.writeUInt16BE(v, i * 2)));
  return b;
};

/** UL values (one or more), in the given byte order. */
export const encodeUL = (values: number | readonly number[], littleEndian = true): Buffer => {
  const list = typeof values === 'number' ? [values] : values;
  const b = Buffer.alloc(list.length * 4);
  list.forEach((v, i) => (littleEndian ? b.writeUInt32LE(v, i * 4) : b.writeUInt32BE(v, i * 4)));
  return b;
};

/** A dataset from its elements, written in ascending tag order as PS3.5 7.1 requires. */
export const encodeDataset = (elements: readonly DatasetElement[], opts: EncodeOptions): Buffer => {
  const sorted = [...elements].sort((a, b) => a.tag - b.tag);
  return Buffer.concat(sorted.map((e) => encodeElement(e.tag, e.vr, e.value, opts)));
};

/**
 * The value of a defined-length SQ: each item (an encoded dataset) wrapped in an Item header.
 * Pass the result to encodeElement with VR SQ.
 */
export const encodeSequenceItems = (items: readonly Buffer[], opts: EncodeOptions): Buffer =>
  Buffer.concat(items.map((item) => encodeElement(ITEM, '', item, opts)));
