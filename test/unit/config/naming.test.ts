import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNamingTemplate } from '../../../src/config/naming.js';

test('a template parses into literals and attributes, with zero padding', () => {
  assert.deepEqual(parseNamingTemplate('{PatientID}/{StudyInstanceUID}/{InstanceNumber:05}.dcm'), {
    ok: true,
    parts: [
      { kind: 'attribute', keyword: 'PatientID' },
      { kind: 'literal', text: '/' },
      { kind: 'attribute', keyword: 'StudyInstanceUID' },
      { kind: 'literal', text: '/' },
      { kind: 'attribute', keyword: 'InstanceNumber', pad: 5 },
      { kind: 'literal', text: '.dcm' },
    ],
  });
});

test('bad templates say why', () => {
  const problem = (t: string): string => {
    const r = parseNamingTemplate(t);
    assert.equal(r.ok, false, t);
    return r.ok ? '' : r.problem;
  };
  assert.match(problem('plain/name.dcm'), /at least one \{Keyword\}/);
  assert.match(problem('{PatientID'), /unmatched "\{"/);
  assert.match(problem('PatientID}'), /unmatched "\}"/);
  assert.match(problem('{patientID}'), /not a DICOM keyword/);
  assert.match(problem('{Patient ID}'), /not a DICOM keyword/);
  assert.match(problem('{InstanceNumber:5}'), /zero-padded width/);
  assert.match(problem('/abs/{PatientID}'), /relative path/);
  assert.match(problem('{PatientID}/../x'), /"\.\."/);
});
