// From an IndexQuery to what a backend must do, decided once for every backend: whether the
// level exists in the model, the hierarchical rules (PS3.4 C.4.1.2.2.1, C.4.1.3.1), which keys
// match at all, how each value reads (./matching.ts), what each row returns and in what order.
// Pure: the SQL of each backend is a translation of a QueryPlan, nothing more.

import {
  DATE_TIME_PAIRS,
  type EntityTable,
  type IndexedAttribute,
  TABLES,
  TABLE_OF_LEVEL,
  attributesOf,
  indexedAttribute,
  onStudies,
} from './attributes.js';
import {
  type DateTimeRange,
  type Term,
  assertOrderedRanges,
  combineDateTime,
  isSingleValue,
  parseMatcher,
} from './matching.js';
import { type IndexQuery, type InformationModel, QueryError, type QueryKey, type QueryLevel } from './types.js';

/** Wildcard and range values one query may hold, all keys together (see planQuery). */
export const MAX_PATTERN_TERMS = 256;

/** A column of one of the query's tables. */
export interface ColumnRef {
  table: EntityTable;
  column: string;
}

/** A key that restricts the answer. */
export interface Condition {
  attribute: IndexedAttribute;
  /** Any one term suffices (never universal: universal keys are not conditions). */
  terms: readonly Term[];
  /** Compare on the folded name (attribute.foldColumn); the terms are folded already. */
  folded: boolean;
}

/**
 * Where a 'column' condition compares: the attribute's column or its folded twin, on the table
 * the plan reads it from (its own, or the studies' copy: attributes.ts, onStudies).
 */
export function matchedColumn(c: Condition): ColumnRef {
  const a = c.attribute;
  return { table: a.table, column: c.folded && a.foldColumn !== null ? a.foldColumn : a.column };
}

/**
 * The terms of a person-name condition that stand for the key's name followed by more component
 * groups: 'DOE^JOHN=*' beside 'DOE^JOHN' (../../dicom/person-name.ts, groupPatterns). Few
 * archives keep such names, and the OR of the two costs the exact name its plan (one equality
 * on the folded-name index walks the name's studies in date order, without a sort). So where
 * the column is indexed (the folded names) a backend looks once whether any kept name starts
 * with 'DOE^JOHN=' and, when none does, leaves the term out (withoutTerms): the same answer.
 */
export function groupExtensionTerms(c: Condition): Extract<Term, { kind: 'wildcard' }>[] {
  if (c.attribute.vr !== 'PN' || !c.folded) return [];
  const equal = new Set(c.terms.flatMap((t) => (t.kind === 'equal' ? [t.value] : [])));
  return c.terms.flatMap((t) =>
    t.kind === 'wildcard' && t.pattern === `${t.prefix}*` && t.prefix.endsWith('=') && equal.has(t.prefix.slice(0, -1)) ? [t] : [],
  );
}

/**
 * A look a backend makes before it runs a plan: whether `column` of `table` (indexed) holds a
 * value in [from, to), that is one starting with the term's prefix ('=' ends it, '>' follows '=').
 * When none does, `term` is left out (withoutTerms).
 */
export interface ExtensionProbe {
  term: Term;
  table: EntityTable;
  column: string;
  from: string;
  to: string;
}

/** The probes of a plan's group-extension terms (groupExtensionTerms), one index seek each. */
export function groupExtensionProbes(plan: QueryPlan): ExtensionProbe[] {
  return plan.conditions.flatMap((c) => {
    const on = matchedColumn(c);
    return groupExtensionTerms(c).map((term) => ({ term, table: on.table, column: on.column, from: term.prefix, to: `${term.prefix.slice(0, -1)}>` }));
  });
}

/** The plan with these terms left out of its conditions (see groupExtensionTerms). */
export function withoutTerms(plan: QueryPlan, drop: ReadonlySet<Term>): QueryPlan {
  if (drop.size === 0) return plan;
  const conditions = plan.conditions.map((c) => (c.terms.some((t) => drop.has(t)) ? { ...c, terms: c.terms.filter((t) => !drop.has(t)) } : c));
  return { ...plan, conditions };
}

