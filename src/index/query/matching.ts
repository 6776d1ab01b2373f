// Attribute matching of PS3.4 C.2.2.2, as data: a query key's value becomes a Matcher that each
// backend turns into its own SQL. Pure (no SQL, no I/O) so SQLite and PostgreSQL, C-FIND and
// QIDO-RS all read a value the same way, and a malformed one fails here, before any SQL runs.

import { foldName } from '../fold.js';
import { personNamePatterns } from '../../dicom/person-name.js';
import { QueryError } from './types.js';

/**
 * One alternative a stored value may satisfy. Values are as stored (DA normalised to
 * YYYYMMDD); range bounds are inclusive and, for TM and DT, padded to full precision
 * (see timeBounds) so that they compare as text against the stored value padded likewise.
 */
export type Term =
  | { kind: 'equal'; value: string }
  /** DICOM pattern ('*' any run, '?' one character); prefix = the literal text before the first wildcard. */
  | { kind: 'wildcard'; pattern: string; prefix: string }
  /** explicit: written as a range ('a-b', 'a-', '-b'), not a TM/DT single value read as one. */
  | { kind: 'range'; lower: string | null; upper: string | null; explicit: boolean };

/** Universal matching, or a match on any one of the terms (a list is an OR, PS3.4 C.2.2.2.8). */
export type Matcher = { kind: 'universal' } | { kind: 'match'; terms: readonly Term[] };

export const UNIVERSAL: Matcher = { kind: 'universal' };

/** VRs that take wildcards (PS3.4 C.2.2.2.4). */
const WILDCARD_VRS = new Set(['AE', 'CS', 'LO', 'LT', 'PN', 'SH', 'ST', 'UC', 'UR', 'UT']);
/** VRs of VM 1 whose text may contain a backslash: never split into a list. */
const UNSPLIT_VRS = new Set(['LT', 'ST', 'UT', 'UR']);
const INTEGER_VRS = new Set(['IS', 'US', 'SS', 'UL', 'SL', 'UV', 'SV']);
/** The values the integer VRs can hold (PS3.5 6.2; IS is a signed 32-bit value in text). */
const INTEGER_RANGE: Partial<Record<string, readonly [bigint, bigint]>> = {
  IS: [-(2n ** 31n), 2n ** 31n - 1n],
  US: [0n, 0xffffn],
  SS: [-0x8000n, 0x7fffn],
  UL: [0n, 0xffffffffn],
  SL: [-(2n ** 31n), 2n ** 31n - 1n],
  UV: [0n, 2n ** 64n - 1n],
  SV: [-(2n ** 63n), 2n ** 63n - 1n],
};
const DECIMAL_VRS = new Set(['DS', 'FL', 'FD']);

/** More alternatives than any real query sends: refused rather than turned into huge SQL. */
export const MAX_LIST_VALUES = 1000;
/** Longer than any value of a string VR (UC is the longest at 64 KiB, but nobody queries on it). */
export const MAX_VALUE_LENGTH = 1024;

export interface ParseOptions {
  /** Fold the value with foldName (PN matched on the *_fold columns). */
  fold?: boolean;
}

/**
 * Reads a key's value. '' (or only '*') is universal; a backslash separates alternatives
 * (except for LT, ST, UT, UR); '*' and '?' make a wildcard term for the VRs that allow them;
 * DA, TM, DT take ranges. Throws QueryError('BAD_VALUE', …, keyword) for what no VR allows.
 */
export function parseMatcher(keyword: string, vr: string, raw: string, options: ParseOptions = {}): Matcher {
  const value = raw.trim();
  if (value === '') return UNIVERSAL;
  const elements = (UNSPLIT_VRS.has(vr) ? [value] : value.split('\\'))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  if (elements.length === 0) return UNIVERSAL;
  if (elements.length > MAX_LIST_VALUES) {
    throw new QueryError('BAD_VALUE', `${keyword}: more than ${MAX_LIST_VALUES} values`, keyword);
  }
  const terms: Term[] = [];
  // A person name in its short form, as the index keeps it ('Doe^John^' is 'Doe^John'); a
  // pattern such as 'Doe^*' also as 'Doe' (person-name.ts).
  for (const element of vr === 'PN' ? elements.flatMap(personNamePatterns) : elements) {
    const term = parseTerm(keyword, vr, options.fold === true ? foldName(element) : element);
    // One universal alternative makes the whole list universal.
    if (term === null) return UNIVERSAL;
    terms.push(term);
  }
  return { kind: 'match', terms };
}

