// De-identification (PS3.15 Annex E) on datasets made for the case, for what a review found
// left behind: the contents of sequences whose action is D (an institution's code, an
// operator's ID, an SR's text), attributes sent as UN (a UID, a sequence of references, a
// date), one dummy UID for every Annotation Group (and of odd length), free text that an
// option's C kept verbatim where nothing cleans it, stale group lengths, and the code meaning
// of option 113107.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeTree, parseTree, type TreeElement } from '../../../src/dicom/dataset-tree.js';
import { type DeidContext, type DeidProfile, deidentifyElements, elementString } from '../../../src/dicom/deidentify.js';

const BASIC: DeidProfile = { retainModifiedDates: false, retainPatientCharacteristics: false, retainDeviceIdentity: false, cleanDescriptors: false, safePrivate: [] };
const ctx = (profile: Partial<DeidProfile> = {}): DeidContext => ({
  profile: { ...BASIC, ...profile },
  pseudonym: 'ANONTEST000001',
  shiftDays: -400,
  mapUid: (u) => `2.25.${[...u].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000_007, 7)}`,
});

const pad = (s: string, vr: string): Buffer => {
  const b = Buffer.from(s, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(vr === 'UI' ? '\0' : ' ')]) : b;
};
const el = (tag: number, vr: string, value: string): TreeElement => ({ tag, vr, value: pad(value, vr) });
const sq = (tag: number, ...items: TreeElement[][]): TreeElement => ({ tag, vr: 'SQ', value: Buffer.alloc(0), items });
const text = (e: TreeElement | undefined): string => (e ? e.value.toString('latin1').replace(/[\0 ]+$/, '') : '');
const find = (list: readonly TreeElement[], tag: number): TreeElement | undefined => list.find((e) => e.tag === tag);

/** Every text value at every depth of a de-identified dataset, to look for what must be gone. */
function allText(list: readonly TreeElement[]): string {
  return list.map((e) => (e.items ? e.items.map(allText).join('|') : e.value.toString('latin1'))).join('|');
}

/** An implicit VR LE item of elements, as a UN value of defined length carries a sequence. */
function implicitItem(elements: TreeElement[]): Buffer {
  const body = Buffer.concat(
    elements.map((e) => {
      const h = Buffer.alloc(8);
      h.writeUInt16LE(e.tag >>> 16, 0);
      h.writeUInt16LE(e.tag & 0xffff, 2);
      h.writeUInt32LE(e.value.length, 4);
      return Buffer.concat([h, e.value]);
    }),
  );
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0);
  h.writeUInt16LE(0xe000, 2);
  h.writeUInt32LE(body.length, 4);
  return Buffer.concat([h, body]);
}

