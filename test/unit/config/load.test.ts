import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, parseConfigData } from '../../../src/config/load.js';
import { tempDir, writeConfig } from './helpers.js';

const FULL = `
server:
  ae_title: MY_PACS
  host: 127.0.0.1
  port: 11113
  max_associations: 20
  max_associations_per_ae: 4
  idle_timeout: 30
  artim_timeout: 10
  dimse_timeout: 45
  max_pdu_length: 65536
  strict_called_ae: false
  shutdown_grace: 5
storage:
  directory: ./data/archive
  naming: "{PatientID}/{StudyInstanceUID}/{InstanceNumber:05}.dcm"
  duplicate_policy: overwrite
  fsync: false
  min_free_mb: 2048
  temp_dir: ./data/tmp
database:
  path: ./data/index.db
  wal_mode: false
  url: postgresql://pacs:secret@db.example/pacs
tls:
  enabled: true
  cert_path: ./certs/server.crt
  key_path: ./certs/server.key
  ca_path: ./certs/ca.crt
  port: 2762
  require_client_cert: true
logging:
  level: debug
  file: ./logs/pacs.log
monitoring:
  enabled: false
  metrics_port: 9191
access_control:
  allowed_ae_titles: ["CT_*", "MR?", WS1]
http:
  enabled: true
  host: 127.0.0.1
  port: 8081
known_nodes:
  - { ae_title: WORKSTATION1, host: 192.0.2.10, port: 104, tls: false }
  - ae_title: ARCHIVE2
    host: archive2.example
    port: 11112
    tls: true
    permissions: [store, find]
`;

/** The full file, with the TLS files it names present. */
function fullConfig(): { dir: string; file: string } {
  const w = writeConfig(FULL);
  mkdirSync(join(w.dir, 'certs'));
  for (const f of ['server.crt', 'server.key', 'ca.crt']) writeFileSync(join(w.dir, 'certs', f), 'x');
  return w;
}

test('no file, no environment: the documented defaults', () => {
  const cwd = tempDir();
  const { config, source } = loadConfig({ env: {}, cwd });
  assert.equal(source, null);
  assert.deepEqual(config.server, {
    ae_title: 'PACS_SERVER', host: '0.0.0.0', port: 11112, max_associations: 50, max_associations_per_ae: 0, max_associations_per_address: 0,
    max_new_associations_per_minute_per_ae: 0, max_dataset_mb: 0,
    idle_timeout: 60, artim_timeout: 30, dimse_timeout: 60, max_pdu_length: 262144, strict_called_ae: true,
    shutdown_grace: 10,
  });
  assert.deepEqual(config.storage, {
    directory: join(cwd, 'archive'), naming: 'hierarchical', duplicate_policy: 'reject', fsync: true,
    min_free_mb: 500, temp_dir: join(cwd, 'archive', '.incoming'),
  });
  assert.deepEqual(config.database, { path: join(cwd, 'pacs.db'), wal_mode: true, changes_keep_days: 30 });
  assert.deepEqual(config.tls, { enabled: false, require_client_cert: false });
  assert.deepEqual(config.logging, { level: 'info' });
  assert.deepEqual(config.monitoring, { enabled: true, metrics_port: 9090 });
  assert.deepEqual(config.access_control, { allowed_ae_titles: ['*'] });
  assert.deepEqual(config.http, { enabled: true, host: '0.0.0.0', port: 8080, cors_origins: [], users: [], tokens: [], max_upload_mb: 4096, max_upload_parts: 50000, max_concurrent_uploads: 32, upload_timeout_s: 60, upload_min_kb_per_s: 1, max_json_kb: 1024, rate_limit_per_minute: 0, trust_proxy: [], allowed_hosts: [], viewer: true, prepare_metadata: true });
  assert.deepEqual(config.worklist, { poll_seconds: 5 });
  assert.deepEqual(config.hl7, { enabled: false, host: '0.0.0.0', port: 2575, charset: 'UTF-8', max_connections: 64, allowed_addresses: [], max_connections_per_address: 8, max_orders_per_message: 100, station_ae: {}, processing_ids: ['P'] });
  assert.deepEqual(config.mpps, { forward_to: [] });
  assert.deepEqual(config.known_nodes, []);
});

