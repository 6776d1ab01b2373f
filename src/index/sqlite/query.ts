// A QueryPlan (../query/plan.ts) as one SQLite SELECT. Values are always bound parameters,
// never spliced into the text: the text depends only on the shape of the query (which keys,
// how many terms), so statements are prepared once per shape and kept.
// How each match uses the schema's indexes:
// - prefix wildcards ('SMI*') become a range on the column plus GLOB, so the (folded) name
//   index is searched, not scanned; GLOB rather than LIKE because it is case-sensitive, as
//   DICOM matching is, and the folded columns hold upper case already;
// - ModalitiesInStudy is answered from the series (modality, study_fk) index in one of two
//   forms, chosen per query by counting (up to FEW_SERIES) the series that match. Few:
//   `st.pk IN (SELECT study_fk FROM series WHERE modality …)`, driven from that short list.
//   Many: `EXISTS (… WHERE study_fk = st.pk AND modality …)`, a probe per study walked in
//   ORDER BY order, so LIMIT stops it early. SQLite drove from the IN list whatever its length
//   (it keeps no per-value statistics), and at 1M instances ModalitiesInStudy=CT LIMIT 100
//   took 27 ms that way (all CT studies fetched, then sorted) against 1.4 ms with EXISTS; a
//   modality no series has took 36 ms with EXISTS (every study probed) against 0.05 ms with IN.
// - SOPClassesInStudy looks in the study's kept list: instances have no index on the class.

import type Database from 'better-sqlite3';
import { quoteIdent } from '../columns.js';
import type { EntityTable } from '../query/attributes.js';
import { type Term, anyValueMatches, prefixSuccessor } from '../query/matching.js';
import {
  type Condition,
  type DateTimeCondition,
  type OrderTerm,
  type QueryPlan,
  type ExtensionProbe,
  groupExtensionProbes,
  matchedColumn,
  withoutTerms,
} from '../query/plan.js';
import { POSITION_KEY, type QueryRow } from '../query/types.js';
import { keysetSql } from '../query/keyset.js';

const ALIAS: Readonly<Record<EntityTable, string>> = { patients: 'p', studies: 'st', series: 'se', instances: 'i' };

/** How a table joins its parent (each foreign key column is indexed). */
const PARENT_JOIN: Readonly<Record<EntityTable, string>> = {
  patients: '',
  studies: 'JOIN patients p ON p.pk = st.patient_fk',
  series: 'JOIN studies st ON st.pk = se.study_fk',
  instances: 'JOIN series se ON se.pk = i.series_fk',
};

/** Past this many values, a list is bound as one JSON array (SQLite caps bound parameters). */
const JSON_LIST_THRESHOLD = 50;
/** Distinct query shapes whose statements are kept; C-FIND and QIDO clients use only a few. */
const STATEMENT_CACHE_SIZE = 100;
/** Below this many matching series, ModalitiesInStudy drives from them (see the top). */
export const FEW_SERIES = 1000;

type Param = string | number;

export interface SqlQuery {
  sql: string;
  params: Param[];
}

const column = (table: EntityTable, name: string): string => `${ALIAS[table]}.${quoteIdent(name)}`;

/**
 * A stored TM padded to HHMMSS (fraction kept) so it compares as text with the padded bounds
 * of matching.ts: '1015' → '101500', '101530.25' stays. NULL stays NULL and matches nothing.
 */
const paddedTime = (expr: string): string => `(substr(${expr} || '000000', 1, 6) || substr(${expr}, 7))`;