/** A date key and its time key matched as one range of instants. */
export interface DateTimeCondition {
  date: IndexedAttribute;
  time: IndexedAttribute;
  range: DateTimeRange;
}

export interface OrderTerm {
  table: EntityTable;
  /** 'pk' for the row's key: the tie-breaker that makes paging stable. */
  column: string;
  /** IS stored as text: order as an integer ('10' after '9'). */
  numeric: boolean;
  descending?: boolean;
}

export interface QueryPlan {
  level: QueryLevel;
  /** The level's table first, then each table above it: the joins needed, no more. */
  tables: readonly EntityTable[];
  conditions: readonly Condition[];
  dateTimeConditions: readonly DateTimeCondition[];
  /** Every attribute each row carries: its level's and those above, computed ones included. */
  returned: readonly IndexedAttribute[];
  /** Keywords asked for that the index does not answer at this level: null in every row. */
  absent: readonly string[];
  /**
   * Keys with a value to match that are not matched (the index does not hold them, below the
   * level, or above it in a hierarchical query): C-FIND answers 0xFF01 for them (PS3.4 C.4.1.1.3.2).
   */
  ignored: readonly string[];
  /** Ascending; SQL NULLs first (PostgreSQL must say NULLS FIRST to agree with SQLite). */
  order: readonly OrderTerm[];
  /** null: no limit. */
  limit: number | null;
  offset: number;
  /** Select each row's order values too (IndexQuery.positions). */
  positions: boolean;
  /** Keyset paging: rows after these order values only (one per order term). */
  after: readonly (string | number | null)[] | null;
}

/** The levels of each model, top down. */
export const MODEL_LEVELS: Readonly<Record<InformationModel, readonly QueryLevel[]>> = {
  PATIENT_ROOT: ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'],
  STUDY_ROOT: ['STUDY', 'SERIES', 'IMAGE'],
};

export const UNIQUE_KEYS: Readonly<Record<QueryLevel, string>> = {
  PATIENT: 'PatientID',
  STUDY: 'StudyInstanceUID',
  SERIES: 'SeriesInstanceUID',
  IMAGE: 'SOPInstanceUID',
};

const ORDER: Readonly<Record<EntityTable, readonly OrderTerm[]>> = {
  patients: [
    { table: 'patients', column: 'patient_id', numeric: false },
    { table: 'patients', column: 'issuer_of_patient_id', numeric: false },
    { table: 'patients', column: 'pk', numeric: false },
  ],
  studies: [
    { table: 'studies', column: 'study_date', numeric: false },
    { table: 'studies', column: 'study_time', numeric: false },
    { table: 'studies', column: 'pk', numeric: false },
  ],
  series: [
    { table: 'series', column: 'series_number', numeric: true },
    { table: 'series', column: 'pk', numeric: false },
  ],
  instances: [
    { table: 'instances', column: 'instance_number', numeric: true },
    { table: 'instances', column: 'pk', numeric: false },
  ],
};

/**
 * The level an attribute belongs to in a model: Study Root has no patient level, its patient
 * attributes are study-level keys (PS3.4 C.6.2).
 */
export function levelOf(attribute: IndexedAttribute, model: InformationModel): QueryLevel {
  const level = (Object.keys(TABLE_OF_LEVEL) as QueryLevel[]).find((l) => TABLE_OF_LEVEL[l] === attribute.table) ?? 'IMAGE';
  return model === 'STUDY_ROOT' && level === 'PATIENT' ? 'STUDY' : level;
}

/**
 * Keys that are no matching keys of the index but are answered by the SCP itself or are part of
 * the request's form (PS3.4 C.4.1.1.3: Timezone Offset From UTC qualifies the others).
 */
const ANSWERED_ELSEWHERE = new Set(['TimezoneOffsetFromUTC', 'InstanceAvailability', 'RetrieveAETitle', 'SpecificCharacterSet', 'QueryRetrieveLevel']);

