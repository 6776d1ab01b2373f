// A rule's forward action: the study goes to a known node by C-STORE once stable; the node
// (DCMTK storescp) is down at first, the job is retried with back-off and completes once it is up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { makeStudy, waitFor } from '../helpers/research.js';

let pacs: TestPacs;
let receiverPort: number;
let daemon: ChildProcess | null = null;
before(async () => {
  receiverPort = await freePort();
  pacs = await startTestPacs({
    jobs: { backoff_seconds: 1, max_attempts: 10 },
    stability: { stable_after: 0.5, check_interval: 0.2 },
    known_nodes: [{ ae_title: 'RESEARCH_PACS', host: '127.0.0.1', port: receiverPort }] as never,
    rules: [{ name: 'to-research', on: 'study.stable', match: { Modality: 'MR' }, actions: [{ type: 'forward', node: 'RESEARCH_PACS' }] }] as never,
  });
});
after(async () => {
  daemon?.kill();
  await pacs.stop();
});

test('forward to a node that is down at first: retried, then every instance arrives once', async () => {
  const study = await makeStudy(path.join(pacs.dir, 'in'), { patientID: 'SUBJ010', studyDescription: 'Forward', series: [{ number: 1, description: 'T1', count: 4 }] });
  const r = await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...study.files]);
  assert.equal(r.code, 0, r.stderr);
  const jobs = pacs.server.archive.index.jobs;
  const failedOnce = await waitFor('a failed first attempt', async () => (await jobs.list({ type: 'send', limit: 10, offset: 0 })).jobs.find((j) => j.lastError && j.state === 'queued'));
  assert.equal(failedOnce.payload.rule, 'to-research');
  const out = path.join(pacs.dir, 'received');
  fs.mkdirSync(out);
  daemon = await startDaemon('storescp', ['-aet', 'RESEARCH_PACS', '-od', out, String(receiverPort)], receiverPort);
  const done = await waitFor('the forward to succeed', async () => {
    const j = await jobs.get(failedOnce.id);
    return j && (j.state === 'succeeded' || j.state === 'failed') ? j : null;
  }, 30_000);
  assert.equal(done.state, 'succeeded', done.lastError ?? '');
  assert.ok(done.attempts >= 2);
  assert.equal(fs.readdirSync(out).length, 4);
  assert.equal((await jobs.list({ type: 'send', limit: 10, offset: 0 })).total, 1, 'one job for the study');
});

test('a forwarded study that grows: stable again, only the late series is sent', async () => {
  const jobs = pacs.server.archive.index.jobs;
  const study = await makeStudy(path.join(pacs.dir, 'in-grows'), { patientID: 'SUBJ011', studyDescription: 'Grows', series: [{ number: 1, description: 'T1', count: 3 }] });
  const send = (files: string[]) => run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
  assert.equal((await send(study.files)).code, 0);
  const ofStudy = async () => (await jobs.list({ type: 'send', limit: 50, offset: 0 })).jobs.filter((j) => (j.payload.uids as string[])[0] === study.studyUID);
  const finished = async (n: number) => {
    const js = await ofStudy();
    return js.length === n && js.every((j) => j.state === 'succeeded' || j.state === 'failed') ? js.sort((a, b) => a.id - b.id) : null;
  };
  const [first] = await waitFor('the first forward', () => finished(1), 30_000);
  assert.equal(first!.state, 'succeeded', first!.lastError ?? '');
  assert.equal(first!.progress.completed, 3);
  const late = await makeStudy(path.join(pacs.dir, 'in-grows-late'), { studyUID: study.studyUID, patientID: 'SUBJ011', studyDescription: 'Grows', series: [{ number: 2, description: 'DTI', count: 2 }] });
  assert.equal((await send(late.files)).code, 0);
  const both = await waitFor('the second forward', () => finished(2), 30_000);
  const second = both[1]!;
  assert.equal(second.state, 'succeeded', second.lastError ?? '');
  assert.equal(second.progress.total, 2, 'only the two new instances');
  assert.equal(second.progress.completed, 2);
  const out = path.join(pacs.dir, 'received');
  for (const f of late.files) {
    const sop = (await run('dcmdump', ['+P', 'SOPInstanceUID', f])).stdout.match(/\[([0-9.]+)\]/)![1]!;
    assert.ok(fs.readdirSync(out).some((n) => n.endsWith(sop)), `late instance ${sop} arrived`);
  }
});

test('a rule disabled by a reload while its forward waits for a node that is down: the job is not carried out', async () => {
  const jobs = pacs.server.archive.index.jobs;
  const c = pacs.server.archive.config();
  const down = await freePort();
  pacs.server.reload({
    ...c,
    known_nodes: [...c.known_nodes, { ...c.known_nodes[0]!, ae_title: 'ENDED_LAB', port: down }],
    rules: [...c.rules, { ...c.rules[0]!, name: 'to-ended-lab', match: { PatientID: 'SUBJ012' }, actions: [{ type: 'forward', node: 'ENDED_LAB' }] }],
  });
  try {
    const study = await makeStudy(path.join(pacs.dir, 'in-ended'), { patientID: 'SUBJ012', studyDescription: 'Ended', series: [{ number: 1, description: 'T1', count: 2 }] });
    assert.equal((await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...study.files])).code, 0);
    const ofRule = async () => (await jobs.list({ type: 'send', limit: 50, offset: 0 })).jobs.find((j) => j.payload.rule === 'to-ended-lab');
    await waitFor('a failed first attempt', async () => ((await ofRule())?.lastError ? true : null), 30_000);
    const now = pacs.server.archive.config();
    pacs.server.reload({ ...now, rules: now.rules.map((r) => (r.name === 'to-ended-lab' ? { ...r, enabled: false } : r)) });
    const ended = await waitFor('the job to end', async () => {
      const j = await ofRule();
      return j && j.state !== 'queued' && j.state !== 'running' ? j : null;
    }, 30_000);
    assert.equal(ended.state, 'canceled');
    assert.match(ended.lastError ?? '', /the rule "to-ended-lab" was disabled since the job was queued; not carried out/);
  } finally {
    pacs.server.reload(c);
  }
});
