// Text and numbers out of raw element values. Text in SH/LO/ST/LT/UC/UT/PN follows the
// Specific Character Set (0008,0005), possibly multi-valued with ISO 2022 escapes; decoding is
// left to dicom-character-set, after a fast path for the common all-ASCII case.
import { isAscii } from 'node:buffer';
import { convertBytes } from 'dicom-character-set';
import { lookupTag } from './dictionary.js';
import type { ElementValue } from './element.js';
import { CHARSET_VRS, LEADING_SPACE_VRS, TEXT_VRS } from './vr.js';

const ESC = 0x1b;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * When ASCII bytes mean ASCII characters. Not under ISO 2022 (7-bit bytes after an escape are
 * JIS or KS X, hence the ESC test) nor under IR 13, whose G0 (JIS X 0201 Romaji) has ¥ at 0x5C.
 */
const asciiIsAscii = (bytes: Buffer, charset: string): boolean =>
  isAscii(bytes) && bytes.indexOf(ESC) < 0 && !/IR 13\b/.test(charset.split('\\')[0] ?? '');

/** For a Specific Character Set the library does not know: UTF-8 if it is valid, else Latin-1. */
const fallback = (bytes: Buffer): string => {
  try {
    return utf8.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
};

/** Removes padding: trailing spaces and NULs; leading spaces too, unless they are significant. */
const stripPadding = (text: string, vr: string): string => {
  const end = text.replace(/[\0 ]+$/, '');
  return LEADING_SPACE_VRS.has(vr) ? end : end.replace(/^ +/, '');
};

/**
 * Decodes a text value. `specificCharacterSet` is the raw (0008,0005) value (backslashes kept,
 * e.g. "\ISO 2022 IR 87"), null when absent. VRs outside the character set's reach (CS, UI, DA
 * ...) and undeclared non-ASCII bytes are read as Latin-1, as most viewers do.
 */
export const decodeText = (bytes: Buffer, specificCharacterSet: string | null, vr: string): string => {
  let text: string;
  const charset = specificCharacterSet?.trim() ? specificCharacterSet : null;
  if (charset === null || !CHARSET_VRS.has(vr) || asciiIsAscii(bytes, charset)) {
    text = bytes.toString('latin1');
  } else {
    try {
      text = convertBytes(charset, bytes, { vr });
    } catch {
      text = fallback(bytes);
    }
  }
  return stripPadding(text, vr);
};

/** The VR to interpret a value with: the dictionary's when the sender said UN. */
const effectiveVR = (el: ElementValue): string => (el.vr === 'UN' ? (lookupTag(el.tag)?.vr ?? 'UN') : el.vr);

/**
 * The text of a collected element, padding removed; null when absent, empty, or not text
 * (use elementNumber for US, UL, FL ...). Multiple values stay joined by backslashes.
 */
export const elementText = (el: ElementValue | undefined, charset: string | null): string | null => {
  if (!el || el.bytes.length === 0) return null;
  const vr = effectiveVR(el);
  if (!TEXT_VRS.has(vr)) return null;
  const text = decodeText(el.bytes, charset, vr);
  return text === '' ? null : text;
};

/**
 * The first value of a numeric element: US, SS, UL, SL, FL, FD, SV, UV in the dataset's byte
 * order, or IS / DS text. Null when absent, empty, unparseable or of another VR.
 */
export const elementNumber = (el: ElementValue | undefined, littleEndian: boolean): number | null => {
  if (!el) return null;
  const b = el.bytes;
  const le = littleEndian;
  switch (effectiveVR(el)) {
    case 'US':
      return b.length >= 2 ? (le ? b.readUInt16LE(0) : b.readUInt16BE(0)) : null;
    case 'SS':
      return b.length >= 2 ? (le ? b.readInt16LE(0) : b.readInt16BE(0)) : null;
    case 'UL':
      return b.length >= 4 ? (le ? b.readUInt32LE(0) : b.readUInt32BE(0)) : null;
    case 'SL':
      return b.length >= 4 ? (le ? b.readInt32LE(0) : b.readInt32BE(0)) : null;
    case 'FL':
      return b.length >= 4 ? (le ? b.readFloatLE(0) : b.readFloatBE(0)) : null;
    case 'FD':
      return b.length >= 8 ? (le ? b.readDoubleLE(0) : b.readDoubleBE(0)) : null;
    case 'SV':
      return b.length >= 8 ? Number(le ? b.readBigInt64LE(0) : b.readBigInt64BE(0)) : null;
    case 'UV':
      return b.length >= 8 ? Number(le ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0)) : null;
    case 'IS':
    case 'DS': {
      const first = b.toString('latin1').split('\\')[0]?.replace(/[\0 ]+/g, '') ?? '';
      if (first === '') return null;
      const n = Number(first);
      return Number.isFinite(n) ? n : null;
    }
    default:
      return null;
  }
};
