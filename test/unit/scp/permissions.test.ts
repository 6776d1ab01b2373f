// Per-node restrictions that any other calling AE title sidesteps are said at start.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restrictionWarning } from '../../../src/scp/permissions.js';
import { PERMISSIONS } from '../../../src/config/schema.js';

const all = [...PERMISSIONS];

test('restricted known nodes with calling AE titles allowed by pattern: a warning naming them; otherwise none', () => {
  const ws1 = { ae_title: 'WS1', permissions: ['store'] };
  const bound = { ae_title: 'CT1', permissions: all, addresses: ['10.0.0.5'] };
  const free = { ae_title: 'PACS2', permissions: all };
  const w = restrictionWarning([ws1, bound, free], ['*'], all.length);
  assert.deepEqual(w?.fields, { restrictedNodes: ['WS1', 'CT1'], patterns: ['*'] });
  assert.match(w!.message, /calling under another title/);
  assert.equal(restrictionWarning([ws1], ['WS1', 'CT1'], all.length), null, 'only listed titles may call');
  // A pattern admits titles that are no known node ("WS1X" beside WS1): as open as "*" for them.
  assert.match(restrictionWarning([ws1], ['WS1', 'WS*'], all.length)?.message ?? '', /by pattern \(WS\*\)/);
  assert.equal(restrictionWarning([free], ['*'], all.length), null, 'nothing restricted');
});