/** A term, or null for universal ('*', '**'…). */
function parseTerm(keyword: string, vr: string, element: string): Term | null {
  if (/^\*+$/.test(element)) return null;
  const bad = (why: string): QueryError => new QueryError('BAD_VALUE', `${keyword}: ${why}: '${element}'`, keyword);
  if (element.length > MAX_VALUE_LENGTH) throw bad('value too long');
  // No DICOM text holds a NUL, and PostgreSQL refuses one in a text parameter.
  if (element.includes('\0')) throw bad('a NUL character');
  if (vr === 'DA' || vr === 'TM' || vr === 'DT') return parseTemporal(vr, element, bad);
  if (element.includes('*') || element.includes('?')) {
    if (!WILDCARD_VRS.has(vr)) throw bad(`wildcards are not allowed for VR ${vr}`);
    return { kind: 'wildcard', pattern: element, prefix: literalPrefix(element) };
  }
  if (INTEGER_VRS.has(vr) && !/^[+-]?\d+$/.test(element)) throw bad(`not an integer (${vr})`);
  const range = INTEGER_RANGE[vr];
  // Beyond what the VR holds no value can match, and PostgreSQL would refuse the bound parameter
  // (a NumberOf… count of twenty digits was a 500 there). BigInt: UV and SV pass 2^53.
  if (range && !(BigInt(element) >= range[0] && BigInt(element) <= range[1])) throw bad(`out of range for ${vr} (${range[0]} to ${range[1]})`);
  if (DECIMAL_VRS.has(vr) && !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(element)) throw bad(`not a number (${vr})`);
  return { kind: 'equal', value: element };
}

function parseTemporal(vr: 'DA' | 'TM' | 'DT', element: string, bad: (why: string) => QueryError): Term {
  if (element.includes('*') || element.includes('?')) throw bad(`wildcards are not allowed for VR ${vr}`);
  const parts = splitRange(vr, element);
  if (parts === null) {
    if (vr === 'DA') {
      const date = normalizeDate(element);
      if (date === null) throw bad('not a date (YYYYMMDD)');
      return { kind: 'equal', value: date };
    }
    // A TM or DT single value names a span at its own precision: '1015' is 10:15:00-10:15:59.99….
    const bounds = vr === 'TM' ? timeBounds(element) : dateTimeBounds(element);
    if (bounds === null) throw bad(vr === 'TM' ? 'not a time (HHMMSS.FFFFFF)' : 'not a date-time');
    return { kind: 'range', lower: bounds.lower, upper: bounds.upper, explicit: false };
  }
  const [from, to] = parts;
  if (from === '' && to === '') throw bad('a range needs at least one bound');
  const read = (text: string): { lower: string; upper: string } | null => {
    if (vr === 'DA') {
      const d = normalizeDate(text);
      return d === null ? null : { lower: d, upper: d };
    }
    return vr === 'TM' ? timeBounds(text) : dateTimeBounds(text);
  };
  const lower = from === '' ? null : read(from);
  const upper = to === '' ? null : read(to);
  if ((from !== '' && lower === null) || (to !== '' && upper === null)) throw bad(`malformed ${vr} range`);
  // PS3.4 C.2.2.2.5: the first bound is not after the second. Not checked for TM here: as the
  // time half of a combined date-time range '1800-0800' is fine (see assertOrderedRanges).
  if (vr !== 'TM' && lower !== null && upper !== null && lower.lower > upper.lower) throw bad('range ends before it starts');
  return { kind: 'range', lower: lower?.lower ?? null, upper: upper?.upper ?? null, explicit: true };
}

/**
 * The two sides of a range, or null when the text is a single value. For DT the '-' of a
 * timezone offset (20240101120000-0500) is not the range separator: the split chosen is the
 * one that leaves two readable sides.
 */
function splitRange(vr: string, element: string): [string, string] | null {
  const positions: number[] = [];
  for (let i = element.indexOf('-'); i !== -1; i = element.indexOf('-', i + 1)) positions.push(i);
  if (positions.length === 0) return null;
  const candidates = positions.map((i) => [element.slice(0, i).trim(), element.slice(i + 1).trim()] as [string, string]);
  if (vr !== 'DT') return candidates.length === 1 ? (candidates[0] ?? null) : ['!', '!'];
  const fits = candidates.filter(([a, b]) => {
    const lower = a === '' ? null : dateTimeBounds(a);
    const upper = b === '' ? null : dateTimeBounds(b);
    if ((a !== '' && lower === null) || (b !== '' && upper === null)) return false;
    return lower === null || upper === null || lower.lower <= upper.lower;
  });
  if (fits.length === 0) return dateTimeBounds(element) !== null ? null : ['!', '!'];
  return fits[0] ?? null;
}