test('./pacs_server.yaml in the working directory is used when no file is named', () => {
  const { dir, file } = writeConfig('server: { port: 4242 }\n');
  const { config, source } = loadConfig({ env: {}, cwd: dir });
  assert.equal(source, file);
  assert.equal(config.server.port, 4242);
});

test('a full file with every section', () => {
  const { dir, file } = fullConfig();
  const { config, source } = loadConfig({ file, env: {} });
  assert.equal(source, file);
  assert.equal(config.server.ae_title, 'MY_PACS');
  assert.equal(config.server.max_pdu_length, 65536);
  assert.equal(config.server.strict_called_ae, false);
  assert.equal(config.storage.naming, '{PatientID}/{StudyInstanceUID}/{InstanceNumber:05}.dcm');
  assert.equal(config.storage.duplicate_policy, 'overwrite');
  assert.equal(config.storage.temp_dir, join(dir, 'data', 'tmp'));
  assert.equal(config.database.url, 'postgresql://pacs:secret@db.example/pacs');
  assert.deepEqual(config.tls, {
    enabled: true, cert_path: join(dir, 'certs/server.crt'), key_path: join(dir, 'certs/server.key'),
    ca_path: join(dir, 'certs/ca.crt'), port: 2762, require_client_cert: true,
  });
  assert.deepEqual(config.logging, { level: 'debug', file: join(dir, 'logs/pacs.log') });
  assert.deepEqual(config.monitoring, { enabled: false, metrics_port: 9191 });
  assert.deepEqual(config.access_control.allowed_ae_titles, ['CT_*', 'MR?', 'WS1']);
  assert.deepEqual(config.http, { enabled: true, host: '127.0.0.1', port: 8081, cors_origins: [], users: [], tokens: [], max_upload_mb: 4096, max_upload_parts: 50000, max_concurrent_uploads: 32, upload_timeout_s: 60, upload_min_kb_per_s: 1, max_json_kb: 1024, rate_limit_per_minute: 0, trust_proxy: [], allowed_hosts: [], viewer: true, prepare_metadata: true });
  assert.deepEqual(config.known_nodes, [
    { ae_title: 'WORKSTATION1', host: '192.0.2.10', port: 104, tls: false,
      permissions: ['store', 'find', 'move', 'get', 'worklist', 'mpps', 'commit'] },
    { ae_title: 'ARCHIVE2', host: 'archive2.example', port: 11112, tls: true, permissions: ['store', 'find'] },
  ]);
});

test('relative paths resolve against the file, defaults next to the file too', () => {
  const { dir, file } = writeConfig('storage: { directory: ../elsewhere }\nlogging: { file: logs/x.log }\n', 'conf.yaml');
  const { config } = loadConfig({ file, env: {}, cwd: '/' });
  assert.equal(config.storage.directory, join(dir, '..', 'elsewhere'));
  assert.equal(config.storage.temp_dir, join(dir, '..', 'elsewhere', '.incoming'));
  assert.equal(config.logging.file, join(dir, 'logs/x.log'));
  assert.equal(config.database.path, join(dir, 'pacs.db'));
});

test('a file named relative to cwd is found there', () => {
  const { dir } = writeConfig('server: { port: 5000 }\n', 'my.yaml');
  assert.equal(loadConfig({ file: 'my.yaml', env: {}, cwd: dir }).config.server.port, 5000);
});

test('paths from the environment and the command line resolve against cwd, not the file', () => {
  const { file } = writeConfig('storage: { directory: ./a }\n');
  const cwd = tempDir();
  const { config } = loadConfig({
    file, cwd, env: { PACS_STORAGE__DIRECTORY: 'from-env' }, overrides: { 'database.path': 'db/x.db' },
  });
  assert.equal(config.storage.directory, join(cwd, 'from-env'));
  assert.equal(config.database.path, join(cwd, 'db/x.db'));
});

