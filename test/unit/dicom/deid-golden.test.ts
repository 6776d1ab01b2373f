// A golden list kept apart from the generated table: tags and what PS3.15 Table E.1-1 (2026d)
// prints for them, typed from the standard's text, and the outcome each must have in a
// de-identified dataset. It samples every action kind and the rows the old (2024e) table
// lacked, so a stale or wrongly merged table fails here even where actionFor agrees with it.
// Also: what neither the table nor the dictionary knows is removed (fail closed), and an
// implicit VR dataset holding the new attributes is read with their VRs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTree, type TreeElement } from '../../../src/dicom/dataset-tree.js';
import { type DeidContext, type DeidProfile, deidentifyElements } from '../../../src/dicom/deidentify.js';
import { lookupTag } from '../../../src/dicom/dictionary.js';

const BASIC: DeidProfile = { retainModifiedDates: false, retainPatientCharacteristics: false, retainDeviceIdentity: false, cleanDescriptors: false, safePrivate: [] };
const ctx = (profile: Partial<DeidProfile> = {}): DeidContext => ({
  profile: { ...BASIC, ...profile },
  pseudonym: 'ANONGOLDEN0001',
  shiftDays: -10,
  mapUid: (u) => `2.25.${[...u].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000_007, 7)}`,
});

type Outcome = 'removed' | 'empty' | 'dummy' | 'mapped' | 'kept' | 'shifted';

/** [tag, VR, what E.1-1 prints, the outcome]; X/Z → empty, X/D Z/D X/Z/D → dummy, as our docs say. */
const GOLDEN: Array<[number, string, string, Outcome]> = [
  // one or more of each action kind of the Basic Profile
  [0x00101040, 'LO', 'X', 'removed'], // Patient's Address
  [0x00081030, 'LO', 'X', 'removed'], // Study Description
  [0x00080050, 'SH', 'Z', 'empty'], // Accession Number
  [0x00080090, 'PN', 'Z', 'empty'], // Referring Physician's Name
  [0x00100030, 'DA', 'Z', 'empty'], // Patient's Birth Date
  [0x00120010, 'LO', 'D', 'dummy'], // Clinical Trial Sponsor Name
  [0x0040a123, 'PN', 'D', 'dummy'], // Person Name
  [0x0020000d, 'UI', 'U', 'mapped'], // Study Instance UID
  [0x00083010, 'UI', 'U', 'mapped'], // Irradiation Event UID
  [0x00080022, 'DA', 'X/Z', 'empty'], // Acquisition Date
  [0x00080021, 'DA', 'X/D', 'dummy'], // Series Date
  [0x00080023, 'DA', 'Z/D', 'dummy'], // Content Date
  [0x00080080, 'LO', 'X/Z/D', 'dummy'], // Institution Name
  [0x50003000, 'OW', 'X', 'removed'], // Curve Data (50xx,xxxx)
  [0x60003000, 'OW', 'X', 'removed'], // Overlay Data (60xx,3000)
  [0x60024000, 'LT', 'X', 'removed'], // Overlay Comments (60xx,4000), second overlay
  // rows of later editions than 2024e
  [0x00100012, 'LT', 'X', 'removed'], // Name to Use
  [0x00100013, 'UT', 'X', 'removed'], // Name to Use Comment
  [0x00100016, 'UT', 'X', 'removed'], // Pronoun Comment
  [0x00100042, 'UT', 'X', 'removed'], // Sex Parameters for Clinical Use Category Comment
  [0x00100045, 'UT', 'X', 'removed'], // Gender Identity Comment
  [0x00100047, 'UR', 'X', 'removed'], // Sex Parameters for Clinical Use Category Reference
  [0x00102162, 'UC', 'X', 'removed'], // Ethnic Groups
  [0x0040a034, 'DT', 'X', 'removed'], // Effective Start DateTime
  [0x0040a035, 'DT', 'X', 'removed'], // Effective Stop DateTime
  [0x0040b034, 'DT', 'X', 'removed'], // Annotation DateTime
  [0x0040b036, 'DT', 'X', 'removed'], // Segment Definition DateTime
  [0x0040b03b, 'LT', 'X', 'removed'], // Montage Name
  [0x0040b03f, 'LO', 'X', 'removed'], // Montage Channel Label
  [0x00181010, 'LO', 'X', 'removed'], // Secondary Capture Device ID
  [0x003a0203, 'SH', 'X', 'removed'], // Channel Label
  [0x00400556, 'ST', 'X', 'removed'], // Acquisition Context Description
  [0x00700006, 'ST', 'D', 'dummy'], // Unformatted Text Value
  [0x300a0054, 'UI', 'U', 'mapped'], // Table Top Position Alignment UID
  // not in the table, known to PS3.6: kept
  [0x00280010, 'US', '-', 'kept'], // Rows
  [0x00180050, 'DS', '-', 'kept'], // Slice Thickness
];

