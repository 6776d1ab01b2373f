// Keeps docs/configuration.md honest: its example loads, and every key is in its reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keysAt } from '../../../src/config/introspect.js';
import { loadConfig } from '../../../src/config/load.js';
import { tempDir } from './helpers.js';

// dist/test/unit/config → repository root
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const doc = readFileSync(join(root, 'docs', 'configuration.md'), 'utf8');

test('the complete example of docs/configuration.md is a valid configuration', () => {
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(example !== undefined, 'no yaml example');
  const file = join(tempDir(), 'pacs_server.yaml');
  writeFileSync(file, example);
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.server.ae_title, 'MY_PACS');
  assert.equal(config.known_nodes.length, 2);
});

test('every configuration key has a row in the reference', () => {
  for (const section of keysAt([])) {
    assert.ok(doc.includes(`### \`${section}\``), `no section ${section}`);
    // Lists of mappings: the keys of one item.
    const keys = section === 'known_nodes' || section === 'dicomweb_servers' ? keysAt([section, 0]) : keysAt([section]);
    for (const key of keys) assert.ok(doc.includes(`| \`${key}\` |`), `no row for ${section}.${key}`);
  }
});
