// Values against their VRs (PS3.5 6.2): dates, times, lengths and repertoires of text, ranges of
// integers; and the first misfit of a DICOM JSON dataset, inside sequences too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { datasetValueProblem, vrValueProblem } from '../../../src/dicom/vr-values.js';

test('vrValueProblem: what each VR allows', () => {
  const fits: [string, string | number | object][] = [
    ['DA', '20260312'], ['DA', '20240229'], ['TM', '09'], ['TM', '0900'], ['TM', '090000.123456'], ['DT', '20260312090000.5+0100'], ['DT', '2026'],
    ['LO', 'x'.repeat(64)], ['SH', 'CT1'], ['CS', 'SCHEDULED'], ['AE', 'CT 1'], ['PN', { Alphabetic: 'DOE^JANE' }], ['US', 65535], ['US', '12'],
    ['UL', 4294967295], ['SS', -32768], ['IS', ' 12 '], ['DS', '-1.5e3'], ['UI', '1.2.840.10008'], ['AS', '045Y'], ['LT', 'line\r\nline'], ['FD', 1.5],
  ];
  for (const [vr, v] of fits) assert.equal(vrValueProblem(vr, v as never), null, `${vr} ${JSON.stringify(v)}`);
  const misfits: [string, string | number | object, RegExp][] = [
    ['DA', '2026-03-12', /YYYYMMDD/], ['DA', '20260230', /no such date/], ['DA', '20261301', /YYYYMMDD/], ['TM', '9am', /HHMMSS/], ['TM', '2400', /HHMMSS/],
    ['DT', '2026-03-12T09:00', /date-time/], ['LO', 'x'.repeat(5000), /longer than 64/], ['SH', 'x'.repeat(17), /longer than 16/], ['LO', 'a\\b', /backslash/],
    ['LO', 'a\nb', /control/], ['CS', 'scheduled', /upper-case/], ['US', 'abc', /not an integer/], ['US', 70000, /out of range/], ['US', 1.5, /not an integer/],
    ['UL', -1, /out of range/], ['IS', '99999999999', /longer than 12|out of range/], ['DS', 'one', /decimal/], ['UI', '1.2.x', /UID/],
    ['PN', 'DOE^JANE', /object/], ['PN', { Alphabetic: 'A'.repeat(65) }, /longer than 64/], ['AE', 'A'.repeat(17), /longer than 16/],
  ];
  for (const [vr, v, why] of misfits) assert.match(vrValueProblem(vr, v as never) ?? 'fits', why, `${vr} ${JSON.stringify(v)}`);
});

test('datasetValueProblem: names the attribute, looks inside sequence items, checks the VR against the dictionary', () => {
  const ok = { '00100020': { vr: 'LO', Value: ['P1'] }, '00400100': { vr: 'SQ', Value: [{ '00400002': { vr: 'DA', Value: ['20260312'] }, '00080060': { vr: 'CS', Value: ['CT'] } }] } };
  assert.equal(datasetValueProblem(ok), null);
  const inItem = { '00400100': { vr: 'SQ', Value: [{ '00400002': { vr: 'DA', Value: ['2026-03-12'] } }] } };
  assert.deepEqual(datasetValueProblem(inItem as never), { path: '00400100/0/00400002', keyword: 'ScheduledProcedureStepStartDate', problem: 'expected a date YYYYMMDD (DA): "2026-03-12"' });
  assert.match(datasetValueProblem({ '00400002': { vr: 'LO', Value: ['soon'] } })?.problem ?? '', /dictionary has DA/);
  assert.equal(datasetValueProblem({ '00100020': { vr: 'LO' }, '00100010': { vr: 'PN', Value: [null] } }), null, 'empty values fit');
});
