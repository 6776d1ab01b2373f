// pacs verify on an archive damaged on purpose: a file removed, a file altered, a file with no
// row, an older copy of an indexed instance; what --repair fixes and what it only reports.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { verifyArchive } from '../../src/services/verify.js';

const FILES = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm'].map((f) => path.join(SAMPLES, f));

describe('pacs verify', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs();
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...FILES])).code, 0);
  });
  after(() => pacs.stop());

  test('finds each kind of damage; --repair fixes what can be fixed and reports the rest', async () => {
    const a = pacs.server.archive;
    const deps = { index: a.index, objects: a.objects, store: a.store, derived: [a.metadata], logger: a.logger };
    assert.deepEqual((await verifyArchive(deps, { quick: false, repair: false })).problems, [], 'a fresh archive is consistent');
    const locs = await a.index.listInstances(null, 10);
    const [gone, altered, unindexed] = locs;
    fs.rmSync(a.objects.absolutePath(gone!.path));
    const bytes = fs.readFileSync(a.objects.absolutePath(altered!.path));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    fs.writeFileSync(a.objects.absolutePath(altered!.path), bytes);
    // A file whose row is gone (as after a crash between the move into place and the commit).
    await a.index.deleteInstance(unindexed!.SOPInstanceUID);
    // An older copy of an indexed instance elsewhere (as after an interrupted overwrite).
    fs.copyFileSync(a.objects.absolutePath(locs[3]!.path), a.objects.absolutePath(`${locs[3]!.path}.old.dcm`));

    // A check (the server may be running) leaves files written in the last minute alone: a store in flight.
    assert.deepEqual((await verifyArchive(deps, { quick: true, repair: false })).problems.map((p) => p.kind).sort(), ['missing-file']);
    const minutesAgo = new Date(Date.now() - 120_000);
    for (const rel of [unindexed!.path, `${locs[3]!.path}.old.dcm`]) fs.utimesSync(a.objects.absolutePath(rel), minutesAgo, minutesAgo);

    const found = await verifyArchive(deps, { quick: false, repair: false });
    const kinds = found.problems.map((p) => `${p.kind} ${p.sopInstanceUID}`).sort();
    assert.deepEqual(kinds, [
      `checksum-mismatch ${altered!.SOPInstanceUID}`,
      `missing-file ${gone!.SOPInstanceUID}`,
      `orphan-file ${unindexed!.SOPInstanceUID}`,
      `stale-copy ${locs[3]!.SOPInstanceUID}`,
    ].sort());
    assert.equal((await verifyArchive(deps, { quick: true, repair: false })).problems.some((p) => p.kind === 'checksum-mismatch'), false, '--quick compares sizes only');

    const repaired = await verifyArchive(deps, { quick: false, repair: true });
    assert.deepEqual(repaired.problems.filter((p) => !p.repaired).map((p) => p.kind), ['checksum-mismatch'], 'a checksum mismatch is for a person to decide');
    assert.equal(await a.index.findInstance(gone!.SOPInstanceUID), null, 'the row of the lost file is removed');
    assert.ok(await a.index.findInstance(unindexed!.SOPInstanceUID), 'the orphan is indexed where it is');
    assert.equal(fs.existsSync(a.objects.absolutePath(`${locs[3]!.path}.old.dcm`)), false, 'the stale copy is removed');
    assert.deepEqual((await verifyArchive(deps, { quick: false, repair: false })).problems.map((p) => p.kind), ['checksum-mismatch']);
  });

  test('--repair keeps the row, and the file, of a file that comes back while it runs (a restore still copying), and the rows of a protected study', async () => {
    const other = await startTestPacs();
    try {
      assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(other.port), ...FILES])).code, 0);
      const a = other.server.archive;
      const [loc] = await a.index.listInstances(null, 10);
      const abs = a.objects.absolutePath(loc!.path);
      const held = `${abs}.restoring`;
      fs.renameSync(abs, held);
      // The file is put back while the files are walked: after the rows were read, before step 3.
      const objects = Object.assign(Object.create(a.objects) as typeof a.objects, {
        async *list() {
          fs.renameSync(held, abs);
          yield* a.objects.list();
        },
      });
      const r = await verifyArchive({ index: a.index, objects, store: a.store, derived: [a.metadata], logger: a.logger }, { quick: true, repair: true, force: true });
      const p = r.problems.find((x) => x.sopInstanceUID === loc!.SOPInstanceUID)!;
      assert.equal(p.repaired, false);
      assert.match(p.detail, /there again: row kept/);
      assert.ok(fs.existsSync(abs), 'the file is still there');
      assert.ok(await a.index.findInstance(loc!.SOPInstanceUID), 'and its row');
      // A protected study whose files are gone: its rows (and so its mark) are kept.
      await a.index.retention.setProtected(loc!.StudyInstanceUID, true);
      const study = (await a.index.instancesOf(loc!.StudyInstanceUID)).map((l) => a.objects.absolutePath(l.path));
      for (const f of study) fs.renameSync(f, `${f}.away`);
      try {
        const kept = await verifyArchive({ index: a.index, objects: a.objects, store: a.store, derived: [a.metadata], logger: a.logger }, { quick: true, repair: true });
        const missing = kept.problems.filter((x) => x.kind === 'missing-file');
        assert.equal(missing.length, study.length);
        assert.ok(missing.every((x) => !x.repaired && /row kept, its study is protected/.test(x.detail)), JSON.stringify(missing[0]));
        assert.equal(await a.index.retention.isProtected(loc!.StudyInstanceUID), true);
      } finally {
        for (const f of study) fs.renameSync(`${f}.away`, f);
      }
    } finally {
      await other.stop();
    }
  });

  test('--repair keeps the rows when the storage holds no file at all (unmounted), and an older copy when the indexed one is damaged', async () => {
    const other = await startTestPacs();
    try {
      assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(other.port), ...FILES])).code, 0);
      const a = other.server.archive;
      const deps = { index: a.index, objects: a.objects, store: a.store, derived: [a.metadata], logger: a.logger };
      const locs = await a.index.listInstances(null, 10);
      // An older copy beside an indexed file that is then damaged: the copy may be all that is left.
      const [damaged] = locs;
      const copy = `${damaged!.path}.old.dcm`;
      fs.copyFileSync(a.objects.absolutePath(damaged!.path), a.objects.absolutePath(copy));
      const minutesAgo = new Date(Date.now() - 120_000);
      fs.utimesSync(a.objects.absolutePath(copy), minutesAgo, minutesAgo);
      const bytes = fs.readFileSync(a.objects.absolutePath(damaged!.path));
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      fs.writeFileSync(a.objects.absolutePath(damaged!.path), bytes);
      const kept = await verifyArchive(deps, { quick: true, repair: true });
      const stale = kept.problems.find((p) => p.kind === 'stale-copy')!;
      assert.equal(stale.repaired, false);
      assert.match(stale.detail, /kept, for the indexed copy is missing or damaged/);
      assert.ok(fs.existsSync(a.objects.absolutePath(copy)), 'the older copy is still there');

      // The storage volume not mounted: the directory is there, and empty.
      const root = other.storageDir;
      const away = `${root}-away`;
      fs.renameSync(root, away);
      fs.mkdirSync(root);
      try {
        const r = await verifyArchive(deps, { quick: true, repair: true });
        assert.equal(r.files, 0);
        assert.equal(r.problems.filter((p) => p.kind === 'missing-file').length, locs.length);
        assert.ok(r.problems.every((p) => !p.repaired && /row kept, the storage holds no file at all/.test(p.detail)), JSON.stringify(r.problems[0]));
        assert.equal((await a.index.statistics()).instances, locs.length, 'no row removed');
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
        fs.renameSync(away, root);
      }
    } finally {
      await other.stop();
    }
  });
});
