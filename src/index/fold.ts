// Folding of person names for case- and accent-insensitive matching. The index stores the
// folded form next to the original (patient_name_fold, referring_physician_name_fold; each
// study holds a copy of its patient's patient_name_fold, kept by triggers) and the query layer
// folds the user's value with this same function, so both sides always agree.
// It must stay pure and stable: changing it means a migration that refolds every stored row.

// Only the diacritic blocks are stripped (Latin, Greek, Cyrillic accents and their extensions).
// Stripping every combining mark (\p{M}) would also remove the Japanese voiced-sound marks
// (ガ → カ) and Indic vowel signs, turning different names into the same one.
// (Ranges as numbers, not a regex class: lint rightly distrusts combining marks in classes.)
const DIACRITIC_RANGES: readonly (readonly [number, number])[] = [
  [0x0300, 0x036f], // Combining Diacritical Marks
  [0x1ab0, 0x1aff], // … Extended
  [0x1dc0, 0x1dff], // … Supplement
  [0x20d0, 0x20ff], // … for Symbols
  [0xfe20, 0xfe2f], // Combining Half Marks
];
const isDiacritic = (c: string): boolean => {
  const cp = c.codePointAt(0) ?? 0;
  return DIACRITIC_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);
};
const stripDiacritics = (s: string): string => {
  let out = '';
  for (const c of s) if (!isDiacritic(c)) out += c;
  return out;
};

// Letters that look accented but have no canonical decomposition, so NFD leaves them alone.
// One letter for one letter only: DICOM's '?' wildcard matches one character, and an
// expansion (Æ → AE, ß → SS) would make '?' fail on the folded text where it matched the
// original.
const UNDECOMPOSABLE: Readonly<Record<string, string>> = {
  Ø: 'O',
  Ł: 'L',
  Đ: 'D',
  Ð: 'D',
  Ħ: 'H',
  Ŧ: 'T',
  Ŀ: 'L',
};
const UNDECOMPOSABLE_RE = /[ØŁĐÐĦŦĿ]/g;
// eslint-disable-next-line no-control-regex -- the whole ASCII range, control characters included
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/**
 * Upper-case, accents removed: 'Müller^Zoë' → 'MULLER^ZOE'. Wildcards ('*', '?'), the DICOM
 * component ('^') and group ('=') separators and characters of other scripts pass unchanged
 * (Hangul and kana are recomposed, NFC, after the accents are stripped).
 */
export function foldName(value: string): string {
  // Most names are plain ASCII: nothing to decompose, strip or recompose.
  if (ASCII_ONLY.test(value)) return value.toUpperCase();
  let out = '';
  for (const c of value.normalize('NFC')) out += foldLetter(c);
  return out;
}

/**
 * One character folded to one character. Upper-case first: some upper-case forms are only
 * reachable with a combining mark ('ǰ' → 'J' + U+030C), which stripping then removes. Where
 * upper case makes two letters of one (ß → SS, ŉ → ʼN, the ligatures ﬁ → FI) '?' would no
 * longer match: ß becomes the capital ẞ, the others stay as they are.
 */
function foldLetter(c: string): string {
  const folded = stripDiacritics(c.toUpperCase().normalize('NFD'))
    .replace(UNDECOMPOSABLE_RE, (x) => UNDECOMPOSABLE[x] ?? x)
    .normalize('NFC');
  if (folded.length === 1 || (folded.length === 2 && folded.codePointAt(0)! > 0xffff)) return folded;
  if (folded === '') return ''; // a diacritic that NFC could not attach: stripped, as ever
  return c === 'ß' ? 'ẞ' : c;
}

/** foldName for a nullable attribute: absent stays absent. */
export function foldNullable(value: string | null): string | null {
  return value === null ? null : foldName(value);
}