test('a sequence whose action is D keeps its items but none of their content', () => {
  const input = [
    el(0x00080080, 'LO', 'St Elsewhere Hospital'),
    // Institution Code Sequence (X/Z/D → D)
    sq(0x00080082, [el(0x00080100, 'SH', 'STELSE01'), el(0x00080102, 'SH', '99LOCAL'), el(0x00080104, 'LO', 'St Elsewhere Hospital Boston')]),
    // Operator Identification Sequence (X/D) > Person Identification Code Sequence (D)
    sq(0x00081072, [el(0x00401102, 'ST', '12 Elm St'), sq(0x00401101, [el(0x00080100, 'SH', 'EMP12345'), el(0x00080104, 'LO', 'Jane Operator')])]),
    // Content Sequence (D): an SR's text, its value type kept, a reference mapped
    sq(0x0040a730, [
      el(0x0040a040, 'CS', 'TEXT'),
      el(0x0040a010, 'CS', 'CONTAINS'),
      el(0x0040a160, 'UT', 'Patient John Doe MRN123 seen at St Elsewhere'),
      sq(0x00081199, [el(0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.2'), el(0x00081155, 'UI', '1.2.3.4.5.6')]),
    ]),
  ];
  const { elements } = deidentifyElements(input, ctx());
  const all = allText(elements);
  for (const secret of ['STELSE01', 'St Elsewhere', 'EMP12345', 'Jane Operator', '12 Elm St', 'John Doe', 'MRN123', '99LOCAL']) assert.ok(!all.includes(secret), `"${secret}" left in ${all}`);
  const content = find(elements, 0x0040a730)!.items![0]!;
  assert.equal(text(find(content, 0x0040a040)), 'TEXT', 'value type kept: the item is still an SR content item');
  assert.equal(text(find(content, 0x0040a010)), 'CONTAINS');
  assert.ok(find(content, 0x0040a160)!.value.length > 0, 'a dummy, not empty (D)');
  const ref = find(content, 0x00081199)!.items![0]!;
  assert.equal(text(find(ref, 0x00081155)), ctx().mapUid('1.2.3.4.5.6'), 'a reference inside is mapped like everywhere else');
  assert.equal(find(elements, 0x00080082)!.items!.length, 1, 'the item is kept (D: a value, not nothing)');
});

test('attributes sent as UN are de-identified as the dictionary knows them', () => {
  const refItem = implicitItem([el(0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.4'), el(0x00081155, 'UI', '1.2.3.4.99')]);
  const input: TreeElement[] = [
    { tag: 0x00080017, vr: 'UN', value: pad('1.2.3.4.777', 'UI') }, // Acquisition UID (U)
    { tag: 0x00081140, vr: 'UN', value: refItem }, // Referenced Image Sequence, defined length
    { tag: 0x00080020, vr: 'UN', value: pad('20260315', 'DA') }, // Study Date (Z; C with modified dates)
    { tag: 0x00101002, vr: 'UN', value: implicitItem([el(0x00100020, 'LO', 'OTHER-ID-1')]) }, // Other Patient IDs Sequence (X)
  ];
  const { elements } = deidentifyElements(input, ctx({ retainModifiedDates: true }));
  assert.equal(text(find(elements, 0x00080017)), ctx().mapUid('1.2.3.4.777'));
  const refs = find(elements, 0x00081140)!;
  assert.equal(refs.vr, 'SQ');
  assert.equal(text(find(refs.items![0]!, 0x00081155)), ctx().mapUid('1.2.3.4.99'));
  assert.equal(text(find(elements, 0x00080020)), '20250208', 'shifted by the patient\'s -400 days');
  assert.equal(find(elements, 0x00101002), undefined);
  assert.ok(!allText(elements).includes('1.2.3.4.99') && !allText(elements).includes('OTHER-ID-1'));
  // And the result encodes and parses again.
  const again = parseTree(encodeTree(elements, { explicitVR: true, littleEndian: true }), { explicitVR: true, littleEndian: true });
  assert.equal(text(find(find(again, 0x00081140)!.items![0]!, 0x00081155)), ctx().mapUid('1.2.3.4.99'));
});

test('a UID whose action is D is unique per original and of even length', () => {
  const { elements } = deidentifyElements(
    [sq(0x006a0002, [el(0x006a0003, 'UI', '1.2.3.100')], [el(0x006a0003, 'UI', '1.2.3.200')])], // Annotation Group Sequence > Annotation Group UID (D)
    ctx(),
  );
  const [a, b] = find(elements, 0x006a0002)!.items!.map((i) => find(i, 0x006a0003)!);
  assert.notEqual(text(a), text(b));
  for (const u of [a!, b!]) {
    assert.equal(u.value.length % 2, 0);
    assert.match(text(u), /^2\.25\.\d+$/);
  }
});

test('an option\'s C keeps nothing it cannot clean: the Basic Profile\'s action applies', () => {
  const input = [
    el(0x00102110, 'LO', 'penicillin - call wife Mary Doe 555-1234'), // Allergies: X, patient C
    el(0x00380050, 'LO', 'wheelchair; lives at 12 Elm St'), // Special Needs: X, patient C
    { tag: 0x04000310, vr: 'OB', value: Buffer.from('TS20200315101500') }, // Certified Timestamp: X, modified dates C
    el(0x00100010, 'PN', 'Doe^Mary'),
  ];
  const characteristics = deidentifyElements(input, ctx({ retainPatientCharacteristics: true, retainModifiedDates: true })).elements;
  assert.equal(find(characteristics, 0x00102110), undefined);
  assert.equal(find(characteristics, 0x00380050), undefined);
  assert.equal(find(characteristics, 0x04000310), undefined);
  // With Clean Descriptors the text is kept, cleaned of the patient's identifiers.
  const cleaned = deidentifyElements(input, ctx({ retainPatientCharacteristics: true, cleanDescriptors: true })).elements;
  assert.equal(text(find(cleaned, 0x00102110)), 'penicillin - call wife XXXX XXX XXXXXXXX', 'the name and the telephone number');
});

test('group lengths are left out; option 113107 has CID 7050\'s meaning', () => {
  const input = [{ tag: 0x00100000, vr: 'UL', value: Buffer.from([18, 0, 0, 0]) }, el(0x00100010, 'PN', 'Doe^John'), el(0x00100020, 'LO', 'MRN1')];
  const { elements } = deidentifyElements(input, ctx({ retainModifiedDates: true }));
  assert.equal(find(elements, 0x00100000), undefined);
  assert.equal(elementString(elements, 0x00100010), 'ANONTEST000001');
  const codes = find(elements, 0x00120064)!.items!.map((i) => [text(find(i, 0x00080100)), text(find(i, 0x00080104))]);
  assert.deepEqual(codes.find(([c]) => c === '113107'), ['113107', 'Retain Longitudinal Temporal Information Modified Dates Option']);
  assert.match(elementString(elements, 0x00120063) ?? '', /Retain Longitudinal Temporal Information Modified Dates Option/);
});

test('clean descriptors also cleans out the patient\'s other IDs (Other Patient IDs Sequence)', () => {
  const input = [
    el(0x00100020, 'LO', 'MRN-NEW-1'),
    sq(0x00101002, [el(0x00100020, 'LO', 'MRN-OLD-77'), el(0x00100021, 'LO', 'OLDHOSP')]),
    el(0x00081030, 'LO', 'follow-up of MRN-OLD-77 and MRN-NEW-1'), // Study Description (descriptors: C)
  ];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true }));
  assert.equal(text(find(elements, 0x00081030)), 'follow-up of XXXXXXXXXX and XXXXXXXXX');
});

test('SOP Class UIDs and the standard\'s other UIDs are never mapped, inside dummy sequences too', () => {
  const mpps = '1.2.840.10008.3.1.2.3.3';
  const ct = '1.2.840.10008.5.1.4.1.1.2';
  const input = [
    el(0x00080016, 'UI', '1.3.12.2.1107.5.9.1'), // a private SOP class: a definition, kept
    // Referenced Performed Procedure Step Sequence (X/Z/D → D): a dummy sequence
    sq(0x00081111, [el(0x00081150, 'UI', mpps), el(0x00081155, 'UI', '1.2.3.4.5.1')]),
    // an SR IMAGE reference in the Content Sequence (D)
    sq(0x0040a730, [el(0x0040a040, 'CS', 'IMAGE'), sq(0x00081199, [el(0x00081150, 'UI', ct), el(0x00081155, 'UI', '1.2.3.4.5.2')])]),
    // a GSPS's Referenced Series Sequence (not in the table) > Referenced Image Sequence (X/Z/U*)
    sq(0x00081115, [el(0x0020000e, 'UI', '1.2.3.4.6'), sq(0x00081140, [el(0x00081150, 'UI', ct), el(0x00081155, 'UI', '1.2.3.4.5.3')])]),
    el(0x00200052, 'UI', '1.2.840.10008.1.4.1.1'), // Frame of Reference UID (U): a well-known one (Talairach)
  ];
  const { elements } = deidentifyElements(input, ctx());
  assert.equal(text(find(elements, 0x00080016)), '1.3.12.2.1107.5.9.1');
  const pps = find(elements, 0x00081111)!.items![0]!;
  assert.equal(text(find(pps, 0x00081150)), mpps);
  assert.equal(text(find(pps, 0x00081155)), ctx().mapUid('1.2.3.4.5.1'));
  const image = find(find(elements, 0x0040a730)!.items![0]!, 0x00081199)!.items![0]!;
  assert.equal(text(find(image, 0x00081150)), ct);
  assert.equal(text(find(image, 0x00081155)), ctx().mapUid('1.2.3.4.5.2'));
  const series = find(elements, 0x00081115)!.items![0]!;
  assert.equal(text(find(series, 0x0020000e)), ctx().mapUid('1.2.3.4.6'));
  assert.equal(text(find(find(series, 0x00081140)!.items![0]!, 0x00081150)), ct);
  assert.equal(text(find(elements, 0x00200052)), '1.2.840.10008.1.4.1.1');
});

test('UIDs of attributes the table does not list are mapped as its U ones', () => {
  const input = [
    el(0x00200242, 'UI', '1.2.3.4.7.1'), // SOP Instance UID of Concatenation Source
    el(0x00209312, 'UI', '1.2.3.4.7.2'), // Volume Frame of Reference UID
    el(0x00209313, 'UI', '1.2.3.4.7.3\\1.2.3.4.7.4'), // Table Frame of Reference UID (two values)
  ];
  const { elements } = deidentifyElements(input, ctx());
  assert.equal(text(find(elements, 0x00200242)), ctx().mapUid('1.2.3.4.7.1'));
  assert.equal(text(find(elements, 0x00209312)), ctx().mapUid('1.2.3.4.7.2'));
  assert.equal(text(find(elements, 0x00209313)), `${ctx().mapUid('1.2.3.4.7.3')}\\${ctx().mapUid('1.2.3.4.7.4')}`);
  assert.ok(!allText(elements).includes('1.2.3.4.7'));
});

test('D gives binary and UR values a non-empty dummy (Encapsulated Document is Type 1)', () => {
  const input = [
    { tag: 0x00420011, vr: 'OB', value: Buffer.from('%PDF-1.4 report of Doe John') }, // Encapsulated Document (D)
    el(0x00720071, 'UR', 'https://ehr.example.org/patient/12345'), // Selector UR Value (D)
    { tag: 0x00720065, vr: 'OB', value: Buffer.from('DOE1') }, // Selector OB Value (D)
  ];
  const { elements } = deidentifyElements(input, ctx());
  for (const tag of [0x00420011, 0x00720071, 0x00720065]) {
    const e = find(elements, tag)!;
    assert.ok(e.value.length > 0 && e.value.length % 2 === 0, `${tag.toString(16)}: non-empty, even`);
  }
  assert.ok(!allText(elements).includes('Doe') && !allText(elements).includes('12345') && !allText(elements).includes('DOE1'));
});

test('partial dates are shifted keeping their precision (a Type 1 DT does not end empty)', () => {
  const input = [
    el(0x0040a120, 'DT', '2026'), // DateTime (D; modified dates C)
    el(0x0040a030, 'DT', '202603+0100'), // Verification DateTime: a month, an offset
    el(0x00080020, 'DA', '20260315'),
    el(0x00080021, 'DA', '202603'), // Series Date, partial (not valid DA, but seen)
  ];
  const { elements } = deidentifyElements(input, ctx({ retainModifiedDates: true })); // -400 days
  assert.equal(text(find(elements, 0x0040a120)), '2025', 'the 2nd of July 2026 - 400 days is in 2025');
  assert.equal(text(find(elements, 0x0040a030)), '202502+0100');
  assert.equal(text(find(elements, 0x00080020)), '20250208');
  assert.equal(text(find(elements, 0x00080021)), '202502');
});

test('De-identification Method says what was not done (burned-in text left in the pixels)', () => {
  const { elements } = deidentifyElements([el(0x00100010, 'PN', 'Doe^John')], { ...ctx(), methodNotes: ['Pixels not cleaned: burned-in text possible'] });
  assert.match(elementString(elements, 0x00120063) ?? '', /\\Pixels not cleaned: burned-in text possible$/);
});

test('a safe private sequence is kept, its content de-identified: the table applies, UIDs are mapped', () => {
  const safePrivate = [{ group: 0x0029, creator: 'ACME 1.0', element: 0x10 }, { group: 0x0029, creator: 'ACME 1.0', element: 0x11 }, { group: 0x0029, creator: 'ACME 1.0', element: 0x12 }];
  const unItem = implicitItem([el(0x00081155, 'UI', '1.2.3.4.8.3'), el(0x00100010, 'PN', 'Doe^Jane')]);
  const input: TreeElement[] = [
    el(0x00290010, 'LO', 'ACME 1.0'),
    sq(0x00291010, [el(0x00100010, 'PN', 'Doe^John'), el(0x00081155, 'UI', '1.2.3.4.8.1'), el(0x00101040, 'LO', '12 Elm St')]),
    el(0x00291011, 'UI', '1.2.3.4.8.2'),
    { tag: 0x00291012, vr: 'UN', value: unItem },
  ];
  const { elements } = deidentifyElements(input, ctx({ safePrivate }));
  const item = find(elements, 0x00291010)!.items![0]!;
  assert.equal(find(item, 0x00100010)!.value.length, 0, "Patient's Name inside: Z");
  assert.equal(find(item, 0x00101040), undefined, "Patient's Address inside: X");
  assert.equal(text(find(item, 0x00081155)), ctx().mapUid('1.2.3.4.8.1'));
  assert.equal(text(find(elements, 0x00291011)), ctx().mapUid('1.2.3.4.8.2'));
  const un = find(elements, 0x00291012)!;
  assert.equal(text(find(un.items![0]!, 0x00081155)), ctx().mapUid('1.2.3.4.8.3'));
  for (const gone of ['Doe', '12 Elm', '1.2.3.4.8']) assert.ok(!allText(elements).includes(gone), gone);
});

test('clean descriptors: every person name of the dataset, the institution, telephone numbers and e-mail addresses', () => {
  const input = [
    el(0x00080080, 'LO', 'Princeton Plainsboro Teaching Hospital'),
    el(0x00081050, 'PN', 'House^Gregory'), // Performing Physician's Name
    sq(0x00081072, [el(0x00401101, 'SQ', ''), el(0x0040a123, 'PN', 'Chase^Robert')]), // a name deep in a sequence
    el(0x00081070, 'PN', 'Cuddy^Lisa'), // Operators' Name
    el(0x00081030, 'LO', 'Read by Gregory House, tech CUDDY, Chase'), // Study Description (C)
    el(0x0008103e, 'LO', 'Plainsboro hospital protocol'), // Series Description (C)
    el(0x00324000, 'LT', 'call 555-1234 or +1 (617) 555-0100, mail g.house@ppth.org; b=0 500 1000 on 2026-03-15, 120 140 160'), // Study Comments (C)
  ];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true }));
  assert.equal(text(find(elements, 0x00081030)), 'Read by XXXXXXX XXXXX, tech XXXXX, XXXXX');
  assert.equal(text(find(elements, 0x0008103e)), 'XXXXXXXXXX hospital protocol', 'the institution\'s own words, not "hospital"');
  const x = (s: string) => 'X'.repeat(s.length);
  assert.equal(text(find(elements, 0x00324000)), `call ${x('555-1234')} or ${x('+1 (617) 555-0100')}, mail ${x('g.house@ppth.org')}; b=0 500 1000 on 2026-03-15, 120 140 160`);
});

