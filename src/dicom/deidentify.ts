// De-identification of a dataset per PS3.15 Annex E, Basic Application Level Confidentiality
// Profile (Table E.1-1, generated into deid-table.generated.ts) with the options a research
// centre needs. The table applies at every nesting level. Attributes the table does not list
// are kept; private ones are removed unless on the safe list. The caller supplies what must
// be the same across files and runs (the pseudonym, the date shift, the UID mapping), so this
// file stays a pure function of the dataset.
import { ATTRIBUTE_ACTIONS, REPEATING_ACTIONS } from './deid-table.generated.js';
import type { ProfileOptions } from './deid-types.js';
import { cleanText, dummyValue, identifierPatterns, shiftDateValue } from './deid-values.js';
import type { TreeElement } from './dataset-tree.js';

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

/** Values read before de-identifying, to clean descriptors of them (PS3.15 E.3.5). */
const IDENTIFYING = [0x00100010, 0x00100020, 0x00101000, 0x00101001, 0x00101005, 0x00101060, 0x00080050, 0x00100030, 0x00080090];

/** The action for a tag under the profile: the option's column when the option is on, else the Basic Profile's. */
export function actionFor(tag: number, profile: DeidProfile): string | undefined {
  let entry = EXACT.get(tag);
  if (!entry) {
    const r = REPEATING_ACTIONS.find(([mask, value]) => ((tag & mask) >>> 0) === value);
    if (r) entry = [r[2], r[3]];
  }
  if (!entry) return undefined;
  const [basic, o] = entry;
  const chosen =
    (profile.retainModifiedDates && o.modifiedDates) ||
    (profile.retainPatientCharacteristics && o.patient) ||
    (profile.retainDeviceIdentity && o.device) ||
    (profile.cleanDescriptors && o.descriptors) ||
    basic;
  // Compound actions depend on the IOD (Type 3 vs 2 vs 1); without the IOD at hand we take the
  // one that keeps the attribute present, which never breaks conformance and removes the content.
  switch (chosen) {
    case 'X/Z':
      return 'Z';
    case 'X/D':
    case 'Z/D':
    case 'X/Z/D':
      return 'D';
    case 'X/Z/U*':
      return 'U*';
    default:
      return chosen;
  }
}

const text = (e: TreeElement | undefined): string => (e ? e.value.toString('latin1').replace(/[\0 ]+$/, '').trim() : '');
const textValue = (s: string, vr: string): Buffer => {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : b;
};

function mapUids(value: Buffer, ctx: DeidContext): Buffer {
  const uids = value.toString('latin1').replace(/[\0 ]+$/, '').split('\\');
  return textValue(uids.map((u) => (u.trim() ? ctx.mapUid(u.trim()) : '')).join('\\'), 'UI');
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

export interface DeidResult {
  elements: TreeElement[];
  /** Tags removed or emptied, for the report and the tests. */
  removed: number;
}

/** De-identifies a parsed dataset (top level); the input is not changed. */
export function deidentifyElements(input: readonly TreeElement[], ctx: DeidContext): DeidResult {
  const byTag = new Map(input.map((e) => [e.tag, e]));
  const patterns = ctx.profile.cleanDescriptors ? identifierPatterns(IDENTIFYING.map((t) => text(byTag.get(t)))) : null;
  let removed = 0;

  const walk = (list: readonly TreeElement[]): TreeElement[] => {
    const safe = keptPrivate(list, ctx.profile.safePrivate);
    const out: TreeElement[] = [];
    for (const e of list) {
      if ((e.tag >>> 16) & 1) {
        if (safe.has(e.tag)) out.push(e);
        else removed++;
        continue;
      }
      const action = actionFor(e.tag, ctx.profile);
      const recurse = (): TreeElement => (e.items ? { ...e, items: e.items.map(walk) } : e);
      switch (action) {
        case undefined:
        case 'K':
          out.push(recurse());
          break;
        case 'X':
          removed++;
          break;
        case 'Z':
          removed++;
          out.push({ tag: e.tag, vr: e.vr, value: Buffer.alloc(0), ...(e.items ? { items: [] } : {}) });
          break;
        case 'D':
          removed++;
          out.push(e.items ? recurse() : { tag: e.tag, vr: e.vr, value: dummyValue(e.vr) });
          break;
        case 'U':
          out.push(e.vr === 'UI' ? { ...e, value: mapUids(e.value, ctx) } : recurse());
          break;
        case 'U*':
          out.push(recurse());
          break;
        case 'C':
          if (e.items) out.push(recurse());
          else if (e.vr === 'DA' || e.vr === 'DT') out.push({ ...e, value: ctx.profile.retainModifiedDates ? shiftDateValue(e.value, e.vr, ctx.shiftDays) : Buffer.alloc(0) });
          else if (e.vr === 'TM') out.push(e); // whole-day shifts leave times of day as they were
          else out.push({ ...e, value: cleanText(e.value, patterns) });
          break;
        default:
          removed++; // an action this version does not know: the safe side is to remove
      }
    }
    return out;
  };

  const elements = walk(input);
  setText(elements, TAG.PatientName, 'PN', ctx.pseudonym);
  setText(elements, TAG.PatientID, 'LO', ctx.pseudonym);
  setText(elements, TAG.PatientIdentityRemoved, 'CS', 'YES');
  setText(elements, TAG.LongitudinalTemporalInformationModified, 'CS', ctx.profile.retainModifiedDates ? 'MODIFIED' : 'REMOVED');
  const methods = methodCodes(ctx.profile);
  setText(elements, TAG.DeidentificationMethod, 'LO', methods.map(([, m]) => m).join('\\'));
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
  if (p.retainModifiedDates) codes.push(['113107', 'Retain Longitudinal With Modified Dates Option']);
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