/** Sequences of the new rows: removed (X), or kept as a dummy sequence (X/D). */
const GOLDEN_SEQUENCES: Array<[number, string, Outcome]> = [
  [0x00100011, 'X', 'removed'], // Person Names to Use Sequence
  [0x00100014, 'X', 'removed'], // Third Person Pronouns Sequence
  [0x00100015, 'X', 'removed'], // Pronoun Code Sequence
  [0x00100041, 'X', 'removed'], // Gender Identity Sequence
  [0x00100043, 'X', 'removed'], // Sex Parameters for Clinical Use Category Sequence
  [0x00100044, 'X', 'removed'], // Gender Identity Code Sequence
  [0x00100046, 'X', 'removed'], // Sex Parameters for Clinical Use Category Code Sequence
  [0x00102161, 'X', 'removed'], // Ethnic Group Code Sequence
  [0x00081301, 'X', 'removed'], // Principal Diagnosis Code Sequence
  [0x00081302, 'X', 'removed'], // Primary Diagnosis Code Sequence
  [0x00081303, 'X', 'removed'], // Secondary Diagnoses Code Sequence
  [0x00081304, 'X', 'removed'], // Histological Diagnoses Code Sequence
  [0x0040b020, 'X/D', 'dummy'], // Waveform Annotation Sequence
];

const SAMPLE: Record<string, Buffer> = {
  LO: Buffer.from('Golden Value'),
  SH: Buffer.from('GOLD01'),
  PN: Buffer.from('Golden^Gina '),
  DA: Buffer.from('20260315'),
  DT: Buffer.from('20260315101500'),
  UI: Buffer.from('1.2.826.0.1.3680043.99.1.2\0'),
  LT: Buffer.from('golden text '),
  UT: Buffer.from('golden text '),
  UC: Buffer.from('golden text '),
  ST: Buffer.from('golden text '),
  UR: Buffer.from('https://example.org/golden '),
  OW: Buffer.from([1, 2, 3, 4]),
  US: Buffer.from([0, 2]),
  DS: Buffer.from('1.5 '),
};

const find = (list: readonly TreeElement[], tag: number): TreeElement | undefined => list.find((e) => e.tag === tag);

function outcome(before: TreeElement, after: TreeElement | undefined): Outcome {
  if (!after) return 'removed';
  if (before.items) return after.items?.length ? 'dummy' : 'empty';
  if (after.value.length === 0) return 'empty';
  if (after.value.equals(before.value)) return 'kept';
  if (before.vr === 'UI') return 'mapped';
  return 'dummy';
}

test('every golden tag has the outcome Table E.1-1 prints for it', () => {
  const input = GOLDEN.map(([tag, vr]) => ({ tag, vr, value: SAMPLE[vr]! }));
  const { elements } = deidentifyElements(input, ctx());
  const wrong = GOLDEN.filter(([tag], i) => outcome(input[i]!, find(elements, tag)) !== GOLDEN[i]![3]).map(
    ([tag, , printed, want]) => `${tag.toString(16).padStart(8, '0')} (${printed}): want ${want}, got ${outcome(input.find((e) => e.tag === tag)!, find(elements, tag))}`,
  );
  assert.deepEqual(wrong, []);
});

