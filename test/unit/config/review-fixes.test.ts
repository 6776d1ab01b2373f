// Configuration defects found by review, each checked here against what the docs promise:
// --set takes any key (hl7.* has a digit), mappings from the environment and --set, a mapping's
// change applies live as the mapping does, --db wins over a database.url of the file, a TLS node
// without TLS is refused when the file is read, bind addresses are checked as they are read, a
// missing plugin module is named, and a password in the URL's parameters is masked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AE_OPTIONS, ARCHIVE_OPTIONS, UsageError, archiveOverrides, parseArgs } from '../../../src/cli/args.js';
import { configToYaml, describeReload, loadConfig, parseConfigData, parseServerArgs } from '../../../src/config/load.js';
import { describeIndex } from '../../../src/app.js';
import { backoffMs } from '../../../src/services/jobs.js';
import { assertProblem, problemsOf, tempDir, writeConfig } from './helpers.js';

test('--set reaches keys of sections whose name has a digit (hl7.*)', () => {
  const { overrides } = parseServerArgs(['--set', 'hl7.port=2576', '--set', 'hl7.enabled=true']);
  assert.deepEqual(overrides, { 'hl7.port': '2576', 'hl7.enabled': 'true' });
  const { config } = loadConfig({ env: {}, overrides, cwd: tempDir() });
  assert.equal(config.hl7.port, 2576);
  assert.equal(config.hl7.enabled, true);
});

test('hl7.station_ae, a mapping, can be given in the environment and by --set as YAML', () => {
  const fromEnv = loadConfig({ env: { PACS_HL7__STATION_AE: '{CT: CT_ROOM1, "US ROOM 2": US2}' }, cwd: tempDir() }).config;
  assert.deepEqual(fromEnv.hl7.station_ae, { CT: 'CT_ROOM1', 'US ROOM 2': 'US2' });
  const fromFlag = loadConfig({ env: {}, overrides: { 'hl7.station_ae': '{MR: MR1}' }, cwd: tempDir() }).config;
  assert.deepEqual(fromFlag.hl7.station_ae, { MR: 'MR1' });
});

test('a change of hl7.station_ae applies live, entries added or changed', () => {
  const before = parseConfigData({ hl7: { station_ae: { CT: 'CT1' } } });
  const after = parseConfigData({ hl7: { station_ae: { CT: 'CT2', MR: 'MR1' } } });
  const { live, restart } = describeReload(before, after);
  assert.deepEqual(restart, []);
  assert.ok(live.includes('hl7.station_ae.CT') && live.includes('hl7.station_ae.MR'), live.join(', '));
});

test('--db names the SQLite file even when the file or the environment sets database.url', () => {
  const { file, dir } = writeConfig('database:\n  url: postgres://u:p@127.0.0.1:1/db\n');
  const server = parseServerArgs(['--db', 'local.db']);
  const fromServer = loadConfig({ file, env: {}, overrides: server.overrides, cwd: dir }).config;
  assert.equal(fromServer.database.url, undefined);
  assert.equal(fromServer.database.path, join(dir, 'local.db'));
  assert.equal(describeIndex(fromServer), join(dir, 'local.db'));

  const tool = archiveOverrides(parseArgs(['--db', 'tool.db'], ARCHIVE_OPTIONS));
  const fromTool = loadConfig({ file, env: { PACS_DATABASE__URL: 'postgres://x@h/db' }, overrides: tool.overrides, cwd: dir }).config;
  assert.equal(fromTool.database.url, undefined);
  assert.equal(fromTool.database.path, join(dir, 'tool.db'));

  // Both at once is a mistake to say, not a choice to make silently.
  assert.throws(() => archiveOverrides(parseArgs(['--db', 'a.db', '--db-url', 'postgres://h/db'], ARCHIVE_OPTIONS)), UsageError);
  assertProblem(problemsOf(() => parseServerArgs(['--db', 'a.db', '--db-url', 'postgres://h/db'])), '--db (SQLite) and --db-url (PostgreSQL)');
  // --db-url alone still selects PostgreSQL.
  assert.equal(loadConfig({ env: {}, overrides: parseServerArgs(['--db-url', 'postgres://h/db']).overrides, cwd: dir }).config.database.url, 'postgres://h/db');
});

