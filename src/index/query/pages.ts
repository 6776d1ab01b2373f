// An answer read a page at a time (a C-FIND of a large archive must not hold every match in
// memory before the first answer goes out): each page is one statement, the next starting
// after the last row of the one before (keyset paging, ./keyset.ts), so every page costs the
// same however far into the answer it is. Pages are not one snapshot: a row stored meanwhile
// may be answered if it sorts after the current place, a row deleted meanwhile is not.
import { POSITION_KEY, type IndexQuery, type QueryRow } from './types.js';

export interface Queryable {
  query(query: IndexQuery): Promise<QueryRow[]>;
}

/** Rows of `query` (its `limit` kept) in pages of at most `pageSize`. */
export async function* queryPages(index: Queryable, query: IndexQuery, pageSize: number): AsyncGenerator<QueryRow[]> {
  let left = query.limit ?? Infinity;
  let after: (string | number | null)[] | undefined;
  for (;;) {
    const limit = Math.min(pageSize, left);
    if (limit <= 0) return;
    // The offset skips rows once, before the first page; later pages start after the last row.
    const rows = await index.query({ ...query, limit, positions: true, ...(after ? { after, offset: 0 } : {}) });
    if (rows.length > 0) yield rows;
    if (rows.length < limit) return;
    left -= rows.length;
    const last = rows[rows.length - 1]!;
    after = [];
    for (let i = 0; POSITION_KEY(i) in last; i++) after.push(last[POSITION_KEY(i)] ?? null);
  }
}
