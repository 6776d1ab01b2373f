// Option "Clean Descriptors" (PS3.15 E.3.5): descriptions kept, with what identifies someone
// taken out. A textual clean, not an understanding of the text: it finds the names, IDs and
// dates the dataset itself holds (every person name at any depth: the patient's, the
// physicians', the operators'; the patient's IDs, birth date and accession number; the
// institution; every date of the dataset, as DICOM writes it and as people do), telephone
// numbers and e-mail addresses, and replaces each by X's. Free text naming someone in other
// words (a nickname, "the patient's wife") is not caught.
import type { TreeElement } from './dataset-tree.js';

/** The patient's own values, read before de-identifying (top level). */
const IDENTIFYING = [
  0x00100010, // Patient's Name
  0x00100020, // Patient ID
  0x00101000, // Other Patient IDs
  0x00101001, // Other Patient Names
  0x00101005, // Patient's Birth Name
  0x00101060, // Patient's Mother's Birth Name
  0x00080050, // Accession Number
  0x00100030, // Patient's Birth Date
  0x00080090, // Referring Physician's Name
];

/** Whole values only (an institution's name as written): its words are too ordinary to blank alone. */
const WHOLE = [
  0x00080080, // Institution Name
  0x00081040, // Institutional Department Name
];

/** Words of an institution's name that say nothing of which one it is. */
const GENERIC = new Set(['hospital', 'clinic', 'center', 'centre', 'university', 'medical', 'health', 'imaging', 'radiology', 'the', 'and', 'saint']);

/** How the dataset's text is read: UTF-8 (ISO_IR 192) or byte for byte (a name's bytes match themselves in any other set). */
type TextEncoding = 'utf8' | 'latin1';

const text = (e: TreeElement | undefined, encoding: TextEncoding = 'latin1'): string => (e ? e.value.toString(encoding).replace(/[\0 ]+$/, '').trim() : '');
const escape = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every value of a VR at any depth (PN: names of physicians, operators, observers, the patient; DA, DT: every date). */
function valuesOf(list: readonly TreeElement[], vrs: ReadonlySet<string>, encoding: TextEncoding, into: string[]): string[] {
  for (const e of list) {
    if (vrs.has(e.vr)) into.push(text(e, encoding));
    for (const item of e.items ?? []) valuesOf(item, vrs, encoding, into);
  }
  return into;
}

/** A date (YYYYMMDD) as descriptions write it: as is, ISO, and day-month-year / month-day-year with the usual separators. */
function dateForms(date: string): string[] {
  const m = /^(\d{4})(\d{2})(\d{2})/.exec(date);
  if (!m) return [];
  const [, y, mo, d] = m;
  return [`${y}${mo}${d}`, ...['-', '.', '/'].flatMap((s) => [`${y}${s}${mo}${s}${d}`, `${d}${s}${mo}${s}${y}`, `${mo}${s}${d}${s}${y}`])];
}

/** What to look for in the descriptors of a dataset, and how its text reads. */
export interface Descriptors {
  pattern: RegExp | null;
  encoding: TextEncoding;
}

/** A short value matched as a word of its own only: "Li" in "Li Na follow-up", not in "Limb". */
const wordOnly = (w: string): string => `(?<![\\p{L}\\p{N}])${escape(w)}(?![\\p{L}\\p{N}])`;

