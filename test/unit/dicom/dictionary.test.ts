import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTag, formatTag, lookupTag, parseTagSpec, tagOfKeyword } from '../../../src/dicom/dictionary.js';
import { Tag } from '../../../src/dicom/tags.js';

describe('dictionary', () => {
  it('looks up standard tags', () => {
    assert.deepEqual(lookupTag(0x00100020), { vr: 'LO', vrs: ['LO'], vm: '1', keyword: 'PatientID', retired: false });
    assert.equal(lookupTag(0x00080008)?.vm, '2-n');
    assert.equal(lookupTag(0x00081140)?.vr, 'SQ');
    assert.equal(lookupTag(0x00000001)?.retired, true);
    assert.equal(lookupTag(0x00100021)?.keyword, 'IssuerOfPatientID');
  });

  it('gives the first of several VRs, and keeps them all', () => {
    const pixel = lookupTag(Tag.PixelData);
    assert.equal(pixel?.vr, 'OB');
    assert.deepEqual(pixel?.vrs, ['OB', 'OW']);
    assert.deepEqual(lookupTag(0x00280106)?.vrs, ['US', 'SS']);
  });

  it('knows items and delimiters, which have no VR', () => {
    assert.equal(lookupTag(Tag.Item)?.keyword, 'Item');
    assert.equal(lookupTag(Tag.Item)?.vr, '');
    assert.equal(lookupTag(Tag.SequenceDelimitationItem)?.keyword, 'SequenceDelimitationItem');
  });

  it('resolves repeating groups, even groups only', () => {
    assert.equal(lookupTag(0x60003000)?.keyword, 'OverlayData');
    assert.equal(lookupTag(0x601e0010)?.keyword, 'OverlayRows');
    assert.equal(lookupTag(0x50020005)?.keyword, 'CurveDimensions');
    assert.equal(lookupTag(0x10100123)?.keyword, 'ZonalMap');
    assert.equal(lookupTag(0x002804a1)?.keyword, 'ColumnsForNthOrderCoefficients');
    assert.equal(lookupTag(0x60013000), undefined, 'odd group 6001 is private');
  });

  it('answers for group lengths and private creators, not for private data', () => {
    assert.equal(lookupTag(0x00080000)?.vr, 'UL');
    assert.equal(lookupTag(0x00290010)?.vr, 'LO');
    assert.equal(lookupTag(0x00290010)?.keyword, 'PrivateCreator');
    assert.equal(lookupTag(0x00291010), undefined);
    assert.equal(lookupTag(0x00990005), undefined);
    assert.equal(lookupTag(0x00990099)?.keyword, 'PrivateCreator');
  });

  it('maps keywords to tags', () => {
    assert.equal(tagOfKeyword('StudyInstanceUID'), 0x0020000d);
    assert.equal(tagOfKeyword('PixelData'), 0x7fe00010);
    assert.equal(tagOfKeyword('NoSuchKeyword'), undefined);
  });

  it('parses tag specs in every accepted form', () => {
    for (const spec of ['PatientID', '0010,0020', '(0010,0020)', '00100020', ' (0010,0020) ']) {
      assert.equal(parseTagSpec(spec), 0x00100020, spec);
    }
    assert.equal(parseTagSpec('7fe0,0010'), 0x7fe00010);
    assert.equal(parseTagSpec('(FFFE,E0DD)'), 0xfffee0dd);
    for (const bad of ['', 'patientid', '0010,002', '(0010,0020', '0010;0020', 'zzzz,0020']) {
      assert.equal(parseTagSpec(bad), undefined, bad);
    }
  });

  it('formats tags the way PS3.6 prints them', () => {
    assert.equal(formatTag(0x00100020), '(0010,0020)');
    assert.equal(formatTag(0x7fe00010), '(7FE0,0010)');
    assert.equal(formatTag(0xfffee0dd), '(FFFE,E0DD)');
    assert.equal(describeTag(0x7fe00010), 'PixelData (7FE0,0010)');
    assert.equal(describeTag(0x00291010), '(0029,1010)');
  });

  it('names every Tag constant by its keyword', () => {
    for (const [keyword, tag] of Object.entries(Tag)) {
      assert.equal(tagOfKeyword(keyword), tag, keyword);
    }
  });
});
