// The filesystem object store on a real temporary directory: staged files are whole or absent,
// exclusive commits never overwrite, nothing but the spares is left in the staging directory.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { isPacsError } from '../../../src/core/errors.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import type { StagedObject } from '../../../src/storage/object-store.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-fs-store-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
const opened: FsObjectStore[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function newStore(fsync = false, stagingDir?: string): FsObjectStore {
  const s = new FsObjectStore(path.join(tmp, `root${++n}`), { fsync, ...(stagingDir ? { stagingDir } : {}) });
  opened.push(s);
  return s;
}

const stagingOf = (s: FsObjectStore): string => path.join(s.root, '.incoming');
const tempPathOf = (o: StagedObject): string => (o as unknown as { tempPath: string }).tempPath;
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Waits until the store has made all its spares, so the staging directory holds exactly them. */
async function settledSpares(s: FsObjectStore): Promise<Set<string>> {
  const deadline = Date.now() + 2000;
  while (s.spareFiles().length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  return new Set(s.spareFiles().map((p) => path.basename(p)));
}

/** Names in the staging directory that are not spares. */
async function leftovers(s: FsObjectStore): Promise<string[]> {
  const spares = await settledSpares(s);
  return readdirSync(stagingOf(s)).filter((f) => !spares.has(f));
}

/** Writes `data` in irregular chunks, honouring backpressure. */
async function writeAll(o: StagedObject, data: Buffer): Promise<void> {
  let at = 0;
  let i = 0;
  while (at < data.length) {
    const len = [1, 7, 4096, 65536, 300_000, 13][i++ % 6]!;
    const ok = o.write(data.subarray(at, at + len));
    at += len;
    if (!ok) await new Promise<void>((r) => o.onDrain(r));
  }
}

async function put(s: FsObjectStore, rel: string, data: Buffer, mode: 'exclusive' | 'replace' = 'exclusive'): Promise<void> {
  const o = s.stage();
  o.write(data);
  await o.finish();
  await o.commit(rel, mode);
}

for (const fsync of [false, true]) {
  describe(`stage, write, finish, commit (fsync ${fsync ? 'on' : 'off'})`, () => {
    test('many chunks: the right size, SHA-256 and bytes', async () => {
      const s = newStore(fsync);
      const data = randomBytes(3 * 1024 * 1024 + 12345);
      const o = s.stage();
      await writeAll(o, data);
      const r = await o.finish();
      assert.equal(r.size, data.length);
      assert.equal(r.checksum, sha256(data));
      await o.commit('p/s/se/i.dcm', 'exclusive');
      assert.ok(readFileSync(s.absolutePath('p/s/se/i.dcm')).equals(data));
      assert.deepEqual(await leftovers(s), []);
    });

    test('small and empty files', async () => {
      const s = newStore(fsync);
      for (const data of [Buffer.alloc(0), Buffer.from('x'), randomBytes(1000)]) {
        const o = s.stage();
        if (data.length) o.write(data);
        const r = await o.finish();
        assert.equal(r.size, data.length);
        assert.equal(r.checksum, sha256(data));
        await o.commit(`f${data.length}.dcm`, 'exclusive');
        assert.ok(readFileSync(s.absolutePath(`f${data.length}.dcm`)).equals(data));
      }
      assert.deepEqual(await leftovers(s), []);
    });
  });
}

describe('commit', () => {
  test('a folder removed since the store last made it (emptied by hand) is made again, for both modes', async () => {
    const s = newStore(true);
    await put(s, 'p/st/se/1.dcm', Buffer.from('one'));
    rmSync(s.absolutePath('p/st/se'), { recursive: true });
    await put(s, 'p/st/se/2.dcm', Buffer.from('two'));
    rmSync(s.absolutePath('p/st'), { recursive: true });
    await put(s, 'p/st/se/3.dcm', Buffer.from('three'), 'replace');
    assert.equal(readFileSync(s.absolutePath('p/st/se/3.dcm'), 'utf8'), 'three');
    assert.deepEqual(await leftovers(s), []);
  });

  test('exclusive twice to one path: the second fails with exists, the first stays', async () => {
    const s = newStore();
    await put(s, 'a/x.dcm', Buffer.from('first'));
    const o = s.stage();
    o.write(Buffer.from('second'));
    await o.finish();
    await assert.rejects(o.commit('a/x.dcm', 'exclusive'), (e: unknown) => {
      assert.ok(isPacsError(e, 'STORAGE_FAILURE'));
      assert.equal((e as { exists?: boolean }).exists, true);
      return true;
    });
    assert.equal(readFileSync(s.absolutePath('a/x.dcm'), 'utf8'), 'first');
    await o.discard();
    assert.deepEqual(await leftovers(s), []);
  });

  test('replace overwrites', async () => {
    const s = newStore();
    await put(s, 'a/x.dcm', Buffer.from('first'));
    await put(s, 'a/x.dcm', Buffer.from('second'), 'replace');
    assert.equal(readFileSync(s.absolutePath('a/x.dcm'), 'utf8'), 'second');
    await put(s, 'a/new.dcm', Buffer.from('third'), 'replace');
    assert.equal(readFileSync(s.absolutePath('a/new.dcm'), 'utf8'), 'third', 'replace where nothing is');
    assert.deepEqual(await leftovers(s), []);
  });

  test('a path outside the store is refused', async () => {
    const s = newStore();
    const o = s.stage();
    o.write(Buffer.from('x'));
    await o.finish();
    await assert.rejects(o.commit('../outside.dcm', 'exclusive'), (e: unknown) => isPacsError(e, 'STORAGE_FAILURE'));
    assert.equal(existsSync(path.join(path.dirname(s.root), 'outside.dcm')), false);
    await o.discard();
  });
});

describe('discard', () => {
  test('removes the temporary file, is idempotent, before or after finish', async () => {
    const s = newStore();
    // Large enough that batches were written in the background.
    const big = s.stage();
    big.write(randomBytes(600_000));
    big.write(randomBytes(600_000));
    await big.discard();
    assert.equal(existsSync(tempPathOf(big)), false);
    await big.discard();

    const small = s.stage();
    small.write(Buffer.from('abc'));
    await small.finish();
    assert.equal(existsSync(tempPathOf(small)), true);
    await small.discard();
    assert.equal(existsSync(tempPathOf(small)), false);
    await small.discard();

    const empty = s.stage();
    await empty.discard();
    await empty.discard();
    assert.deepEqual(await leftovers(s), []);
  });

  test('writes after discard are ignored', async () => {
    const s = newStore();
    const o = s.stage();
    await o.discard();
    assert.equal(o.write(randomBytes(300_000)), true);
    await o.discard();
    assert.deepEqual(await leftovers(s), []);
  });
});

describe('staging directory', () => {
  test('after many commits and discards only the spares are left; close removes them', async () => {
    const s = newStore();
    await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const o = s.stage();
        o.write(randomBytes(1000 + i));
        await o.finish();
        if (i % 3 === 0) await o.discard();
        else await o.commit(`d/${i}.dcm`, 'exclusive');
      }),
    );
    assert.deepEqual(await leftovers(s), []);
    assert.equal(s.spareFiles().length, 8);
    for (const p of s.spareFiles()) assert.equal(path.dirname(p), stagingOf(s));
    s.close();
    assert.deepEqual(readdirSync(stagingOf(s)), []);
  });

  test('close while spares are being made leaves nothing', async () => {
    const s = newStore();
    await put(s, 'x.dcm', Buffer.from('x'));
    s.close(); // the refill started by stage() may still be opening files
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(stagingOf(s)), []);
  });

  test('cleanupStaging removes leftover files but not the spares', async () => {
    const s = newStore();
    await put(s, 'x.dcm', Buffer.from('x'));
    const spares = await settledSpares(s);
    assert.equal(spares.size, 8);
    const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const staged = (name: string, ageDays = 0): void => {
      const p = path.join(stagingOf(s), name);
      writeFileSync(p, 'x');
      if (ageDays) utimesSync(p, new Date(Date.now() - ageDays * 86_400_000), new Date(Date.now() - ageDays * 86_400_000));
    };
    staged('123-1-deadbeef.part'); // an older version's name: a leftover
    staged('123-2.aside');
    staged(`${host}-2147483646-1-deadbeef.part`); // this host, a process that is gone
    staged(`${host}-${process.pid}-999-deadbeef.part`); // an earlier process that had our pid
    staged('other-host-1-1-deadbeef.part', 2); // another server's, but two days old
    const alive = [`${host}-${process.ppid}-1-deadbeef.part`, 'other-host-1-1-cafe.part']; // stores in progress elsewhere
    for (const n of alive) staged(n);
    assert.equal(await s.cleanupStaging(), 5);
    assert.deepEqual(new Set(readdirSync(stagingOf(s))), new Set([...spares, ...alive]));
    for (const n of alive) rmSync(path.join(stagingOf(s), n));
    assert.equal(await s.cleanupStaging(), 0);
    // The spares still work.
    await put(s, 'y.dcm', Buffer.from('y'));
    assert.equal(readFileSync(s.absolutePath('y.dcm'), 'utf8'), 'y');
  });

  test('cleanupStaging while running leaves this process\'s own files (stores in progress), removes a gone process\'s', async () => {
    const s = newStore();
    await put(s, 'x.dcm', Buffer.from('x'));
    const spares = await settledSpares(s);
    const host = hostname().replace(/[^A-Za-z0-9.]/g, '_');
    const inProgress = s.stage();
    inProgress.write(Buffer.from('being received'));
    const ours = path.basename(tempPathOf(inProgress));
    writeFileSync(path.join(stagingOf(s), ours), 'being received'); // on disk as the write makes it
    writeFileSync(path.join(stagingOf(s), `${host}-2147483646-1-deadbeef.part`), 'a killed pacs import');
    assert.equal(await s.cleanupStaging({ running: true }), 1);
    const left = readdirSync(stagingOf(s));
    assert.ok(left.includes(ours), 'the store in progress keeps its file');
    assert.ok(!left.includes(`${host}-2147483646-1-deadbeef.part`));
    assert.ok([...spares].every((f) => left.includes(f)), 'the spares stay');
    await inProgress.discard();
  });

  test('the staging directory removed while the store runs: made again, and stores go on (spares whose names went are dropped)', async () => {
    const s = newStore();
    await put(s, 'x.dcm', Buffer.from('x'));
    await settledSpares(s);
    rmSync(stagingOf(s), { recursive: true });
    for (let i = 0; i < 12; i++) await put(s, `after/${i}.dcm`, Buffer.from(String(i)));
    for (let i = 0; i < 12; i++) assert.equal(readFileSync(s.absolutePath(`after/${i}.dcm`), 'utf8'), String(i));
    assert.deepEqual(await leftovers(s), []);
    // Not inside a directory other than the one it was made in (a share unmounted: an empty mount point).
    const t = newStore();
    await settledSpares(t);
    const root = t.root;
    renameSync(root, `${root}-moved`); // kept, so that the new folder cannot reuse its inode
    mkdirSync(root);
    assert.equal(t.restoreStaging(), false);
    await assert.rejects(put(t, 'y.dcm', Buffer.from('y')), (e: unknown) => isPacsError(e, 'STORAGE_FAILURE'));
    assert.equal(existsSync(stagingOf(t)), false);
  });

  test('a staging directory on another filesystem than the archive is refused at the start, naming storage.temp_dir', { skip: !existsSync('/dev/shm') || statSync('/dev/shm').dev === statSync(tmp).dev ? 'no second filesystem at /dev/shm' : false }, () => {
    const elsewhere = mkdtempSync('/dev/shm/pacs-staging-');
    try {
      assert.throws(() => new FsObjectStore(path.join(tmp, `xdev${++n}`), { fsync: false, stagingDir: elsewhere }), (e: unknown) => isPacsError(e, 'CONFIG_INVALID') && /storage\.temp_dir/.test((e as Error).message));
      assert.deepEqual(readdirSync(elsewhere), [], 'the probe file removed');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
    // On the archive's filesystem elsewhere: fine, and the probe leaves nothing.
    const beside = mkdtempSync(path.join(tmp, 'staging-'));
    const s = newStore(false, beside);
    assert.deepEqual(readdirSync(s.root).filter((f) => f.startsWith('.link-probe')), []);
  });

  test('spool: a temporary copy in the staging directory, read back whole, removed; a crash\'s copy goes at the next start', async () => {
    const s = newStore();
    await put(s, 'x.dcm', Buffer.from('x')); // the spares made, as in a running server
    const data = randomBytes(300_000);
    const copy = await s.spool(data);
    assert.equal(copy.size, data.length);
    const [name, ...more] = await leftovers(s);
    assert.equal(more.length, 0);
    assert.ok(readFileSync(path.join(stagingOf(s), name!)).equals(data));
    const chunks: Buffer[] = [];
    for await (const c of copy.read()) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
    await copy.remove();
    await copy.remove(); // idempotent
    assert.deepEqual(await leftovers(s), []);
    await s.spool(Buffer.from('left by a crash'));
    s.close(); // the spares go with the store; the copy stays
    const next = newStore(false, stagingOf(s)); // the next start, on the same staging directory
    assert.equal(await next.cleanupStaging(), 1);
  });

  test('list() gives every stored file, sorted, without the staging directory', async () => {
    const s = newStore();
    await put(s, 'b/2.dcm', Buffer.from('2'));
    await put(s, 'a/1.dcm', Buffer.from('1'));
    await put(s, 'top.dcm', Buffer.from('t'));
    await settledSpares(s);
    const listed: string[] = [];
    for await (const p of s.list()) listed.push(p);
    assert.deepEqual(listed, ['a/1.dcm', 'b/2.dcm', 'top.dcm']);
  });

  test('a staging directory of its own (same filesystem) works', async () => {
    const staging = path.join(tmp, `staging${++n}`);
    const s = newStore(true, staging);
    await put(s, 'a.dcm', Buffer.from('a'));
    assert.equal(readFileSync(s.absolutePath('a.dcm'), 'utf8'), 'a');
    const spares = await settledSpares(s);
    assert.deepEqual(new Set(readdirSync(staging)), spares);
    const listed: string[] = [];
    for await (const p of s.list()) listed.push(p);
    assert.deepEqual(listed, ['a.dcm']);
  });
});

