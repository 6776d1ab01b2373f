import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { PacsError } from '../../../src/core/errors.js';
import { assertProblem, problemsOf, tempDir, writeConfig } from './helpers.js';

const load = (yaml: string, env: Record<string, string> = {}, overrides: Record<string, string> = {}) => {
  const { file } = writeConfig(yaml);
  return problemsOf(() => loadConfig({ file, env, overrides }));
};

test('ConfigError is a PacsError with code CONFIG_INVALID, listing every problem in its message', () => {
  const e = new ConfigError(['a: one', 'b: two']);
  assert.ok(e instanceof PacsError);
  assert.equal(e.code, 'CONFIG_INVALID');
  assert.match(e.message, /a: one\n.*b: two/);
});

test('bad port: range and type, naming the key, the value and where it came from', () => {
  assertProblem(load('server: { port: 70000 }\n'), 'server.port: expected an integer from 0 (any free port) to 65535, got 70000', 'line 1');
  assertProblem(load('', { PACS_SERVER__PORT: 'abc' }), 'server.port: expected an integer from 0 (any free port) to 65535, got "abc"', 'PACS_SERVER__PORT');
  assertProblem(load('', {}, { 'http.port': '12.5' }), 'http.port: expected an integer from 0 (any free port) to 65535, got 12.5', 'command line');
});

test('unknown keys, with a guess at what was meant', () => {
  assertProblem(load('storage:\n  dirctory: /x\n'), 'storage.dirctory: unknown key', 'did you mean "directory"', 'line 2');
  assertProblem(load('servr: {}\n'), 'servr: unknown key', 'did you mean "server"');
  assertProblem(load('known_nodes: [{ ae_title: A, host: h, port: 1, colour: red }]\n'), 'known_nodes[0].colour: unknown key');
  assertProblem(load('', { PACS_SERVER__PROT: '1' }), 'server.prot: unknown key', 'PACS_SERVER__PROT');
});

test('bad enum values list the choices', () => {
  assertProblem(load('storage: { duplicate_policy: skip }\n'), 'storage.duplicate_policy: expected one of reject, overwrite, ignore, got "skip"');
  assertProblem(load('logging: { level: verbose }\n'), 'logging.level: expected one of fatal, error, warn, info, debug, trace, silent');
  assertProblem(load('known_nodes: [{ ae_title: A, host: h, port: 1, permissions: [store, delete] }]\n'), 'known_nodes[0].permissions[1]: expected one of store');
});

test('TLS enabled without certificate and key', () => {
  const problems = load('tls: { enabled: true }\n');
  assertProblem(problems, 'tls.cert_path: required when tls.enabled is true');
  assertProblem(problems, 'tls.key_path: required when tls.enabled is true');
  assertProblem(load('tls: { enabled: true, cert_path: a, key_path: b, require_client_cert: true }\n'), 'tls.ca_path: required when tls.require_client_cert');
});

test('TLS files that do not exist are reported at load time', () => {
  const { dir, file } = writeConfig('tls: { enabled: true, cert_path: ./c.pem, key_path: ./k.pem }\n');
  writeFileSync(join(dir, 'c.pem'), 'x');
  const problems = problemsOf(() => loadConfig({ file, env: {} }));
  assert.deepEqual(problems.length, 1);
  assertProblem(problems, 'tls.key_path: file not found', join(dir, 'k.pem'));
});

test('bad YAML: the file, line and column', () => {
  const problems = load('server:\n  port: 1\n   ae_title: x\n');
  assert.ok(problems.length >= 1);
  assertProblem(problems, '', 'pacs_server.yaml:2:9: ');
  assertProblem(load('a: 1\na: 2\n'), '', 'pacs_server.yaml:2:1: Map keys must be unique');
  assertProblem(load('- just\n- a list\n'), '', 'pacs_server.yaml: expected a mapping');
});

test('duplicate known node AE titles', () => {
  const problems = load('known_nodes:\n  - { ae_title: WS1, host: a, port: 104 }\n  - { ae_title: "WS1 ", host: b, port: 104 }\n');
  assertProblem(problems, 'known_nodes[1].ae_title: duplicate AE title "WS1" (also known_nodes[0])', 'line 3');
});

test('missing required keys of a known node', () => {
  const problems = load('known_nodes:\n  - { ae_title: WS1 }\n');
  assertProblem(problems, 'known_nodes[0].host: required');
  assertProblem(problems, 'known_nodes[0].port: required');
});

