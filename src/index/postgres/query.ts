// A QueryPlan (../query/plan.ts) as one PostgreSQL SELECT: the translation of
// ../sqlite/query.ts (read its notes on how each match uses the indexes), where the dialects
// differ:
// - GLOB → LIKE with '%' and '_', after escaping the pattern's own '%', '_' and '\'. Text
//   columns are COLLATE "C" (migrations.ts), so LIKE is case-sensitive as DICOM matching is,
//   and the prefix range before it is answered from the B-tree index;
// - ORDER BY says NULLS FIRST (NULLS LAST when descending) to agree with SQLite, which puts
//   NULL lowest; CAST(x AS INTEGER) of SQLite never fails, so the numeric order reads the
//   leading integer of the text the same way (0 when there is none);
// - lists of values are bound as one array (= ANY), whatever their length;
// - PostgreSQL plans ModalitiesInStudy with per-value statistics itself: EXISTS always;
// - a multi-valued attribute's kept list is split with string_to_array, where SQLite calls
//   anyValueMatches (../query/matching.ts) registered on its connection.

import { quoteIdent } from '../columns.js';
import type { EntityTable } from '../query/attributes.js';
import { type Term, prefixSuccessor } from '../query/matching.js';
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
import type { Db } from './db.js';

const ALIAS: Readonly<Record<EntityTable, string>> = { patients: 'p', studies: 'st', series: 'se', instances: 'i' };

const PARENT_JOIN: Readonly<Record<EntityTable, string>> = {
  patients: '',
  studies: 'JOIN patients p ON p.pk = st.patient_fk',
  series: 'JOIN studies st ON st.pk = se.study_fk',
  instances: 'JOIN series se ON se.pk = i.series_fk',
};

type Param = string | number | readonly (string | number)[];

class Params {
  readonly values: Param[] = [];
  /** The placeholder of a new parameter. */
  add(value: Param): string {
    return `$${this.values.push(value)}`;
  }
}

const column = (table: EntityTable, name: string): string => `${ALIAS[table]}.${quoteIdent(name)}`;

/** A stored TM padded to HHMMSS, fraction kept (see the SQLite runner). */
const paddedTime = (expr: string): string => `(substr(${expr} || '000000', 1, 6) || substr(${expr}, 7))`;

/** A DICOM pattern as a LIKE pattern with '\' as the escape character. */
export const likeOf = (pattern: string): string =>
  pattern.replace(/[\\%_]/g, (ch) => `\\${ch}`).replace(/\*/g, '%').replace(/\?/g, '_');