describe('paths and reads', () => {
  test('absolutePath refuses to leave the store', () => {
    const s = newStore();
    assert.equal(s.absolutePath('a/b.dcm'), path.join(s.root, 'a', 'b.dcm'));
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', '', '.', `../${path.basename(s.root)}x/y`])
      assert.throws(() => s.absolutePath(bad), (e: unknown) => isPacsError(e, 'STORAGE_FAILURE'), bad);
  });

  test('exists, readHead, read, remove', async () => {
    const s = newStore();
    const data = randomBytes(5000);
    await put(s, 'r.dcm', data);
    assert.equal(await s.exists('r.dcm'), true);
    assert.equal(await s.exists('nope.dcm'), false);
    assert.ok((await s.readHead('r.dcm', 100)).equals(data.subarray(0, 100)));
    assert.ok((await s.readHead('r.dcm', 10_000)).equals(data));
    const chunks: Buffer[] = [];
    for await (const c of s.read('r.dcm', { start: 10, end: 19 })) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data.subarray(10, 20)));
    await s.remove('r.dcm');
    assert.equal(await s.exists('r.dcm'), false);
    await s.remove('r.dcm');
    assert.ok((await s.freeBytes()) > 0);
  });
});

describe('backpressure', () => {
  test('more than 2 MB without waiting: write() says stop, onDrain fires later', async () => {
    const s = newStore();
    const data = randomBytes(4 * 1024 * 1024);
    const o = s.stage();
    let firstFalse = -1;
    const chunk = 64 * 1024;
    for (let at = 0; at < data.length; at += chunk) {
      if (!o.write(data.subarray(at, at + chunk)) && firstFalse < 0) firstFalse = at + chunk;
    }
    assert.ok(firstFalse > 0, 'write() returned false at some point');
    assert.ok(firstFalse >= 2 * 1024 * 1024, `not before 2 MB were queued (${firstFalse})`);
    let drained = false;
    const drain = new Promise<void>((r) =>
      o.onDrain(() => {
        drained = true;
        r();
      }),
    );
    assert.equal(drained, false, 'not called at once while over the mark');
    await drain;
    assert.equal(drained, true);
    // Below the mark now: onDrain answers at once.
    let immediate = false;
    o.onDrain(() => (immediate = true));
    assert.equal(immediate, true);
    const r = await o.finish();
    assert.equal(r.size, data.length);
    assert.equal(r.checksum, sha256(data));
    await o.commit('big.dcm', 'exclusive');
    assert.ok(readFileSync(s.absolutePath('big.dcm')).equals(data));
  });
});

