// A delete moves the file aside before the row goes (src/storage/tombstones.ts): never a file
// without a row at an instance's path, for a reindex to bring back or a new instance of the same
// templated name to be placed over and then lose.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, renameSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../../src/core/logging.js';
import { UncertainCommit } from '../../../src/index/errors.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import { deleteInstances } from '../../../src/services/delete.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import { addStudy, retentionArchive, sendSample, type RetentionArchive } from './retention-harness.js';

const del = (a: RetentionArchive, locs: InstanceLocation[]) =>
  deleteInstances({ index: a.index, objects: a.objects, derived: [], logger: createLogger({ level: 'silent' }), exclusive: (uid, fn) => a.store.exclusive(uid, fn) }, locs);

async function listed(a: { objects: FsObjectStore }): Promise<string[]> {
  const out: string[] = [];
  for await (const p of a.objects.list()) out.push(p);
  return out;
}

test('a row delete whose commit is uncertain but took effect leaves no file for a reindex to bring back', async () => {
  const a = await retentionArchive();
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: new Date() });
  const loc = (await a.index.findInstance('9.1.1'))!;
  const original = a.index.deleteInstance.bind(a.index);
  a.index.deleteInstance = async (uid) => {
    await original(uid);
    throw new UncertainCommit('the connection failed during COMMIT', null);
  };
  await assert.rejects(del(a, [loc]), UncertainCommit);
  assert.equal(await a.index.findInstance('9.1.1'), null);
  assert.deepEqual(await listed(a), [], 'no file without a row where verify --repair or reindex would find it');
  assert.deepEqual(readdirSync(path.join(a.objects.root, '.deleting')), [], 'and none set aside either');
  await a.close();
});

test('a row delete that fails puts the file back', async () => {
  const a = await retentionArchive();
  await addStudy(a, '9.1', { instances: 1, size: 100, receivedAt: new Date() });
  const loc = (await a.index.findInstance('9.1.1'))!;
  a.index.deleteInstance = () => Promise.reject(new Error('index down'));
  await assert.rejects(del(a, [loc]), /index down/);
  assert.ok(existsSync(a.objects.absolutePath(loc.path)));
  await a.close();
});

test('custom naming: a new instance given the name of a file being deleted keeps its file', async () => {
  const a = await retentionArchive({}, '{PatientID}/x.dcm');
  const first = await sendSample(a, 'pydicom-dicomdir__77654033_CT2_17106.dcm');
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(a.objects.absolutePath(first.path), old, old); // long written: no store in flight
  let second: { sopInstanceUID: string; path: string } | null = null;
  const original = a.index.deleteInstance.bind(a.index);
  a.index.deleteInstance = async (uid) => {
    const r = await original(uid);
    // Between the row's delete and the end of the delete: the same patient's next instance, same name.
    second = await sendSample(a, 'pydicom-dicomdir__77654033_CT2_17136.dcm');
    return r;
  };
  await del(a, [(await a.index.findInstance(first.sopInstanceUID))!]);
  const row = await a.index.findInstance(second!.sopInstanceUID);
  assert.ok(row);
  assert.ok(existsSync(a.objects.absolutePath(row.path)), `the new instance's file at ${row.path} is there`);
  await a.close();
});

test('custom naming: a new instance does not take the name of a file set aside by a delete that is then undone', async () => {
  const a = await retentionArchive({}, '{PatientID}/x.dcm');
  const first = await sendSample(a, 'pydicom-dicomdir__77654033_CT2_17106.dcm');
  const old = new Date(Date.now() - 3_600_000);
  utimesSync(a.objects.absolutePath(first.path), old, old);
  let second: { sopInstanceUID: string; path: string } | null = null;
  // The file is set aside; before the row goes, the same patient's next instance arrives, and
  // the row's delete fails: the file must go back to its name, and its row still name it.
  a.index.deleteInstance = async () => {
    second = await sendSample(a, 'pydicom-dicomdir__77654033_CT2_17136.dcm');
    throw new Error('index down');
  };
  await assert.rejects(del(a, [(await a.index.findInstance(first.sopInstanceUID))!]), /index down/);
  assert.notEqual(second!.path, first.path, 'the new instance took another name');
  const kept = (await a.index.findInstance(first.sopInstanceUID))!;
  assert.equal(kept.path, first.path);
  assert.ok(existsSync(a.objects.absolutePath(first.path)), 'the first file is back at its name');
  const { readPart10Header } = await import('../../../src/dicom/part10.js');
  assert.equal((await readPart10Header(a.objects.absolutePath(first.path))).sopInstanceUID, first.sopInstanceUID, "its row names its own bytes, not the new instance's");
  await a.close();
});

/** An archive with two files set aside by deletes: one whose row is still there (1.1), one whose row went (1.2). */
async function twoSetAside(): Promise<{ a: Awaited<ReturnType<typeof retentionArchive>>; rows: Record<string, { path: string; size: number }> }> {
  const a = await retentionArchive();
  for (const [rel, body] of [['p/keep.dcm', 'kept'], ['p/gone.dcm', 'gone']] as const) {
    mkdirSync(path.dirname(a.objects.absolutePath(rel)), { recursive: true });
    writeFileSync(a.objects.absolutePath(rel), body);
  }
  assert.ok(await a.objects.entomb('p/keep.dcm', '1.1'));
  assert.ok(await a.objects.entomb('p/gone.dcm', '1.2'));
  return { a, rows: { '1.1': { path: 'p/keep.dcm', size: 4 } } };
}

test('start-up sweep: a file set aside by a process that is gone goes back if its row is there, else it is unlinked', async () => {
  const { a, rows } = await twoSetAside();
  // Another live store on the volume (this process's other one) leaves them alone.
  const other = new FsObjectStore(a.objects.root, { fsync: false });
  assert.deepEqual(await other.sweepTombstones(async (uid) => rows[uid] ?? null), { restored: 0, removed: 0 });
  a.objects.close(); // the deleting store is gone
  assert.deepEqual(await other.sweepTombstones(async (uid) => rows[uid] ?? null), { restored: 1, removed: 1 });
  assert.ok(existsSync(other.absolutePath('p/keep.dcm')));
  assert.ok(!existsSync(other.absolutePath('p/gone.dcm')));
  assert.deepEqual(readdirSync(path.join(other.root, '.deleting')), []);
  assert.deepEqual(await listed({ objects: other }), ['p/keep.dcm'], '.deleting is never listed');
  other.close();
  await a.close();
});

test('a maintenance sweep (every server stopped) settles every tombstone, another host\'s or a live process\'s too', async () => {
  const { a, rows } = await twoSetAside();
  // As if another host (a container recreated under a new name) had set them aside.
  const dir = path.join(a.objects.root, '.deleting');
  for (const name of readdirSync(dir)) renameSync(path.join(dir, name), path.join(dir, name.replace(/^[^-]+-/, 'otherhost-')));
  assert.deepEqual(await a.objects.sweepTombstones(async (uid) => rows[uid] ?? null), { restored: 0, removed: 0 }, 'a server start leaves another host\'s for a day');
  assert.deepEqual(await a.objects.sweepTombstones(async (uid) => rows[uid] ?? null, { everyone: true }), { restored: 1, removed: 1 });
  assert.ok(existsSync(a.objects.absolutePath('p/keep.dcm')), 'its delete never committed: back in place');
  assert.deepEqual(readdirSync(dir), []);
  await a.close();
});
