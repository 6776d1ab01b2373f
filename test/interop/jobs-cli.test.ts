// pacs jobs beside a running server: the list shows a send job's state, progress and last
// error; cancel and retry act on the queue the server runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, freePort, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { testDatabaseArgs } from '../helpers/index-backend.js';

const BIN = new URL('../../../bin/pacs', import.meta.url).pathname;
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';

describe('pacs jobs', () => {
  let pacs: TestPacs;
  const cli = async (args: string[]) => run(process.execPath, [BIN, 'jobs', ...args, ...(await testDatabaseArgs(pacs.dir)), '--storage-dir', pacs.storageDir, '--set', 'storage.min_free_mb=0'], { timeoutMs: 60_000 });
  before(async () => {
    pacs = await startTestPacs({ jobs: { backoff_seconds: 3600, max_attempts: 3 } });
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm')])).code, 0);
  });
  after(() => pacs.stop());

  test('list, show, cancel and retry a send job whose node is down', async () => {
    await pacs.server.archive.nodes.put({ ae_title: 'DOWN', host: '127.0.0.1', port: await freePort(), tls: false, permissions: [], description: '' });
    const job = await pacs.server.jobs.enqueue('send', { destination: 'DOWN', level: 'STUDY', uids: [CT_STUDY] });
    for (let i = 0; i < 100 && (await pacs.server.archive.index.jobs.get(job.id))!.attempts < 1; i++) await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 100 && (await pacs.server.archive.index.jobs.get(job.id))!.state === 'running'; i++) await new Promise((r) => setTimeout(r, 50));
    const list = await cli(['list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`${job.id}\\s+queued\\s+send`));
    assert.match(list.stdout, /cannot connect|ECONNREFUSED/);
    const shown = JSON.parse((await cli(['show', String(job.id), '--json'])).stdout) as { payload: { destination: string }; attempts: number };
    assert.equal(shown.payload.destination, 'DOWN');
    assert.equal(shown.attempts, 1);
    assert.match((await cli(['cancel', String(job.id)])).stdout, /canceled/);
    assert.equal((await pacs.server.archive.index.jobs.get(job.id))!.state, 'canceled');
    assert.match((await cli(['list', '--state', 'canceled'])).stdout, /1 of 1 job/);
    assert.match((await cli(['retry', String(job.id)])).stdout, /queued|running/);
    assert.ok(['queued', 'running'].includes((await pacs.server.archive.index.jobs.get(job.id))!.state), 'back in the queue');
    // A job that has ended cannot be canceled: said, exit 1 (not "canceled" for a job that is not).
    const doomed = await pacs.server.jobs.enqueue('send', { destination: 'DOWN', level: 'STUDY', uids: ['1.2.3.404'] });
    for (let i = 0; i < 200 && (await pacs.server.archive.index.jobs.get(doomed.id))!.state !== 'failed'; i++) await new Promise((r) => setTimeout(r, 50));
    const late = await cli(['cancel', String(doomed.id)]);
    assert.equal(late.code, 1, late.stdout);
    assert.match(late.stderr, /has failed already: nothing to cancel/);
    assert.equal((await cli(['show', '999'])).code, 1);
    assert.notEqual((await cli(['list', '--state', 'bogus'])).code, 0);
  });

  test('verify, export and jobs on a mistyped archive path: exit 1 naming it, and nothing created there', async () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-typo-'));
    try {
      const typo = path.join(scratch, 'typo dir', 'arch');
      const db = path.join(scratch, 'typo dir', 'x.db');
      for (const args of [['verify'], ['export', '--to', path.join(scratch, 'out'), '-k', 'PatientID=*']]) {
        const r = await run(process.execPath, [BIN, ...args, '--storage-dir', typo, '--db', db], { timeoutMs: 60_000 });
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /storage\.directory .*typo dir\/arch is not a directory/);
      }
      // pacs jobs needs the index only (a PostgreSQL one may be read from a host without the storage).
      const jobs = await run(process.execPath, [BIN, 'jobs', 'list', '--storage-dir', typo, '--db', db], { timeoutMs: 60_000 });
      assert.equal(jobs.code, 1, jobs.stdout + jobs.stderr);
      assert.match(jobs.stderr, /database\.path .*x\.db does not exist/);
      const made = await run(process.execPath, [BIN, 'verify', '--storage-dir', pacs.storageDir, '--db', db], { timeoutMs: 60_000 });
      assert.equal(made.code, 1);
      assert.match(made.stderr, /database\.path .*x\.db does not exist/);
      assert.deepEqual(fs.readdirSync(scratch), [], 'no folder, archive or index made');
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
