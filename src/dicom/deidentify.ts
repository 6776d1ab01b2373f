// De-identification of a dataset per PS3.15 Annex E, Basic Application Level Confidentiality
// Profile (Table E.1-1, generated into deid-table.generated.ts) with the options a research
// centre needs. The table applies at every nesting level. Attributes the table does not list
// are kept when the data dictionary knows them (PS3.6 defines what they hold), and removed when
// it does not: an attribute of a later edition, or a UN element of an unknown tag, may carry
// anything, and what cannot be judged is not passed on (fail closed). Private ones are removed
// unless on the safe list. The caller supplies what must
// be the same across files and runs (the pseudonym, the date shift, the UID mapping), so this
// file stays a pure function of the dataset.
import { ATTRIBUTE_ACTIONS, REPEATING_ACTIONS } from './deid-table.generated.js';
import type { ProfileOptions } from './deid-types.js';
import { cleanText, descriptorPatterns } from './deid-clean.js';
import { dummyValue, shiftDateValue } from './deid-values.js';
import { type TreeElement, parseUnItems } from './dataset-tree.js';
import { lookupTag } from './dictionary.js';
import { isStandardUid } from './uids.js';

export interface DeidProfile {
  /** Retain Longitudinal Temporal Information with Modified Dates: dates shifted per patient. */
  retainModifiedDates: boolean;
  retainPatientCharacteristics: boolean;
  retainDeviceIdentity: boolean;
  /** Clean Descriptors: descriptions kept with the patient's identifiers cleaned out (else removed). */
  cleanDescriptors: boolean;
  /** Private elements kept: group, private creator, element within the block (low byte). */
  safePrivate: readonly SafePrivate[];
}

export interface SafePrivate {
  group: number;
  creator: string;
  element: number;
}

export interface DeidContext {
  profile: DeidProfile;
  /** Replaces PatientID and PatientName. */
  pseudonym: string;
  /** Days added to every date when retainModifiedDates (negative: earlier). */
  shiftDays: number;
  /** The same original UID gives the same new UID, in every file and run. */
  mapUid(uid: string): string;
  /** Said in De-identification Method after the profile and options (what was not done, such as burned-in text left in the pixels). */
  methodNotes?: readonly string[];
}

const EXACT = new Map<number, readonly [string, ProfileOptions]>(ATTRIBUTE_ACTIONS.map(([t, b, o]) => [t, [b, o]]));

const TAG = {
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063,
  DeidentificationMethodCodeSequence: 0x00120064,
  LongitudinalTemporalInformationModified: 0x00280303,
  CodeValue: 0x00080100,
  CodingSchemeDesignator: 0x00080102,
  CodeMeaning: 0x00080104,
} as const;

/** Repeating groups 6000-601E (even): overlay planes (PS3.5 7.6). */
const isOverlayGroup = (tag: number): boolean => {
  const group = tag >>> 16;
  return group >= 0x6000 && group <= 0x601e && !(group & 1);
};

function entryFor(tag: number): readonly [string, ProfileOptions] | undefined {
  const exact = EXACT.get(tag);
  if (exact) return exact;
  const r = REPEATING_ACTIONS.find(([mask, value]) => ((tag & mask) >>> 0) === value);
  return r ? [r[2], r[3]] : undefined;
}

/**
 * Compound actions depend on the IOD (Type 3 vs 2 vs 1); without the IOD at hand we take the
 * one that keeps the attribute present, which never breaks conformance and removes the content.
 */
function resolved(action: string): string {
  switch (action) {
    case 'X/Z':
      return 'Z';
    case 'X/D':
    case 'Z/D':
    case 'X/Z/D':
      return 'D';
    case 'X/Z/U*':
      return 'U*';
    default:
      return action;
  }
}

