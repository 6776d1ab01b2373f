// A rule's forward with `deidentify:` by C-STORE to DCMTK's storescp: each instance arrives as
// its de-identified copy (pseudonym, new UIDs), its Pixel Data byte for byte. The images are
// larger than the part a copy packs (64 KB), so their Pixel Data goes out as a slice of the
// stored file's bytes, in its own fragments.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { makeStudy, waitFor } from '../helpers/research.js';
import { KEPT_APART_BYTES, parseTree, syntaxOf, type TreeElement } from '../../src/dicom/dataset-tree.js';
import { elementString } from '../../src/dicom/deidentify.js';
import { parsePart10Prefix } from '../../src/dicom/part10.js';

let pacs: TestPacs;
let daemon: ChildProcess;
let out: string;
before(async () => {
  const port = await freePort();
  pacs = await startTestPacs({
    jobs: { backoff_seconds: 1, max_attempts: 3 },
    stability: { stable_after: 0.5, check_interval: 0.2 },
    known_nodes: [{ ae_title: 'COLLAB', host: '127.0.0.1', port }] as never,
    rules: [{ name: 'anon-to-collab', on: 'study.stable', match: {}, actions: [{ type: 'forward', node: 'COLLAB', deidentify: { pseudonym_prefix: 'COL' } }] }] as never,
  });
  out = path.join(pacs.dir, 'received');
  fs.mkdirSync(out);
  daemon = await startDaemon('storescp', ['-aet', 'COLLAB', '-od', out, String(port)], port);
});
after(async () => {
  daemon.kill();
  await pacs.stop();
});

const treeOf = (file: string): TreeElement[] => {
  const bytes = fs.readFileSync(file);
  const prefix = parsePart10Prefix(bytes, true)!;
  return parseTree(bytes.subarray(prefix.datasetOffset), syntaxOf(prefix.transferSyntaxUID));
};
const pixels = (t: TreeElement[]): Buffer | undefined => t.find((e) => e.tag === 0x7fe00010)?.value;

test('de-identified copies arrive at storescp: pseudonym, new UIDs, the same pixels', async () => {
  const study = await makeStudy(path.join(pacs.dir, 'in'), { patientID: 'SUBJ210', patientName: 'Doe^Jane', studyDescription: 'Anon forward', series: [{ number: 1, description: 'T1', count: 3 }] });
  const r = await run('storescu', ['-aet', 'SCANNER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...study.files]);
  assert.equal(r.code, 0, r.stderr);
  const jobs = pacs.server.archive.index.jobs;
  const job = await waitFor('the forward to finish', async () => (await jobs.list({ type: 'send', limit: 10, offset: 0 })).jobs.find((j) => j.state === 'succeeded' || j.state === 'failed'), 30_000);
  assert.equal(job.state, 'succeeded', job.lastError ?? '');
  assert.equal(job.progress.completed, 3);
  const received = fs.readdirSync(out).map((n) => path.join(out, n));
  assert.equal(received.length, 3);
  const originals = new Map(study.files.map((f) => [pixels(treeOf(f))!.toString('base64'), f]));
  for (const file of received) {
    const t = treeOf(file);
    assert.match(elementString(t, 0x00100020) ?? '', /^COL[A-Z2-9]{10}$/);
    assert.doesNotMatch(fs.readFileSync(file).toString('latin1'), /Doe\^Jane|SUBJ210/);
    assert.notEqual(elementString(t, 0x0020000d), study.studyUID);
    const p = pixels(t)!;
    assert.ok(p.length >= KEPT_APART_BYTES, `Pixel Data of ${p.length} bytes: sent as a part of its own`);
    assert.ok(originals.has(p.toString('base64')), `${path.basename(file)}: the Pixel Data of one of the originals, byte for byte`);
    const dump = await run('dcmdump', ['-q', '-dc', file]);
    assert.equal(dump.code, 0, dump.stderr);
    assert.equal(dump.stderr.trim(), '');
  }
});
