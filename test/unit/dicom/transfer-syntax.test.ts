import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TS, transferSyntaxInfo } from '../../../src/dicom/transfer-syntax.js';
import { TRANSFER_SYNTAXES } from '../../../src/dicom/uids.generated.js';

describe('transfer syntaxes', () => {
  it('knows every transfer syntax of the standard', () => {
    for (const ts of TRANSFER_SYNTAXES) {
      const info = transferSyntaxInfo(ts.uid);
      assert.ok(info, ts.uid);
      assert.equal(info.name, ts.name);
      assert.equal(info.retired, ts.retired);
    }
  });

  it('names its TS constants by their keywords', () => {
    for (const [keyword, uid] of Object.entries(TS)) assert.equal(transferSyntaxInfo(uid)?.keyword, keyword);
  });

  it('describes the native encodings', () => {
    assert.deepEqual(
      { ...transferSyntaxInfo(TS.ImplicitVRLittleEndian) },
      { uid: '1.2.840.10008.1.2', keyword: 'ImplicitVRLittleEndian', name: 'Implicit VR Little Endian', explicitVR: false, littleEndian: true, deflated: false, encapsulated: false, retired: false },
    );
    const be = transferSyntaxInfo(TS.ExplicitVRBigEndian);
    assert.deepEqual([be?.explicitVR, be?.littleEndian, be?.encapsulated, be?.retired], [true, false, false, true]);
    const dfl = transferSyntaxInfo(TS.DeflatedExplicitVRLittleEndian);
    assert.deepEqual([dfl?.explicitVR, dfl?.littleEndian, dfl?.deflated, dfl?.encapsulated], [true, true, true, false]);
    assert.equal(transferSyntaxInfo(TS.EncapsulatedUncompressedExplicitVRLittleEndian)?.encapsulated, true);
  });

  it('treats JPIP referenced syntaxes as native, the deflate ones deflated', () => {
    const jpip = transferSyntaxInfo('1.2.840.10008.1.2.4.94');
    assert.deepEqual([jpip?.encapsulated, jpip?.deflated], [false, false]);
    const jpipDeflate = transferSyntaxInfo('1.2.840.10008.1.2.4.95');
    assert.deepEqual([jpipDeflate?.encapsulated, jpipDeflate?.deflated], [false, true]);
  });

  it('marks compressed still and video syntaxes encapsulated, explicit VR LE', () => {
    for (const uid of [TS.JPEGBaseline8Bit, TS.JPEGLSLossless, TS.JPEG2000, TS.RLELossless, TS.HTJ2K, TS.MPEG2MPML, TS.MPEG4HP41, TS.HEVCMP51, '1.2.840.10008.1.2.4.101.1']) {
      const info = transferSyntaxInfo(uid);
      assert.deepEqual([info?.explicitVR, info?.littleEndian, info?.encapsulated, info?.deflated], [true, true, true, false], uid);
    }
  });

  it('returns undefined for private or unknown UIDs', () => {
    assert.equal(transferSyntaxInfo('1.2.840.113619.5.2'), undefined);
    assert.equal(transferSyntaxInfo(''), undefined);
  });
});
