// The streaming reader on datasets built here: every encoding, nesting, chunk split and way of
// being malformed, so each rule has a test that fails alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deflateRawSync } from 'node:zlib';
import { isPacsError } from '../../../src/core/errors.js';
import { MAX_DEPTH } from '../../../src/dicom/dataset-parser.js';
import { DatasetStreamReader, type DatasetSummary } from '../../../src/dicom/reader.js';
import { Tag } from '../../../src/dicom/tags.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { encodeElement, encodeHeader, encodeText, encodeUS, type EncodeOptions } from '../../../src/dicom/writer.js';

const ELE: EncodeOptions = { explicitVR: true, littleEndian: true };
const ILE: EncodeOptions = { explicitVR: false, littleEndian: true };
const EBE: EncodeOptions = { explicitVR: true, littleEndian: false };
const UNDEFINED = 0xffffffff;

const el = (tag: number, vr: string, value: Buffer | string, o: EncodeOptions = ELE): Buffer =>
  encodeElement(tag, vr, typeof value === 'string' ? encodeText(value, vr) : value, o);
const item = (content: Buffer, o: EncodeOptions = ELE): Buffer => encodeElement(Tag.Item, '', content, o);
const undefinedItem = (content: Buffer, o: EncodeOptions = ELE): Buffer =>
  Buffer.concat([encodeHeader(Tag.Item, '', UNDEFINED, o), content, encodeHeader(Tag.ItemDelimitationItem, '', 0, o)]);
const undefinedSeq = (tag: number, vr: string, items: Buffer[], o: EncodeOptions = ELE): Buffer =>
  Buffer.concat([encodeHeader(tag, vr, UNDEFINED, o), ...items, encodeHeader(Tag.SequenceDelimitationItem, '', 0, o)]);

const COLLECT = new Set<number>([Tag.SOPInstanceUID, Tag.PatientName, Tag.Rows, Tag.StudyInstanceUID]);

const read = async (
  data: Buffer,
  ts: string = TS.ExplicitVRLittleEndian,
  chunk = 0,
  collect: ReadonlySet<number> = COLLECT,
  maxCollectLength?: number,
): Promise<DatasetSummary> => {
  const r = new DatasetStreamReader({ transferSyntaxUID: ts, collect, ...(maxCollectLength === undefined ? {} : { maxCollectLength }) });
  if (chunk <= 0) r.push(data);
  else for (let o = 0; o < data.length; o += chunk) r.push(Buffer.from(data.subarray(o, o + chunk)));
  return r.end();
};

/** Reads with every chunk size from 1 to 13 and whole, and checks they agree. */
const readAll = async (data: Buffer, ts: string = TS.ExplicitVRLittleEndian): Promise<DatasetSummary> => {
  const whole = await read(data, ts);
  for (let chunk = 1; chunk <= 13; chunk++) {
    const s = await read(data, ts, chunk);
    assert.deepEqual([...s.values.keys()], [...whole.values.keys()], `chunk ${chunk}`);
    for (const [tag, v] of whole.values) assert.deepEqual(s.values.get(tag)?.bytes, v.bytes, `chunk ${chunk}`);
    assert.equal(s.bytesRead, whole.bytesRead);
  }
  return whole;
};

const parseError = async (data: Buffer, pattern: RegExp, ts: string = TS.ExplicitVRLittleEndian): Promise<void> => {
  for (const chunk of [0, 1, 5]) {
    await assert.rejects(read(data, ts, chunk), (e: unknown) => {
      assert.ok(isPacsError(e, 'DICOM_PARSE'), String(e));
      assert.match(e.message, pattern);
      return true;
    });
  }
};

const text = (s: DatasetSummary, tag: number): string | undefined => s.values.get(tag)?.bytes.toString('latin1');

