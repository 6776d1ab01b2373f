// The index record built from the attributes collected while a dataset streamed past.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ElementValue } from '../../../src/dicom/element.js';
import { Tag } from '../../../src/dicom/tags.js';
import { encodeText, encodeUS } from '../../../src/dicom/writer.js';
import { COLLECTED_TAGS, buildInstanceRecord, recordLookup } from '../../../src/services/instance-record.js';

const text = (tag: number, vr: string, value: string): ElementValue => ({ tag, vr, bytes: encodeText(value, vr) });
const us = (tag: number, value: number, littleEndian: boolean): ElementValue => ({ tag, vr: 'US', bytes: encodeUS(value, littleEndian) });

function build(littleEndian: boolean, extra: ElementValue[]) {
  const elements = [
    text(Tag.SOPClassUID, 'UI', '1.2.840.10008.5.1.4.1.1.4'),
    text(Tag.SOPInstanceUID, 'UI', '1.2.3.4.5'),
    text(Tag.StudyInstanceUID, 'UI', '1.2.3'),
    text(Tag.SeriesInstanceUID, 'UI', '1.2.3.4'),
    ...extra,
  ];
  return buildInstanceRecord(
    { values: new Map(elements.map((e) => [e.tag, e])), littleEndian },
    { path: 'a.dcm', size: 1, transferSyntaxUID: '1.2.840.10008.1.2.1', checksum: '' },
    { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' },
    new Date(0),
  );
}

describe('buildInstanceRecord', () => {
  test('dates and times in the ACR-NEMA form (YYYY.MM.DD, HH:MM:SS) are kept in the standard one, as queries are matched', () => {
    const r = build(true, [
      text(Tag.StudyDate, 'DA', '2024.01.07'),
      text(Tag.StudyTime, 'TM', '10:15:00'),
      text(Tag.PatientBirthDate, 'DA', '1950.12.31'),
      text(Tag.SeriesTime, 'TM', '09:05'),
      text(Tag.ContentDate, 'DA', '20240107'),
      text(Tag.AcquisitionTime, 'TM', '101500.25'),
      text(Tag.SeriesDate, 'DA', '2024.13.40'),
    ]);
    assert.equal(r.study.StudyDate, '20240107');
    assert.equal(r.study.StudyTime, '101500');
    assert.equal(r.patient.PatientBirthDate, '19501231');
    assert.equal(r.series.SeriesTime, '0905');
    assert.equal(r.instance.ContentDate, '20240107');
    assert.equal(r.instance.AcquisitionTime, '101500.25');
    assert.equal(r.series.SeriesDate, '2024.13.40', 'not a date: kept as received');
  });

  test('collects and decodes the attributes Conquest indexes', () => {
    for (const littleEndian of [true, false]) {
      const r = build(littleEndian, [
        text(Tag.PatientPosition, 'CS', 'HFS'),
        text(Tag.ContrastBolusAgent, 'LO', 'Gadobutrol'),
        text(Tag.EchoNumbers, 'IS', '1\\2'),
        text(Tag.ReceiveCoilName, 'SH', 'HEAD 32'),
        text(Tag.SliceLocation, 'DS', '-12.5'),
        text(Tag.ImageID, 'SH', 'IMG1'),
        us(Tag.SamplesPerPixel, 3, littleEndian),
        us(Tag.BitsStored, 12, littleEndian),
      ]);
      assert.equal(r.series.PatientPosition, 'HFS');
      assert.equal(r.series.ContrastBolusAgent, 'Gadobutrol');
      assert.equal(r.instance.EchoNumbers, '1\\2');
      assert.equal(r.instance.ReceiveCoilName, 'HEAD 32');
      assert.equal(r.instance.SliceLocation, '-12.5');
      assert.equal(r.instance.ImageID, 'IMG1');
      assert.equal(r.instance.SamplesPerPixel, 3);
      assert.equal(r.instance.BitsStored, 12);
    }
  });

  test('absent attributes are null', () => {
    const r = build(true, []);
    assert.equal(r.series.PatientPosition, null);
    assert.equal(r.series.ContrastBolusAgent, null);
    assert.equal(r.instance.SliceLocation, null);
    assert.equal(r.instance.SamplesPerPixel, null);
    assert.equal(r.instance.BitsStored, null);
  });

  test('the store pipeline collects their tags', () => {
    for (const tag of [Tag.PatientPosition, Tag.ContrastBolusAgent, Tag.EchoNumbers, Tag.ReceiveCoilName,
      Tag.SliceLocation, Tag.ImageID, Tag.SamplesPerPixel, Tag.BitsStored]) {
      assert.ok(COLLECTED_TAGS.has(tag), tag.toString(16));
    }
  });
});

describe('recordLookup', () => {
  test('finds a keyword at any level, numbers as text, absent or empty as null', () => {
    const r = build(true, [text(Tag.PatientID, 'LO', 'PID7'), text(Tag.Modality, 'CS', 'MR'), us(Tag.Rows, 256, true), text(Tag.StudyDate, 'DA', '20240102')]);
    const lookup = recordLookup(r);
    assert.equal(lookup('PatientID'), 'PID7');
    assert.equal(lookup('StudyInstanceUID'), '1.2.3');
    assert.equal(lookup('StudyDate'), '20240102');
    assert.equal(lookup('Modality'), 'MR');
    assert.equal(lookup('SOPInstanceUID'), '1.2.3.4.5');
    assert.equal(lookup('Rows'), '256');
    assert.equal(lookup('PatientName'), null);
    assert.equal(lookup('NoSuchKeyword'), null);
    assert.equal(lookup('toString'), null, 'not a property of every object');
  });
});
