// A rule's forward action to a DICOMweb server by STOW-RS: the receiver is a second pacs-server
// (its own STOW-RS endpoint, behind a bearer token). Stable studies arrive byte for byte, in
// several requests; a receiver that is down at first is retried until it is up; de-identified
// copies arrive under their new UIDs; the receiver's refusals (partial 202, 409, 401) make a
// failed job with its reason, and a retry by hand sends only what was not acknowledged.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { makeStudy, waitFor, type StudySpec } from '../helpers/research.js';
import { deidentifyProfileSchema } from '../../src/config/rules-schema.js';
import { Deidentifier, fileParts } from '../../src/services/deidentify.js';
import type { Job } from '../../src/index/jobs.js';

const TOKEN = 'stow-test-token-0123456789';
const http = (p: TestPacs): number => (p.server.httpServer!.server.address() as { port: number }).port;
const receiverConfig = (port = 0) => ({
  http: { enabled: true, port, host: '127.0.0.1', anonymous_role: 'none', tokens: [{ name: 'forwarder', token: TOKEN, role: 'admin' }] },
});

let source: TestPacs;
let receiver: TestPacs;
let late: TestPacs | null = null;
let latePort: number;

before(async () => {
  receiver = await startTestPacs(receiverConfig() as never);
  latePort = await freePort();
  const url = (port: number) => `http://127.0.0.1:${port}/dicom-web`;
  const forward = (name: string, match: string, to: string, extra: Record<string, unknown> = {}) => ({ name, on: 'study.stable', match: { StudyDescription: match }, actions: [{ type: 'forward', dicomweb: to, ...extra }] });
  source = await startTestPacs({
    jobs: { backoff_seconds: 1, max_attempts: 10 },
    stability: { stable_after: 0.5, check_interval: 0.2 },
    dicomweb_servers: [
      // Two instances a request: a study of five goes in three.
      { name: 'LAB', url: url(http(receiver)), token: TOKEN, max_instances_per_request: 2 },
      { name: 'LATE', url: url(latePort), token: TOKEN, timeout: 5 },
      { name: 'WRONG_TOKEN', url: url(http(receiver)), token: 'not-the-token-at-all' },
    ] as never,
    rules: [
      forward('to-lab', 'Lab', 'LAB'),
      forward('to-late', 'Late', 'LATE'),
      forward('anon', 'Anon', 'LAB', { deidentify: true }),
      forward('conflict', 'Conflict*', 'LAB'),
      forward('denied', 'Denied', 'WRONG_TOKEN'),
    ] as never,
  });
});
after(async () => {
  await late?.stop();
  await receiver.stop();
  await source.stop();
});

async function send(spec: StudySpec) {
  const study = await makeStudy(path.join(source.dir, 'in', spec.studyDescription), spec);
  const r = await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(source.port), ...study.files]);
  assert.equal(r.code, 0, r.stderr);
  return study;
}

/** The rule's stow job once it has ended (succeeded, failed or canceled). */
async function finished(rule: string, timeoutMs = 30_000): Promise<Job> {
  return waitFor(`the stow job of rule ${rule}`, async () => {
    const job = (await source.server.archive.index.jobs.list({ type: 'stow', limit: 100, offset: 0 })).jobs.find((j) => j.payload.rule === rule);
    return job && ['succeeded', 'failed', 'canceled'].includes(job.state) ? job : null;
  }, timeoutMs);
}

const bytesOf = async (p: TestPacs, uid: string): Promise<Buffer | null> => {
  const loc = await p.server.archive.index.findInstance(uid);
  return loc ? fs.readFileSync(p.server.archive.objects.absolutePath(loc.path)) : null;
};

async function sameInstances(from: TestPacs, to: TestPacs, studyUID: string): Promise<void> {
  const sent = await from.server.archive.index.instancesOf(studyUID);
  assert.equal((await to.server.archive.index.instancesOf(studyUID)).length, sent.length);
  for (const loc of sent) assert.ok((await bytesOf(to, loc.SOPInstanceUID))?.equals(fs.readFileSync(from.server.archive.objects.absolutePath(loc.path))), `${loc.SOPInstanceUID} differs`);
}