/** A DICOM pattern as a GLOB pattern: '*' and '?' mean the same; '[' must be a class of its own. */
const globOf = (pattern: string): string => pattern.replace(/\[/g, '[[]');

/** `expr` satisfies one of the terms. */
function termsSql(expr: string, vr: string, integer: boolean, terms: readonly Term[], params: Param[]): string {
  const parts: string[] = [];
  const equal = terms.flatMap((t) => (t.kind === 'equal' ? [integer ? Number(t.value) : t.value] : []));
  if (equal.length === 1) {
    parts.push(`${expr} = ?`);
    params.push(...equal);
  } else if (equal.length > JSON_LIST_THRESHOLD) {
    parts.push(`${expr} IN (SELECT value FROM json_each(?))`);
    params.push(JSON.stringify(equal));
  } else if (equal.length > 1) {
    parts.push(`${expr} IN (${equal.map(() => '?').join(', ')})`);
    params.push(...equal);
  }
  for (const term of terms) {
    if (term.kind === 'wildcard') {
      const successor = prefixSuccessor(term.prefix);
      if (term.prefix !== '' && successor !== null) {
        parts.push(`(${expr} >= ? AND ${expr} < ? AND ${expr} GLOB ?)`);
        params.push(term.prefix, successor, globOf(term.pattern));
      } else {
        parts.push(`${expr} GLOB ?`);
        params.push(globOf(term.pattern));
      }
    } else if (term.kind === 'range') {
      const value = vr === 'TM' ? paddedTime(expr) : expr;
      const bounds: string[] = [];
      if (term.lower !== null) {
        bounds.push(`${value} >= ?`);
        params.push(term.lower);
      }
      if (term.upper !== null) {
        bounds.push(`${value} <= ?`);
        params.push(term.upper);
      }
      parts.push(`(${bounds.join(' AND ')})`);
    }
  }
  return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' OR ')})`;
}

/** Registers on a connection the functions the query SQL calls. */
export function registerQueryFunctions(db: Database.Database): void {
  db.function('pacs_any_value', { deterministic: true }, (stored: unknown, text: unknown, wildcard: unknown) =>
    typeof stored === 'string' && typeof text === 'string' && anyValueMatches(stored, text, wildcard === 1) ? 1 : 0,
  );
}

/**
 * A kept backslash-separated list (an attribute of VM > 1: ImageType) matches when one of its
 * values satisfies a term (PS3.4 C.2.2.3). SQLite cannot split text in SQL: a JavaScript
 * function on the connection does (registerQueryFunctions). No such key has ranges (no DA, TM
 * or DT attribute is multi-valued).
 */
function anyValueSql(expr: string, terms: readonly Term[], params: Param[]): string {
  const parts = terms.map((t) => {
    if (t.kind === 'range') throw new Error('a range on a multi-valued attribute');
    params.push(t.kind === 'wildcard' ? t.pattern : t.value, t.kind === 'wildcard' ? 1 : 0);
    return `pacs_any_value(${expr}, ?, ?) = 1`;
  });
  return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' OR ')})`;
}

/** ModalitiesInStudy conditions that match few series: answered in the IN form. */
export type FewSeries = ReadonlySet<Condition>;

