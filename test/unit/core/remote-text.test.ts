// Another server's text as messages and logs show it: one line, no control characters, short.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { remoteText } from '../../../src/core/remote-text.js';

test('line breaks become spaces, other control characters \\uXXXX, short text as it is', () => {
  assert.equal(remoteText('  disk\r\nfull\t now '), 'disk full now');
  assert.equal(remoteText('a\u001b[2Jb\u0000c\u009bd'), 'a\\u001b[2Jb\\u0000c\\u009bd');
  assert.equal(remoteText('x\u2028y\u202ez'), 'x\\u2028y\\u202ez');
  assert.equal(remoteText(''), '');
});

test('long text is cut at the bound, never inside a surrogate pair', () => {
  const cut = remoteText('z'.repeat(10_000), 50);
  assert.equal(cut, `${'z'.repeat(47)}...`);
  assert.equal(remoteText(`${'a'.repeat(46)}${'😀'.repeat(5)}`, 50), `${'a'.repeat(46)}...`);
  // Text cut before it is read whole still says so.
  assert.equal(remoteText(`short${' '.repeat(1000)}tail`, 20), 'short...');
});
