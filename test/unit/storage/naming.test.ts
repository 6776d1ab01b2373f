// File names inside the archive: every component safe on every common filesystem, whatever
// the attribute values are; templates filled with zero padding; collisions named ~2, ~3...
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { HIERARCHICAL_TEMPLATE, type AttributeLookup, alternativePath, fillTemplate, instancePath, safeComponent } from '../../../src/storage/naming.js';

const lookupOf =
  (values: Record<string, string | null>): AttributeLookup =>
  (k) =>
    values[k];

/** What every safe component must satisfy, whatever it was made from. */
function assertSafe(c: string): void {
  assert.ok(c.length > 0, 'not empty');
  assert.doesNotMatch(c, /[/\\:*?"<>|]/, `no separator or Windows-illegal character in ${JSON.stringify(c)}`);
  // eslint-disable-next-line no-control-regex -- what must not be there
  assert.doesNotMatch(c, /[\u0000-\u001f\u007f]/, 'no control character');
  assert.doesNotMatch(c, /^\./, 'no leading dot');
  assert.doesNotMatch(c, /[. ]$/, 'no trailing dot or space');
  assert.ok(Buffer.byteLength(c) <= 120, `at most 120 bytes (${Buffer.byteLength(c)})`);
  assert.doesNotMatch(c, /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, 'no lone surrogate');
  assert.equal(Buffer.from(c).toString(), c, 'round-trips through UTF-8');
}

describe('safeComponent', () => {
  test('path separators become underscores', () => {
    assert.equal(safeComponent('a/b\\c'), 'a_b_c');
    assertSafe(safeComponent('a/b\\c'));
  });

  test('characters Windows refuses become underscores, runs collapse', () => {
    assert.equal(safeComponent('a:b*c?d"e<f>g|h'), 'a_b_c_d_e_f_g_h');
    assert.equal(safeComponent('a::**b'), 'a_b');
  });

  test('control characters are removed', () => {
    assert.equal(safeComponent('a\u0000b\u0001c\u001fd\u007fe'), 'abcde');
    assert.equal(safeComponent('line\nbreak\ttab'), 'linebreaktab');
  });

  test('whitespace becomes one underscore', () => {
    assert.equal(safeComponent('HEAD  32 coil'), 'HEAD_32_coil');
  });

  test('no leading dots: not hidden, never "." or ".."', () => {
    assert.equal(safeComponent('.hidden'), 'hidden');
    assert.equal(safeComponent('..'), 'UNKNOWN');
    assert.equal(safeComponent('.'), 'UNKNOWN');
    assert.equal(safeComponent('...x'), 'x');
    assert.equal(safeComponent('._x'), 'x');
  });

  test('no trailing dots or spaces', () => {
    assert.equal(safeComponent('name.'), 'name');
    assert.equal(safeComponent('name. . '), 'name');
    assert.equal(safeComponent('name   '), 'name');
    assert.equal(safeComponent('a.b'), 'a.b', 'inner dots stay');
  });

  test('person-name component separators read as underscores', () => {
    assert.equal(safeComponent('Doe^Jane'), 'Doe_Jane');
    assert.equal(safeComponent('Doe^^^^'), 'Doe');
    assert.equal(safeComponent('Doe^Jane^^Dr'), 'Doe_Jane_Dr');
  });

  test('empty or nothing usable: the fallback', () => {
    assert.equal(safeComponent(''), 'UNKNOWN');
    assert.equal(safeComponent('   '), 'UNKNOWN');
    assert.equal(safeComponent('^^^'), 'UNKNOWN');
    assert.equal(safeComponent('\u0000\u0001'), 'UNKNOWN');
    assert.equal(safeComponent('', 'NONE'), 'NONE');
  });

  test('unicode is kept, in NFC', () => {
    assert.equal(safeComponent('Müller^Jürgen'), 'Müller_Jürgen');
    assert.equal(safeComponent('Mu\u0308ller'), 'M\u00fcller', 'decomposed ü is composed');
    assert.equal(safeComponent('山田^太郎'), '山田_太郎');
  });

  test('ASCII is cut at 120 bytes', () => {
    assert.equal(safeComponent('a'.repeat(300)), 'a'.repeat(120));
    assert.equal(safeComponent('a'.repeat(120)), 'a'.repeat(120));
  });

  test('multi-byte UTF-8 is cut on a character boundary', () => {
    // 2-byte (é), 3-byte (山) and 4-byte (𝄞, a surrogate pair in UTF-16) characters.
    for (const ch of ['é', '山', '𝄞']) {
      for (let prefix = 0; prefix < 4; prefix++) {
        const raw = 'a'.repeat(prefix) + ch.repeat(100);
        const c = safeComponent(raw);
        assertSafe(c);
        assert.ok(raw.startsWith(c), `a prefix of the original (${ch}, ${prefix})`);
        assert.ok(Buffer.byteLength(c) > 120 - Buffer.byteLength(ch), `as long as fits (${ch}, ${prefix}): ${Buffer.byteLength(c)}`);
      }
    }
  });

  test('a cut never leaves a trailing dot or space', () => {
    const c = safeComponent('a'.repeat(119) + '.b' + 'c'.repeat(10));
    assertSafe(c);
    assert.equal(c, 'a'.repeat(119));
  });

  test('hostile inputs always give a safe component', () => {
    for (const raw of ['../../etc/passwd', '..\\..\\windows', '/', '\\\\server\\share', 'C:\\x', 'a\u0000/..', ' . ', '.'.repeat(200), '😀'.repeat(40) + '.', `a${'😀'.repeat(30)}`])
      assertSafe(safeComponent(raw));
  });
});

describe('fillTemplate', () => {
  const values = lookupOf({ PatientID: 'P1', StudyInstanceUID: '1.2.3', InstanceNumber: '7', SeriesNumber: ' 12 ', Modality: 'MR', PatientName: 'Doe^Jane' });

  test('{Keyword} takes the attribute value', () => {
    assert.equal(fillTemplate('{PatientID}/{StudyInstanceUID}/{Modality}.dcm', values), 'P1/1.2.3/MR.dcm');
    assert.equal(fillTemplate('{PatientName}/x', values), 'Doe_Jane/x');
  });

  test('{Keyword:03} zero-pads numbers (values trimmed first)', () => {
    assert.equal(fillTemplate('{InstanceNumber:03}.dcm', values), '007.dcm');
    assert.equal(fillTemplate('{SeriesNumber:05}', values), '00012');
    assert.equal(fillTemplate('{InstanceNumber:01}', values), '7', 'a width below the length does not cut');
    assert.equal(fillTemplate('{InstanceNumber:03}', lookupOf({ InstanceNumber: '1234' })), '1234');
  });

  test('a non-numeric value with a width is kept as it is', () => {
    assert.equal(fillTemplate('{Modality:04}.dcm', values), 'MR.dcm');
  });

  test('several placeholders and literals in one component', () => {
    assert.equal(fillTemplate('{Modality}_{InstanceNumber:04}.dcm', values), 'MR_0007.dcm');
  });

  test('a missing attribute gives an UNKNOWN component', () => {
    assert.equal(fillTemplate('{PatientID}/{AccessionNumber}/x.dcm', values), 'P1/UNKNOWN/x.dcm');
    assert.equal(fillTemplate('{AccessionNumber}/x.dcm', lookupOf({ AccessionNumber: null })), 'UNKNOWN/x.dcm');
    assert.equal(fillTemplate('{AccessionNumber}/x.dcm', lookupOf({ AccessionNumber: '   ' })), 'UNKNOWN/x.dcm');
  });

  test('empty components of the template are dropped', () => {
    assert.equal(fillTemplate('/{PatientID}//x.dcm', values), 'P1/x.dcm');
  });

  test('attribute values cannot traverse or make new levels', () => {
    for (const hostile of ['../../etc', '..', '.', '/etc/passwd', '..\\..\\x', 'a/../../b', '\u0000/..']) {
      const p = fillTemplate('{PatientID}/{StudyInstanceUID}/x.dcm', lookupOf({ PatientID: hostile, StudyInstanceUID: hostile }));
      const parts = p.split('/');
      assert.equal(parts.length, 3, `${JSON.stringify(hostile)} → ${p}: still three levels`);
      for (const c of parts) assertSafe(c);
      assert.ok(!parts.includes('..') && !parts.includes('.'), p);
    }
    assert.equal(fillTemplate('{PatientID}/x.dcm', lookupOf({ PatientID: '../../etc' })), 'etc/x.dcm');
  });

  test('".." written in the template itself is neutralised too', () => {
    assert.equal(fillTemplate('../{PatientID}/x.dcm', values), 'UNKNOWN/P1/x.dcm');
  });
});

describe('instancePath', () => {
  const lookup = lookupOf({
    PatientID: 'PAT^1',
    StudyInstanceUID: '1.2.3',
    SeriesInstanceUID: '1.2.3.4',
    SOPInstanceUID: '1.2.3.4.5',
    InstanceNumber: '3',
  });

  test('hierarchical: patient / study / series / instance', () => {
    assert.equal(HIERARCHICAL_TEMPLATE, '{PatientID}/{StudyInstanceUID}/{SeriesInstanceUID}/{SOPInstanceUID}.dcm');
    assert.equal(instancePath('hierarchical', lookup), 'PAT_1/1.2.3/1.2.3.4/1.2.3.4.5.dcm');
  });

  test('hierarchical with a missing patient ID', () => {
    assert.equal(instancePath('hierarchical', lookupOf({ StudyInstanceUID: '1', SeriesInstanceUID: '2', SOPInstanceUID: '3' })), 'UNKNOWN/1/2/3.dcm');
  });

  test('flat: two levels of the SHA-1 of the SOP Instance UID, then the UID', () => {
    const h = createHash('sha1').update('1.2.3.4.5').digest('hex');
    const p = instancePath('flat', lookup);
    assert.equal(p, `${h.slice(0, 2)}/${h.slice(2, 4)}/1.2.3.4.5.dcm`);
    assert.match(p, /^[0-9a-f]{2}\/[0-9a-f]{2}\/1\.2\.3\.4\.5\.dcm$/);
    assert.equal(instancePath('flat', lookup), p, 'stable');
    assert.notEqual(instancePath('flat', lookupOf({ SOPInstanceUID: '1.2.3.4.6' })), p);
  });

  test('flat with a hostile UID stays in its two levels', () => {
    const p = instancePath('flat', lookupOf({ SOPInstanceUID: '../../../x' }));
    const parts = p.split('/');
    assert.equal(parts.length, 3);
    for (const c of parts) assertSafe(c);
  });

  test('anything else is a template', () => {
    assert.equal(instancePath('{PatientID}/{InstanceNumber:04}.dcm', lookup), 'PAT_1/0003.dcm');
  });
});

describe('alternativePath', () => {
  test('the number goes before the extension', () => {
    assert.equal(alternativePath('a/b.dcm', 2), 'a/b~2.dcm');
    assert.equal(alternativePath('a/b.c.dcm', 3), 'a/b.c~3.dcm');
    assert.equal(alternativePath('b.dcm', 10), 'b~10.dcm');
  });

  test('without an extension it is appended; a dot in a directory is not an extension', () => {
    assert.equal(alternativePath('a/b', 2), 'a/b~2');
    assert.equal(alternativePath('1.2.3/b', 2), '1.2.3/b~2');
  });
});