test('a stable study is forwarded by STOW-RS in several requests and arrives byte for byte', async () => {
  const study = await send({ patientID: 'SUBJ100', studyDescription: 'Lab', series: [{ number: 1, description: 'T1', count: 3 }, { number: 2, description: 'T2', count: 2 }] });
  const job = await finished('to-lab');
  assert.equal(job.state, 'succeeded', job.lastError ?? '');
  assert.equal(job.attempts, 1);
  assert.deepEqual({ total: job.progress.total, completed: job.progress.completed, failed: job.progress.failed }, { total: 5, completed: 5, failed: 0 });
  assert.match(job.progress.message ?? '', /sent to LAB \(STOW-RS\): 5 stored/);
  await sameInstances(source, receiver, study.studyUID);
  assert.equal(job.progress.acknowledged?.length, 5, 'what was acknowledged is kept with the job, for its retries');
});

test('a receiver down at first: the job is retried with back-off and completes once it is up', async () => {
  const study = await send({ patientID: 'SUBJ101', studyDescription: 'Late', series: [{ number: 1, description: 'T1', count: 3 }] });
  const jobs = source.server.archive.index.jobs;
  const failedOnce = await waitFor('a failed first attempt', async () => (await jobs.list({ type: 'stow', limit: 100, offset: 0 })).jobs.find((j) => j.payload.rule === 'to-late' && j.lastError && j.state === 'queued'));
  assert.match(failedOnce.lastError!, /LATE \(STOW-RS\).*ECONNREFUSED/);
  assert.ok(failedOnce.runAfter.getTime() > failedOnce.updatedAt.getTime(), 'the next try waits');
  late = await startTestPacs(receiverConfig(latePort) as never);
  const done = await finished('to-late');
  assert.equal(done.state, 'succeeded', done.lastError ?? '');
  assert.ok(done.attempts >= 2, `attempts ${done.attempts}`);
  await sameInstances(source, late, study.studyUID);
});

test('deidentify: true forwards de-identified copies under their new UIDs', async () => {
  // Each copy waits for its request in a temporary file, not in memory, and is removed after it.
  const objects = source.server.archive.objects;
  const spool = objects.spool.bind(objects);
  let spooled = 0;
  objects.spool = (data) => (spooled++, spool(data));
  const study = await send({ patientID: 'SUBJ102', patientName: 'Doe^Jane', studyDescription: 'Anon', series: [{ number: 1, description: 'T1', count: 3 }] });
  const job = await finished('anon');
  assert.equal(job.state, 'succeeded', job.lastError ?? '');
  assert.equal(await receiver.server.archive.index.findStudy(study.studyUID), null, 'the original study UID never arrives');
  const deid = new Deidentifier(source.server.archive.index.deid, source.server.archive.objects, deidentifyProfileSchema.parse({}));
  for (const loc of await source.server.archive.index.instancesOf(study.studyUID)) {
    const expected = await deid.deidentify(loc);
    assert.notEqual(expected.sopInstanceUID, loc.SOPInstanceUID);
    const got = await bytesOf(receiver, expected.sopInstanceUID);
    assert.ok(got?.equals(Buffer.concat(fileParts(expected))), `${expected.sopInstanceUID}: the de-identified copy, byte for byte`);
    const arrived = await receiver.server.archive.index.findInstance(expected.sopInstanceUID);
    assert.match(arrived!.StudyInstanceUID, /^2\.25\./);
    assert.notEqual(arrived!.StudyInstanceUID, study.studyUID);
    const dump = await run('dcmdump', ['+P', 'PatientName', '+P', 'PatientID', receiver.server.archive.objects.absolutePath(arrived!.path)]);
    assert.doesNotMatch(dump.stdout, /Doe|SUBJ102/);
    assert.match(dump.stdout, /\(0010,0020\) LO \[ANON[A-Z0-9]{10}\]/);
  }
  assert.equal(spooled, 3);
  const spares = new Set(objects.spareFiles().map((f) => path.basename(f)));
  const staging = source.server.archive.config().storage.temp_dir!;
  assert.deepEqual(fs.readdirSync(staging).filter((f) => !spares.has(f)), [], 'no copy left in the staging directory');
});