/** The action for a tag under the profile: the option's column when the option is on, else the Basic Profile's. */
export function actionFor(tag: number, profile: DeidProfile): string | undefined {
  const entry = entryFor(tag);
  if (!entry) return undefined;
  const [basic, o] = entry;
  return resolved(
    (profile.retainModifiedDates && o.modifiedDates) ||
      (profile.retainPatientCharacteristics && o.patient) ||
      (profile.retainDeviceIdentity && o.device) ||
      (profile.cleanDescriptors && o.descriptors) ||
      basic,
  );
}

/** The Basic Profile's action for a tag: what an option's C falls back to when nothing here can clean the value. */
function basicActionFor(tag: number): string {
  const entry = entryFor(tag);
  return entry ? resolved(entry[0]) : 'X';
}

const text = (e: TreeElement | undefined): string => (e ? e.value.toString('latin1').replace(/[\0 ]+$/, '').trim() : '');
const textValue = (s: string, vr: string): Buffer => {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : b;
};

/**
 * Attributes whose UIDs name a definition (a SOP class, a transfer syntax, a coding scheme, a
 * context group), never an instance: kept whatever their value, a private SOP class included
 * (mapped, the object or reference would no longer say what it is).
 */
const DEFINITION_UIDS = new Set([
  0x00000002, // Affected SOP Class UID
  0x00000003, // Requested SOP Class UID
  0x00020002, // Media Storage SOP Class UID
  0x00020010, // Transfer Syntax UID
  0x00020012, // Implementation Class UID
  0x00041510, // Referenced SOP Class UID in File
  0x00041512, // Referenced Transfer Syntax UID in File
  0x00080016, // SOP Class UID
  0x0008001a, // Related General SOP Class UID
  0x0008001b, // Original Specialized SOP Class UID
  0x00080062, // SOP Classes in Study
  0x0008010c, // Coding Scheme UID
  0x00080117, // Context UID
  0x00080118, // Mapping Resource UID
  0x00081150, // Referenced SOP Class UID
]);

/**
 * Each UID of a UI value mapped (the same original, the same new UID), but the standard's own
 * (a SOP class, a transfer syntax, a well-known frame of reference): they identify no one, and a
 * reference whose SOP Class UID were mapped would no longer say what it refers to.
 */
function mapUids(tag: number, value: Buffer, ctx: DeidContext): Buffer {
  if (DEFINITION_UIDS.has(tag)) return value;
  const uids = value.toString('latin1').replace(/[\0 ]+$/, '').split('\\');
  return textValue(uids.map((raw) => {
    const u = raw.trim();
    return u && !isStandardUid(u) ? ctx.mapUid(u) : u;
  }).join('\\'), 'UI');
}

/** A UID: two dots at least (a version "1.0" or a DS is not taken for one), no leading zeros, 64 characters at most. */
const UID_SHAPE = /^(?=.{1,64}$)(0|[1-9]\d*)(\.(0|[1-9]\d*)){2,}$/;

/** A value that is one UID or several (backslash-separated) and nothing else, NUL- or space-padded. */
function looksLikeUids(value: Buffer): boolean {
  if (value.length === 0 || value.length > 64 * 64) return false;
  return value.toString('latin1').replace(/[\0 ]+$/, '').split('\\').every((u) => UID_SHAPE.test(u));
}

/** Private elements of one dataset to keep: creators whose block has a safe element, and those elements. */
function keptPrivate(list: readonly TreeElement[], safe: readonly SafePrivate[]): Set<number> {
  const kept = new Set<number>();
  if (!safe.length) return kept;
  for (const e of list) {
    const group = e.tag >>> 16;
    const el = e.tag & 0xffff;
    if (!(group & 1) || el < 0x10 || el > 0xff) continue;
    const creator = text(e);
    for (const s of safe) {
      if (s.group !== group || s.creator !== creator) continue;
      const tag = ((group << 16) | (el << 8) | s.element) >>> 0;
      if (list.some((x) => x.tag === tag)) kept.add(tag).add(e.tag);
    }
  }
  return kept;
}

