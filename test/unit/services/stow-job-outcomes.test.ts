// The stow job (src/services/stow-job.ts) run by the real job queue on a SQLite index and a
// file store, against a receiver on 127.0.0.1 whose answers each test chooses: what one bad
// instance, a refused request size, a long error text or an unreadable answer do to the job.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { DicomwebServer } from '../../../src/config/schema.js';
import { createLogger } from '../../../src/core/logging.js';
import type { Job } from '../../../src/index/jobs.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { JobService } from '../../../src/services/jobs.js';
import { stowJobHandler } from '../../../src/services/stow-job.js';
import { transferSelection } from '../../../src/services/transfer-jobs.js';
import { record } from '../../contract/fixtures.js';
import { parts } from '../../helpers/multipart.js';

const STUDY = '1.2.826.0.1.3680043.10.543.7';

/** What the receiver got in one request: the UIDs of its parts (each test file starts with its UID and a line break). */
interface Posted {
  uids: string[];
  contentLength: number;
}
interface Answer {
  status: number;
  headers?: http.OutgoingHttpHeaders;
  body?: string | Buffer;
}

/** A Store Instances Response (PS3.18 10.5.3) listing `uids` as stored. */
function storedAnswer(uids: readonly string[]): Answer {
  const items = uids.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] } }));
  return { status: 200, headers: { 'Content-Type': 'application/dicom+json' }, body: JSON.stringify({ '00081199': { vr: 'SQ', Value: items } }) };
}

interface Harness {
  /** The instances in the order the job sends them. */
  instances: InstanceLocation[];
  objects: FsObjectStore;
  /** Every request the receiver got. */
  posted: Posted[];
  /** What the receiver answered 200 to. */
  stored: Set<string>;
  /** The queue's warnings: each failed attempt's error. */
  warnings: string[];
  run(): Promise<Job>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});
