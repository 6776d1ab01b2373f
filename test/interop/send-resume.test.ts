// A send job (C-STORE to a known node) that one instance fails is retried for that instance
// only: the destination — a second pacs-server whose plugin refuses one SOP Instance UID the
// first time and writes down every instance it is sent — gets each of the others once, and the
// refused one twice (refused, then stored).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const FILES = ['17106', '17136', '17166', '17196'].map((n) => path.join(SAMPLES, `pydicom-dicomdir__77654033_CT2_${n}.dcm`));
const UIDS = ['93', '94', '95', '96'].map((n) => `1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.${n}`);
const REFUSED = UIDS[1]!;

const PLUGIN = `
import fs from 'node:fs';
export function register(api) {
  let refused = false;
  api.beforeStore((instance) => {
    const uid = instance.instance.SOPInstanceUID;
    fs.appendFileSync(api.options.log, uid + '\\n');
    if (uid === api.options.refuse && !refused) {
      refused = true;
      throw api.reject('not this time');
    }
  });
}
`;

interface JobView {
  id: number;
  state: string;
  attempts: number;
  lastError: string | null;
  progress: Record<string, unknown>;
}

describe('send job retried after a refused instance', () => {
  let source: TestPacs;
  let dest: TestPacs;
  let web: FastifyInstance;
  let log: string;
  before(async () => {
    source = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, jobs: { backoff_seconds: 1, max_attempts: 5 } });
    web = source.server.httpServer!;
    log = path.join(source.dir, 'received.log');
    fs.writeFileSync(path.join(source.dir, 'refuse-once.mjs'), PLUGIN);
    dest = await startTestPacs({
      server: { ae_title: 'DEST' },
      storage: { duplicate_policy: 'ignore' },
      plugins: [{ path: path.join(source.dir, 'refuse-once.mjs'), options: { refuse: REFUSED, log } }] as never,
    });
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(source.port), ...FILES]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/DEST', payload: { host: '127.0.0.1', port: dest.port } })).statusCode, 201);
  });
  after(async () => {
    await dest.stop();
    await source.stop();
  });

  test('the retry sends only what the destination did not acknowledge', async () => {
    const rsp = await web.inject({ method: 'POST', url: '/api/send', payload: { destination: 'DEST', level: 'STUDY', uids: [CT_STUDY] } });
    assert.equal(rsp.statusCode, 202);
    const id = (rsp.json() as JobView).id;
    let job: JobView;
    const until = Date.now() + 30_000;
    do {
      await new Promise((r) => setTimeout(r, 100));
      job = (await web.inject({ method: 'GET', url: `/api/jobs/${id}` })).json() as JobView;
    } while (!['succeeded', 'failed'].includes(job.state) && Date.now() < until);
    assert.equal(job.state, 'succeeded', job.lastError ?? '');
    assert.equal(job.attempts, 2);
    const received = fs.readFileSync(log, 'utf8').trim().split('\n');
    const times = (uid: string) => received.filter((u) => u === uid).length;
    for (const uid of UIDS) assert.equal(times(uid), uid === REFUSED ? 2 : 1, `${uid} received ${times(uid)} times`);
    assert.equal(job.progress.total, 4);
    assert.equal(job.progress.completed, 4);
    assert.match(String(job.progress.message), /3 acknowledged before/);
    assert.equal(job.progress.acknowledged, undefined, 'the acknowledged UIDs are not shown');
    const stored = await dest.server.archive.index.findStudy(CT_STUDY);
    assert.equal(stored?.NumberOfStudyRelatedInstances, 4);
    // Kept with the job (not shown): all four now.
    assert.deepEqual([...((await source.server.archive.index.jobs.get(id))!.progress.acknowledged ?? [])].sort(), [...UIDS].sort());
  });
});