describe('syncDir', () => {
  test('concurrent calls all resolve and leave no bookkeeping', async () => {
    const s = newStore(true);
    const dir = path.join(s.root, 'd');
    mkdirSync(dir);
    const calls = Array.from({ length: 20 }, () => s.syncDir(dir));
    calls.push(s.syncDir(s.root));
    await Promise.all(calls);
    // Calls arriving while one runs share the next one.
    const a = s.syncDir(dir);
    const b = s.syncDir(dir);
    const c = s.syncDir(dir);
    assert.equal(b, c, 'calls queued behind a running sync share one');
    await Promise.all([a, b, c]);
    assert.equal((s as unknown as { dirSyncs: Map<string, unknown> }).dirSyncs.size, 0);
  });

  test('a folder made by one store is durable in its parents before another store into it goes on; a failed parent sync is done again', async () => {
    const s = newStore(true);
    const sync = s.syncDir.bind(s);
    const synced: string[] = [];
    let holdRoot: Promise<void> | null = null;
    let release!: () => void;
    let failNext = false;
    s.syncDir = async (dir: string) => {
      synced.push(path.relative(s.root, dir) || '.');
      if (failNext) {
        failNext = false;
        throw new Error('EIO: i/o error, fsync');
      }
      if (dir === s.root && holdRoot) await holdRoot;
      return sync(dir);
    };
    // A makes study/s1 and syncs its parents, the root's sync held; B into study/s2 must wait for the root too.
    holdRoot = new Promise((r) => (release = r));
    const a = s.ensureDir(path.join(s.root, 'study', 's1'));
    await new Promise((r) => setTimeout(r, 20));
    let bDone = false;
    const b = s.ensureDir(path.join(s.root, 'study', 's2')).then(() => (bDone = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bDone, false, "B waits for the root's sync, which makes 'study' durable");
    release();
    holdRoot = null;
    await Promise.all([a, b]);
    // A parent sync failing: the folder is not taken as known; the next store syncs its parents again.
    synced.length = 0;
    failNext = true;
    await assert.rejects(s.ensureDir(path.join(s.root, 'other', 'x')), /EIO/);
    await s.ensureDir(path.join(s.root, 'other', 'x'));
    assert.deepEqual(synced, ['other', 'other', '.'], 'the failed sync of other/ done again, then the root');
  });

  test('many concurrent commits into one directory with fsync on', async () => {
    const s = newStore(true);
    await Promise.all(Array.from({ length: 30 }, (_, i) => put(s, `same/${i}.dcm`, Buffer.from(String(i)))));
    assert.equal(readdirSync(path.join(s.root, 'same')).length, 30);
    assert.deepEqual(await leftovers(s), []);
  });
});
