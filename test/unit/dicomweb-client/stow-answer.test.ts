// Reading STOW-RS answers (PS3.18 Table 10.5.3-1) as different origin servers write them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureReasonText, isOutOfResources, parseStowAnswer } from '../../../src/dicomweb-client/stow-answer.js';

const item = (uid: string, extra: Record<string, unknown> = {}) => ({ '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] }, '00081155': { vr: 'UI', Value: [uid] }, ...extra });

test('stored, stored with a warning, and failed instances with their reasons', () => {
  const a = parseStowAnswer({
    '00081190': { vr: 'UR', Value: ['http://x/studies/1'] },
    '00081199': { vr: 'SQ', Value: [item('1.1'), item('1.2', { '00081196': { vr: 'US', Value: [0xb000] } })] },
    '00081198': { vr: 'SQ', Value: [item('1.3', { '00081197': { vr: 'US', Value: [0xa700] }, '00000902': { vr: 'LO', Value: ['disk full'] } }), item('1.4', { '00081197': { vr: 'US', Value: [0x0122] } })] },
  });
  assert.deepEqual([...a.stored], [['1.1', null], ['1.2', 0xb000]]);
  assert.deepEqual(a.failed.get('1.3'), { status: 0xa700, reason: 'Failure Reason 0xA700 Refused: Out of Resources: disk full' });
  assert.deepEqual(a.failed.get('1.4'), { status: 0x0122, reason: 'Failure Reason 0x0122 Referenced SOP Class not supported' });
});

test('upper-case tags, the dataset in an array, items without a reason, and answers that are no dataset', () => {
  const a = parseStowAnswer([{ '0008119A': { vr: 'SQ' }, '00081198': { vr: 'SQ', Value: [item('2.1')] }, '00081199': { vr: 'SQ' } }]);
  assert.equal(a.stored.size, 0);
  assert.deepEqual(a.failed.get('2.1'), { status: null, reason: 'failed (no Failure Reason given)' });
  for (const body of [null, 'text', [], { '00081199': { vr: 'SQ', Value: 'x' } }]) assert.deepEqual(parseStowAnswer(body), { stored: new Map(), failed: new Map() });
});

test('Failure Reason words and the one that may pass with time', () => {
  assert.equal(failureReasonText(0xa900), 'Error: Data Set does not match SOP Class');
  assert.equal(failureReasonText(0xc122), 'Referenced Transfer Syntax not supported');
  assert.equal(failureReasonText(0xc005), 'Error: Cannot understand');
  assert.equal(failureReasonText(0x0111), 'Duplicate SOP Instance');
  assert.ok(isOutOfResources(0xa701));
  assert.ok(!isOutOfResources(0xc000));
  assert.ok(!isOutOfResources(null));
});

test('a server\'s comment is kept short and on one line', () => {
  const comment = `refused\n\u001b[31m${'y'.repeat(100_000)}`;
  const a = parseStowAnswer({ '00081198': { vr: 'SQ', Value: [item('3.1', { '00081197': { vr: 'US', Value: [0x0110] }, '00000902': { vr: 'LO', Value: [comment] } })] } });
  const reason = a.failed.get('3.1')!.reason;
  assert.ok(reason.length < 300, `${reason.length} characters`);
  assert.match(reason, /^Failure Reason 0x0110 Processing failure: refused \\u001b\[31my+\.\.\.$/);
});
