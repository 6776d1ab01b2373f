// Send and pull jobs against DCMTK peers over real sockets: a study sent to storescp arrives
// whole; a send to a storescp that is down at first is retried and completes once it is up; a
// study pulled from dcmqrscp by C-MOVE (to our AE title) and by C-GET lands in the archive.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const CR_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1';
const DICOMDIR_FILES = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('pydicom-dicomdir__77654033_')).map((f) => path.join(SAMPLES, f));

interface JobView {
  id: number;
  state: string;
  attempts: number;
  lastError: string | null;
  progress: { total?: number; completed?: number; failed?: number; message?: string };
}

async function waitForJob(web: FastifyInstance, id: number, states: string[], timeoutMs = 30_000): Promise<JobView> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = (await web.inject({ method: 'GET', url: `/api/jobs/${id}` })).json() as JobView;
    if (states.includes(job.state)) return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.state} (${job.lastError ?? ''}) after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('send and pull jobs', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const daemons: ChildProcess[] = [];
  let dir: string;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, jobs: { backoff_seconds: 1, max_attempts: 10 } });
    web = pacs.server.httpServer!;
    dir = fs.mkdtempSync(path.join(pacs.dir, 'peers-'));
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom-dicomdir__77654033_CT2_17106.dcm'), path.join(SAMPLES, 'pydicom-dicomdir__77654033_CT2_17136.dcm')]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    for (const d of daemons) d.kill();
    await pacs.stop();
  });

  test('send a study to storescp: every instance arrives, the job ends succeeded with its counts', async () => {
    const port = await freePort();
    const out = path.join(dir, 'rcv1');
    fs.mkdirSync(out);
    daemons.push(await startDaemon('storescp', ['-aet', 'RCV1', '-od', out, String(port)], port));
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/RCV1', payload: { host: '127.0.0.1', port } })).statusCode, 201);
    const rsp = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'RCV1', level: 'STUDY', uids: [CT_STUDY] } });
    assert.equal(rsp.statusCode, 202);
    const job = await waitForJob(web, (rsp.json() as JobView).id, ['succeeded', 'failed']);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    assert.equal(job.progress.total, 2);
    assert.equal(job.progress.completed, 2);
    const received = fs.readdirSync(out);
    assert.equal(received.length, 2);
    for (const f of received) assert.equal((await run('dcmdump', ['-q', path.join(out, f)])).code, 0);
    // A finished job cannot be canceled, a succeeded one not retried: said (409), not answered as done.
    const cancel = await web.inject({ method: 'POST', url: `/api/jobs/${job.id}/cancel` });
    assert.equal(cancel.statusCode, 409);
    assert.match(String((cancel.json() as { detail: string }).detail), /succeeded already/);
    assert.equal((await web.inject({ method: 'POST', url: `/api/jobs/${job.id}/retry` })).statusCode, 409);
    assert.equal((await web.inject({ method: 'POST', url: '/api/jobs/999999/cancel' })).statusCode, 404);
  });

  test('send to a node that is down: retried with back-off, completes once it is up', async () => {
    const port = await freePort();
    const out = path.join(dir, 'rcv2');
    fs.mkdirSync(out);
    await web.inject({ method: 'PUT', url: '/api/nodes/RCV2', payload: { host: '127.0.0.1', port } });
    const rsp = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'RCV2', uids: [CT_STUDY] } });
    const id = (rsp.json() as JobView).id;
    // Wait for a failed attempt: back in the queue with the reason.
    const until = Date.now() + 20_000;
    let job: JobView;
    do {
      await new Promise((r) => setTimeout(r, 100));
      job = (await web.inject({ method: 'GET', url: `/api/jobs/${id}` })).json() as JobView;
    } while (!(job.attempts >= 1 && job.state === 'queued') && Date.now() < until);
    assert.equal(job.state, 'queued');
    assert.match(job.lastError ?? '', /cannot connect|ECONNREFUSED/);
    daemons.push(await startDaemon('storescp', ['-aet', 'RCV2', '-od', out, String(port)], port));
    job = await waitForJob(web, id, ['succeeded', 'failed'], 30_000);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    assert.ok(job.attempts >= 2);
    assert.equal(fs.readdirSync(out).length, 2);
  });

  test('a send of a series holds its study back from retention while it waits (the job names the study)', async () => {
    const port = await freePort(); // nobody listens: the job waits out its back-off
    await web.inject({ method: 'PUT', url: '/api/nodes/RCV3', payload: { host: '127.0.0.1', port } });
    const [loc] = await pacs.server.archive.index.instancesOf(CT_STUDY);
    const before = await pacs.server.archive.index.jobs.activeNaming(CT_STUDY);
    const rsp = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'RCV3', level: 'SERIES', uids: [loc!.SeriesInstanceUID] } });
    assert.equal(rsp.statusCode, 202, rsp.body);
    const id = (rsp.json() as JobView).id;
    assert.equal(await pacs.server.archive.index.jobs.activeNaming(CT_STUDY), before + 1, 'retention sees a job still to send the study');
    await web.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` });
  });

  test('a send to an unknown node or of nothing stored is refused or fails at once, without retries', async () => {
    assert.equal((await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'NOBODY', uids: [CT_STUDY] } })).statusCode, 400);
    const rsp = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'RCV1', uids: ['1.2.3.4.5'] } });
    const job = await waitForJob(web, (rsp.json() as JobView).id, ['succeeded', 'failed']);
    assert.equal(job.state, 'failed');
    assert.equal(job.attempts, 1);
    assert.match(job.lastError ?? '', /nothing stored/);
  });

  describe('pull from dcmqrscp', () => {
    let qrPort: number;
    before(async () => {
      qrPort = await freePort();
      const db = path.join(dir, 'qrdb');
      fs.mkdirSync(db);
      fs.writeFileSync(
        path.join(dir, 'dcmqrscp.cfg'),
        [
          `NetworkTCPPort = ${qrPort}`,
          'MaxPDUSize = 16384',
          'MaxAssociations = 16',
          'HostTable BEGIN',
          `pacs = (PACS_SERVER, 127.0.0.1, ${pacs.port})`,
          'HostTable END',
          'VendorTable BEGIN',
          'VendorTable END',
          'AETable BEGIN',
          `QRSCP ${db} RW (200, 1024mb) ANY`,
          'AETable END',
          '',
        ].join('\n'),
      );
      daemons.push(await startDaemon('dcmqrscp', ['-c', path.join(dir, 'dcmqrscp.cfg'), String(qrPort)], qrPort, dir));
      const r = await run('storescu', ['-aec', 'QRSCP', '127.0.0.1', String(qrPort), ...DICOMDIR_FILES]);
      assert.equal(r.code, 0, r.stderr);
      await web.inject({ method: 'PUT', url: '/api/nodes/QRSCP', payload: { host: '127.0.0.1', port: qrPort } });
    });

    test('by C-MOVE to our AE title: the study lands in the archive, progress from the pending responses', async () => {
      await pacs.server.archive.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: CR_STUDY }], relational: true }).then((r) => assert.equal(r.length, 0));
      const rsp = await web.inject({ method: 'POST', url: '/api/pull', payload: { source: 'QRSCP', level: 'STUDY', uids: [CR_STUDY] } });
      assert.equal(rsp.statusCode, 202);
      const job = await waitForJob(web, (rsp.json() as JobView).id, ['succeeded', 'failed']);
      assert.equal(job.state, 'succeeded', job.lastError ?? '');
      assert.equal(job.progress.total, 3);
      assert.equal(job.progress.completed, 3);
      const study = await pacs.server.archive.index.findStudy(CR_STUDY);
      assert.equal(study?.NumberOfStudyRelatedInstances, 3);
    });

    test('by C-GET: the instances come on our own association (the two we hold already are identical duplicates)', async () => {
      assert.equal((await pacs.server.archive.index.findStudy(CT_STUDY))?.NumberOfStudyRelatedInstances, 2);
      const rsp = await web.inject({ method: 'POST', url: '/api/pull', payload: { source: 'QRSCP', level: 'STUDY', uids: [CT_STUDY], method: 'get' } });
      const job = await waitForJob(web, (rsp.json() as JobView).id, ['succeeded', 'failed'], 60_000);
      assert.equal(job.state, 'succeeded', job.lastError ?? '');
      assert.equal(job.progress.completed, 4);
      assert.equal((await pacs.server.archive.index.findStudy(CT_STUDY))?.NumberOfStudyRelatedInstances, 4);
      assert.equal((await pacs.server.archive.index.statistics()).instances, DICOMDIR_FILES.length);
    });
  });
});