/** YYYYMMDD, also from the ACR-NEMA form YYYY.MM.DD (PS3.5 6.2 allows accepting it); else null. */
export function normalizeDate(text: string): string | null {
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(text);
  if (m === null) return null;
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1 || day > 31) return null;
  return `${m[1]}${m[2]}${m[3]}`;
}

/**
 * The first and last instants a TM names, as comparable text: '1015' → 101500 … 101559.999999,
 * '101530.5' → 101530.5 … 101530.599999. Stored times are compared after padding to six
 * digits (HHMMSS, fraction kept): see the backends' time expression. Colons (ACR-NEMA
 * HH:MM:SS) are accepted. Null when the text is not a time.
 */
export function timeBounds(text: string): { lower: string; upper: string } | null {
  const m = /^(\d{2})(?:(\d{2})(?:(\d{2})(?:\.(\d{1,6}))?)?)?$/.exec(text.replace(/:/g, ''));
  if (m === null) return null;
  const [, hh = '', mm, ss, fraction] = m;
  if (Number(hh) > 23 || Number(mm ?? 0) > 59 || Number(ss ?? 0) > 60) return null;
  const lower = `${hh}${mm ?? '00'}${ss ?? '00'}${fraction === undefined ? '' : `.${fraction}`}`;
  const upper = `${hh}${mm ?? '59'}${ss ?? '59'}.${(fraction ?? '').padEnd(6, '9')}`;
  return { lower, upper };
}

/**
 * Likewise for DT (YYYY[MM[DD[HH[MM[SS[.F]]]]]]): bounds padded to YYYYMMDDHHMMSS.FFFFFF.
 * A timezone offset is accepted and ignored: the index keeps no DT attribute yet.
 */
export function dateTimeBounds(text: string): { lower: string; upper: string } | null {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,6}))?(?:[+-]\d{4})?$/.exec(text);
  if (m === null) return null;
  const [, yyyy = '', mo, dd, hh, mi, ss, fraction] = m;
  if (fraction !== undefined && ss === undefined) return null;
  if (Number(mo ?? 1) < 1 || Number(mo ?? 1) > 12 || Number(dd ?? 1) < 1 || Number(dd ?? 1) > 31) return null;
  if (Number(hh ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(ss ?? 0) > 60) return null;
  const lower = `${yyyy}${mo ?? '01'}${dd ?? '01'}${hh ?? '00'}${mi ?? '00'}${ss ?? '00'}${fraction === undefined ? '' : `.${fraction}`}`;
  const upper = `${yyyy}${mo ?? '12'}${dd ?? '31'}${hh ?? '23'}${mi ?? '59'}${ss ?? '59'}.${(fraction ?? '').padEnd(6, '9')}`;
  return { lower, upper };
}

/**
 * A DICOM pattern ('*' any run, '?' one character) as a test of a whole value. Not a regular
 * expression: '.*' runs backtrack exponentially in V8, and a C-FIND key such as '*?*?*?*?*?*?*?#'
 * held the event loop (every association, every HTTP request) for seconds per value, more with
 * each pair. This is the two-pointer glob match, at most pattern × value steps. Characters are
 * code points, as SQLite's GLOB and PostgreSQL's LIKE count them.
 */
export function wildcardMatcher(pattern: string): (value: string) => boolean {
  // Runs of '*' are one '*'.
  const p = [...pattern.replace(/\*+/g, '*')];
  return (value: string): boolean => {
    const s = [...value];
    let i = 0;
    let j = 0;
    let star = -1;
    let resume = 0;
    while (i < s.length) {
      if (j < p.length && (p[j] === '?' || (p[j] !== '*' && p[j] === s[i]))) {
        i++;
        j++;
      } else if (j < p.length && p[j] === '*') {
        // Take no characters for the '*' first; on a mismatch, one more (resume).
        star = j++;
        resume = i;
      } else if (star >= 0) {
        j = star + 1;
        i = ++resume;
      } else return false;
    }
    while (j < p.length && p[j] === '*') j++;
    return j === p.length;
  };
}

/** Patterns compiled lately: a query runs the same one against every row it reads. */
const compiled = new Map<string, (value: string) => boolean>();

