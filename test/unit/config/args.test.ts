import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLI_FLAGS, loadConfig, parseServerArgs, serverHelpText } from '../../../src/config/load.js';
import { keysAt } from '../../../src/config/introspect.js';
import { assertProblem, problemsOf, tempDir } from './helpers.js';

test('flags become dotted overrides; --config is returned apart', () => {
  const args = parseServerArgs([
    '--config', 'x.yaml', '--port', '11113', '-aet', 'ME', '--storage-dir=/data', '--no-http', '--no-fsync',
    '--allow-ae', 'CT*,MR1', '--allow-ae', 'WS?', '--db-url', 'postgres://h/db', '--set', 'server.dimse_timeout=5',
  ]);
  assert.equal(args.configFile, 'x.yaml');
  assert.equal(args.help, false);
  assert.equal(args.version, false);
  assert.deepEqual(args.overrides, {
    'server.port': '11113',
    'server.ae_title': 'ME',
    'storage.directory': '/data',
    'http.enabled': 'false',
    'storage.fsync': 'false',
    'access_control.allowed_ae_titles': 'CT*,MR1,WS?',
    'database.url': 'postgres://h/db',
    'server.dimse_timeout': '5',
  });
});

test('the overrides load: flags reach the configuration with the right types', () => {
  const { overrides } = parseServerArgs(['--port', '4000', '--no-http', '--allow-ae', 'A,B', '--max-pdu', '65536']);
  const { config } = loadConfig({ env: {}, overrides, cwd: tempDir() });
  assert.equal(config.server.port, 4000);
  assert.equal(config.http.enabled, false);
  assert.equal(config.server.max_pdu_length, 65536);
  assert.deepEqual(config.access_control.allowed_ae_titles, ['A', 'B']);
});

test('--help, -h and --version', () => {
  assert.equal(parseServerArgs(['-h']).help, true);
  assert.equal(parseServerArgs(['--help']).help, true);
  assert.equal(parseServerArgs(['--version']).version, true);
  assert.deepEqual(parseServerArgs([]), { overrides: {}, help: false, version: false });
});

test('unknown flags, missing values and stray arguments are all reported', () => {
  const problems = problemsOf(() => parseServerArgs(['--prot', '1', '--db', '--port', '7', 'stray', '--no-http=yes', '--set', 'port']));
  assertProblem(problems, 'unknown option --prot', 'did you mean --port?');
  assertProblem(problems, '--db: missing value');
  assertProblem(problems, 'unexpected argument "stray"');
  assertProblem(problems, '--no-http: takes no value');
  assertProblem(problems, '--set: expected KEY=VALUE');
  assert.equal(problems.length, 5);
  assertProblem(problemsOf(() => parseServerArgs(['--port'])), '--port: missing value');
});

test('every flag maps to a key the schema has, and --help lists every flag', () => {
  const help = serverHelpText();
  for (const flag of CLI_FLAGS) {
    for (const name of flag.names) assert.ok(help.includes(name), `${name} missing from --help`);
    if (flag.key === undefined) continue;
    const [section = '', key = ''] = flag.key.split('.');
    assert.ok(keysAt([section]).includes(key), `${flag.key} is not a configuration key`);
  }
});