test('clean descriptors cleans the Code Meanings of the code sequences it keeps (C), not only the descriptions', () => {
  const code = (value: string, meaning: string): TreeElement[] => [el(0x00080100, 'SH', value), el(0x00080102, 'SH', '99LOCAL'), el(0x00080104, 'LO', meaning)];
  const input = [
    el(0x00100010, 'PN', 'Doe^John'),
    el(0x00081050, 'PN', 'House^Gregory'),
    sq(0x00081084, code('F123', 'Fracture, referred by Dr House for John Doe')), // Admitting Diagnoses Code Sequence
    sq(0x00321067, code('RV1', 'Follow-up, call 555-1234')), // Reason for Visit Code Sequence
    sq(0x00400275, [el(0x00401001, 'SH', 'RP-778'), sq(0x00321064, code('P1', 'CT for Doe'))]), // Request Attributes Sequence > Requested Procedure Code Sequence
  ];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true }));
  const meaning = (tag: number) => text(find(find(elements, tag)!.items![0]!, 0x00080104));
  assert.equal(meaning(0x00081084), 'Fracture, referred by Dr XXXXX for XXXX XXX');
  assert.equal(meaning(0x00321067), 'Follow-up, call XXXXXXXX');
  const request = find(elements, 0x00400275)!.items![0]!;
  assert.equal(find(request, 0x00401001), undefined, 'Requested Procedure ID inside: X');
  assert.equal(text(find(find(request, 0x00321064)!.items![0]!, 0x00080104)), 'CT for XXX');
});

