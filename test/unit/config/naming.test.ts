import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseNamingTemplate } from '../../../src/config/naming.js';
import { DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE, DEFAULT_EXPORT_TEMPLATE } from '../../../src/config/rules-schema.js';
import { parseConfigData } from '../../../src/config/load.js';
import { actionDigest } from '../../../src/services/rules.js';
import { createHash } from 'node:crypto';

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

test('an export action without a template: the default, or with deidentify one that keeps studies apart (dates and descriptions are emptied)', () => {
  const rules = (action: Record<string, unknown>) =>
    parseConfigData({ storage: { directory: '/tmp/a' }, database: { path: '/tmp/a.db' }, rules: [{ name: 'lab', on: 'study.stable', actions: [{ type: 'export', to: '/tmp/lab', ...action }] }] }, '/tmp').rules[0]!.actions[0] as { template: string };
  assert.equal(rules({}).template, DEFAULT_EXPORT_TEMPLATE);
  const deid = rules({ deidentify: true }).template;
  assert.equal(deid, DEFAULT_DEIDENTIFIED_EXPORT_TEMPLATE);
  assert.match(deid, /\{StudyInstanceUID\}/, 'a study-unique folder: the UIDs are replaced, not removed');
  assert.equal(rules({ deidentify: true, template: '{PatientID}/{SOPInstanceUID}.dcm' }).template, '{PatientID}/{SOPInstanceUID}.dcm', 'a template given is kept');
});

test("an export action's digest (its cursors' and jobs' names) is what it was before the template default moved into a transform", () => {
  const action = parseConfigData({ storage: { directory: '/tmp/a' }, database: { path: '/tmp/a.db' }, rules: [{ name: 'lab', on: 'study.stable', actions: [{ type: 'export', to: '/nas/x' }] }] }, '/tmp').rules[0]!.actions[0]!;
  const before = createHash('sha256').update(JSON.stringify({ type: 'export', to: '/nas/x', template: DEFAULT_EXPORT_TEMPLATE, mode: 'copy' })).digest('hex').slice(0, 16);
  assert.equal(actionDigest(action), before);
});