/** What to look for in the descriptors of a dataset (before it is de-identified). */
export function descriptorPatterns(input: readonly TreeElement[]): Descriptors {
  const byTag = new Map(input.map((e) => [e.tag, e]));
  const encoding: TextEncoding = text(byTag.get(0x00080005)).includes('ISO_IR 192') ? 'utf8' : 'latin1';
  const read = (e: TreeElement | undefined): string => text(e, encoding);
  // The patient's other IDs too (Other Patient IDs Sequence, 0010,1002): an old MRN in a comment.
  const otherIds = (byTag.get(0x00101002)?.items ?? []).map((item) => read(item.find((e) => e.tag === 0x00100020)));
  const words = new Set<string>();
  const ids = [0x00100020, 0x00101000, 0x00080050].map((t) => read(byTag.get(t)));
  for (const v of [...IDENTIFYING.map((t) => read(byTag.get(t))), ...otherIds]) {
    for (const part of v.split(/[\\^=]/)) {
      const w = part.trim();
      if (w.length >= 3) words.add(escape(w));
    }
  }
  // IDs of two characters ("77") and family and given names of two ("Li", "Na"): as words of
  // their own (shorter fragments would blank ordinary words). A prefix or suffix ("Dr", "Mr") is
  // left: it says nothing of who.
  for (const v of [...ids, ...otherIds]) for (const id of v.split('\\')) if (id.trim().length === 2) words.add(wordOnly(id.trim()));
  for (const name of valuesOf(input, PN, encoding, [])) {
    for (const group of name.split(/[\\=]/))
      for (const [i, part] of group.split('^').entries()) {
        const w = part.trim();
        if (w.length >= 3) words.add(escape(w));
        else if (w.length === 2 && i < 2) words.add(wordOnly(w));
      }
  }
  // Every date of the dataset: a description's "CT 20200115" or "of 15.01.2020" gave the real
  // date beside the shifted one (and so the shift of every other date), or instead of a removed one.
  for (const v of valuesOf(input, DATES, encoding, [])) for (const d of v.split('\\')) for (const form of dateForms(d.trim())) words.add(escape(form));
  for (const v of WHOLE.map((t) => read(byTag.get(t)))) {
    for (const value of v.split('\\')) {
      if (value.trim().length >= 3) words.add(escape(value.trim()));
      for (const w of value.split(/[\s,.;:()/-]+/)) if (w.length >= 4 && !GENERIC.has(w.toLowerCase())) words.add(escape(w));
    }
  }
  if (!words.size) return { pattern: null, encoding };
  return { pattern: new RegExp([...words].sort((a, b) => b.length - a.length).join('|'), 'giu'), encoding };
}

const PN = new Set(['PN']);
const DATES = new Set(['DA', 'DT']);

const EMAIL = /[\w.%+-]+@[\w-]+(?:\.[\w-]+)+/g;
/** Runs of digits and the separators of a telephone number; which ones are numbers is judged below. */
const PHONE_CANDIDATE = /(?<![\w.])[+(]?\d[\d ()./-]{4,}\d(?![\w])/g;
const DATE_LIKE = /^(?:\d{4}[-./]\d{2}[-./]\d{2}|\d{2}[-./]\d{2}[-./]\d{4}|\d{8})$/;

/**
 * A telephone number, not a measurement or a date: 7 digits or more, and written as numbers are
 * (an international +, an area code in brackets, dashes or dots between groups, or a national
 * 0 and 9 digits or more). "120 140 160" (b-values) and "2026-03-15" stay.
 */
function isPhone(s: string): boolean {
  const digits = s.replace(/\D/g, '').length;
  if (digits < 7 || DATE_LIKE.test(s)) return false;
  return /^[+(]/.test(s) || /\d[-.)]\s?\d/.test(s) || (s.startsWith('0') && digits >= 9);
}

/**
 * A descriptor kept, with what identifies someone replaced by X's (one a character). UTF-8 text
 * is matched as characters: read byte for byte, "MÜLLER" did not match the bytes of "Müller".
 */
export function cleanText(value: Buffer, d: Descriptors): Buffer {
  const original = value.toString(d.encoding);
  const blank = (m: string): string => 'X'.repeat([...m].length);
  let cleaned = d.pattern ? original.replace(d.pattern, blank) : original;
  cleaned = cleaned.replace(EMAIL, blank).replace(PHONE_CANDIDATE, (m) => (isPhone(m.trim()) ? blank(m) : m));
  if (cleaned === original) return value;
  const out = Buffer.from(cleaned, d.encoding);
  // X's are one byte where the UTF-8 characters they replace were two or more: padded to even length.
  return out.length % 2 ? Buffer.concat([out, Buffer.from(' ')]) : out;
}