test('a safe private UID sent as UN (an implicit VR file) is mapped as its explicit VR copy is; a version number is not taken for a UID', () => {
  const safePrivate = [{ group: 0x0009, creator: 'ACME 1.0', element: 0x02 }, { group: 0x0009, creator: 'ACME 1.0', element: 0x03 }];
  const input: TreeElement[] = [
    el(0x00090010, 'LO', 'ACME 1.0'),
    { tag: 0x00091002, vr: 'UN', value: pad('1.2.3.4.100\\1.2.3.4.101', 'UI') },
    { tag: 0x00091003, vr: 'UN', value: pad('1.0', 'LO') },
  ];
  const { elements } = deidentifyElements(input, ctx({ safePrivate }));
  assert.equal(text(find(elements, 0x00091002)), `${ctx().mapUid('1.2.3.4.100')}\\${ctx().mapUid('1.2.3.4.101')}`);
  assert.equal(find(elements, 0x00091002)!.vr, 'UN');
  assert.equal(text(find(elements, 0x00091003)), '1.0');
});

test('Retrieve URL, Retrieve URI and other URLs the table does not list are removed: they name the original archive and its UIDs', () => {
  const input: TreeElement[] = [
    el(0x00081190, 'UR', 'https://pacs.example.org/dicomweb/studies/1.2.3.4.1'),
    sq(0x00081199, [el(0x00081150, 'UI', '1.2.840.10008.5.1.4.1.1.2'), el(0x00081155, 'UI', '1.2.3.4.1.1'), el(0x00081190, 'UR', 'https://pacs.example.org/dicomweb/studies/1.2.3.4.1/series/1.2.3.4.1.9')]),
    { tag: 0x0040e010, vr: 'UN', value: pad('https://pacs.example.org/wado?objectUID=1.2.3.4.1.1', 'UR') },
  ];
  const { elements } = deidentifyElements(input, ctx());
  assert.equal(find(elements, 0x00081190), undefined);
  assert.equal(find(elements, 0x0040e010), undefined);
  assert.equal(find(find(elements, 0x00081199)!.items![0]!, 0x00081190), undefined);
  assert.ok(!allText(elements).includes('pacs.example.org'));
});

