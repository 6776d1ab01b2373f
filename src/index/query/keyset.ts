// Keyset paging (IndexQuery.after): "the rows after this one in the answer's order" as SQL,
// for both backends. The order is a list of terms, ascending with NULLs first or descending
// with NULLs last (as both backends sort), ending with the level's primary key, so a place in
// it is unique. Spelled out term by term rather than as a row-value comparison: NULLs compare
// as unknown there, and here they are simply first (or last).
import type { OrderTerm } from './plan.js';

type Value = string | number | null;

/** The primary key: no NULLs to order after the rest. */
const neverNull = (o: OrderTerm): boolean => o.column === 'pk';

/**
 * The condition on a row to come after `after` in `order`. `expr` is the backend's expression
 * of an order term (the same the ORDER BY uses), `add` binds a value and returns its placeholder,
 * in the order the placeholders appear.
 */
export function keysetSql(order: readonly OrderTerm[], after: readonly Value[], expr: (o: OrderTerm) => string, add: (v: string | number) => string): string {
  // Built in the order the text reads: SQLite's placeholders are positional.
  const first = order[0];
  const firstValue = after[0] ?? null;
  // A bound on the first term alone lets an index on it start where the page starts. Descending,
  // only for a key that is never NULL (the primary key: a C-FIND cut newest first), NULLs
  // coming after everything else there; without it each page of that C-FIND scanned from the newest.
  const lead =
    first === undefined || firstValue === null
      ? ''
      : !first.descending
        ? `${expr(first)} >= ${add(firstValue)} AND `
        : neverNull(first)
          ? `${expr(first)} <= ${add(firstValue)} AND `
          : '';
  const alternatives: string[] = [];
  for (let i = 0; i < order.length; i++) {
    const o = order[i]!;
    const v = after[i] ?? null;
    // After v on this term: larger (ascending, NULLs first), or smaller and then NULL
    // (descending, NULLs last); nothing comes after a NULL when NULLs are last.
    if (v === null && o.descending) continue;
    const same = order.slice(0, i).map((p, j) => {
      const w = after[j] ?? null;
      return w === null ? `${expr(p)} IS NULL` : `${expr(p)} = ${add(w)}`;
    });
    const e = expr(o);
    const beyond = v === null ? `${e} IS NOT NULL` : o.descending ? (neverNull(o) ? `${e} < ${add(v)}` : `(${e} < ${add(v)} OR ${e} IS NULL)`) : `${e} > ${add(v)}`;
    alternatives.push([...same, beyond].join(' AND '));
  }
  if (alternatives.length === 0) return '1 = 0';
  return `(${lead}(${alternatives.map((a) => `(${a})`).join(' OR ')}))`;
}