/** How a dataset is walked: as the table says, as a dummy sequence's items, or a cleaned sequence's. */
type Mode = 'plain' | 'dummy' | 'clean';

export interface DeidResult {
  elements: TreeElement[];
  /** Tags removed or emptied, for the report and the tests. */
  removed: number;
}

/** Free-text VRs: what Clean Descriptors cleans of the patient's identifiers. */
const CLEANED_TEXT = new Set(['LO', 'SH', 'ST', 'LT', 'UT', 'UC', 'PN']);
/** VRs whose value is text: a UN value of one of them can be read as it (the bytes are the same). */
const TEXT_VRS = new Set([...CLEANED_TEXT, 'AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'TM', 'UI', 'UR']);

/**
 * A UN element (sent by a system that did not know the attribute) as the dictionary knows it,
 * so that the table's action applies to it: text VRs by their VR, a sequence by its items
 * (implicit VR LE inside UN). Null: a UN that should hold a sequence and does not parse.
 */
function knownAs(e: TreeElement): TreeElement | null {
  if (e.vr !== 'UN' || e.items) return e;
  const vr = lookupTag(e.tag)?.vr;
  if (vr === undefined || vr === 'UN') return e;
  if (vr === 'SQ') {
    try {
      return { tag: e.tag, vr: 'SQ', value: Buffer.alloc(0), items: parseUnItems(e.value) };
    } catch {
      return null;
    }
  }
  return TEXT_VRS.has(vr) ? { ...e, vr } : e;
}

/** De-identifies a parsed dataset (top level); the input is not changed. */
export function deidentifyElements(input: readonly TreeElement[], ctx: DeidContext): DeidResult {
  const patterns = ctx.profile.cleanDescriptors ? descriptorPatterns(input) : { pattern: null, encoding: 'latin1' as const };
  let removed = 0;

  /**
   * `dummy`: inside a sequence whose action is D. A dummy sequence keeps its items' structure
   * but none of their content: coded strings (value types, relationships) stay, UIDs are mapped
   * like everywhere else (references still resolve), every other value becomes a dummy, and
   * what the table removes is removed. Recursing with the table alone kept Code Values, Code
   * Meanings and Text Values (an institution's code, an operator's ID, an SR's text).
   * `clean`: inside a sequence that Clean Descriptors keeps (C: Admitting Diagnoses Code
   * Sequence, Reason for Visit Code Sequence, Request Attributes Sequence…): the table applies,
   * and the text the table does not list (a Code Meaning) is cleaned like the descriptors.
   */
  const walk = (list: readonly TreeElement[], mode: Mode): TreeElement[] => {
    const safe = keptPrivate(list, ctx.profile.safePrivate);
    const out: TreeElement[] = [];
    for (const original of list) {
      // Group lengths (gggg,0000, retired) would no longer match their changed groups.
      if ((original.tag & 0xffff) === 0) continue;
      // The whole Overlay Plane module (rows, columns, origin, bits, description, label: free
      // text), not only the table's Overlay Data and Comments, which left a module no reader takes.
      if (isOverlayGroup(original.tag)) {
        removed++;
        continue;
      }
      if ((original.tag >>> 16) & 1) {
        // Inside a dummy sequence nothing keeps its content: a safe private element there kept
        // its real value while everything around it became a dummy.
        if (safe.has(original.tag) && mode !== 'dummy') out.push(safePrivate(original));
        else removed++;
        continue;
      }
      const e = knownAs(original);
      if (e === null) {
        removed++;
        continue;
      }
      const action = actionFor(e.tag, ctx.profile);
      // Neither the table nor the dictionary knows it: its meaning cannot be judged (fail closed).
      if (action === undefined && !lookupTag(e.tag)) {
        removed++;
        continue;
      }
      if (mode === 'dummy') {
        if (action === 'X') removed++;
        else out.push(dummyOf(e));
        continue;
      }
      apply(e, action, out, mode);
    }
    return out;
  };

  /**
   * A safe private element is kept, but what it holds is still de-identified: a sequence's
   * items as any dataset (the table applies in them, their own private elements go unless safe),
   * its UIDs mapped. A sequence sent as UN (its creator unknown to the sender) is read as
   * implicit VR items when it parses as such; otherwise kept as the bytes the list vouches for.
   */
  const safePrivate = (e: TreeElement): TreeElement => {
    if (e.items) return { ...e, items: e.items.map((i) => walk(i, 'plain')) };
    if (e.vr === 'UI') return { ...e, value: mapUids(e.tag, e.value, ctx) };
    if (e.vr === 'UN' && e.value.length >= 8 && e.value.readUInt32LE(0) === 0xe000fffe) {
      try {
        return { tag: e.tag, vr: 'SQ', value: Buffer.alloc(0), items: parseUnItems(e.value).map((i) => walk(i, 'plain')) };
      } catch {
        return e;
      }
    }
    // In an implicit VR file every private element is UN: a UID there went out as it was (the
    // explicit VR copy of the same file had it mapped). A value that is UIDs and nothing else is
    // mapped; it keeps its VR.
    if (e.vr === 'UN' && looksLikeUids(e.value)) return { ...e, value: mapUids(e.tag, e.value, ctx) };
    return e;
  };

  const recurse = (e: TreeElement, mode: Mode): TreeElement => (e.items ? { ...e, items: e.items.map((i) => walk(i, mode)) } : e);

  const dummyOf = (e: TreeElement): TreeElement => {
    if (e.items) return { ...e, items: e.items.map((i) => walk(i, 'dummy')) };
    if (e.vr === 'UI') return { ...e, value: mapUids(e.tag, e.value, ctx) };
    if (e.vr === 'CS' || e.value.length === 0) return e;
    removed++;
    return { tag: e.tag, vr: e.vr, value: dummyValue(e.vr) };
  };

  const apply = (e: TreeElement, action: string | undefined, out: TreeElement[], mode: Mode): void => {
    switch (action) {
      case undefined:
        // Not in the table but a UID (SOP Instance UID of Concatenation Source, Volume and Table
        // Frame of Reference UIDs…): mapped as the table's U, or it would link back to the original.
        if (e.vr === 'UI') out.push({ ...e, value: mapUids(e.tag, e.value, ctx) });
        // A URL or URI the table does not list (Retrieve URL, Retrieve URI, Pixel Data Provider
        // URL) names the original archive and carries the very UIDs replaced above: removed.
        else if (e.vr === 'UR') removed++;
        else if (mode === 'clean' && !e.items && CLEANED_TEXT.has(e.vr)) out.push({ ...e, value: cleanText(e.value, patterns) });
        else out.push(recurse(e, mode));
        return;
      case 'K':
        out.push(recurse(e, mode));
        return;
      case 'X':
        removed++;
        return;
      case 'Z':
        removed++;
        out.push({ tag: e.tag, vr: e.vr, value: Buffer.alloc(0), ...(e.items ? { items: [] } : {}) });
        return;
      case 'D':
        removed++;
        if (e.items) out.push({ ...e, items: e.items.map((i) => walk(i, 'dummy')) });
        // A UID must stay unique (an Annotation Group UID per group): mapped, not one dummy for all.
        else if (e.vr === 'UI' && e.value.length > 0) out.push({ ...e, value: mapUids(e.tag, e.value, ctx) });
        else out.push({ tag: e.tag, vr: e.vr, value: dummyValue(e.vr) });
        return;
      case 'U':
        out.push(e.vr === 'UI' ? { ...e, value: mapUids(e.tag, e.value, ctx) } : recurse(e, mode));
        return;
      case 'U*':
        out.push(recurse(e, mode));
        return;
      case 'C':
        clean(e, out, mode);
        return;
      default:
        removed++; // an action this version does not know: the safe side is to remove
    }
  };

  /**
   * C, "clean": what an option keeps, changed so that it identifies no one — dates shifted by
   * the patient's days, descriptors cleaned of the patient's identifiers. Where this version has
   * no such cleaning (free text under Retain Patient Characteristics without Clean Descriptors,
   * a timestamp in binary), the Basic Profile's action applies instead of keeping the value.
   */
  const clean = (e: TreeElement, out: TreeElement[], mode: Mode): void => {
    // A sequence kept by Clean Descriptors: its items cleaned as descriptors are (Code Meanings).
    if (e.items && ctx.profile.cleanDescriptors) out.push(recurse(e, 'clean'));
    else if ((e.vr === 'DA' || e.vr === 'DT') && ctx.profile.retainModifiedDates) out.push({ ...e, value: shiftDateValue(e.value, e.vr, ctx.shiftDays) });
    else if (e.vr === 'TM' && ctx.profile.retainModifiedDates) out.push(e); // whole-day shifts leave times of day as they were
    else if (CLEANED_TEXT.has(e.vr) && ctx.profile.cleanDescriptors) out.push({ ...e, value: cleanText(e.value, patterns) });
    else {
      const basic = basicActionFor(e.tag);
      apply(e, basic === 'C' ? 'X' : basic, out, mode);
    }
  };

  const elements = walk(input, 'plain');
  setText(elements, TAG.PatientName, 'PN', ctx.pseudonym);
  setText(elements, TAG.PatientID, 'LO', ctx.pseudonym);
  setText(elements, TAG.PatientIdentityRemoved, 'CS', 'YES');
  setText(elements, TAG.LongitudinalTemporalInformationModified, 'CS', ctx.profile.retainModifiedDates ? 'MODIFIED' : 'REMOVED');
  const methods = methodCodes(ctx.profile);
  setText(elements, TAG.DeidentificationMethod, 'LO', [...methods.map(([, m]) => m), ...(ctx.methodNotes ?? [])].join('\\'));
  const items = methods.map(([code, meaning]) => [
    { tag: TAG.CodeValue, vr: 'SH', value: textValue(code, 'SH') },
    { tag: TAG.CodingSchemeDesignator, vr: 'SH', value: textValue('DCM', 'SH') },
    { tag: TAG.CodeMeaning, vr: 'LO', value: textValue(meaning, 'LO') },
  ]);
  replace(elements, { tag: TAG.DeidentificationMethodCodeSequence, vr: 'SQ', value: Buffer.alloc(0), items });
  return { elements, removed };
}

/** CID 7050 codes of the profile and options applied (PS3.16). */
function methodCodes(p: DeidProfile): Array<[string, string]> {
  const codes: Array<[string, string]> = [['113100', 'Basic Application Confidentiality Profile']];
  if (p.cleanDescriptors) codes.push(['113105', 'Clean Descriptors Option']);
  if (p.retainModifiedDates) codes.push(['113107', 'Retain Longitudinal Temporal Information Modified Dates Option']);
  if (p.retainPatientCharacteristics) codes.push(['113108', 'Retain Patient Characteristics Option']);
  if (p.retainDeviceIdentity) codes.push(['113109', 'Retain Device Identity Option']);
  if (p.safePrivate.length) codes.push(['113111', 'Retain Safe Private Option']);
  return codes;
}

function replace(list: TreeElement[], e: TreeElement): void {
  const i = list.findIndex((x) => x.tag === e.tag);
  if (i >= 0) list[i] = e;
  else list.push(e);
}

function setText(list: TreeElement[], tag: number, vr: string, value: string): void {
  replace(list, { tag, vr, value: textValue(value, vr) });
}

/** The text of a top-level element of a (de-identified) dataset, for names and reports. */
export function elementString(list: readonly TreeElement[], tag: number): string | null {
  const t = text(list.find((e) => e.tag === tag));
  return t === '' ? null : t;
}
