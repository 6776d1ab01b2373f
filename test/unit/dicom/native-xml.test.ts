// The Native DICOM Model (PS3.19 A.1) made from the DICOM JSON model: names, person names by
// component, items, bulk data, inline binary, empty values, and text XML cannot carry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeDicomModel, xmlEscape } from '../../../src/dicom/native-xml.js';
import { readNativeXml } from '../../helpers/native-xml.js';

test('every kind of value, read back the same; keywords from the dictionary, tags in order', () => {
  const xml = nativeDicomModel({
    '00100020': { vr: 'LO', Value: ['ID <1> & "2"'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎', Phonetic: 'やまだ^たろう' }, { Alphabetic: 'Doe^^Q^Dr^Jr^extra' }] },
    '00200013': { vr: 'IS', Value: [7] },
    '00181050': { vr: 'DS', Value: [0.5, null, 2] },
    '00081140': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3'] } }, {}] },
    '7FE00010': { vr: 'OW', BulkDataURI: 'http://h/x?a=1&b=2' },
    '00291010': { vr: 'OB', InlineBinary: 'AAEC' },
    '00080090': { vr: 'PN' },
    '00100030': { vr: 'DA', Value: [] },
    '00090010': { vr: 'LO', Value: ['ACME 1.0'] },
    '00091001': { vr: 'US', Value: [3] },
  });
  assert.match(xml, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<NativeDicomModel xmlns="http:\/\/dicom.nema.org\/PS3.19\/models\/NativeDICOM" xml:space="preserve">/);
  const ds = readNativeXml(xml);
  assert.deepEqual(Object.keys(ds), ['00080090', '00081140', '00090010', 'ACME 1.0:00090001', '00100010', '00100020', '00100030', '00181050', '00200013', '00291010', '7FE00010']);
  // A private element: its creator named, the block left out of its tag (as DCMTK's dcm2xml does).
  assert.deepEqual(ds['ACME 1.0:00090001'], { vr: 'US', privateCreator: 'ACME 1.0', values: ['3'] });
  assert.deepEqual(ds['00090010'], { vr: 'LO', values: ['ACME 1.0'] }, 'the creator element itself: no keyword');
  assert.deepEqual(ds['00100020'], { vr: 'LO', keyword: 'PatientID', values: ['ID <1> & "2"'] });
  assert.deepEqual(ds['00100010']!.values, ['Yamada^Tarou=山田^太郎=やまだ^たろう', 'Doe^^Q^Dr^Jr^extra']);
  assert.match(xml, /<PersonName number="2"><Alphabetic><FamilyName>Doe<\/FamilyName><MiddleName>Q<\/MiddleName><NamePrefix>Dr<\/NamePrefix><NameSuffix>Jr\^extra<\/NameSuffix><\/Alphabetic><\/PersonName>/, 'empty components left out, the rest of a sixth kept in the suffix');
  assert.deepEqual(ds['00200013']!.values, ['7']);
  assert.deepEqual(ds['00181050']!.values, ['0.5', '', '2']);
  assert.match(xml, /<Value number="2"\/>/, 'an empty value keeps its number');
  assert.deepEqual(ds['00081140']!.values, [{ '00081155': { vr: 'UI', keyword: 'ReferencedSOPInstanceUID', values: ['1.2.3'] } }, {}]);
  assert.equal(ds['7FE00010']!.bulkDataURI, 'http://h/x?a=1&b=2');
  assert.equal(ds['00291010']!.inlineBinary, 'AAEC');
  assert.equal(ds['00291010']!.keyword, undefined, 'a private tag has no keyword');
  assert.equal(ds['00291010']!.privateCreator, undefined, 'nor a creator when the dataset has none for it');
  assert.deepEqual(ds['00080090'], { vr: 'PN', keyword: 'ReferringPhysicianName', values: [] });
});

test('characters XML cannot carry become U+FFFD; markup is escaped', () => {
  assert.equal(xmlEscape('a\u0000b\u001bc\td\ne\r'), 'a\uFFFDb\uFFFDc\td\ne&#13;', 'CR as a reference: a parser would make CRLF an LF');
  assert.equal(xmlEscape('x\uD800y\uD83D\uDE00'), 'x\uFFFDy\uD83D\uDE00', 'a lone surrogate goes, a pair stays');
  assert.equal(xmlEscape('<a href="x">&</a>'), '&lt;a href=&quot;x&quot;&gt;&amp;&lt;/a&gt;');
  const ds = readNativeXml(nativeDicomModel({ '00104000': { vr: 'LT', Value: ['line\u0001one\u001b$B'] }, '00324000': { vr: 'LT', Value: ['Findings:\r\n\tnone <see> & "more"'] } }));
  assert.deepEqual(ds['00104000']!.values, ['line\uFFFDone\uFFFD$B']);
  assert.deepEqual(ds['00324000']!.values, ['Findings:\r\n\tnone <see> & "more"'], 'report text read back as it was, CRLF and all');
});
