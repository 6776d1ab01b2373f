// Whether a value is one its VR allows (PS3.5 6.2): lengths, character repertoires, the forms of
// dates and times, the ranges of binary integers. For datasets made from what a person or a
// script typed (the REST API's worklist entries), before they are kept and answered to
// modalities as they are: "2026-03-12" in a DA or "abc" in a US (written as 0) would be.
import type { JsonDataset, JsonValue } from './json.js';
import { lookupTag } from './dictionary.js';

/** Longest value in characters (PS3.5 table 6.2-1), for the VRs that have one. */
const MAX_CHARS: Readonly<Record<string, number>> = { AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, LO: 64, LT: 10240, SH: 16, ST: 1024, TM: 14, UI: 64 };
/** Binary integers' ranges. */
const INTEGER_RANGE: Readonly<Record<string, readonly [bigint, bigint]>> = {
  US: [0n, 0xffffn],
  SS: [-0x8000n, 0x7fffn],
  UL: [0n, 0xffffffffn],
  SL: [-0x80000000n, 0x7fffffffn],
  UV: [0n, 0xffffffffffffffffn],
  SV: [-0x8000000000000000n, 0x7fffffffffffffffn],
  IS: [-0x80000000n, 0x7fffffffn],
};
/** Control characters: none but ESC (ISO 2022 escapes) in a short text; LT, ST, UT also allow TAB, LF, FF, CR. */
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const SHORT_TEXT_BAD = /[\x00-\x1a\x1c-\x1f\x7f\\]/;
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const LONG_TEXT_BAD = /[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]/;

const TIME = '(?:[01]\\d|2[0-3])(?:[0-5]\\d(?:(?:[0-5]\\d|60)(?:\\.\\d{1,6})?)?)?';
const FORMS: Readonly<Record<string, RegExp>> = {
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9 _]*$/,
  DA: /^\d{4}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])$/,
  TM: new RegExp(`^${TIME}$`),
  DT: new RegExp(`^\\d{4}(?:(?:0[1-9]|1[0-2])(?:(?:0[1-9]|[12]\\d|3[01])(?:${TIME})?)?)?(?:[+-](?:0\\d|1[0-4])[0-5]\\d)?$`),
  DS: /^ *[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? *$/,
  IS: /^ *[+-]?\d+ *$/,
  UI: /^[0-9]+(\.[0-9]+)*$/,
};
const FORM_NAMES: Readonly<Record<string, string>> = {
  AS: 'an age such as 045Y',
  CS: 'upper-case letters, digits, space and _',
  DA: 'a date YYYYMMDD',
  TM: 'a time HHMMSS.FFFFFF (HH, HHMM, HHMMSS …)',
  DT: 'a date-time YYYYMMDDHHMMSS.FFFFFF&ZZXX',
  DS: 'a decimal number',
  IS: 'an integer',
  UI: 'a UID (digits and dots)',
};

const realDate = (da: string): boolean => {
  const d = new Date(Date.UTC(Number(da.slice(0, 4)), Number(da.slice(4, 6)) - 1, Number(da.slice(6, 8))));
  return d.getUTCDate() === Number(da.slice(6, 8));
};

/** Why one value does not fit its VR, or null when it does (null values: empty, always fit). */
export function vrValueProblem(vr: string, value: JsonValue): string | null {
  if (value === null) return null;
  if (vr === 'PN') {
    if (typeof value !== 'object') return 'a person name is an object ({"Alphabetic": "FAMILY^GIVEN"})';
    for (const [group, text] of Object.entries(value)) {
      if (typeof text !== 'string') return `${group} must be text`;
      if ([...text].length > 64) return `${group} is longer than 64 characters`;
      if (SHORT_TEXT_BAD.test(text)) return `${group} holds a backslash or a control character`;
      if (text.split('^').length > 5) return `${group} has more than five components`;
    }
    return null;
  }
  if (vr in INTEGER_RANGE && vr !== 'IS') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? value.trim() : null;
    if (n === null || (typeof n === 'number' && !Number.isInteger(n))) return `not an integer (${vr})`;
    const [lo, hi] = INTEGER_RANGE[vr]!;
    return BigInt(n) >= lo && BigInt(n) <= hi ? null : `out of range for ${vr} (${lo} to ${hi})`;
  }
  if (vr === 'FL' || vr === 'FD') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && FORMS.DS!.test(value) ? Number(value) : NaN;
    return Number.isFinite(n) ? null : `not a number (${vr})`;
  }
  if (typeof value === 'object') return `expected text for VR ${vr}`;
  const text = String(value);
  // The form first: "2026-03-12" is a date written the wrong way more than a DA too long.
  const form = FORMS[vr];
  if (form && !form.test(vr === 'DA' || vr === 'TM' || vr === 'DT' ? text.trim() : text)) return `expected ${FORM_NAMES[vr]} (${vr})`;
  const max = MAX_CHARS[vr];
  if (max !== undefined && [...text].length > max) return `longer than ${max} characters (${vr})`;
  if ((vr === 'LT' || vr === 'ST' || vr === 'UT') ? LONG_TEXT_BAD.test(text) : SHORT_TEXT_BAD.test(text)) return `a backslash or a control character (${vr})`;
  if (vr === 'DA' && !realDate(text.trim())) return 'no such date (DA)';
  if (vr === 'IS') {
    const [lo, hi] = INTEGER_RANGE.IS!;
    if (BigInt(text.trim()) < lo || BigInt(text.trim()) > hi) return `out of range for IS (${lo} to ${hi})`;
  }
  return null;
}

export interface ValueProblem {
  /** Tag path: "00400002", or "00400100/0/00400002" inside a sequence item. */
  path: string;
  /** The keyword of the element (its tag when the dictionary has none). */
  keyword: string;
  problem: string;
}

/**
 * The first value of a DICOM JSON dataset (items of sequences included) that does not fit its
 * VR, or an element whose VR is not the dictionary's; null when every one fits.
 */
export function datasetValueProblem(ds: JsonDataset, prefix = ''): ValueProblem | null {
  for (const [tag, el] of Object.entries(ds)) {
    // Malformed elements are for the dataset's own checks to name; only values are judged here.
    if (!el || typeof el !== 'object' || typeof el.vr !== 'string' || (el.Value !== undefined && !Array.isArray(el.Value))) continue;
    const info = lookupTag(Number.parseInt(tag, 16));
    const keyword = info?.keyword || tag;
    const path = `${prefix}${tag}`;
    if (info && info.vrs.length && !info.vrs.includes(el.vr)) return { path, keyword, problem: `VR ${el.vr}, where the dictionary has ${info.vrs.join(' or ')}` };
    for (const [i, v] of (el.Value ?? []).entries()) {
      if (el.vr === 'SQ') {
        const inner = v && typeof v === 'object' ? datasetValueProblem(v as JsonDataset, `${path}/${i}/`) : { path, keyword, problem: 'a sequence item must be an object' };
        if (inner) return inner;
        continue;
      }
      const problem = vrValueProblem(el.vr, v);
      if (problem) return { path, keyword, problem: `${problem}: ${JSON.stringify(v).slice(0, 60)}` };
    }
  }
  return null;
}
