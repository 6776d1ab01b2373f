// Person Name values (PS3.5 6.2): a name is up to three component groups separated by '=', each
// up to five components separated by '^', and trailing empty components and groups may be left
// out. "Doe^John^^^" and "Doe^John" are therefore the same name; the index keeps and matches
// the short form, so a query for either finds both.

/**
 * The name with its trailing empty components (in each group) and trailing empty groups left
 * out: 'Doe^John^^^' → 'Doe^John', 'Doe^^=^^' → 'Doe', '=Yamada' stays. Wildcards are text here.
 */
export function normalizePersonName(value: string): string {
  // Fast path: nothing to remove (most names).
  const last = value.charCodeAt(value.length - 1);
  if (last !== 0x5e && last !== 0x3d && !value.includes('^=')) return value;
  return value.replace(/\^+(?==|$)/g, '').replace(/=+$/, '');
}

/** The same as SQL, for PostgreSQL (regexp_replace with the same two patterns), used by a migration. */
export const normalizePersonNameSql = (column: string): string => `regexp_replace(regexp_replace(${column}, '\\^+(?==|$)', '', 'g'), '=+$', '')`;

/**
 * What a person-name matching value (exact or with wildcards) must be compared as against names
 * kept in their short form: the value's short form and, for a pattern that ends in delimiters
 * and '*' ('Doe^*', 'Doe^John^*', '*Doe^*'), the pattern without that end too ('Doe', 'Doe^John',
 * '*Doe'): 'Doe' is 'Doe^' with its empty components left out, and 'Doe^*' matched 'Doe^'. A
 * pattern left with nothing but '*' ('*^*') stands for any name with a value ('?*').
 */
export function personNamePatterns(value: string): string[] {
  const short = normalizePersonName(value);
  if (!/[*?]/.test(short)) return [short];
  // '*^' is not the universal '*': it asks for a name with a value.
  if (/^\*+$/.test(short) && short !== value) return ['?*'];
  const base = short.replace(/(?:[\^=]\**)+$/, '');
  if (base === short || base === '') return [short];
  return [short, /^\**$/.test(base) ? '?*' : base];
}