test('a known node with tls: true while tls.enabled is off is refused when the file is read, naming the key', () => {
  const { file } = writeConfig('known_nodes:\n  - {ae_title: WS1, host: 192.0.2.10, port: 104}\n  - {ae_title: WS2, host: ws2.example, port: 104, tls: true}\n');
  assertProblem(problemsOf(() => loadConfig({ file, env: {} })), 'known_nodes[1].tls', 'tls.enabled');
});

test('bind addresses and node hosts are checked as they are read, each problem naming its key', () => {
  const problems = problemsOf(() =>
    loadConfig({ env: {}, overrides: { 'server.host': 'not a host!', 'http.host': '999.1.1.1', 'hl7.host': '-bad-' }, cwd: tempDir() }),
  );
  assertProblem(problems, 'server.host', 'an IP address or a host name');
  assertProblem(problems, 'http.host', 'an IP address or a host name');
  assertProblem(problems, 'hl7.host', 'an IP address or a host name');
  const { file } = writeConfig('known_nodes:\n  - {ae_title: WS1, host: "ws 1", port: 104}\n');
  assertProblem(problemsOf(() => loadConfig({ file, env: {} })), 'known_nodes[0].host', 'an IP address or a host name');
  // What is valid stays valid: addresses of both families, names, a trailing dot.
  for (const host of ['0.0.0.0', '::', '::1', '127.0.0.1', 'localhost', 'pacs-1.example.org', 'ws_2.lan', 'pacs.example.org.']) {
    assert.equal(loadConfig({ env: {}, overrides: { 'server.host': host }, cwd: tempDir() }).config.server.host, host);
  }
});

test('a plugin module that is not there is named when the configuration is read', () => {
  const { file, dir } = writeConfig('plugins:\n  - ./plugins/missing.mjs\n  - {path: /nowhere/other.mjs, options: {}}\n');
  const problems = problemsOf(() => loadConfig({ file, env: {}, cwd: dir }));
  assertProblem(problems, 'plugins[0]', 'file not found', 'missing.mjs');
  assertProblem(problems, 'plugins[1]', 'file not found', 'other.mjs');
});

test('a plugin path without "./" is relative to the configuration file too, not to the working directory', () => {
  const { file, dir } = writeConfig('plugins:\n  - plugins/p.mjs\n  - {path: plugins/q.mjs, options: {}}\n');
  mkdirSync(join(dir, 'plugins'));
  writeFileSync(join(dir, 'plugins', 'p.mjs'), 'export function register() {}\n');
  writeFileSync(join(dir, 'plugins', 'q.mjs'), 'export function register() {}\n');
  const { config } = loadConfig({ file, env: {}, cwd: tempDir() });
  assert.deepEqual(config.plugins, [join(dir, 'plugins', 'p.mjs'), { path: join(dir, 'plugins', 'q.mjs'), options: {} }]);
});

test('a database password given as a URL parameter is masked like the user-info one', () => {
  const config = parseConfigData({ database: { url: 'postgres://u@h/db?password=sekret&sslmode=require' } });
  const yaml = configToYaml(config);
  assert.ok(!yaml.includes('sekret'), yaml);
  assert.match(yaml, /sslmode=require/);
  assert.ok(!describeIndex(config).includes('sekret'), describeIndex(config));
  const both = parseConfigData({ database: { url: 'postgres://u:one@h/db?password=two' } });
  assert.ok(!/one|two/.test(describeIndex(both)), describeIndex(both));
});

test('pacs tools refuse an AE title PS3.5 does not allow instead of cutting it to 16 characters', () => {
  for (const bad of ['THIS_IS_TOO_LONG_AE', '   ', 'A\\B']) assert.throws(() => parseArgs(['-aet', bad], AE_OPTIONS), UsageError, bad);
  assert.throws(() => parseArgs(['-aec', 'X'.repeat(17)], AE_OPTIONS), /at most 16 characters/);
  assert.equal(parseArgs(['-aet', 'EXACTLY_16_CHARS', '-aec', 'ANY-SCP'], AE_OPTIONS).options.get('-aet')?.[0], 'EXACTLY_16_CHARS');
});

test('the default job retries outlast an overnight outage of a destination (5 tries gave up after 150 s)', () => {
  const { config } = loadConfig({ file: writeConfig('{}\n').file, env: {} });
  let waited = 0;
  for (let attempt = 1; attempt < config.jobs.max_attempts; attempt++) waited += backoffMs(attempt, config.jobs.backoff_seconds);
  assert.ok(waited >= 8 * 3600_000, `the retries span ${(waited / 3600_000).toFixed(1)} h`);
});
