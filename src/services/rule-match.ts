// Matching a rule's `match` against an instance's attributes. A value is text (exact; * and ?
// wildcards; /regular expression/flags; a DICOM range "A-B", "A-", "-B" for dates and times),
// a number, a list (any of them), or { min, max } (numeric). Multi-valued attributes match
// when any of their values does; regular expressions see the whole text.
import type { Attributes } from './attributes.js';
import { normalizePersonName, personNamePatterns } from '../dicom/person-name.js';
import { wildcardMatcher } from '../index/query/matching.js';

export type MatchValue = string | number | Array<string | number> | { min?: number | undefined; max?: number | undefined };

const RANGE_VRS = new Set(['DA', 'TM', 'DT']);


function scalarMatches(expected: string | number, vr: string, text: string | null): boolean {
  if (typeof expected === 'number') {
    if (text === null) return false;
    return text.split('\\').some((v) => Number.parseFloat(v) === expected);
  }
  const regex = /^\/(.*)\/([a-z]*)$/s.exec(expected);
  if (regex && expected.length >= 2) return new RegExp(regex[1]!, regex[2]).test(text ?? '');
  if (/[*?]/.test(expected)) {
    const matches = wildcardMatcher(expected);
    return (text ?? '').split('\\').some(matches);
  }
  if (text === null) return expected === '';
  const values = text.split('\\').map((v) => v.trim());
  if (RANGE_VRS.has(vr) && expected.includes('-')) {
    const [lo = '', hi = ''] = expected.split('-').map((s) => s.trim().replace(/[.:]/g, ''));
    return values.some((v) => {
      const x = v.replace(/[.:]/g, '');
      return (lo === '' || x >= lo) && (hi === '' || x.slice(0, hi.length) <= hi);
    });
  }
  return values.includes(expected.trim());
}

/**
 * Person names are compared in their short form, as queries are (person-name.ts): a rule for
 * 'DOE^JOHN' matches a file holding 'DOE^JOHN^^^', and 'DOE^*' one holding 'DOE'.
 */
function personNameMatches(expected: string, text: string | null): boolean {
  if (/^\/(.*)\/([a-z]*)$/s.test(expected) && expected.length >= 2) return scalarMatches(expected, 'PN', text);
  const names = text === null ? null : text.split('\\').map((v) => normalizePersonName(v.trim())).join('\\');
  return personNamePatterns(expected.trim()).some((p) => scalarMatches(p, 'PN', names));
}

export function valueMatches(expected: MatchValue, vr: string, text: string | null): boolean {
  if (Array.isArray(expected)) return expected.some((e) => valueMatches(e, vr, text));
  if (vr === 'PN' && typeof expected === 'string' && expected.trim() !== '') return personNameMatches(expected, text);
  if (typeof expected === 'object') {
    if (text === null) return false;
    return text.split('\\').some((v) => {
      const n = Number.parseFloat(v);
      return Number.isFinite(n) && (expected.min === undefined || n >= expected.min) && (expected.max === undefined || n <= expected.max);
    });
  }
  return scalarMatches(expected, vr, text);
}

/** Whether every key of `match` matches. */
export function ruleMatches(match: Readonly<Record<string, MatchValue>>, attrs: Attributes): boolean {
  return Object.entries(match).every(([keyword, expected]) => valueMatches(expected, attrs.vr(keyword), attrs.get(keyword) ?? null));
}