after(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * An archive of one study with instances of `sizes` bytes and a receiver that answers each
 * request with `answer` (by default: all stored), or with `refuse` before reading its body.
 */
async function harness(sizes: number[], options: { answer?: (p: Posted, nth: number) => Answer | 'stored'; server?: Partial<DicomwebServer>; maxAttempts?: number; objects?: (store: FsObjectStore) => ObjectStore; refuse?: (contentLength: number) => Answer | null } = {}): Promise<Harness> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-stow-job-'));
  const index = SqliteIndex.open({ path: path.join(dir, 'index.db'), walMode: true });
  await index.migrate();
  const objects = new FsObjectStore(path.join(dir, 'files'), { fsync: false });
  for (const [i, size] of sizes.entries()) {
    const sop = `${STUDY}.${i + 1}`;
    const rel = `s/${sop}.dcm`;
    fs.mkdirSync(path.dirname(objects.absolutePath(rel)), { recursive: true });
    const head = Buffer.from(`${sop}\n`);
    fs.writeFileSync(objects.absolutePath(rel), Buffer.concat([head, Buffer.alloc(size - head.length, 0x41)]));
    await index.storeInstance(record({ sop, study: STUDY, size, path: rel }), 'insert');
  }
  const posted: Posted[] = [];
  const stored = new Set<string>();
  const receiver = http.createServer((req, res) => {
    req.on('error', () => undefined); // a request the job broke off
    const refused = options.refuse?.(Number(req.headers['content-length']));
    if (refused) {
      // Answered from the headers, the body unread (as a proxy with a body size limit does).
      posted.push({ uids: [], contentLength: Number(req.headers['content-length']) });
      res.writeHead(refused.status, refused.headers ?? {});
      res.end(refused.body ?? '');
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const got: Posted = { uids: parts(body, String(req.headers['content-type'])).map((p) => p.body.subarray(0, p.body.indexOf(0x0a)).toString()), contentLength: Number(req.headers['content-length']) };
      posted.push(got);
      const a = options.answer?.(got, posted.length) ?? 'stored';
      const answer = a === 'stored' ? storedAnswer(got.uids) : a;
      if (answer.status === 200) for (const uid of got.uids) stored.add(uid);
      res.writeHead(answer.status, answer.headers ?? {});
      res.end(answer.body ?? '');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const server: DicomwebServer = {
    name: 'LAB',
    url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/dicom-web`,
    timeout: 10,
    reject_unauthorized: true,
    max_instances_per_request: 100,
    max_request_mb: 64,
    ...options.server,
  };
  const warnings: string[] = [];
  const logs = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const l = JSON.parse(line) as { level: number; error?: string };
        if (l.level >= 40 && l.error) warnings.push(l.error);
      }
      done();
    },
  });
  const jobs = new JobService(index.jobs, () => ({ workers: 1, maxAttempts: options.maxAttempts ?? 3, backoffSeconds: 0.05, keepDays: 30, leaseSeconds: 60 }), createLogger({ level: 'warn' }, { stdout: logs }));
  jobs.register('stow', stowJobHandler({ index, objects: options.objects?.(objects) ?? objects, servers: () => [server] }));
  cleanups.push(async () => {
    await jobs.stop();
    receiver.closeAllConnections();
    receiver.close();
    await index.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const instances = await transferSelection(index, 'STUDY', [STUDY], undefined);
  return {
    instances,
    objects,
    posted,
    stored,
    warnings,
    async run() {
      jobs.start();
      const { id } = await jobs.enqueue('stow', { server: 'LAB', level: 'STUDY', uids: [STUDY] });
      const end = Date.now() + 20_000;
      for (;;) {
        const j = (await index.jobs.get(id))!;
        if (j.state === 'succeeded' || j.state === 'failed' || j.state === 'canceled') return j;
        if (Date.now() > end) throw new Error(`job ${id}: still ${j.state} after ${j.attempts} attempts: ${j.lastError}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

test('a missing file fails that instance alone: the rest of its batch and the later batches are sent', async () => {
  const h = await harness([1000, 1000, 1000, 1000, 1000, 1000], { server: { max_instances_per_request: 2 } });
  const gone = h.instances[1]!.SOPInstanceUID;
  fs.rmSync(h.objects.absolutePath(h.instances[1]!.path));
  const job = await h.run();
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1, 'one bad file is no reason to try the others again');
  assert.deepEqual([...h.stored].sort(), h.instances.map((i) => i.SOPInstanceUID).filter((u) => u !== gone).sort());
  assert.deepEqual(job.progress.failedUids, [gone]);
  assert.deepEqual({ total: job.progress.total, completed: job.progress.completed, failed: job.progress.failed }, { total: 6, completed: 5, failed: 1 });
  assert.match(job.lastError ?? '', new RegExp(`1 of 6 instances not stored by LAB \\(STOW-RS\\): ${gone.replace(/\./g, '\\.')}: its file is missing`));
});

test('a file of another size than its index row fails that instance alone', async () => {
  const h = await harness([1000, 1000, 1000], { server: { max_instances_per_request: 2 } });
  const short = h.instances[0]!;
  fs.truncateSync(h.objects.absolutePath(short.path), 600);
  const job = await h.run();
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1);
  assert.deepEqual([...h.stored].sort(), h.instances.slice(1).map((i) => i.SOPInstanceUID).sort());
  assert.deepEqual(job.progress.failedUids, [short.SOPInstanceUID]);
  assert.match(job.lastError ?? '', /its file is 600 bytes, the index says 1000/);
});

test('a file that shrinks after its check breaks off its request: the others of the batch go again without it', async () => {
  const sizes = new Map<string, number>();
  // The check sees the size of the index row (the file changed between the check and its turn in the body).
  const h = await harness([1000, 1000, 1000], { objects: (store) => Object.assign(Object.create(store) as FsObjectStore, { size: (rel: string) => Promise.resolve(sizes.get(rel) ?? 0) }) });
  for (const i of h.instances) sizes.set(i.path, i.size);
  const changed = h.instances[1]!;
  fs.truncateSync(h.objects.absolutePath(changed.path), 600);
  const job = await h.run();
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1);
  assert.deepEqual([...h.stored].sort(), [h.instances[0]!.SOPInstanceUID, h.instances[2]!.SOPInstanceUID].sort());
  assert.deepEqual(job.progress.failedUids, [changed.SOPInstanceUID]);
  assert.match(job.lastError ?? '', /its file is shorter than the 1000 bytes expected/);
});

test('413 on a request splits it until the parts fit; one instance too large alone fails by itself', async () => {
  const MB = 1024 * 1024;
  const tooLarge = { status: 413, headers: { 'Content-Type': 'text/plain' }, body: 'Request Entity Too Large' };
  const h = await harness([300_000, 300_000, 2 * MB, 300_000, 300_000, 300_000], { refuse: (length) => (length > MB ? tooLarge : null) });
  const big = h.instances.find((i) => i.size === 2 * MB)!.SOPInstanceUID;
  const job = await h.run();
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1, 'a size the receiver refuses is not tried again');
  assert.deepEqual([...h.stored].sort(), h.instances.map((i) => i.SOPInstanceUID).filter((u) => u !== big).sort());
  assert.deepEqual(job.progress.failedUids, [big]);
  assert.deepEqual({ completed: job.progress.completed, failed: job.progress.failed }, { completed: 5, failed: 1 });
  assert.match(job.lastError ?? '', /1 of 6 instances not stored by LAB \(STOW-RS\): .*refused its size \(2097152 bytes\).*HTTP 413/);
});

// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

test('the receiver\'s error text reaches the job\'s error, progress and log short and on one line', async () => {
  const detail = `first line\n\u001b[2Jcleared screen\r\n${'x'.repeat(5 * 1024 * 1024)}`;
  const h = await harness([1000], { maxAttempts: 1, answer: () => ({ status: 503, headers: { 'Content-Type': 'application/problem+json' }, body: JSON.stringify({ title: 'Service Unavailable', detail }) }) });
  const job = await h.run();
  assert.equal(job.state, 'failed');
  const texts = [job.lastError ?? '', job.progress.message ?? '', ...h.warnings];
  for (const text of texts) {
    assert.ok(text.length <= 300, `${text.length} characters: ${text.slice(0, 400)}`);
    assert.doesNotMatch(text, CONTROL);
  }
  assert.match(job.lastError ?? '', /LAB \(STOW-RS\): 127\.0\.0\.1:\d+ answered HTTP 503 Service Unavailable: first line \\u001b\[2Jcleared screen x+\.\.\.$/);
});

test('a 409 whose body cannot be read is retried, not taken as refusals; the next good answer completes the job', async () => {
  const h = await harness([1000, 1000], { answer: (_p, nth) => (nth === 1 ? { status: 409, headers: { 'Content-Type': 'application/dicom+json' }, body: '{"00081198": garbage' } : 'stored') });
  const job = await h.run();
  assert.equal(job.state, 'succeeded', job.lastError ?? '');
  assert.equal(job.attempts, 2);
  assert.equal(h.posted.length, 2);
  assert.deepEqual([...h.stored].sort(), h.instances.map((i) => i.SOPInstanceUID).sort());
  assert.equal(h.warnings.length, 1);
  assert.match(h.warnings[0]!, /^LAB \(STOW-RS\): 127\.0\.0\.1:\d+ answered HTTP 409 Conflict, but its answer could not be read \(not valid JSON/);
});

test('a request refused as it is (400) fails its own batch: the other batches are still sent, and every instance is counted', async () => {
  const bad = { status: 400, headers: { 'Content-Type': 'text/plain' }, body: 'malformed part' };
  const h = await harness([1000, 1000, 1000, 1000, 1000, 1000], { server: { max_instances_per_request: 2 }, answer: (_p, nth) => (nth === 2 ? bad : 'stored') });
  const job = await h.run();
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1, 'a refusal of what was sent is not tried again');
  assert.equal(h.posted.length, 3, 'the batch after the refused one went too');
  assert.equal(h.stored.size, 4);
  assert.deepEqual({ completed: job.progress.completed, failed: job.progress.failed, total: job.progress.total }, { completed: 4, failed: 2, total: 6 });
  assert.match(job.lastError ?? '', /2 of 6 instances not stored by LAB \(STOW-RS\): .*refused the request: .*HTTP 400/);
});