/** Throws QueryError: UNKNOWN_LEVEL, MISSING_UNIQUE_KEY (hierarchical), BAD_VALUE. */
export function planQuery(query: IndexQuery): QueryPlan {
  const levels = (MODEL_LEVELS as Partial<Record<string, readonly QueryLevel[]>>)[query.model];
  if (levels === undefined) throw new QueryError('UNKNOWN_LEVEL', `unknown information model '${String(query.model)}'`);
  const depth = levels.indexOf(query.level);
  if (depth === -1) {
    throw new QueryError('UNKNOWN_LEVEL', `query level '${String(query.level)}' does not exist in ${query.model.replace('_', ' ').toLowerCase()}`, 'QueryRetrieveLevel');
  }
  const fuzzy = query.fuzzyNames ?? true;
  const above = levels.slice(0, depth);

  if (!query.relational) {
    for (const level of above) {
      const keyword = UNIQUE_KEYS[level];
      const values = query.keys.filter((k) => k.keyword === keyword);
      const attribute = indexedAttribute(keyword);
      const single = attribute !== undefined && values.some((k) => isSingleValue(parseMatcher(keyword, attribute.vr, k.value)));
      if (!single) {
        throw new QueryError(
          'MISSING_UNIQUE_KEY',
          `a hierarchical ${query.level} query needs a single value of ${keyword}, the unique key of the ${level} level`,
          keyword,
        );
      }
    }
  }

  const own = TABLES.indexOf(TABLE_OF_LEVEL[query.level]);
  // Study level and below read the patient's attributes from the studies' copies (no join).
  const read = own >= TABLES.indexOf('studies') ? onStudies : (a: IndexedAttribute): IndexedAttribute => a;

  const conditions: Condition[] = [];
  const ignored: string[] = [];
  const ignore = (key: QueryKey): void => {
    if (!ANSWERED_ELSEWHERE.has(key.keyword) && key.value.replace(/\*/g, '').trim() !== '') ignored.push(key.keyword);
  };
  for (const key of query.keys) {
    const attribute = indexedAttribute(key.keyword);
    if (attribute === undefined) {
      ignore(key); // a return key only, answered null below
      continue;
    }
    const level = levelOf(attribute, query.model);
    const at = levels.indexOf(level);
    if (at > depth) {
      ignore(key); // below the query level: not matched, nor returned
      continue;
    }
    if (at < depth && !query.relational && !isHierarchicalKey(key.keyword, level, query.model)) {
      ignore(key);
      continue;
    }
    const folded = fuzzy && attribute.foldColumn !== null;
    const matcher = parseMatcher(key.keyword, attribute.vr, key.value, { fold: folded });
    if (matcher.kind === 'universal') continue;
    conditions.push({ attribute: read(attribute), terms: matcher.terms, folded });
    // Names matched exactly (fuzzy matching off) have no index of their own: the folded twin's
    // (indexed) narrows them first — whatever matches exactly matches folded, the folding being
    // one letter for one, and `*` absorbing the rest. Not with `?`: a combining mark it matched
    // is stripped from the folded text. (It was a scan of every row, which a client could ask.)
    if (!folded && attribute.foldColumn !== null && !key.value.includes('?')) {
      const superset = parseMatcher(key.keyword, attribute.vr, key.value, { fold: true });
      if (superset.kind !== 'universal') conditions.push({ attribute: read(attribute), terms: superset.terms, folded: true });
    }
  }

  const dateTimeConditions: DateTimeCondition[] = [];
  if (query.combinedDateTime ?? true) {
    for (const [dateKeyword, timeKeyword] of DATE_TIME_PAIRS) {
      const date = conditions.filter((c) => c.attribute.keyword === dateKeyword);
      const time = conditions.filter((c) => c.attribute.keyword === timeKeyword);
      const [d] = date;
      const [t] = time;
      if (date.length !== 1 || time.length !== 1 || d === undefined || t === undefined) continue;
      const range = combineDateTime({ kind: 'match', terms: d.terms }, { kind: 'match', terms: t.terms });
      if (range === null) continue;
      conditions.splice(conditions.indexOf(d), 1);
      conditions.splice(conditions.indexOf(t), 1);
      dateTimeConditions.push({ date: d.attribute, time: t.attribute, range });
    }
  }

  for (const c of conditions) assertOrderedRanges(c.attribute.keyword, c.terms);
  // Wildcard and range values each become their own comparisons, ORed: SQLite refuses an
  // expression more than 1,000 deep (333 person-name patterns, expanded to 3 each, failed as a
  // processing error with SQLite's words), and every one costs bound parameters. Equal values
  // are bound as one list, whatever their number.
  const patterns = conditions.reduce((n, c) => n + c.terms.filter((t) => t.kind !== 'equal').length, 0);
  if (patterns > MAX_PATTERN_TERMS) {
    const patternsOf = (c: (typeof conditions)[number]): number => c.terms.filter((t) => t.kind !== 'equal').length;
    const worst = conditions.reduce((a, b) => (patternsOf(b) > patternsOf(a) ? b : a));
    throw new QueryError('BAD_VALUE', `the query holds ${patterns} wildcard or range values (person names count each form); at most ${MAX_PATTERN_TERMS}`, worst.attribute.keyword);
  }

  const every = TABLES.slice(0, own + 1).flatMap((t) => attributesOf(t));
  const answered = new Set(every.map((a) => a.keyword));
  // Every row carries the unique keys its levels have (retrieve URLs, C-MOVE of an answer).
  const wanted = query.returnKeys === undefined ? null : new Set([...query.returnKeys, ...query.keys.map((k) => k.keyword), ...Object.values(UNIQUE_KEYS)]);
  const returned = (wanted === null ? every : every.filter((a) => wanted.has(a.keyword))).map(read);
  // patients is joined only when something still reads it (its counts, or the patient level).
  const reads = new Set([...conditions.map((c) => c.attribute), ...returned].map((a) => a.table));
  const tables = TABLES.slice(0, own + 1)
    .reverse()
    .filter((t) => t !== 'patients' || own === 0 || reads.has('patients'));
  const absent = [...new Set(query.keys.map((k) => k.keyword))].filter((k) => !answered.has(k));
  const order: readonly OrderTerm[] = query.keyOrder
    ? [{ table: TABLE_OF_LEVEL[query.level], column: 'pk', numeric: false, ...(query.newestFirst ? { descending: true } : {}) }]
    : TABLES.slice(own === 0 ? 0 : 1, own + 1).flatMap((t) =>
        query.newestFirst && t === TABLE_OF_LEVEL[query.level] ? ORDER[t].map((o) => ({ ...o, descending: true })) : ORDER[t],
      );

  return {
    level: query.level,
    tables,
    conditions,
    dateTimeConditions,
    returned,
    absent,
    ignored,
    order,
    limit: finite(query.limit) ? Math.max(0, Math.trunc(query.limit)) : null,
    offset: finite(query.offset) ? Math.max(0, Math.trunc(query.offset)) : 0,
    positions: query.positions === true,
    after: keysetAfter(query, order.length),
  };
}

/**
 * Keys of a level above the query level that a hierarchical query matches: the level's unique
 * key, and with the Patient ID its issuer, which qualifies it: the index keys patients by
 * both, and without it one Patient ID would name two hospitals' patients.
 */
function isHierarchicalKey(keyword: string, level: QueryLevel, model: InformationModel): boolean {
  if (keyword === UNIQUE_KEYS[level]) return true;
  return model === 'PATIENT_ROOT' && level === 'PATIENT' && keyword === 'IssuerOfPatientID';
}

const finite = (n: number | undefined): n is number => typeof n === 'number' && Number.isFinite(n);

function keysetAfter(query: IndexQuery, terms: number): readonly (string | number | null)[] | null {
  if (query.after === undefined) return null;
  if (query.after.length !== terms) throw new Error(`a page position has ${query.after.length} values; this query orders by ${terms}`);
  return query.after;
}
