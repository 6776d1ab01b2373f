// The sample corpus through DCMTK's storescu, against pacs-server and DCMTK's own storescp
// (bit-preserving) side by side: every 'accept' file must be stored, indexed and its dataset
// byte-identical to what storescp received; every 'reject' file must fail cleanly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLES, freePort, manifest, run, startDaemon, storescpProfile, storescuProfile, type ManifestRow } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';
import { ScuAssociation } from '../../src/net/client.js';
import { Status } from '../../src/net/dimse/status.js';

const datasetOf = (file: string): Buffer => {
  const buf = fs.readFileSync(file);
  const p = parsePart10Prefix(buf, true);
  assert.ok(p, `${file} has a readable prefix`);
  return buf.subarray(p.datasetOffset);
};

describe('sample corpus via storescu', () => {
  let pacs: TestPacs;
  let refDir: string;
  let refPort: number;
  let storescp: ChildProcess;
  let rows: ManifestRow[];

  before(async () => {
    rows = await manifest();
    pacs = await startTestPacs({ storage: { duplicate_policy: 'reject' } });
    refDir = path.join(pacs.dir, 'reference');
    fs.mkdirSync(refDir);
    refPort = await freePort();
    const accepted = rows.filter((r) => r.expected === 'accept').map((r) => path.join(SAMPLES, r.file));
    const profile = await storescpProfile(accepted, pacs.dir);
    storescp = await startDaemon('storescp', ['+B', ...profile, '-od', refDir, '-aet', 'REF', String(refPort)], refPort);
  });
  after(async () => {
    storescp.kill();
    await pacs.stop();
  });

  // The MR_small family shares one SOP Instance UID on purpose: it is the duplicate test below.
  const isDuplicateFamily = (f: string): boolean => f.startsWith('pydicom__MR_small');

  test('every accept file is stored, indexed and byte-identical to what storescp received', async () => {
    const accept = rows.filter((r) => r.expected === 'accept' && !isDuplicateFamily(r.file)).map((r) => path.join(SAMPLES, r.file));
    assert.ok(accept.length > 40, 'the corpus is there');
    // One storescu run per transfer syntax: given contexts for two JPEG lossless syntaxes of one
    // SOP class, storescu picks one for both and then fails to "convert" between them.
    const byTs = new Map<string, string[]>();
    for (const f of accept) {
      const ts = (await readPart10Header(f)).transferSyntaxUID;
      byTs.set(ts, [...(byTs.get(ts) ?? []), f]);
    }
    for (const [ts, files] of byTs) {
      const profile = await storescuProfile(files, pacs.dir);
      for (const [aec, port] of [['PACS_SERVER', pacs.port], ['REF', refPort]] as const) {
        const r = await run('storescu', [...profile, '-aec', aec, '127.0.0.1', String(port), ...files]);
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('E:')).join('\n');
        assert.equal(r.code, 0, `${aec}, ${ts}: ${errors}`);
        assert.equal(errors, '', `${aec}, ${ts}`);
      }
    }

    const index = pacs.server.archive.index;
    const refFiles = fs.readdirSync(refDir);
    for (const file of accept) {
      const h = await readPart10Header(file);
      const uid = h.sopInstanceUID!;
      const loc = await index.findInstance(uid);
      assert.ok(loc, `${path.basename(file)} is indexed`);
      const stored = path.join(pacs.storageDir, loc.path);
      const refName = refFiles.find((n) => n.endsWith(`.${uid}`));
      assert.ok(refName, `storescp received ${path.basename(file)}`);
      assert.ok(datasetOf(stored).equals(datasetOf(path.join(refDir, refName))), `${path.basename(file)}: dataset byte-identical`);
      assert.equal(loc.size, fs.statSync(stored).size);
    }
    const stats = await index.statistics();
    assert.equal(stats.instances, accept.length);
    // pydicom-dicomdir__77654033_*: one patient with 2 studies / 4 series... of the whole corpus.
    assert.ok(stats.patients >= 1 && stats.studies >= 1);
    assert.deepEqual(pacs.files().filter((f) => f.startsWith('.incoming/')), [], 'no temporary file left');
  });

  test('every reject file gets a failure status with an error comment and leaves nothing', async () => {
    const before = await pacs.server.archive.index.statistics();
    const filesBefore = pacs.files().length;
    for (const row of rows.filter((r) => r.expected === 'reject')) {
      const file = path.join(SAMPLES, row.file);
      const bytes = fs.readFileSync(file);
      // storescu refuses to read these: send their bytes as they are with our own client.
      const prefix = (() => {
        try {
          return parsePart10Prefix(bytes, true);
        } catch {
          return null;
        }
      })();
      const dataset = prefix ? bytes.subarray(prefix.datasetOffset) : bytes;
      const ts = prefix?.transferSyntaxUID ?? '1.2.840.10008.1.2.1';
      const sopClass = /\((1\.2[0-9.]+)\)/.exec(row.sopClass)?.[1] ?? '1.2.840.10008.5.1.4.1.1.4';
      const scu = await ScuAssociation.connect({
        host: '127.0.0.1',
        port: pacs.port,
        callingAETitle: 'TEST',
        calledAETitle: 'PACS_SERVER',
        contexts: [{ abstractSyntax: sopClass, transferSyntaxes: [ts] }],
      });
      const rsp = await scu.store(scu.contextFor(sopClass)!.id, sopClass, '1.2.3.4.5.6.7.8.9', dataset);
      await scu.release();
      assert.notEqual(rsp.Status, Status.Success, `${row.file} refused`);
      assert.ok((rsp.Status! & 0xf000) === 0xa000 || (rsp.Status! & 0xf000) === 0xc000 || rsp.Status! < 0x1000, `${row.file}: a failure status`);
      assert.ok(rsp.ErrorComment && rsp.ErrorComment.length > 5, `${row.file}: error comment (${rsp.ErrorComment})`);
    }
    assert.deepEqual(await pacs.server.archive.index.statistics(), before, 'no row added');
    assert.equal(pacs.files().length, filesBefore, 'no file added');
  });

  test('echoscu is answered', async () => {
    const r = await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    assert.equal(r.code, 0, r.stderr);
  });
});