test("clean descriptors blanks the dataset's own dates, as written in DICOM and as people write them (the real date beside the shifted one gave the shift away)", () => {
  const input = [
    el(0x00080020, 'DA', '20200115'), // Study Date
    el(0x0008002a, 'DT', '20200116093000'), // Acquisition DateTime
    el(0x00081030, 'LO', 'CT 20200115 follow-up of 2020-01-15, 15.01.2020, 01/16/2020'), // Study Description (C)
    el(0x0008103e, 'LO', 'protocol of 2021-03-15'), // a date the dataset does not hold stays
  ];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true, retainModifiedDates: true }));
  assert.equal(text(find(elements, 0x00081030)), 'CT XXXXXXXX follow-up of XXXXXXXXXX, XXXXXXXXXX, XXXXXXXXXX');
  assert.equal(text(find(elements, 0x0008103e)), 'protocol of 2021-03-15');
  assert.notEqual(text(find(elements, 0x00080020)), '20200115', 'the date itself shifted');
});

test('clean descriptors blanks two-character names and IDs as words of their own, not inside other words', () => {
  const input = [
    el(0x00100010, 'PN', 'Li^Na^^Dr'),
    el(0x00100020, 'LO', '77'),
    el(0x00081030, 'LO', 'Subject 77 axial, Li Na follow-up, Limb 770, Dr'),
  ];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true }));
  assert.equal(text(find(elements, 0x00081030)), 'Subject XX axial, XX XX follow-up, Limb 770, Dr');
});