function termsSql(expr: string, vr: string, integer: boolean, terms: readonly Term[], p: Params): string {
  const parts: string[] = [];
  const equal = terms.flatMap((t) => (t.kind === 'equal' ? [integer ? Number(t.value) : t.value] : []));
  if (equal.length === 1) parts.push(`${expr} = ${p.add(equal[0] ?? '')}`);
  else if (equal.length > 1) parts.push(`${expr} = ANY(${p.add(equal)}::${integer ? 'bigint' : 'text'}[])`);
  for (const term of terms) {
    if (term.kind === 'wildcard') {
      const successor = prefixSuccessor(term.prefix);
      const like = `${expr} LIKE ${p.add(likeOf(term.pattern))}`;
      if (term.prefix !== '' && successor !== null) {
        parts.push(`(${expr} >= ${p.add(term.prefix)} AND ${expr} < ${p.add(successor)} AND ${like})`);
      } else {
        parts.push(like);
      }
    } else if (term.kind === 'range') {
      const value = vr === 'TM' ? paddedTime(expr) : expr;
      const bounds: string[] = [];
      if (term.lower !== null) bounds.push(`${value} >= ${p.add(term.lower)}`);
      if (term.upper !== null) bounds.push(`${value} <= ${p.add(term.upper)}`);
      parts.push(`(${bounds.join(' AND ')})`);
    }
  }
  return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' OR ')})`;
}

function conditionSql(c: Condition, p: Params): string {
  const a = c.attribute;
  switch (a.match) {
    case 'modalities':
      return `EXISTS (SELECT 1 FROM series sx WHERE sx.study_fk = st.pk AND ${termsSql('sx.modality', 'CS', false, c.terms, p)})`;
    case 'sop-classes': {
      const parts = c.terms.map((t) => `strpos('\\' || st.sop_classes_in_study || '\\', ${p.add(t.kind === 'equal' ? `\\${t.value}\\` : '')}) > 0`);
      return parts.length === 1 ? (parts[0] ?? '') : `(${parts.join(' OR ')})`;
    }
    case 'column': {
      const on = matchedColumn(c);
      const expr = column(on.table, on.column);
      // A kept list of values (ImageType): one of them matches the terms (PS3.4 C.2.2.3).
      if (a.multiValued) return `EXISTS (SELECT 1 FROM unnest(string_to_array(${expr}, '\\')) AS v(value) WHERE ${termsSql('btrim(v.value)', a.vr, false, c.terms, p)})`;
      return termsSql(expr, a.vr, a.integer, c.terms, p);
    }
  }
}

function dateTimeSql(c: DateTimeCondition, p: Params): string {
  const date = column(c.date.table, c.date.column);
  const time = paddedTime(column(c.time.table, c.time.column));
  const parts: string[] = [];
  if (c.range.lower !== null) {
    const d = p.add(c.range.lower.date);
    parts.push(`${date} >= ${d} AND (${date} > ${d} OR ${time} >= ${p.add(c.range.lower.time)})`);
  }
  if (c.range.upper !== null) {
    const d = p.add(c.range.upper.date);
    parts.push(`${date} <= ${d} AND (${date} < ${d} OR ${time} <= ${p.add(c.range.upper.time)})`);
  }
  return parts.join(' AND ');
}

/** SQLite's CAST(text AS INTEGER): the leading integer, 0 when there is none, NULL stays NULL. */
export const leadingInteger = (expr: string): string =>
  `CASE WHEN ${expr} IS NULL THEN NULL ELSE coalesce(substring(${expr} from '^\\s*([+-]?[0-9]{1,18})')::bigint, 0) END`;

const orderExpr = (o: OrderTerm): string => (o.numeric ? leadingInteger(column(o.table, o.column)) : column(o.table, o.column));

function orderSql(o: OrderTerm): string {
  const expr = orderExpr(o);
  // A primary key is never NULL, and only its index's own NULLs order (ascending NULLS LAST, or
  // that read backwards) lets PostgreSQL read the rows in order from it: with NULLS FIRST it
  // sorts every match for each page of a key-ordered answer.
  if (o.column === 'pk') return o.descending ? `${expr} DESC` : expr;
  return o.descending ? `${expr} DESC NULLS LAST` : `${expr} NULLS FIRST`;
}

export function buildPgQuery(plan: QueryPlan): { sql: string; params: Param[] } {
  const p = new Params();
  const [own] = plan.tables;
  if (own === undefined) throw new Error('a query plan names no table');
  const from = [`${own} ${ALIAS[own]}`, ...plan.tables.slice(0, -1).map((t) => PARENT_JOIN[t])].join(' ');
  const positions = plan.positions ? plan.order.map((o, i) => `, ${orderExpr(o)} AS ${quoteIdent(POSITION_KEY(i))}`).join('') : '';
  const select = plan.returned.map((a) => `${column(a.table, a.column)} AS ${quoteIdent(a.keyword)}`).join(', ') + positions;
  const where = [...plan.conditions.map((c) => conditionSql(c, p)), ...plan.dateTimeConditions.map((c) => dateTimeSql(c, p))];
  if (plan.after !== null) where.push(keysetSql(plan.order, plan.after, orderExpr, (v) => p.add(v)));
  const limit = plan.limit === null ? '' : ` LIMIT ${p.add(plan.limit)}`;
  const sql =
    `SELECT ${select} FROM ${from}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${plan.order.map(orderSql).join(', ')}${limit} OFFSET ${p.add(plan.offset)}`;
  return { sql, params: p.values };
}

/** Whether the probe's column holds a value in its range: one index seek. */
async function anyInRange(db: Db, probe: ExtensionProbe): Promise<boolean> {
  const name = quoteIdent(probe.column);
  const { rows } = await db.query(`SELECT 1 FROM ${probe.table} WHERE ${name} >= $1 AND ${name} < $2 LIMIT 1`, [probe.from, probe.to]);
  return rows.length > 0;
}

/** Runs a plan inside the caller's (read) transaction. */
export async function runPgQuery(db: Db, plan: QueryPlan): Promise<QueryRow[]> {
  // As the SQLite runner: a name's group extension only when some kept name has one.
  const unused: Term[] = [];
  for (const probe of groupExtensionProbes(plan)) if (!(await anyInRange(db, probe))) unused.push(probe.term);
  const { sql, params } = buildPgQuery(withoutTerms(plan, new Set(unused)));
  const { rows } = await db.query<QueryRow>(sql, params);
  for (const out of rows) {
    if (out.IssuerOfPatientID === '') out.IssuerOfPatientID = null;
    for (const keyword of plan.absent) out[keyword] = null;
  }
  return rows;
}
