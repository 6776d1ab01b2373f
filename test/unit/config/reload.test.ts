import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { configToYaml, describeReload, isLiveKey, parseConfigData } from '../../../src/config/load.js';

const base = parseConfigData({}, '/srv');

test('no change, nothing to report', () => {
  assert.deepEqual(describeReload(base, parseConfigData({}, '/srv')), { live: [], restart: [] });
});

test('live keys and restart keys are told apart', () => {
  const next = parseConfigData(
    {
      server: { port: 2000, max_associations: 10, idle_timeout: 5 },
      access_control: { allowed_ae_titles: ['CT*'] },
      known_nodes: [{ ae_title: 'WS1', host: 'ws1', port: 104 }],
      logging: { level: 'debug', file: '/var/log/pacs.log' },
      storage: { duplicate_policy: 'ignore', min_free_mb: 10, directory: '/elsewhere' },
    },
    '/srv',
  );
  const { live, restart } = describeReload(base, next);
  assert.deepEqual(live, [
    'access_control.allowed_ae_titles',
    'known_nodes',
    'logging.level',
    'server.idle_timeout',
    'server.max_associations',
    'storage.duplicate_policy',
    'storage.min_free_mb',
  ]);
  assert.deepEqual(restart, ['logging.file', 'server.port', 'storage.directory', 'storage.temp_dir']);
});

test('a change inside one known node is a change of known_nodes', () => {
  const a = parseConfigData({ known_nodes: [{ ae_title: 'WS1', host: 'a', port: 104 }] });
  const b = parseConfigData({ known_nodes: [{ ae_title: 'WS1', host: 'b', port: 104 }] });
  assert.deepEqual(describeReload(a, b), { live: ['known_nodes'], restart: [] });
});

test('isLiveKey', () => {
  assert.equal(isLiveKey('access_control.allowed_ae_titles'), true);
  assert.equal(isLiveKey('server.max_associations_per_ae'), true);
  assert.equal(isLiveKey('server.port'), false);
  assert.equal(isLiveKey('tls.enabled'), false);
});

test('configToYaml round-trips and masks the database password', () => {
  const cfg = parseConfigData({ database: { url: 'postgres://pacs:secret@db/pacs' } }, '/srv');
  const text = configToYaml(cfg);
  assert.ok(!text.includes('secret'));
  assert.ok(text.includes('postgres://pacs:****@db/pacs'));
  const back = parseConfigData(parse(configToYaml(cfg, { redact: false })) as Record<string, unknown>, '/srv');
  assert.deepEqual(back, cfg);
});
