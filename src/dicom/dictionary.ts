// The data dictionary of PS3.6, parsed lazily from the generated text on first use: most
// processes need only a handful of lookups, and parsing ~5,000 lines costs a few ms.
import { DICTIONARY_TEXT, REPEATERS_TEXT } from './dictionary.generated.js';

export interface TagInfo {
  /** The VR to use; for multi-VR entries ("OB|OW", "US|SS") the first one. */
  readonly vr: string;
  /** Every VR PS3.6 allows for this element (one entry unless the dictionary says "OB|OW"). */
  readonly vrs: readonly string[];
  readonly vm: string;
  readonly keyword: string;
  readonly retired: boolean;
}

/** A repeating-group entry such as 60xx,0010: tag & mask === value matches it. */
interface Repeater {
  readonly mask: number;
  readonly value: number;
  /** Whether the wildcard covers group digits: PS3.5 7.6 allows only even groups there. */
  readonly groupWildcard: boolean;
  readonly info: TagInfo;
}

interface Dictionary {
  readonly byTag: Map<number, TagInfo>;
  readonly byKeyword: Map<string, number>;
  readonly repeaters: Repeater[];
}

let dict: Dictionary | undefined;

const parseLine = (line: string): { tag: string; info: TagInfo } | undefined => {
  const parts = line.trim().split(' ');
  if (parts.length < 4) return undefined;
  const [tag, vrText, vm, keyword, flag] = parts as [string, string, string, string, string?];
  const vrs = vrText === 'NONE' ? [] : vrText.split('|');
  return { tag, info: { vr: vrs[0] ?? '', vrs, vm, keyword, retired: flag === 'R' } };
};

const load = (): Dictionary => {
  if (dict) return dict;
  const byTag = new Map<number, TagInfo>();
  const byKeyword = new Map<string, number>();
  for (const line of DICTIONARY_TEXT.split('\n')) {
    const e = parseLine(line);
    if (!e) continue;
    const tag = Number.parseInt(e.tag, 16) >>> 0;
    byTag.set(tag, e.info);
    byKeyword.set(e.info.keyword, tag);
  }
  const repeaters: Repeater[] = [];
  for (const line of REPEATERS_TEXT.split('\n')) {
    const e = parseLine(line);
    if (!e) continue;
    const hex = e.tag.toUpperCase();
    const mask = Number.parseInt(hex.replace(/[0-9A-F]/g, 'F').replace(/X/g, '0'), 16) >>> 0;
    const value = Number.parseInt(hex.replace(/X/g, '0'), 16) >>> 0;
    repeaters.push({ mask, value, groupWildcard: hex.slice(0, 4).includes('X'), info: e.info });
  }
  dict = { byTag, byKeyword, repeaters };
  return dict;
};

const GROUP_LENGTH: TagInfo = { vr: 'UL', vrs: ['UL'], vm: '1', keyword: 'GenericGroupLength', retired: true };
const PRIVATE_CREATOR: TagInfo = { vr: 'LO', vrs: ['LO'], vm: '1', keyword: 'PrivateCreator', retired: false };

/**
 * What PS3.6 says about a tag. Also answers for repeating groups (60xx,3000 → OverlayData),
 * group lengths (gggg,0000) and private creators (odd gggg,0010-00FF). Private data elements
 * and unknown tags → undefined.
 */
export const lookupTag = (tag: number): TagInfo | undefined => {
  const d = load();
  const exact = d.byTag.get(tag);
  if (exact) return exact;
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (group & 1) {
    return element >= 0x0010 && element <= 0x00ff ? PRIVATE_CREATOR : undefined;
  }
  if (element === 0) return GROUP_LENGTH;
  for (const r of d.repeaters) {
    if (((tag & r.mask) >>> 0) === r.value && !(r.groupWildcard && group & 1)) return r.info;
  }
  return undefined;
};

/** The tag of a PS3.6 keyword ("PatientID" → 0x00100020); case-sensitive, as keywords are. */
export const tagOfKeyword = (keyword: string): number | undefined => load().byKeyword.get(keyword);

/** The PS3.6 keyword that differs from `keyword` in case only ("PatientId" → "PatientID"), for a config message. */
export const keywordLike = (keyword: string): string | undefined => {
  const lower = keyword.toLowerCase();
  for (const k of load().byKeyword.keys()) if (k.toLowerCase() === lower) return k;
  return undefined;
};

const HEX_TAG = /^\(?([0-9a-f]{4})[,\s]?([0-9a-f]{4})\)?$/i;

/**
 * A tag from what a user or config file writes: "PatientID", "0010,0020", "(0010,0020)",
 * "00100020" (hex, any case). Undefined when it is none of these.
 */
export const parseTagSpec = (spec: string): number | undefined => {
  const s = spec.trim();
  const m = HEX_TAG.exec(s);
  if (m) {
    // "(0010,0020" or "0010,0020)" are typos, not tags.
    if (s.startsWith('(') !== s.endsWith(')')) return undefined;
    return ((Number.parseInt(m[1] ?? '', 16) << 16) | Number.parseInt(m[2] ?? '', 16)) >>> 0;
  }
  return tagOfKeyword(s);
};

const hex4 = (n: number): string => n.toString(16).toUpperCase().padStart(4, '0');

/** "(0010,0020)", the way PS3.6 and DCMTK print tags. */
export const formatTag = (tag: number): string => `(${hex4(tag >>> 16)},${hex4(tag & 0xffff)})`;

/** "PatientID (0010,0020)" for messages; just the tag when the dictionary does not know it. */
export const describeTag = (tag: number): string => {
  const info = lookupTag(tag);
  return info ? `${info.keyword} ${formatTag(tag)}` : formatTag(tag);
};

/**
 * Why a standard element cannot be taken under the VR it came with, or null when it can:
 * a key is matched and answered by its VR, so a date range sent as LO compared as text and a
 * Patient ID sent as US could not be answered. UN is a mismatch too; callers that read UN by
 * the dictionary skip it. Private and unknown tags have no VR to hold them to.
 */
export function vrMismatch(tag: number, vr: string): string | null {
  const entry = lookupTag(tag);
  if (!entry || !entry.vrs.length || entry.vrs.includes(vr)) return null;
  return `${entry.keyword} has VR ${vr}; PS3.6 gives it ${entry.vrs.join(' or ')}`;
}

/** What earlier elements of the same dataset say about the values an implicit VR leaves open. */
export interface ImplicitVRContext {
  /** Pixel Representation (0028,0103): 1 makes "US or SS" values SS. */
  pixelRepresentation: number;
  /** Bits Allocated (0028,0100): above 8, Pixel Data is OW, else OB. */
  bitsAllocated: number;
}

/**
 * The VR of an element read in implicit VR, one rule for every reader (PS3.5 A.1, 6.2.2):
 * Pixel Data by Bits Allocated; a value that may be OW among others (OB or OW, US or OW) is
 * OW; "US or SS" by Pixel Representation; private creators LO; anything else unknown UN.
 */
export function implicitVR(tag: number, ctx: ImplicitVRContext): string {
  if (tag === 0x7fe00010) return ctx.bitsAllocated > 8 ? 'OW' : 'OB';
  const info = lookupTag(tag);
  if (!info || info.vr === '') return 'UN';
  if (info.vrs.length > 1) {
    if (info.vrs.includes('OW')) return 'OW';
    if (info.vrs.includes('US') && info.vrs.includes('SS')) return ctx.pixelRepresentation === 1 ? 'SS' : 'US';
  }
  return info.vr;
}
