// C-FIND matching (PS3.4 C.2.2.2) over whole datasets in the DICOM JSON model, for the
// worklist: entries are few (hundreds), kept as JSON, and matched here rather than in SQL,
// so sequence matching (C.2.2.2.6) and return keys inside sequences work at any depth.
// Values are read with the same parser as the index's C-FIND (index/query/matching.ts).
import { lookupTag } from '../dicom/dictionary.js';
import type { JsonDataset, JsonElement } from '../dicom/json.js';
import { jsonElementText } from '../dicom/json-encode.js';
import { foldName } from '../index/fold.js';
import { normalizePersonName } from '../dicom/person-name.js';
import { type Matcher, type Term, combineDateTime, dateTimeBounds, normalizeDate, parseMatcher, timeBounds, wildcardMatcher } from '../index/query/matching.js';

export interface MatchOptions {
  /** Person names matched ignoring case and accents (query.fuzzy_person_names). */
  fuzzyNames: boolean;
}

/** Date and time keys that match as one range when both hold ranges (PS3.4 C.2.2.2.5.1). */
const DATE_TIME_PAIRS: readonly (readonly [string, string])[] = [
  ['00080020', '00080030'], // Study Date / Time
  ['00400002', '00400003'], // Scheduled Procedure Step Start Date / Time
  ['00400244', '00400245'], // Performed Procedure Step Start Date / Time
];

/** Keys that are not matched nor returned as such: the character set, group lengths. */
const isMeta = (key: string): boolean => key === '00080005' || key.endsWith('0000');

/**
 * Private attributes are no keys of the Modality Worklist model (PS3.4 Table K.6-1): not matched
 * (a modality's private block in its query matched no entry, so its worklist came back empty),
 * only returned when an entry holds them (PS3.4 K.2.2.1.1.2: keys not supported for matching
 * are ignored for matching).
 */
const isPrivate = (key: string): boolean => (Number.parseInt(key.slice(0, 4), 16) & 1) === 1;

const keywordOf = (key: string): string => lookupTag(Number.parseInt(key, 16) >>> 0)?.keyword ?? key;

/** Padded comparable form of a stored value, as the range bounds are written. */
function comparable(vr: string, value: string): string | null {
  if (vr === 'DA') return normalizeDate(value);
  if (vr === 'TM') return timeBounds(value)?.lower ?? null;
  if (vr === 'DT') return dateTimeBounds(value)?.lower ?? null;
  return value;
}

/** A term ready to test values: a wildcard's pattern compiled once for every entry. */
type Test = (vr: string, value: string) => boolean;

function termTest(term: Term): Test {
  switch (term.kind) {
    case 'equal':
      return (vr, value) => (vr === 'DA' ? normalizeDate(value) : value) === term.value;
    case 'wildcard': {
      const matches = wildcardMatcher(term.pattern);
      return (_vr, value) => matches(value);
    }
    case 'range':
      return (vr, value) => {
        const v = comparable(vr, value);
        if (v === null) return false;
        return (term.lower === null || v >= term.lower) && (term.upper === null || v <= term.upper);
      };
  }
}

interface CompiledKey {
  key: string;
  vr: string;
  fold: boolean;
  /** Null: universal (any value, or none). */
  tests: Test[] | null;
}

/**
 * A C-FIND identifier read once: its values parsed (a value no VR allows throws QueryError
 * here, before any entry is read: the answer is 0xA900 whether or not there are entries) and
 * its patterns compiled, then tested against each entry.
 */
export interface CompiledQuery {
  dateTimes: { dateKey: string; timeKey: string; range: NonNullable<ReturnType<typeof combineDateTime>> }[];
  keys: CompiledKey[];
  /** Sequence keys with keys of their own: an item must match them (null item: a return key only). */
  sequences: { key: string; item: CompiledQuery }[];
}

