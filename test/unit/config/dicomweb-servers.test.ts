// dicomweb_servers and the forward action's `dicomweb:`: every mistake names its key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToYaml, describeReload, loadConfig } from '../../../src/config/load.js';
import { assertProblem, problemsOf, writeConfig } from './helpers.js';

const load = (yaml: string) => {
  const { file } = writeConfig(yaml);
  return problemsOf(() => loadConfig({ file, env: {} }));
};
const LAB = '  - { name: LAB, url: "https://lab.example/dicom-web/", token: "0123456789abcdef" }\n';
const rule = (action: string) => `rules:\n  - { name: r, actions: [${action}] }\n`;

test('a valid server: defaults, the URL without its trailing slash, a rule forwarding to it', () => {
  const { file } = writeConfig(`dicomweb_servers:\n${LAB}${rule('{ type: forward, dicomweb: LAB, deidentify: true }')}`);
  const { config } = loadConfig({ file, env: {} });
  assert.deepEqual(config.dicomweb_servers[0], {
    name: 'LAB',
    url: 'https://lab.example/dicom-web',
    token: '0123456789abcdef',
    timeout: 60,
    reject_unauthorized: true,
    max_instances_per_request: 100,
    max_request_mb: 64,
  });
  assert.equal(config.rules[0]!.actions[0]!.type, 'forward');
});

test('forward needs exactly one of node and dicomweb', () => {
  assertProblem(load(`dicomweb_servers:\n${LAB}${rule('{ type: forward }')}`), 'rules[0].actions[0].node: required: a forward action needs node', 'or dicomweb');
  assertProblem(load(`dicomweb_servers:\n${LAB}${rule('{ type: forward, node: WS1, dicomweb: LAB }')}`), 'rules[0].actions[0].dicomweb: give node or dicomweb, not both');
});

test('a dicomweb name that is no server is a configuration error naming the key and the servers', () => {
  assertProblem(load(`dicomweb_servers:\n${LAB}${rule('{ type: forward, dicomweb: LABB }')}`), 'rules[0].actions[0].dicomweb: "LABB" is not the name of a DICOMweb server (dicomweb_servers has LAB)');
  assertProblem(load(rule('{ type: forward, dicomweb: LAB }')), 'rules[0].actions[0].dicomweb: "LAB" is not the name of a DICOMweb server (dicomweb_servers is empty)');
});

test('server mistakes name their key', () => {
  assertProblem(load(`dicomweb_servers:\n${LAB}${LAB}`), 'dicomweb_servers[1].name: duplicate name "LAB" (also dicomweb_servers[0])');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "ftp://x/dicom-web" }]\n'), 'dicomweb_servers[0].url: expected the http:// or https:// URL', 'got "ftp://x/dicom-web"');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://user:pw@x/dicom-web" }]\n'), 'dicomweb_servers[0].url:', 'credentials go in username/password or token');
  assertProblem(load('dicomweb_servers: [{ name: "a b", url: "https://x" }]\n'), 'dicomweb_servers[0].name: expected a name of letters, digits');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://x", username: u }]\n'), 'dicomweb_servers[0].password: required with username');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://x", username: u, password: p, token: "0123456789abcdef" }]\n'), 'dicomweb_servers[0].token: give either token (Bearer) or username and password (Basic), not both');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://x", timeout: 0 }]\n'), 'dicomweb_servers[0].timeout: expected a number of seconds greater than 0');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://x", max_request_mb: 0 }]\n'), 'dicomweb_servers[0].max_request_mb: expected an integer from 1 to 65536 MB');
  assertProblem(load('dicomweb_servers: [{ name: A, url: "https://x", colour: red }]\n'), 'dicomweb_servers[0].colour: unknown key');
  assertProblem(load('dicomweb_servers: [{ name: A }]\n'), 'dicomweb_servers[0].url:');
});