test('clean descriptors reads UTF-8 text as characters: a name in another case is found (ISO_IR 192)', () => {
  const utf8 = (tag: number, vr: string, value: string): TreeElement => {
    const b = Buffer.from(value, 'utf8');
    return { tag, vr, value: b.length % 2 ? Buffer.concat([b, Buffer.from(' ')]) : b };
  };
  const input = [el(0x00080005, 'CS', 'ISO_IR 192'), utf8(0x00100010, 'PN', 'Müller^Jürgen'), utf8(0x00081030, 'LO', 'Follow-up MÜLLER and Müller, JÜRGEN')];
  const { elements } = deidentifyElements(input, ctx({ cleanDescriptors: true }));
  const out = find(elements, 0x00081030)!;
  assert.equal(out.value.length % 2, 0, 'even length');
  assert.equal(out.value.toString('utf8').trimEnd(), 'Follow-up XXXXXX and XXXXXX, XXXXXX');
});

test('a safe private element inside a dummied (D) sequence goes with the rest of its content', () => {
  const safePrivate = [{ group: 0x0029, creator: 'ACME 1.0', element: 0x10 }];
  const input = [
    el(0x00290010, 'LO', 'ACME 1.0'),
    el(0x00291010, 'LO', 'kept at the top level'),
    sq(0x0040a730, [el(0x0040a040, 'CS', 'TEXT'), el(0x00290010, 'LO', 'ACME 1.0'), el(0x00291010, 'LO', 'Operator Jane Roe')]),
  ];
  const { elements } = deidentifyElements(input, ctx({ safePrivate }));
  assert.equal(text(find(elements, 0x00291010)), 'kept at the top level');
  const item = find(elements, 0x0040a730)!.items![0]!;
  assert.equal(find(item, 0x00291010), undefined);
  assert.ok(!allText(elements).includes('Jane Roe'));
});