/**
 * Whether one value of a kept backslash-separated list (an attribute of VM > 1) equals `text`
 * or, when `wildcard`, matches it as a pattern (PS3.4 C.2.2.3: a multi-valued attribute
 * matches when any one of its values does). Each value is compared without its padding.
 */
export function anyValueMatches(stored: string, text: string, wildcard: boolean): boolean {
  let matches: ((value: string) => boolean) | undefined;
  if (wildcard) {
    matches = compiled.get(text);
    if (matches === undefined) {
      if (compiled.size >= 100) compiled.clear();
      matches = wildcardMatcher(text);
      compiled.set(text, matches);
    }
  }
  for (const raw of stored.split('\\')) {
    // Spaces only (PS3.5 padding), as PostgreSQL's btrim() takes them: a tab or a no-break
    // space in a malformed value made the two backends answer differently.
    const value = raw.replace(/^ +| +$/g, '');
    if (matches === undefined ? value === text : matches(value)) return true;
  }
  return false;
}

/** The text before the first '*' or '?'. */
export function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?]/);
  return i === -1 ? pattern : pattern.slice(0, i);
}

/**
 * The least string greater than every string starting with `prefix`, in code point order (the
 * order of UTF-8 bytes, so of SQLite's BINARY collation and PostgreSQL's "C"): lets a backend
 * answer a prefix wildcard with an index range, prefix <= v < successor. Null when there is
 * none ('' or only U+10FFFF).
 */
export function prefixSuccessor(prefix: string): string | null {
  // From the end, a code point at a time; no array of them spread into String.fromCodePoint,
  // which overflowed the stack for a prefix of a megabyte (an HL7 order number).
  let end = prefix.length;
  while (end > 0) {
    let start = end - 1;
    const unit = prefix.charCodeAt(start);
    if (unit >= 0xdc00 && unit <= 0xdfff && start > 0) {
      const high = prefix.charCodeAt(start - 1);
      if (high >= 0xd800 && high <= 0xdbff) start--;
    }
    const next = (prefix.codePointAt(start) ?? 0) + 1;
    if (next > 0x10ffff) {
      end = start;
      continue;
    }
    return prefix.slice(0, start) + String.fromCodePoint(next >= 0xd800 && next <= 0xdfff ? 0xe000 : next); // no lone surrogates
  }
  return null;
}

/** A single value with no wildcard, list or range: what a hierarchical unique key must be. */
export function isSingleValue(matcher: Matcher): boolean {
  return matcher.kind === 'match' && matcher.terms.length === 1 && matcher.terms[0]?.kind === 'equal';
}

/**
 * Refuses a range whose end comes before its start: for a TM key not combined with its date,
 * a range crossing midnight, which PS3.4 C.2.2.2.5 does not support.
 */
export function assertOrderedRanges(keyword: string, terms: readonly Term[]): void {
  for (const t of terms) {
    if (t.kind === 'range' && t.lower !== null && t.upper !== null && t.lower > t.upper) {
      throw new QueryError('BAD_VALUE', `${keyword}: range ends before it starts`, keyword);
    }
  }
}

/** A combined date-time range (PS3.4 C.2.2.2.5.1), bounds as DA + padded TM text. */
export interface DateTimeRange {
  lower: { date: string; time: string } | null;
  upper: { date: string; time: string } | null;
}

/**
 * When a date key and its time key both hold a range of the same form ('a-b' with 'c-d',
 * 'a-' with 'c-', '-b' with '-d'), they match as one range of instants: 20060705-20060707
 * with 1000-1800 means from July 5 10:00 to July 7 18:00, not 10:00-18:00 each day.
 * Null when they do not combine (then each matches on its own).
 */
export function combineDateTime(date: Matcher, time: Matcher): DateTimeRange | null {
  if (date.kind !== 'match' || time.kind !== 'match' || date.terms.length !== 1 || time.terms.length !== 1) return null;
  const d = date.terms[0];
  const t = time.terms[0];
  if (d?.kind !== 'range' || t?.kind !== 'range' || !d.explicit || !t.explicit) return null;
  if ((d.lower === null) !== (t.lower === null) || (d.upper === null) !== (t.upper === null)) return null;
  return {
    lower: d.lower !== null && t.lower !== null ? { date: d.lower, time: t.lower } : null,
    upper: d.upper !== null && t.upper !== null ? { date: d.upper, time: t.upper } : null,
  };
}