export function compileQuery(query: JsonDataset, options: MatchOptions): CompiledQuery {
  const combined = new Set<string>();
  const dateTimes: CompiledQuery['dateTimes'] = [];
  for (const [dateKey, timeKey] of DATE_TIME_PAIRS) {
    const d = query[dateKey];
    const t = query[timeKey];
    if (!d || !t) continue;
    const range = combineDateTime(parseMatcher(keywordOf(dateKey), 'DA', jsonElementText(d)), parseMatcher(keywordOf(timeKey), 'TM', jsonElementText(t)));
    if (!range) continue;
    combined.add(dateKey).add(timeKey);
    dateTimes.push({ dateKey, timeKey, range });
  }
  const keys: CompiledKey[] = [];
  const sequences: CompiledQuery['sequences'] = [];
  for (const [key, el] of Object.entries(query)) {
    if (isMeta(key) || isPrivate(key) || combined.has(key)) continue;
    if (el.vr === 'SQ') {
      const item = (el.Value?.[0] ?? null) as JsonDataset | null;
      if (!item || Object.keys(item).length === 0 || !hasMatchingKeys(item)) continue; // universal: a return key
      sequences.push({ key, item: compileQuery(item, options) });
      continue;
    }
    const fold = el.vr === 'PN' && options.fuzzyNames;
    const matcher: Matcher = parseMatcher(keywordOf(key), el.vr, jsonElementText(el), { fold });
    keys.push({ key, vr: el.vr, fold, tests: matcher.kind === 'universal' ? null : matcher.terms.map(termTest) });
  }
  return { dateTimes, keys, sequences };
}

/** Whether a stored element satisfies a key: any of its values against any term. */
function valueMatches(k: CompiledKey, stored: JsonElement | undefined): boolean {
  if (k.tests === null) return true;
  const text = jsonElementText(stored);
  if (text === '') return false; // an attribute without a value matches only universal keys
  const values = ['LT', 'ST', 'UT', 'UR'].includes(k.vr) ? [text] : text.split('\\');
  return values.some((raw) => {
    const trimmed = k.vr === 'PN' ? normalizePersonName(raw.trim()) : raw.trim();
    const v = k.fold ? foldName(trimmed) : trimmed;
    return k.tests!.some((test) => test(k.vr, v));
  });
}

/** Whether `entry` matches every key of a compiled query. */
export function matchesCompiled(q: CompiledQuery, entry: JsonDataset): boolean {
  for (const { dateKey, timeKey, range } of q.dateTimes) {
    const date = normalizeDate(jsonElementText(entry[dateKey]));
    const time = timeBounds(jsonElementText(entry[timeKey]) || '000000')?.lower ?? null;
    if (date === null || time === null) return false;
    const at = `${date}${time}`;
    if (range.lower && at < `${range.lower.date}${range.lower.time}`) return false;
    if (range.upper && at > `${range.upper.date}${range.upper.time}`) return false;
  }
  for (const k of q.keys) if (!valueMatches(k, entry[k.key])) return false;
  for (const { key, item } of q.sequences) {
    const items = (entry[key]?.Value ?? []) as JsonDataset[];
    if (!items.some((i) => matchesCompiled(item, i))) return false;
  }
  return true;
}

/**
 * Whether `entry` matches every key of `query`. Throws QueryError for a value no VR allows
 * (the SCP answers 0xA900 naming it). For many entries, compileQuery once and matchesCompiled.
 */
export function matchDataset(query: JsonDataset, entry: JsonDataset, options: MatchOptions): boolean {
  return matchesCompiled(compileQuery(query, options), entry);
}

/** Whether a query (item) holds any key that is not universal. */
function hasMatchingKeys(query: JsonDataset): boolean {
  return Object.entries(query).some(([key, el]) => {
    if (isMeta(key) || isPrivate(key)) return false;
    if (el.vr === 'SQ') {
      const item = el.Value?.[0] as JsonDataset | undefined;
      return item !== undefined && hasMatchingKeys(item);
    }
    return jsonElementText(el).replace(/[*\\]/g, '').trim() !== '';
  });
}

/**
 * The answer to `query` from a matching entry: exactly the requested keys (PS3.4 C.2.2.1.2),
 * with the entry's values or zero length. A sequence key with an empty item (or none) returns
 * the entry's whole items; one with keys returns, of the items that match, the keys asked.
 */
export function projectDataset(query: JsonDataset, entry: JsonDataset, options: MatchOptions): JsonDataset {
  const out: JsonDataset = {};
  for (const [key, el] of Object.entries(query)) {
    if (isMeta(key)) continue;
    const stored = entry[key];
    if (el.vr === 'SQ') {
      const item = el.Value?.[0] as JsonDataset | undefined;
      const items = (stored?.Value ?? []) as JsonDataset[];
      if (!item || Object.keys(item).length === 0) {
        out[key] = items.length ? { vr: 'SQ', Value: items } : { vr: 'SQ' };
        continue;
      }
      const picked = items.filter((i) => matchDataset(item, i, options)).map((i) => projectDataset(item, i, options));
      out[key] = picked.length ? { vr: 'SQ', Value: picked } : { vr: 'SQ' };
      continue;
    }
    out[key] = stored && stored.vr !== 'SQ' ? stored : { vr: el.vr };
  }
  return out;
}
