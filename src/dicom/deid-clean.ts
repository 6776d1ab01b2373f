// Option "Clean Descriptors" (PS3.15 E.3.5): descriptions kept, with what identifies someone
// taken out. A textual clean, not an understanding of the text: it finds the names, IDs and
// dates the dataset itself holds (every person name at any depth: the patient's, the
// physicians', the operators'; the patient's IDs, birth date and accession number; the
// institution), telephone numbers and e-mail addresses, and replaces each by X's. Free text
// naming someone in other words (a nickname, "the patient's wife") is not caught.
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

const text = (e: TreeElement | undefined): string => (e ? e.value.toString('latin1').replace(/[\0 ]+$/, '').trim() : '');
const escape = (w: string): string => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every PN value at any depth (names of physicians, operators, observers, the patient). */
function personNames(list: readonly TreeElement[], into: string[]): string[] {
  for (const e of list) {
    if (e.vr === 'PN') into.push(text(e));
    for (const item of e.items ?? []) personNames(item, into);
  }
  return into;
}

/** What to look for in the descriptors of a dataset (before it is de-identified). */
export function descriptorPatterns(input: readonly TreeElement[]): RegExp | null {
  const byTag = new Map(input.map((e) => [e.tag, e]));
  // The patient's other IDs too (Other Patient IDs Sequence, 0010,1002): an old MRN in a comment.
  const otherIds = (byTag.get(0x00101002)?.items ?? []).map((item) => text(item.find((e) => e.tag === 0x00100020)));
  const words = new Set<string>();
  for (const v of [...IDENTIFYING.map((t) => text(byTag.get(t))), ...otherIds, ...personNames(input, [])]) {
    for (const part of v.split(/[\\^=]/)) {
      const w = part.trim();
      // Short fragments ("MR", "DR") would blank ordinary words; names, dates and IDs are longer.
      if (w.length >= 3) words.add(escape(w));
    }
  }
  for (const v of WHOLE.map((t) => text(byTag.get(t)))) {
    for (const value of v.split('\\')) {
      if (value.trim().length >= 3) words.add(escape(value.trim()));
      for (const w of value.split(/[\s,.;:()/-]+/)) if (w.length >= 4 && !GENERIC.has(w.toLowerCase())) words.add(escape(w));
    }
  }
  if (!words.size) return null;
  return new RegExp([...words].sort((a, b) => b.length - a.length).join('|'), 'gi');
}

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

/** A descriptor kept, with what identifies someone replaced by X's (the same length). */
export function cleanText(value: Buffer, patterns: RegExp | null): Buffer {
  const original = value.toString('latin1');
  const blank = (m: string): string => 'X'.repeat(m.length);
  let cleaned = patterns ? original.replace(patterns, blank) : original;
  cleaned = cleaned.replace(EMAIL, blank).replace(PHONE_CANDIDATE, (m) => (isPhone(m.trim()) ? blank(m) : m));
  return cleaned === original ? value : Buffer.from(cleaned, 'latin1');
}