/** A copy of the study's first instance with other content, stored in the receiver first: its STOW-RS then refuses that UID. */
async function conflictIn(study: { files: string[] }): Promise<void> {
  const copy = path.join(source.dir, `conflict-${path.basename(study.files[0]!)}`);
  fs.copyFileSync(study.files[0]!, copy);
  assert.equal((await run('dcmodify', ['-nb', '-i', 'PatientComments=other content', copy])).code, 0);
  assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(receiver.port), copy])).code, 0);
}

test('a partial 202 fails the job with the receiver\'s reason; a retry by hand sends only what was refused', async () => {
  const spec = { patientID: 'SUBJ103', studyDescription: 'Conflict', series: [{ number: 1, description: 'T1', count: 3 }] };
  const study = await makeStudy(path.join(source.dir, 'in', 'conflict'), spec);
  await conflictIn(study);
  assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(source.port), ...study.files])).code, 0);
  const job = await finished('conflict');
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1, 'the receiver\'s refusal is not retried');
  assert.match(job.lastError!, /1 of 3 instances not stored by LAB \(STOW-RS\): .*Failure Reason 0x0111 Duplicate SOP Instance: SOP Instance /);
  assert.equal(job.progress.completed, 2);
  assert.equal(job.progress.failedUids?.length, 1);
  // The receiver's copy goes; the same job, retried, sends the one instance that was refused.
  const refused = job.progress.failedUids![0]!;
  const del = await fetch(`http://127.0.0.1:${http(receiver)}/api/instances/${refused}`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(del.status, 200, await del.text());
  await source.server.jobs.retry(job.id);
  const again = await waitFor('the retried job', async () => {
    const j = await source.server.archive.index.jobs.get(job.id);
    return j?.state === 'succeeded' || (j?.state === 'failed' && j.attempts > 0 && j.updatedAt > job.updatedAt) ? j : null;
  });
  assert.equal(again.state, 'succeeded', again.lastError ?? '');
  assert.match(again.progress.message ?? '', /1 stored, 2 acknowledged before/);
  await sameInstances(source, receiver, study.studyUID);
});

test('a 409 (nothing stored) fails the job with the reason', async () => {
  const study = await makeStudy(path.join(source.dir, 'in', 'conflict2'), { patientID: 'SUBJ104', studyDescription: 'Conflict2', series: [{ number: 1, description: 'T1', count: 1 }] });
  await conflictIn(study);
  assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(source.port), ...study.files])).code, 0);
  const job = await waitFor('the second conflict job', async () => {
    const j = (await source.server.archive.index.jobs.list({ type: 'stow', limit: 100, offset: 0 })).jobs.find((x) => x.payload.uids && (x.payload.uids as string[])[0] === study.studyUID);
    return j && j.state !== 'queued' && j.state !== 'running' ? j : null;
  });
  assert.equal(job.state, 'failed');
  assert.match(job.lastError!, /1 of 1 instances not stored by LAB \(STOW-RS\): .*Failure Reason 0x0111 Duplicate SOP Instance/);
});

test('credentials the receiver refuses (401): a failed job that says so, not retried', async () => {
  await send({ patientID: 'SUBJ105', studyDescription: 'Denied', series: [{ number: 1, description: 'T1', count: 1 }] });
  const job = await finished('denied');
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1);
  assert.match(job.lastError!, /WRONG_TOKEN \(STOW-RS\): 127\.0\.0\.1:\d+ answered HTTP 401 Unauthorized.*check username\/password or token/);
});