function conditionSql(c: Condition, few: FewSeries, params: Param[]): string {
  const a = c.attribute;
  switch (a.match) {
    case 'modalities':
      return few.has(c)
        ? `st.pk IN (SELECT study_fk FROM series WHERE ${termsSql('modality', 'CS', false, c.terms, params)})`
        : `EXISTS (SELECT 1 FROM series sx WHERE sx.study_fk = st.pk AND ${termsSql('sx.modality', 'CS', false, c.terms, params)})`;
    case 'sop-classes': {
      // UI keys have no wildcards or ranges: each term is one UID, looked for between separators.
      const parts = c.terms.map((t) => {
        params.push(t.kind === 'equal' ? `\\${t.value}\\` : '');
        return `instr('\\' || st.sop_classes_in_study || '\\', ?) > 0`;
      });
      return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' OR ')})`;
    }
    case 'column': {
      const on = matchedColumn(c);
      const expr = column(on.table, on.column);
      return a.multiValued ? anyValueSql(expr, c.terms, params) : termsSql(expr, a.vr, a.integer, c.terms, params);
    }
  }
}

/**
 * From the lower bound's instant on and up to the upper's: the date alone decides except on
 * the bounding days. The plain date comparison comes first so the date index narrows the scan.
 */
function dateTimeSql(c: DateTimeCondition, params: Param[]): string {
  const date = column(c.date.table, c.date.column);
  const time = paddedTime(column(c.time.table, c.time.column));
  const parts: string[] = [];
  if (c.range.lower !== null) {
    parts.push(`${date} >= ? AND (${date} > ? OR ${time} >= ?)`);
    params.push(c.range.lower.date, c.range.lower.date, c.range.lower.time);
  }
  if (c.range.upper !== null) {
    parts.push(`${date} <= ? AND (${date} < ? OR ${time} <= ?)`);
    params.push(c.range.upper.date, c.range.upper.date, c.range.upper.time);
  }
  return parts.join(' AND ');
}

/** The SELECT of a plan; `few` as counted by SqliteQueryRunner (empty: every one EXISTS). */
export function buildQuery(plan: QueryPlan, few: FewSeries = new Set()): SqlQuery {
  const params: Param[] = [];
  const [own] = plan.tables;
  if (own === undefined) throw new Error('a query plan names no table');
  const from = [`${own} ${ALIAS[own]}`, ...plan.tables.slice(0, -1).map((t) => PARENT_JOIN[t])].join(' ');
  const orderExpr = (o: OrderTerm): string => (o.numeric ? `CAST(${column(o.table, o.column)} AS INTEGER)` : column(o.table, o.column));
  const positions = plan.positions ? plan.order.map((o, i) => `, ${orderExpr(o)} AS ${quoteIdent(POSITION_KEY(i))}`).join('') : '';
  const select = plan.returned.map((a) => `${column(a.table, a.column)} AS ${quoteIdent(a.keyword)}`).join(', ') + positions;
  const where = [
    ...plan.conditions.map((c) => conditionSql(c, few, params)),
    ...plan.dateTimeConditions.map((c) => dateTimeSql(c, params)),
  ];
  if (plan.after !== null) where.push(keysetSql(plan.order, plan.after, orderExpr, (v) => (params.push(v), '?')));
  const order = plan.order.map((o) => orderExpr(o) + (o.descending ? ' DESC' : ''));
  params.push(plan.limit ?? -1, plan.offset);
  const sql =
    `SELECT ${select} FROM ${from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${order.join(', ')} LIMIT ? OFFSET ?`;
  return { sql, params };
}

/** Runs plans on one connection, keeping the prepared statement of each query shape. */
export class SqliteQueryRunner {
  private readonly statements = new Map<string, Database.Statement<Param[], Record<string, unknown>>>();

  /** fewSeriesLimit: FEW_SERIES; tests pass 0 or a huge number to force one form. */
  constructor(
    private readonly db: Database.Database,
    private readonly fewSeriesLimit = FEW_SERIES,
  ) {}

  /** Call inside a read transaction: the rows are one snapshot. */
  run(plan: QueryPlan): QueryRow[] {
    const { sql, params } = this.build(plan);
    const rows = this.statement(sql).all(...params);
    return rows.map((row) => {
      const out = row as QueryRow;
      // Kept as '' because it is part of the patient key; absent is null everywhere else.
      if (out.IssuerOfPatientID === '') out.IssuerOfPatientID = null;
      for (const keyword of plan.absent) out[keyword] = null;
      return out;
    });
  }

  /** The SELECT of a plan, after the probes that choose its form (see the top, and groupExtensionTerms). */
  build(plan: QueryPlan): SqlQuery {
    const unused = groupExtensionProbes(plan).filter((probe) => !this.anyInRange(probe));
    const reduced = withoutTerms(plan, new Set(unused.map((probe) => probe.term)));
    const few = new Set(reduced.conditions.filter((c) => c.attribute.match === 'modalities' && this.fewSeries(c)));
    return buildQuery(reduced, few);
  }

  /** Whether the probe's column holds a value in its range: one index seek. */
  private anyInRange(probe: ExtensionProbe): boolean {
    const name = quoteIdent(probe.column);
    return this.statement(`SELECT 1 AS found FROM ${probe.table} WHERE ${name} >= ? AND ${name} < ? LIMIT 1`).get(probe.from, probe.to) !== undefined;
  }

  /** Whether fewer than FEW_SERIES series match: a bounded walk of the modality index. */
  private fewSeries(c: Condition): boolean {
    const params: Param[] = [];
    const where = termsSql('modality', 'CS', false, c.terms, params);
    const sql = `SELECT count(*) AS n FROM (SELECT 1 FROM series WHERE ${where} LIMIT ?)`;
    const row = this.statement(sql).get(...params, this.fewSeriesLimit);
    return Number(row?.n ?? 0) < this.fewSeriesLimit;
  }

  private statement(sql: string): Database.Statement<Param[], Record<string, unknown>> {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<Param[], Record<string, unknown>>(sql);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        const oldest = this.statements.keys().next().value;
        if (oldest !== undefined) this.statements.delete(oldest);
      }
    } else {
      this.statements.delete(sql); // re-inserted below: most recently used last
    }
    this.statements.set(sql, statement);
    return statement;
  }
}