test('ca_path: relative to the file, and a missing one is reported at load', () => {
  const { dir, file } = writeConfig('dicomweb_servers: [{ name: A, url: "https://x", ca_path: certs/ca.pem }]\n');
  assertProblem(problemsOf(() => loadConfig({ file, env: {} })), 'dicomweb_servers[0].ca_path: file not found', join(dir, 'certs', 'ca.pem'), 'line 1');
  mkdirSync(join(dir, 'certs'));
  writeFileSync(join(dir, 'certs', 'ca.pem'), 'PEM');
  assert.equal(loadConfig({ file, env: {} }).config.dicomweb_servers[0]!.ca_path, join(dir, 'certs', 'ca.pem'));
});

test('passwords and tokens are masked when printed; the list reloads live', () => {
  const { dir, file } = writeConfig('dicomweb_servers:\n  - { name: A, url: "https://x", username: u, password: hunter2 }\n  - { name: B, url: "https://y", token: "0123456789abcdef" }\n');
  const { config } = loadConfig({ file, env: {} });
  const printed = configToYaml(config);
  assert.doesNotMatch(printed, /hunter2|0123456789abcdef/);
  assert.match(printed, /password: "\*\*\*\*"/);
  const other = join(dir, 'reloaded.yaml');
  writeFileSync(other, 'dicomweb_servers:\n  - { name: A, url: "https://z", username: u, password: hunter2 }\n');
  const diff = describeReload(config, loadConfig({ file: other, env: {} }).config);
  assert.deepEqual(diff, { live: ['dicomweb_servers'], restart: [] });
});

test('a refused value is never echoed when it is a secret: a password or token, or a URL holding credentials', () => {
  const numeric = load('dicomweb_servers:\n  - { name: LAB, url: "https://lab.example/dicom-web", username: alice, password: 84736251 }\n');
  assertProblem(numeric, 'dicomweb_servers[0].password: expected a password');
  assert.ok(!numeric.some((line) => line.includes('84736251')), numeric.join('\n'));
  const inUrl = load('dicomweb_servers:\n  - { name: LAB, url: "https://alice:S3cretPw@lab.example/dicom-web" }\n');
  assertProblem(inUrl, 'dicomweb_servers[0].url: expected the http');
  assert.ok(!inUrl.some((line) => line.includes('S3cretPw')), inUrl.join('\n'));
  assert.ok(inUrl.some((line) => line.includes('alice:****@')), inUrl.join('\n'));
  const token = load('dicomweb_servers:\n  - { name: LAB, url: "https://lab.example/dicom-web", token: 1234567 }\n');
  assert.ok(!token.some((line) => line.includes('1234567')), token.join('\n'));
});

test('a token, password or user name holding a line break (a YAML | block keeps one) is refused, naming the key, the secret not shown', () => {
  const server = (auth: string) => `dicomweb_servers:\n  - name: LAB\n    url: "https://lab.example/dicom-web"\n${auth}`;
  const token = load(server('    token: |\n      s3cr3t-t0ken-value\n'));
  assertProblem(token, 'dicomweb_servers[0].token: expected a token without line breaks or other control characters', '|-');
  assert.ok(!token.some((line) => line.includes('s3cr3t')), token.join('\n'));
  const password = load(server('    username: alice\n    password: "hunter2\\r\\nsecret"\n'));
  assertProblem(password, 'dicomweb_servers[0].password: expected a password without line breaks or other control characters');
  assert.ok(!password.some((line) => line.includes('hunter2')), password.join('\n'));
  assertProblem(load(server('    username: "ali\\u001bce"\n    password: pw\n')), 'dicomweb_servers[0].username: expected a user name without line breaks or other control characters');
  // A token Node cannot put in a header at all (beyond Latin-1) is refused too.
  assertProblem(load(server('    token: "tok€n"\n')), 'dicomweb_servers[0].token: expected a token', 'header');
  // |- drops the last line break: that one is taken.
  const { file } = writeConfig(server('    token: |-\n      s3cr3t-t0ken-value\n'));
  assert.equal(loadConfig({ file, env: {} }).config.dicomweb_servers[0]!.token, 's3cr3t-t0ken-value');
});
