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
  return [...new Set(shortFormPatterns(value).flatMap(groupPatterns))];
}

function shortFormPatterns(value: string): string[] {
  const short = normalizePersonName(value);
  if (!/[*?]/.test(short)) return [short];
  // '*^' is not the universal '*': it asks for a name with a value.
  if (/^\*+$/.test(short) && short !== value) return ['?*'];
  const base = short.replace(/(?:[\^=]\**)+$/, '');
  if (base === short || base === '') return [short];
  return [short, /^\**$/.test(base) ? '?*' : base];
}

/**
 * A name's component groups (alphabetic, ideographic, phonetic) are matched group by group, a
 * key's empty group matching any: 'Yamada^Tarou' finds 'Yamada^Tarou=山田^太郎' (as dcm4chee
 * and a Japanese site expect), '=山田^太郎' finds it too. As patterns: the key's empty groups
 * become '*', and a key of fewer than three groups also stands for the name with more after
 * it ('Yamada^Tarou=*': a prefix, so the name index still answers it). A '*' standing for an
 * empty group may span a '=', so '=Y' also finds 'X=Z=Y': names holding a phonetic group
 * but no ideographic one are rare enough to accept that.
 */
function groupPatterns(pattern: string): string[] {
  if (pattern === '') return [pattern];
  const groups = pattern.split('=');
  const any = groups.map((g) => (g === '' ? '*' : g)).join('=');
  // A trailing '*' already stands for the groups after it; the empty groups before it still
  // become '*' ('=山田*' matched only names without an alphabetic group).
  if (pattern.endsWith('*')) return [any];
  return groups.length < 3 ? [any, `${any}=*`] : [any];
}