test('absolute paths and :memory: are left alone', () => {
  const config = parseConfigData({ storage: { directory: "/srv/pacs" }, database: { path: ":memory:" } }, "/tmp");
  assert.equal(config.storage.directory, '/srv/pacs');
  assert.equal(config.database.path, ':memory:');
});

test('environment variables override the file and are coerced to the schema types', () => {
  const { file } = writeConfig('server: { port: 11112, ae_title: FILE_AE }\nstorage: { fsync: true }\n');
  const { config } = loadConfig({
    file,
    env: {
      PACS_SERVER__PORT: '11113',
      PACS_SERVER__IDLE_TIMEOUT: '2.5',
      PACS_STORAGE__FSYNC: 'no',
      PACS_STORAGE__DIRECTORY: '/data',
      PACS_ACCESS_CONTROL__ALLOWED_AE_TITLES: 'CT1, MR*',
      PACS_KNOWN_NODES: '[{ae_title: WS1, host: ws1, port: 104}]',
      PACS_UNRELATED: 'ignored',
      HOME: '/root',
    },
  });
  assert.equal(config.server.port, 11113);
  assert.equal(config.server.ae_title, 'FILE_AE');
  assert.equal(config.server.idle_timeout, 2.5);
  assert.equal(config.storage.fsync, false);
  assert.equal(config.storage.directory, '/data');
  assert.deepEqual(config.access_control.allowed_ae_titles, ['CT1', 'MR*']);
  assert.equal(config.known_nodes[0]?.ae_title, 'WS1');
});

test('PACS_CONFIG names the file when the caller does not', () => {
  const { file } = writeConfig('server: { port: 3000 }\n', 'other.yaml');
  const { config, source } = loadConfig({ env: { PACS_CONFIG: file }, cwd: tempDir() });
  assert.equal(source, file);
  assert.equal(config.server.port, 3000);
});

test('flags win over the environment, which wins over the file', () => {
  const { file } = writeConfig('server: { port: 1001, ae_title: FROM_FILE, host: 10.0.0.1 }\n');
  const { config } = loadConfig({
    file,
    env: { PACS_SERVER__PORT: '1002', PACS_SERVER__AE_TITLE: 'FROM_ENV' },
    overrides: { 'server.port': '1003', 'http.enabled': 'false' },
  });
  assert.equal(config.server.port, 1003);
  assert.equal(config.server.ae_title, 'FROM_ENV');
  assert.equal(config.server.host, '10.0.0.1');
  assert.equal(config.http.enabled, false);
});

test('an empty value unsets a key: back to its default', () => {
  const { file } = writeConfig('logging: { level: debug, file: ./x.log }\n');
  const { config } = loadConfig({ file, env: { PACS_LOGGING__LEVEL: '' }, overrides: { 'logging.file': '' } });
  assert.equal(config.logging.level, 'info');
  assert.equal(config.logging.file, undefined);
});

test('YAML empty values mean "not set"', () => {
  const { file } = writeConfig('server:\nlogging:\n  file:\n');
  const { config } = loadConfig({ file, env: {} });
  assert.equal(config.server.port, 11112);
  assert.equal(config.logging.file, undefined);
});

test('the result is deeply frozen', () => {
  const { file } = fullConfig();
  const { config } = loadConfig({ file, env: {} });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.server));
  assert.ok(Object.isFrozen(config.known_nodes));
  assert.ok(Object.isFrozen(config.known_nodes[0]));
  assert.ok(Object.isFrozen(config.known_nodes[0]?.permissions));
  assert.throws(() => {
    (config.server as { port: number }).port = 1;
  }, TypeError);
});

test('AE titles are trimmed: trailing spaces are not significant in DICOM', () => {
  assert.equal(parseConfigData({ server: { ae_title: ' ME  ' } }).server.ae_title, 'ME');
});
