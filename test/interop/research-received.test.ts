// A rule "on: instance.received", in process with DCMTK's storescu: one job per instance
// received from the matching sender, none for another sender or for the same files sent again
// (identical: nothing new stored), and the index's cursor ends at the last change.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { listTree, makeStudy, waitFor } from '../helpers/research.js';
import { RECEIVED_CURSOR } from '../../src/services/received-rules.js';

let pacs: TestPacs;
let out: string;
before(async () => {
  out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-received-')), 'each');
  fs.mkdirSync(out); // a rule's folder must exist (export-job.ts)
  pacs = await startTestPacs({
    jobs: { backoff_seconds: 1 },
    // A look every 5 s: what is seen sooner was seen thanks to the store's wake-up.
    stability: { stable_after: 60, check_interval: 5 },
    rules: [{ name: 'each', on: 'instance.received', match: { CallingAE: 'SCANNER' }, actions: [{ type: 'export', to: out, template: '{SeriesNumber}/{SOPInstanceUID}.dcm' }] }] as never,
  });
});
after(async () => {
  await pacs.stop();
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
});

const send = (aet: string, files: string[]) => run('storescu', ['-aet', aet, '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
const exportJobs = async () => (await pacs.server.archive.index.jobs.list({ type: 'export', limit: 100, offset: 0 })).jobs;

test('one export job per instance sent by the matching scanner, queued promptly; none for another sender or a resend', async () => {
  const study = await makeStudy(path.join(pacs.dir, 'in'), { patientID: 'RECV01', studyDescription: 'Received', series: [{ number: 1, description: 'A', count: 4 }, { number: 2, description: 'B', count: 3 }] });
  const other = await makeStudy(path.join(pacs.dir, 'in-other'), { patientID: 'RECV02', studyDescription: 'Other', series: [{ number: 1, description: 'C', count: 2 }] });
  const started = Date.now();
  const a = await send('SCANNER', study.files);
  assert.equal(a.code, 0, a.stderr);
  await waitFor('a job per instance', async () => (await exportJobs()).length === study.files.length, 20_000);
  assert.ok(Date.now() - started < 4_000, 'queued on the wake-up of each store, not at the 5 s look');
  const b = await send('OTHER', other.files);
  assert.equal(b.code, 0, b.stderr);
  const again = await send('SCANNER', study.files); // identical: nothing stored, nothing to act on
  assert.equal(again.code, 0, again.stderr);

  const index = pacs.server.archive.index;
  const instances = await index.instancesOf(study.studyUID);
  const lastSeq = (await index.changesSince(0, 1000)).at(-1)!.seq;
  await waitFor('the cursor at the end of the log', async () => (await index.cursors.position(RECEIVED_CURSOR)) === lastSeq, 20_000);
  const jobs = await exportJobs();
  assert.deepEqual(jobs.map((j) => j.payload.uid).sort(), instances.map((i) => i.SOPInstanceUID).sort(), 'one job per instance, the other sender left out');
  for (const j of jobs) {
    assert.equal(j.payload.level, 'IMAGE');
    assert.equal(j.payload.rule, 'each');
    assert.match(j.dedupeKey ?? '', new RegExp(`^rule:each:[0-9a-f]{16}:IMAGE:${j.payload.uid as string}:\\d+$`));
  }
  await waitFor('every instance exported', () => listTree(out).length === study.files.length, 20_000);
  assert.deepEqual(listTree(out), instances.map((i) => `${i.SeriesInstanceUID === study.series[0]!.uid ? 1 : 2}/${i.SOPInstanceUID}.dcm`).sort());
});