test('other checks: AE titles, naming templates, URLs, ranges, port clashes', () => {
  assertProblem(load('server: { ae_title: "THIS_IS_TOO_LONG_AE" }\n'), 'server.ae_title: expected an AE title');
  assertProblem(load('server: { ae_title: "   " }\n'), 'server.ae_title: expected an AE title');
  assertProblem(load('server: { ae_title: "A\\\\B" }\n'), 'server.ae_title: expected an AE title');
  assertProblem(load('server: { ae_title: 1234 }\n'), 'server.ae_title: expected an AE title', 'got 1234');
  assertProblem(load('server: { max_pdu_length: 0 }\n'), 'server.max_pdu_length: expected an integer from 4096 to 16777216');
  assertProblem(load('server: { artim_timeout: 0 }\n'), 'server.artim_timeout: expected a number of seconds greater than 0');
  assertProblem(load('storage: { naming: "{patient id}" }\n'), 'storage.naming: "{patient id}" is not a DICOM keyword');
  assertProblem(load('storage: { naming: "by-date" }\n'), 'storage.naming: expected "hierarchical", "flat", or a template');
  // A keyword PS3.6 lacks would name nothing (every file under UNKNOWN): said, with the keyword it resembles.
  assertProblem(load('storage: { naming: "{PatientId}/{InstanceNumber}.dcm" }\n'), 'storage.naming: "{PatientId}" is not a DICOM keyword of PS3.6 (did you mean {PatientID}?)');
  assertProblem(load('storage: { naming: "{InstanceNum}.dcm" }\n'), 'storage.naming: "{InstanceNum}" is not a DICOM keyword of PS3.6');
  assertProblem(load('storage: { naming: "{PatientID:x}" }\n'), 'storage.naming: "{PatientID:x}": the only format');
  // A keyword of PS3.6 the index record does not keep: its files all went under UNKNOWN.
  assertProblem(load('storage: { naming: "{OperatorsName}/{SOPInstanceUID}.dcm" }\n'), 'storage.naming: "{OperatorsName}" is not an attribute the index keeps; a stored file\'s name can be made of: PatientID, IssuerOfPatientID');
  const kept = loadConfig({ file: writeConfig('storage: { naming: "{InstitutionName}/{Modality}/{SOPInstanceUID}.dcm" }\n').file, env: {}, overrides: {} });
  assert.equal(kept.config.storage.naming, '{InstitutionName}/{Modality}/{SOPInstanceUID}.dcm', 'attributes the record keeps');
  assertProblem(load('storage: { naming: "../{PatientID}" }\n'), 'storage.naming: template must not contain ".."');
  assertProblem(load('database: { url: "mysql://x/y" }\n'), 'database.url: expected a postgres:// or postgresql:// URL');
  assertProblem(load('access_control: { allowed_ae_titles: [] }\n'), 'access_control.allowed_ae_titles: expected at least one');
  assertProblem(load('http: { port: 11112 }\n'), 'http.port: port 11112 is already used by server.port');
  assertProblem(load('storage: { fsync: maybe }\n'), 'storage.fsync: expected true or false, got "maybe"');
  assertProblem(load('server: 5\n'), 'server: expected a mapping of keys, got 5');
  assertProblem(load('hl7: { max_connections: 0 }\n'), 'hl7.max_connections: expected an integer from 1 to 10000, got 0');
  assertProblem(load('hl7: { max_connections_per_address: 0 }\n'), 'hl7.max_connections_per_address: expected an integer from 1 to 10000, got 0');
  assertProblem(load('hl7: { allowed_addresses: [192.0.2.0/24, ris.local] }\n'), 'hl7.allowed_addresses[1]: expected an IP address or a CIDR block such as 192.0.2.0/24, got "ris.local"');
});

test('every problem is reported at once, not just the first', () => {
  const problems = load(
    'server: { port: -1, colour: red }\nstorage: { duplicate_policy: skip }\ntls: { enabled: true }\n',
    { PACS_HTTP__PORT: 'x' },
    { 'logging.level': 'loud' },
  );
  for (const key of ['server.port', 'server.colour', 'storage.duplicate_policy', 'tls.cert_path', 'tls.key_path', 'http.port', 'logging.level']) {
    assertProblem(problems, `${key}: `);
  }
  assert.equal(problems.length, 7);
});

test('a named file that does not exist is an error; a missing default file is not', () => {
  const cwd = tempDir();
  assertProblem(problemsOf(() => loadConfig({ file: 'nope.yaml', env: {}, cwd })), 'configuration file not found', join(cwd, 'nope.yaml'));
  assertProblem(problemsOf(() => loadConfig({ env: { PACS_CONFIG: '/no/such.yaml' }, cwd })), 'configuration file not found', 'PACS_CONFIG');
  assert.equal(loadConfig({ env: {}, cwd }).source, null);
});

test('http.trust_proxy: addresses or CIDR blocks, each checked', () => {
  assertProblem(load('http: { trust_proxy: [10.0.0.5, haproxy.local] }\n'), 'http.trust_proxy[1]: expected an IP address or a CIDR block such as 192.0.2.0/24, got "haproxy.local"');
  assertProblem(load('http: { trust_proxy: [10.0.0.0/33] }\n'), 'http.trust_proxy[0]: expected an IP address or a CIDR block');
});

test('a damaged password hash is refused, not taken as a plain password', () => {
  assertProblem(load('http: { users: [{ username: ann, password: "scrypt$16384$8$1$c2FsdA==", role: read }] }\n'), 'http.users[0].password: expected a hash of pacs hash-password');
  assertProblem(load('access_control: { user_identity: { users: [{ username: ct, password: "scrypt:abc" }] } }\n'), 'access_control.user_identity.users[0].password: expected a hash of pacs hash-password');
});

test('a database URL that does not parse is printed with its password masked (it was printed whole)', () => {
  const problems = load('', {}, { 'database.url': 'postgres://pacs:S3cretPw@db:54x2/pacs?password=Other1' });
  assert.ok(problems.length > 0);
  assert.ok(!problems.some((line) => line.includes('S3cretPw') || line.includes('Other1')), problems.join('\n'));
  assert.ok(problems.some((line) => line.includes('postgres://pacs:****@db:54x2/pacs?password=****')), problems.join('\n'));
});

test('an unknown section given by the environment or --set says where it came from', () => {
  assertProblem(load('', { PACS_FOO__BAR: '1' }), 'foo: unknown key', 'PACS_FOO__BAR');
  assertProblem(load('', {}, { 'zzz.yyy': '1' }), 'zzz: unknown key', 'command line');
});
