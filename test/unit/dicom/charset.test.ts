import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { decodeText, elementNumber, elementText } from '../../../src/dicom/charset.js';
import type { ElementValue } from '../../../src/dicom/element.js';
import { Tag } from '../../../src/dicom/tags.js';
import { haveDcmdump, haveSamples, readDataset, readSample, samplePath } from './samples.js';

const v = (vr: string, bytes: Buffer | string, tag = 0x00100010): ElementValue => ({
  tag,
  vr,
  bytes: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes,
});

/** PatientName as dcmdump +U8 prints it (converted to UTF-8 by DCMTK through iconv). */
const dcmdumpName = (file: string): string | undefined => {
  const r = spawnSync('dcmdump', ['-q', '+U8', '+P', '0010,0010', samplePath(file)], { encoding: 'utf8' });
  return /\[(.*)\]/.exec(r.stdout)?.[1];
};

// The expected names; dcmdump +U8 agrees on all but chrH31, which glibc's iconv cannot
// convert (ISO 2022 IR 87); its value is the one of pydicom's own charset tests.
const NAMES: Record<string, { charset: string; name: string; dcmtk: boolean }> = {
  'pydicom__chrFren.dcm': { charset: 'ISO_IR 100', name: 'Buc^Jérôme', dcmtk: true },
  'pydicom__chrGreek.dcm': { charset: 'ISO_IR 126', name: 'Διονυσιος', dcmtk: true },
  'pydicom__chrRuss.dcm': { charset: 'ISO_IR 144', name: 'Люкceмбypг', dcmtk: true },
  'pydicom__chrX1.dcm': { charset: 'ISO_IR 192', name: 'Wang^XiaoDong=王^小東=', dcmtk: true },
  'pydicom__chrH31.dcm': { charset: '\\ISO 2022 IR 87', name: 'Yamada^Tarou=山田^太郎=やまだ^たろう', dcmtk: false },
  'pydicom__J2K_pixelrep_mismatch.dcm': { charset: 'ISO 2022 IR 13\\ISO 2022 IR 87', name: 'JXD191021006', dcmtk: false },
};

describe('charset on the samples', { skip: haveSamples ? false : 'sample corpus not found' }, () => {
  for (const [file, want] of Object.entries(NAMES)) {
    it(`${file}: ${want.name}`, async () => {
      const s = await readDataset(readSample(file), 0, new Set([Tag.SpecificCharacterSet, Tag.PatientName]));
      const charset = elementText(s.values.get(Tag.SpecificCharacterSet), null);
      assert.equal(charset, want.charset);
      const name = elementText(s.values.get(Tag.PatientName), charset);
      assert.equal(name, want.name);
      if (want.dcmtk && haveDcmdump) assert.equal(name, dcmdumpName(file));
    });
  }
});

describe('decodeText', () => {
  it('strips trailing spaces and NULs, and leading spaces except in LT, ST, UT, UR', () => {
    assert.equal(decodeText(Buffer.from('  Doe^John  '), null, 'PN'), 'Doe^John');
    assert.equal(decodeText(Buffer.from('1.2.3\0'), null, 'UI'), '1.2.3');
    assert.equal(decodeText(Buffer.from('  indented text \0 '), null, 'LT'), '  indented text');
    assert.equal(decodeText(Buffer.from(' x '), 'ISO_IR 100', 'ST'), ' x');
  });

  it('decodes Latin-1 without a declared character set, and in CS/UI whatever is declared', () => {
    assert.equal(decodeText(Buffer.from([0x4a, 0xe9]), null, 'PN'), 'Jé');
    assert.equal(decodeText(Buffer.from([0x4a, 0xe9]), 'ISO_IR 192', 'CS'), 'Jé');
  });

  it('decodes the declared character set, multi-valued ISO 2022 included', () => {
    assert.equal(decodeText(Buffer.from('Jérôme', 'utf8'), 'ISO_IR 192', 'PN'), 'Jérôme');
    assert.equal(decodeText(Buffer.from([0xc4, 0xe9, 0xef]), 'ISO_IR 126', 'LO'), 'Διο');
    // ESC $ B switches to JIS X 0208, whose bytes are all 7-bit: not ASCII for the fast path.
    const jis = Buffer.from([0x1b, 0x24, 0x42, 0x3b, 0x33, 0x45, 0x44, 0x1b, 0x28, 0x42]);
    assert.equal(decodeText(jis, '\\ISO 2022 IR 87', 'PN'), '山田');
  });

  it('falls back to UTF-8, else Latin-1, for a character set it does not know', () => {
    assert.equal(decodeText(Buffer.from('Jérôme', 'utf8'), 'UTF-8', 'PN'), 'Jérôme');
    assert.equal(decodeText(Buffer.from([0x4a, 0xe9]), 'WHATEVER', 'PN'), 'Jé');
  });
});

describe('elementText', () => {
  it('is null for absent, empty, all-padding and non-text values', () => {
    assert.equal(elementText(undefined, null), null);
    assert.equal(elementText(v('PN', ''), null), null);
    assert.equal(elementText(v('PN', '  '), null), null);
    assert.equal(elementText(v('US', Buffer.from([1, 0]), 0x00280010), null), null);
  });

  it('keeps multiple values joined by backslashes', () => {
    assert.equal(elementText(v('CS', 'ORIGINAL\\PRIMARY\\AXIAL ', 0x00080008), null), 'ORIGINAL\\PRIMARY\\AXIAL');
  });

  it('reads a UN value with the dictionary VR', () => {
    assert.equal(elementText(v('UN', '1.2.3\0', Tag.StudyInstanceUID), null), '1.2.3');
  });
});

describe('elementNumber', () => {
  it('reads binary VRs in either byte order', () => {
    assert.equal(elementNumber(v('US', Buffer.from([0x00, 0x02])), true), 512);
    assert.equal(elementNumber(v('US', Buffer.from([0x00, 0x02])), false), 2);
    assert.equal(elementNumber(v('SS', Buffer.from([0xff, 0xff])), true), -1);
    assert.equal(elementNumber(v('UL', Buffer.from([1, 0, 0, 0, 9, 9, 9, 9])), true), 1);
    assert.equal(elementNumber(v('SL', Buffer.from([0xff, 0xff, 0xff, 0xfe])), false), -2);
    const f = Buffer.alloc(4);
    f.writeFloatLE(1.5);
    assert.equal(elementNumber(v('FL', f), true), 1.5);
    const d = Buffer.alloc(8);
    d.writeDoubleBE(-2.25);
    assert.equal(elementNumber(v('FD', d), false), -2.25);
    const sv = Buffer.alloc(8);
    sv.writeBigInt64LE(-5n);
    assert.equal(elementNumber(v('SV', sv), true), -5);
  });

  it('reads the first value of IS and DS', () => {
    assert.equal(elementNumber(v('IS', ' 42 '), true), 42);
    assert.equal(elementNumber(v('DS', '1.5e2\\3'), true), 150);
    assert.equal(elementNumber(v('DS', ''), true), null);
    assert.equal(elementNumber(v('IS', 'abc'), true), null);
  });

  it('is null for absent, short and non-numeric values', () => {
    assert.equal(elementNumber(undefined, true), null);
    assert.equal(elementNumber(v('US', Buffer.from([1])), true), null);
    assert.equal(elementNumber(v('PN', 'x'), true), null);
  });
});