test('every golden sequence has its outcome, and a dummy sequence keeps nothing of its items', () => {
  const code = [
    { tag: 0x00080100, vr: 'SH', value: Buffer.from('GOLD99') },
    { tag: 0x00080102, vr: 'SH', value: Buffer.from('99GOLDEN') },
    { tag: 0x00080104, vr: 'LO', value: Buffer.from('Golden meaning') },
  ];
  const input: TreeElement[] = GOLDEN_SEQUENCES.map(([tag]) => ({ tag, vr: 'SQ', value: Buffer.alloc(0), items: [code] }));
  const { elements } = deidentifyElements(input, ctx());
  for (const [i, [tag, printed, want]] of GOLDEN_SEQUENCES.entries()) {
    assert.equal(outcome(input[i]!, find(elements, tag)), want, `${tag.toString(16)} (${printed})`);
  }
  const waveform = find(elements, 0x0040b020)!;
  assert.ok(!JSON.stringify(waveform.items!.flat().map((e) => e.value.toString('latin1'))).includes('GOLD'));
});

test('an option column of the golden list: Retain Device Identity keeps the serial number, modified dates shift Study Date', () => {
  const input = [
    { tag: 0x00181000, vr: 'LO', value: Buffer.from('SN-0042 ') }, // Device Serial Number: X/Z/D, device K
    { tag: 0x00181010, vr: 'LO', value: Buffer.from('SCDEV7') }, // Secondary Capture Device ID: X, device K (2026d)
    { tag: 0x00080020, vr: 'DA', value: Buffer.from('20260315') }, // Study Date: Z, modified dates C
  ];
  const { elements } = deidentifyElements(input, ctx({ retainDeviceIdentity: true, retainModifiedDates: true }));
  assert.equal(find(elements, 0x00181000)!.value.toString(), 'SN-0042 ');
  assert.equal(find(elements, 0x00181010)!.value.toString(), 'SCDEV7');
  assert.equal(find(elements, 0x00080020)!.value.toString(), '20260305');
});

test('fail closed: a non-private attribute neither the table nor the dictionary knows is removed, UN or not', () => {
  const input = [
    { tag: 0x00980010, vr: 'LO', value: Buffer.from('who knows') }, // group 0098 (even): no attribute of PS3.6
    { tag: 0x00980020, vr: 'UN', value: Buffer.from('Doe^John') },
    { tag: 0x00280011, vr: 'US', value: Buffer.from([0, 2]) }, // Columns: known, not in the table: kept
  ];
  const { elements } = deidentifyElements(input, ctx());
  assert.equal(find(elements, 0x00980010), undefined);
  assert.equal(find(elements, 0x00980020), undefined);
  assert.ok(find(elements, 0x00280011));
});

test('an implicit VR dataset holding the new attributes reads them with their VRs, and they are removed', () => {
  const el = (tag: number, value: string): Buffer => {
    const v = Buffer.from(value.length % 2 ? `${value} ` : value, 'latin1');
    const h = Buffer.alloc(8);
    h.writeUInt16LE(tag >>> 16, 0);
    h.writeUInt16LE(tag & 0xffff, 2);
    h.writeUInt32LE(v.length, 4);
    return Buffer.concat([h, v]);
  };
  const data = Buffer.concat([el(0x00100012, 'Johnny'), el(0x00102162, 'Some group'), el(0x0040b03f, 'Fp1-F3')]);
  const tree = parseTree(data, { explicitVR: false, littleEndian: true });
  assert.deepEqual(tree.map((e) => e.vr), ['LT', 'UC', 'LO']);
  assert.equal(lookupTag(0x00100011)?.vr, 'SQ', 'Person Names to Use Sequence read as a sequence');
  assert.deepEqual(deidentifyElements(tree, ctx()).elements.filter((e) => [0x00100012, 0x00102162, 0x0040b03f].includes(e.tag)), []);
});