describe('DatasetStreamReader', () => {
  it('collects only asked-for top-level values, copying them', async () => {
    const data = Buffer.concat([
      el(Tag.SOPInstanceUID, 'UI', '1.2.3'),
      el(Tag.PatientName, 'PN', 'Doe^John'),
      el(Tag.PatientID, 'LO', 'P1'),
      el(Tag.Rows, 'US', encodeUS(512)),
    ]);
    const s = await readAll(data);
    assert.deepEqual([...s.values.keys()], [Tag.SOPInstanceUID, Tag.PatientName, Tag.Rows]);
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2.3\0');
    assert.equal(s.values.get(Tag.PatientName)?.vr, 'PN');
    assert.equal(s.values.get(Tag.Rows)?.bytes.readUInt16LE(0), 512);
    assert.equal(s.bytesRead, data.length);
    assert.equal(s.trailingPadding, 0);
  });

  it('skips collected tags longer than maxCollectLength and keeps empty ones', async () => {
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2.3.4.5.6'), el(Tag.PatientName, 'PN', '')]);
    const s = await read(data, TS.ExplicitVRLittleEndian, 0, COLLECT, 8);
    assert.equal(s.values.has(Tag.SOPInstanceUID), false);
    assert.equal(s.values.get(Tag.PatientName)?.bytes.length, 0);
  });

  it('accepts an empty dataset', async () => {
    const s = await read(Buffer.alloc(0));
    assert.equal(s.bytesRead, 0);
    assert.equal(s.values.size, 0);
  });

  it(`refuses sequences nested more than MAX_DEPTH (${MAX_DEPTH}) deep, and takes them at that depth`, async () => {
    const nest = (levels: number): Buffer => {
      let inner = el(Tag.PatientName, 'PN', 'DEEP');
      for (let i = 0; i < levels; i++) inner = undefinedSeq(0x0040a730, 'SQ', [undefinedItem(inner)]);
      return Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2.3'), inner]);
    };
    assert.equal(text(await read(nest(MAX_DEPTH)), Tag.SOPInstanceUID), '1.2.3\0');
    await parseError(nest(MAX_DEPTH + 1), new RegExp(`sequences nested more than ${MAX_DEPTH} deep`));
  });

  it('walks nested sequences of defined and undefined length, not collecting inside them', async () => {
    const inner = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '9.9'), undefinedSeq(0x00081115, 'SQ', [undefinedItem(el(Tag.Rows, 'US', encodeUS(1)))])]);
    const seqValue = Buffer.concat([item(inner), undefinedItem(el(Tag.PatientName, 'PN', 'X'))]);
    const data = Buffer.concat([
      el(Tag.SpecificCharacterSet, 'CS', 'ISO_IR 100'),
      el(0x00081140, 'SQ', seqValue),
      undefinedSeq(0x00081150 - 0x10, 'SQ', []),
      el(Tag.SOPInstanceUID, 'UI', '1.2'),
      el(0x00400275, 'SQ', Buffer.alloc(0)),
    ]);
    const s = await readAll(data);
    assert.deepEqual([...s.values.keys()], [Tag.SOPInstanceUID]);
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2\0');
  });

  it('walks encapsulated Pixel Data fragments, odd lengths included', async () => {
    const frags = [Buffer.alloc(0), Buffer.alloc(7, 1), Buffer.alloc(300, 2)];
    const items = frags.map((f) => Buffer.concat([encodeHeader(Tag.Item, '', f.length, ELE), f]));
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), undefinedSeq(Tag.PixelData, 'OB', items), el(0xfffcfffc, 'OB', Buffer.alloc(4))]);
    const s = await readAll(data, TS.JPEGBaseline8Bit);
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2\0');
  });

  it('reads implicit VR: dictionary VRs, undefined-length sequences, private tags as UN', async () => {
    const seq = undefinedSeq(0x00081140, '', [undefinedItem(el(Tag.SOPInstanceUID, '', '5.5', ILE), ILE), item(el(Tag.Rows, '', encodeUS(2), ILE), ILE)], ILE);
    const privateSeq = undefinedSeq(0x00091010, '', [undefinedItem(el(0x00091011, '', 'abcd', ILE), ILE)], ILE);
    const definedSeq = el(0x00082112, '', item(el(Tag.SOPInstanceUID, '', '7', ILE), ILE), ILE);
    const data = Buffer.concat([
      el(Tag.SOPInstanceUID, '', '1.2.3', ILE),
      el(0x00090010, '', 'CREATOR', ILE),
      privateSeq,
      seq,
      definedSeq,
      el(Tag.PatientName, '', 'A^B', ILE),
      el(Tag.Rows, '', encodeUS(64), ILE),
      el(Tag.PixelData, '', Buffer.alloc(64), ILE),
    ]);
    const s = await readAll(data, TS.ImplicitVRLittleEndian);
    assert.equal(s.values.get(Tag.SOPInstanceUID)?.vr, 'UI');
    assert.equal(s.values.get(Tag.PatientName)?.vr, 'PN');
    assert.equal(s.values.get(Tag.Rows)?.bytes.readUInt16LE(0), 64);
  });

  it('reads an explicit UN of undefined length as an implicit VR LE sequence (PS3.5 6.2.2)', async () => {
    const content = undefinedItem(Buffer.concat([el(Tag.SOPInstanceUID, '', '1.2', ILE), el(Tag.Rows, '', encodeUS(3), ILE)]), ILE);
    const data = Buffer.concat([undefinedSeq(0x00081140, 'UN', [content], ELE), el(Tag.SOPInstanceUID, 'UI', '3.4')]);
    const s = await readAll(data);
    assert.equal(text(s, Tag.SOPInstanceUID), '3.4\0');
    // ...also in a big endian dataset: the whole value, delimiter included, is little endian.
    const unBE = Buffer.concat([encodeHeader(0x00081140, 'UN', UNDEFINED, EBE), content, encodeHeader(Tag.SequenceDelimitationItem, '', 0, ILE)]);
    const be = Buffer.concat([unBE, el(Tag.SOPInstanceUID, 'UI', '3.4', EBE)]);
    assert.equal(text(await readAll(be, TS.ExplicitVRBigEndian), Tag.SOPInstanceUID), '3.4\0');
  });

  it('reads explicit VR big endian, items and delimiters included', async () => {
    const seq = undefinedSeq(0x00081140, 'SQ', [undefinedItem(el(Tag.Rows, 'US', encodeUS(9, false), EBE), EBE), item(el(Tag.SOPInstanceUID, 'UI', '8', EBE), EBE)], EBE);
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2.840', EBE), seq, el(Tag.Rows, 'US', encodeUS(256, false), EBE), el(Tag.PixelData, 'OW', Buffer.alloc(32), EBE)]);
    const s = await readAll(data, TS.ExplicitVRBigEndian);
    assert.equal(s.values.get(Tag.Rows)?.bytes.readUInt16BE(0), 256);
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2.840\0');
  });

  it('inflates a deflated dataset, and accepts group 0002 elements inside a dataset', async () => {
    const plain = Buffer.concat([el(Tag.TransferSyntaxUID, 'UI', '1.2'), el(Tag.SOPInstanceUID, 'UI', '1.2.3'), el(Tag.PixelData, 'OB', Buffer.alloc(100000))]);
    const deflated = deflateRawSync(plain);
    const s = await read(deflated, TS.DeflatedExplicitVRLittleEndian, 17);
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2.3\0');
    assert.equal(s.bytesRead, plain.length);
    await parseError(deflated.subarray(0, deflated.length - 4), /./, TS.DeflatedExplicitVRLittleEndian);
    await parseError(Buffer.from('not deflate at all, surely'), /deflated dataset does not inflate/, TS.DeflatedExplicitVRLittleEndian);
  });

  it('refuses a deflated dataset that inflates past maxInflatedBytes, as soon as it does (a deflate bomb)', async () => {
    // 64 MB of zeros in a Pixel Data: some 64 KB deflated.
    const plain = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2.3'), el(Tag.PixelData, 'OB', Buffer.alloc(64 * 1024 * 1024))]);
    const deflated = deflateRawSync(plain);
    assert.ok(deflated.length < 128 * 1024);
    const r = new DatasetStreamReader({ transferSyntaxUID: TS.DeflatedExplicitVRLittleEndian, collect: COLLECT, maxInflatedBytes: 1024 * 1024 });
    r.push(deflated);
    await assert.rejects(r.end(), (e: unknown) => isPacsError(e, 'DICOM_PARSE') && /inflates to more than 1 MB/.test(e.message));
    // Under the limit, the same dataset is read whole.
    const whole = new DatasetStreamReader({ transferSyntaxUID: TS.DeflatedExplicitVRLittleEndian, collect: COLLECT, maxInflatedBytes: 65 * 1024 * 1024 });
    whole.push(deflated);
    assert.equal((await whole.end()).bytesRead, plain.length);
  });

  it('a deflated dataset malformed part-way, ended before it is inflated: the error, not a wait for ever', async () => {
    const bad = Buffer.from([0x08, 0x00, 0x18, 0x00, 0x5a, 0x5a, 0x02, 0x00, 0x31, 0x32]); // (0008,0018) with VR "ZZ"
    const plain = Buffer.concat([el(Tag.PatientName, 'PN', 'A^B'), el(0x00091010, 'OB', Buffer.alloc(1024 * 1024)), bad, Buffer.alloc(1024 * 1024)]);
    const r = new DatasetStreamReader({ transferSyntaxUID: TS.DeflatedExplicitVRLittleEndian, collect: COLLECT });
    r.push(deflateRawSync(plain));
    await assert.rejects(r.end(), (e: unknown) => isPacsError(e, 'DICOM_PARSE'));
  });

  it('treats zero bytes after the last element as trailing padding, and only zeros', async () => {
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), Buffer.alloc(1001)]);
    const s = await readAll(data);
    assert.equal(s.trailingPadding, 1001);
    assert.equal(s.bytesRead, data.length);
    // Fewer zeros than a header are padding too.
    assert.equal((await read(Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), Buffer.alloc(3)]), undefined, 1)).trailingPadding, 3);
    const bad = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), Buffer.alloc(20), el(Tag.PatientName, 'PN', 'X')]);
    await parseError(bad, /non-zero byte at offset 32 .*\(0000,0000\) header at offset 12/);
    // Inside a sequence, zeros are no padding but a bad item.
    const nested = Buffer.concat([encodeHeader(0x00081140, 'SQ', UNDEFINED, ELE), Buffer.alloc(16)]);
    await parseError(nested, /expected an Item in ReferencedImageSequence \(0008,1140\) at offset 12, found CommandGroupLength \(0000,0000\)/);
  });

  it('reports a value cut short with its tag, offset and byte counts', async () => {
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), el(Tag.PixelData, 'OW', Buffer.alloc(8192))]).subarray(0, -62);
    await parseError(data, /^truncated: PixelData \(7FE0,0010\) at offset 12 declares 8192 bytes, 8130 present$/);
  });

  it('reports a header cut short', async () => {
    const data = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), el(Tag.PixelData, 'OW', Buffer.alloc(4))]).subarray(0, 12 + 10);
    await parseError(data, /^truncated: element header at offset 12 cut short after 10 bytes$/);
  });

  it('reports sequences and items left open', async () => {
    const openSeq = Buffer.concat([encodeHeader(0x00081140, 'SQ', UNDEFINED, ELE), item(el(Tag.Rows, 'US', encodeUS(1)))]);
    await parseError(openSeq, /^truncated: ReferencedImageSequence \(0008,1140\) starting at offset 0 has no delimiter/);
    const openItem = Buffer.concat([encodeHeader(0x00081140, 'SQ', UNDEFINED, ELE), encodeHeader(Tag.Item, '', UNDEFINED, ELE)]);
    await parseError(openItem, /^truncated: an item of ReferencedImageSequence \(0008,1140\) starting at offset 12 has no delimiter/);
    const openFragments = Buffer.concat([encodeHeader(Tag.PixelData, 'OB', UNDEFINED, ELE), item(Buffer.alloc(4))]);
    await parseError(openFragments, /^truncated: PixelData \(7FE0,0010\) starting at offset 0 has no delimiter/);
    const shortDefined = el(0x00081140, 'SQ', item(el(Tag.Rows, 'US', encodeUS(1)))).subarray(0, -2);
    await parseError(shortDefined, /^truncated: Rows \(0028,0010\) at offset 20 declares 2 bytes, 0 present$/);
  });

  it('refuses values and items that overrun their enclosing item or sequence', async () => {
    const overrun = el(0x00081140, 'SQ', item(Buffer.concat([encodeHeader(Tag.Rows, 'US', 4, ELE), Buffer.alloc(2)])));
    await parseError(overrun, /Rows \(0028,0010\) at offset 20 declares 4 bytes, past the end of its enclosing item at offset 30/);
    const itemOverrun = Buffer.concat([encodeHeader(0x00081140, 'SQ', 8, ELE), encodeHeader(Tag.Item, '', 10, ELE), Buffer.alloc(10)]);
    await parseError(itemOverrun, /item at offset 12 declares 10 bytes, past the end of ReferencedImageSequence/);
  });

  it('refuses misplaced delimiters, undefined-length fragments and invalid VRs', async () => {
    await parseError(encodeHeader(Tag.SequenceDelimitationItem, '', 0, ELE), /unexpected SequenceDelimitationItem \(FFFE,E0DD\) at offset 0 at the top level/);
    await parseError(encodeHeader(Tag.ItemDelimitationItem, '', 0, ELE), /unexpected ItemDelimitationItem/);
    const seqDelimInDefined = Buffer.concat([encodeHeader(0x00081140, 'SQ', 8, ELE), encodeHeader(Tag.SequenceDelimitationItem, '', 0, ELE)]);
    await parseError(seqDelimInDefined, /Sequence Delimitation Item at offset 12 inside ReferencedImageSequence \(0008,1140\) of defined length/);
    const fragUndefined = Buffer.concat([encodeHeader(Tag.PixelData, 'OB', UNDEFINED, ELE), encodeHeader(Tag.Item, '', UNDEFINED, ELE)]);
    await parseError(fragUndefined, /fragment of PixelData \(7FE0,0010\) at offset 12 has undefined length/);
    const badVR = Buffer.from([0x08, 0x00, 0x18, 0x00, 0x7a, 0x7a, 0x02, 0x00, 0x31, 0x00]);
    await parseError(badVR, /invalid VR "zz" for SOPInstanceUID \(0008,0018\) at offset 0/);
  });

  it('records the first error, ignores later input, and never throws from push', async () => {
    const r = new DatasetStreamReader({ transferSyntaxUID: TS.ExplicitVRLittleEndian, collect: COLLECT });
    r.push(encodeHeader(Tag.SequenceDelimitationItem, '', 0, ELE));
    assert.ok(r.error);
    const first = r.error;
    r.push(Buffer.from('garbage garbage garbage'));
    assert.equal(r.error, first);
    await assert.rejects(r.end(), (e) => e === first);
  });

  it('treats an unknown (private) transfer syntax as explicit VR little endian', async () => {
    const s = await read(el(Tag.SOPInstanceUID, 'UI', '1.2'), '1.2.3.4.5.6.7');
    assert.equal(text(s, Tag.SOPInstanceUID), '1.2\0');
  });

  it('skips large values fast: 256 MB of Pixel Data in 64 KB chunks well above 1 GB/s', async () => {
    const head = Buffer.concat([el(Tag.SOPInstanceUID, 'UI', '1.2'), encodeHeader(Tag.PixelData, 'OW', 256 * 1024 * 1024, ELE)]);
    const chunk = Buffer.alloc(64 * 1024);
    const r = new DatasetStreamReader({ transferSyntaxUID: TS.ExplicitVRLittleEndian, collect: COLLECT });
    const t0 = process.hrtime.bigint();
    r.push(head);
    for (let i = 0; i < 4096; i++) r.push(chunk);
    const s = await r.end();
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    assert.equal(s.bytesRead, head.length + 256 * 1024 * 1024);
    assert.ok(seconds < 0.25, `took ${seconds}s`);
  });
});
