// The archive commands of the built `pacs` on the defects a review found: reindex must not
// empty an index for a mistyped directory and keeps what the files cannot say (protected
// studies, when instances arrived), a mistyped command leaves nothing behind, and
// `pacs config check` takes --config like every other archive command.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { openTestIndex } from '../helpers/index-backend.js';
import { BIN, baseYaml, pacs, startServer, tempDir, writeConfig } from './spawn.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');

async function withIndex<T>(dir: string, fn: (index: Awaited<ReturnType<typeof openTestIndex>>) => Promise<T>): Promise<T> {
  const index = await openTestIndex(dir);
  await index.migrate();
  try {
    return await fn(index);
  } finally {
    await index.close();
  }
}

describe('pacs archive commands (review fixes)', () => {
  test('reindex and verify --repair refuse to run beside a running server, which refuses to start beside them; verify alone runs', async () => {
    const dir = tempDir();
    const srv = await startServer(dir, (p) => baseYaml(p));
    try {
      for (const args of [['reindex'], ['verify', '--repair']]) {
        const r = await pacs(args, dir);
        assert.equal(r.code, 1, r.stdout + r.stderr);
        assert.match(r.stderr, /server.*(uses this index: stop it first|running on this index: stop every server)/, args.join(' '));
      }
      const look = await pacs(['verify'], dir);
      assert.equal(look.code, 0, look.stdout + look.stderr);
    } finally {
      assert.equal(await srv.stop(), 0);
    }
    const alone = await pacs(['verify', '--repair'], dir);
    assert.equal(alone.code, 0, alone.stdout + alone.stderr);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reindex refuses a storage directory that is not there, and one without files while the index holds instances', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11112));
    const imported = await pacs(['import', CT, MR], dir);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);

    const typo = await pacs(['reindex', '--storage-dir', './archve'], dir);
    assert.equal(typo.code, 1, typo.stdout + typo.stderr);
    assert.match(typo.stderr, /storage\.directory .*archve is not a directory; the index was not changed/);
    assert.equal(fs.existsSync(path.join(dir, 'archve')), false, 'the mistyped directory was made');
    assert.equal((await withIndex(dir, (i) => i.statistics())).instances, 2);

    fs.mkdirSync(path.join(dir, 'empty'));
    const empty = await pacs(['reindex', '--storage-dir', './empty'], dir);
    assert.equal(empty.code, 1, empty.stdout + empty.stderr);
    assert.match(empty.stderr, /no files under .*empty, but the index holds 2 instances.*--force/);
    assert.equal((await withIndex(dir, (i) => i.statistics())).instances, 2);

    const forced = await pacs(['reindex', '--storage-dir', './empty', '--force'], dir);
    assert.equal(forced.code, 0, forced.stdout + forced.stderr);
    assert.equal((await withIndex(dir, (i) => i.statistics())).instances, 0);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reindex keeps which studies are protected, and takes when instances arrived from their files', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11112));
    assert.equal((await pacs(['import', CT, MR], dir)).code, 0);
    const [ctStudy, mrStudy] = await withIndex(dir, async (index) => {
      const rows = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: true, keys: [{ keyword: 'StudyInstanceUID', value: '' }, { keyword: 'ModalitiesInStudy', value: '' }] });
      const uidOf = (m: string) => String(rows.find((r) => String(r.ModalitiesInStudy).includes(m))?.StudyInstanceUID);
      assert.equal(await index.retention.setProtected(uidOf('CT'), true), true);
      return [uidOf('CT'), uidOf('MR')];
    });
    // The MR's file is a day older than the CT's: retention's "oldest first" must say so after.
    const files: string[] = [];
    const walk = (d: string): void => fs.readdirSync(d, { withFileTypes: true }).forEach((e) => (e.isDirectory() ? walk(path.join(d, e.name)) : files.push(path.join(d, e.name))));
    walk(path.join(dir, 'archive'));
    const dayAgo = new Date(Date.now() - 86_400_000);
    const mrFiles = files.filter((f) => f.endsWith('.dcm') && f.includes(mrStudy));
    assert.equal(mrFiles.length, 1, files.join('\n'));
    for (const f of mrFiles) fs.utimesSync(f, dayAgo, dayAgo);

    const reindexed = await pacs(['reindex'], dir);
    assert.equal(reindexed.code, 0, reindexed.stdout + reindexed.stderr);
    assert.match(reindexed.stdout, /1 of 1 protected studies protected again/);
    await withIndex(dir, async (index) => {
      assert.equal(await index.retention.isProtected(ctStudy), true);
      assert.equal(await index.retention.isProtected(mrStudy), false);
      const oldest = await index.retention.oldest({ limit: 10, includeProtected: true });
      assert.deepEqual(oldest.map((s) => s.studyInstanceUID), [mrStudy, ctStudy]);
      assert.ok(Math.abs(oldest[0]!.lastReceivedAt.getTime() - dayAgo.getTime()) < 2_000, oldest[0]!.lastReceivedAt.toISOString());
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a reindex stopped half-way: the next one still protects the studies the first carried over', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11112));
    assert.equal((await pacs(['import', CT, MR], dir)).code, 0);
    const ctStudy = await withIndex(dir, async (index) => {
      const rows = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: true, keys: [{ keyword: 'StudyInstanceUID', value: '' }, { keyword: 'ModalitiesInStudy', value: '' }] });
      return String(rows.find((r) => String(r.ModalitiesInStudy).includes('CT'))?.StudyInstanceUID);
    });
    // What the first run leaves when stopped after emptying the index: its list on disk, and
    // an index (here the one rebuilt so far) without the mark.
    fs.mkdirSync(path.join(dir, 'archive', '.reindex'));
    fs.writeFileSync(path.join(dir, 'archive', '.reindex', 'protected-studies.json'), JSON.stringify([ctStudy]));
    // The server will not serve that index: retention could delete the studies it is to protect again.
    const refused = await run(process.execPath, [path.join(BIN, 'pacs_server'), '--config', path.join(dir, 'pacs_server.yaml')], { timeoutMs: 60_000 });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /a pacs reindex was cut short .*run pacs reindex again before starting the server/);
    const reindexed = await pacs(['reindex'], dir);
    assert.equal(reindexed.code, 0, reindexed.stdout + reindexed.stderr);
    assert.match(reindexed.stdout, /Reindexed 2 files/, 'the list is not taken for an instance');
    assert.match(reindexed.stdout, /1 of 1 protected studies protected again/);
    await withIndex(dir, async (index) => assert.equal(await index.retention.isProtected(ctStudy), true));
    assert.equal(fs.existsSync(path.join(dir, 'archive', '.reindex')), false, 'gone once the marks are set again');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('reindex of two files of one instance indexes the newer, whatever their names, and lists the older', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11113));
    assert.equal((await pacs(['import', CT], dir)).code, 0);
    const uid = '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322';
    const filed = await withIndex(dir, async (index) => (await index.findInstance(uid))!.path);
    // An older copy whose name sorts after the newer's (what an overwrite cut short leaves): it won before.
    const stale = filed.replace(/\.dcm$/, '~2.dcm');
    const abs = (rel: string): string => path.join(dir, 'archive', rel);
    fs.copyFileSync(abs(filed), abs(stale));
    const past = new Date('2020-01-01T00:00:00Z');
    fs.utimesSync(abs(stale), past, past);
    const r = await pacs(['reindex'], dir);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /1 older copies of instances left without a row/);
    assert.match(r.stdout, new RegExp(`OLDER COPY ${stale.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.equal(await withIndex(dir, async (index) => (await index.findInstance(uid))!.path), filed, 'the newer file is the instance');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('import does not take the archive into itself, and walks a folder reached twice through a link once', async () => {
    const dir = tempDir();
    await writeConfig(path.join(dir, 'pacs_server.yaml'), baseYaml(11114));
    const src = path.join(dir, 'incoming');
    fs.mkdirSync(path.join(src, 'a'), { recursive: true });
    fs.copyFileSync(CT, path.join(src, 'a', 'ct.dcm'));
    fs.symlinkSync('..', path.join(src, 'a', 'loop')); // a link back up: walked for ever before
    const first = await pacs(['import', src], dir);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /Imported 1 new, .* 0 failed/);
    // The archive itself (here through the folder that holds it): its files, and those set aside
    // by a delete in .deleting, are not imported again.
    const again = await pacs(['import', path.join(dir, 'archive')], dir);
    assert.equal(again.code, 1);
    assert.match(again.stdout, /is in the archive's own storage .*not imported into itself/);
    const whole = await pacs(['import', dir], dir);
    assert.match(whole.stdout, /is in the archive's own storage/);
    assert.match(whole.stdout, /Imported 0 new, 0 replaced, 1 already present/, whole.stdout);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a mistyped archive command leaves no archive and no index where it was run', async () => {
    const dir = tempDir();
    for (const args of [
      ['import'],
      ['import', '-j', '0', CT],
      ['jobs', 'show'],
      ['jobs', 'frobnicate'],
      ['jobs', '--state', 'sleeping'],
      // A stray word (a misplaced option value) was ignored, and the command ran as if it were not there.
      ['jobs', 'list', 'stray'],
      ['jobs', 'show', '1', '2'],
      ['export', '-k', 'PatientID=*', '--to', 'out', 'stray'],
      ['verify', 'stray'],
      ['reindex', 'stray'],
      ['find', '127.0.0.1', '104', 'stray'],
      ['find', '-L', 'FOO', '127.0.0.1', '104'],
      ['move', '-L', 'STUDIES', '127.0.0.1', '104'],
    ]) {
      const r = await pacs(args, dir);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.deepEqual(fs.readdirSync(dir), [], `${args.join(' ')} left ${fs.readdirSync(dir).join(', ')}`);
    }
    // A path that is not there: exit 1 naming it, and no archive made for it either.
    const missing = await pacs(['import', '/no/such/folder'], dir);
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /no such file or folder: \/no\/such\/folder/);
    assert.deepEqual(fs.readdirSync(dir), []);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('config check takes the file as FILE or --config, applies --set, and refuses more', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'server: { ae_title: FROM_A }\n');
    const asFile = await pacs(['config', 'check', 'a.yaml'], dir);
    assert.equal(asFile.code, 0, asFile.stderr);
    assert.match(asFile.stdout, /ae_title: FROM_A/);
    const asOption = await pacs(['config', 'check', '--config', 'a.yaml', '--set', 'server.port=4242'], dir);
    assert.equal(asOption.code, 0, asOption.stderr);
    assert.match(asOption.stdout, /ae_title: FROM_A/);
    assert.match(asOption.stdout, /port: 4242/);
    const both = await pacs(['config', 'check', 'a.yaml', 'b.yaml'], dir);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /one FILE at most/);
    const bad = await pacs(['config', 'check', '--set', 'server.port=70000'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /server\.port: .*70000/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
