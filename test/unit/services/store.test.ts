// The store pipeline with a real SQLite index and a real filesystem store: every outcome leaves
// either a file and its row, or neither; events only after the commit.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs, { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { PacsError, isPacsError, type ErrorCode } from '../../../src/core/errors.js';
import { EventBus, type PacsEvents } from '../../../src/core/events.js';
import { HookList } from '../../../src/core/hooks.js';
import { createLogger } from '../../../src/core/logging.js';
import { elementText } from '../../../src/dicom/charset.js';
import { encodeFileMetaInformation, parsePart10Prefix, readPart10Header } from '../../../src/dicom/part10.js';
import { Tag } from '../../../src/dicom/tags.js';
import { UncertainCommit } from '../../../src/index/errors.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { InstanceRecord, Provenance } from '../../../src/index/types.js';
import { deleteInstances } from '../../../src/services/delete.js';
import { importFile, indexExistingFile } from '../../../src/services/import.js';
import { StoreService, type IngestRequest, type StoreResult, type StoreSettings } from '../../../src/services/store.js';
import { FsObjectStore } from '../../../src/storage/fs-store.js';
import { SAMPLES } from '../../helpers/dcmtk.js';

const sample = (f: string): string => path.join(SAMPLES, f);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

const MR_UID = '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457';
const MR_SMALL = 'pydicom__MR_small.dcm';
const MR_IMPLICIT = 'pydicom__MR_small_implicit.dcm'; // same SOP Instance UID, other bytes
const CT_SMALL = 'pydicom__CT_small.dcm';
const CT2_A = 'pydicom-dicomdir__77654033_CT2_17106.dcm'; // same patient, two instances
const CT2_B = 'pydicom-dicomdir__77654033_CT2_17136.dcm';
const PROVENANCE: Provenance = { callingAE: 'MODALITY', calledAE: 'PACS', remoteAddress: '127.0.0.1', source: 'dimse' };

const tmp = mkdtempSync(path.join(tmpdir(), 'pacs-store-svc-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Archive {
  svc: StoreService;
  index: SqliteIndex;
  objects: FsObjectStore;
  events: EventBus;
  hooks: HookList<{ record: InstanceRecord }>;
  settings: StoreSettings;
  stored: PacsEvents['instance.stored'][];
  /** Paths announced by 'instance.stored' whose file was not on disk at that moment. */
  missingAtEvent: string[];
  stagedCount: () => number;
}

const open: Archive[] = [];
afterEach(async () => {
  for (const a of open.splice(0)) {
    a.objects.close();
    await a.index.close();
  }
});

let n = 0;
async function archive(overrides: Partial<StoreSettings> = {}): Promise<Archive> {
  const dir = path.join(tmp, `a${++n}`);
  mkdirSync(dir);
  const index = SqliteIndex.open({ path: path.join(dir, 'index.db'), walMode: true });
  await index.migrate();
  const objects = new FsObjectStore(path.join(dir, 'files'), { fsync: false });
  let staged = 0;
  const stage = objects.stage.bind(objects);
  objects.stage = () => (staged++, stage());
  const events = new EventBus();
  const hooks = new HookList<{ record: InstanceRecord }>();
  const settings: StoreSettings = {
    naming: 'hierarchical',
    duplicatePolicy: 'reject',
    minFreeBytes: 0,
    implementationClassUID: '1.2.3.999',
    implementationVersionName: 'TEST_1',
    ...overrides,
  };
  const svc = new StoreService({ index, store: objects, events, hooks, logger: createLogger({ level: 'silent' }), settings: () => settings });
  await svc.refreshFreeSpace(true);
  const stored: PacsEvents['instance.stored'][] = [];
  const missingAtEvent: string[] = [];
  events.on('instance.stored', (e) => {
    // Announced only once the file is in place (and so its row, written just before).
    if (!existsSync(objects.absolutePath(e.record.file.path))) missingAtEvent.push(e.record.file.path);
    stored.push(e);
  });
  const a: Archive = { svc, index, objects, events, hooks, settings, stored, missingAtEvent, stagedCount: () => staged };
  open.push(a);
  return a;
}

interface Sample {
  request: IngestRequest;
  dataset: Buffer;
}

/** The dataset bytes of a sample file and the UIDs a C-STORE of it would carry. */
async function load(file: string): Promise<Sample> {
  const bytes = readFileSync(sample(file));
  const prefix = parsePart10Prefix(bytes, true)!;
  const head = await readPart10Header(sample(file));
  return {
    dataset: bytes.subarray(prefix.datasetOffset),
    request: { sopClassUID: head.sopClassUID ?? '1.2.3', sopInstanceUID: head.sopInstanceUID ?? '1.2.3.4', transferSyntaxUID: prefix.transferSyntaxUID, provenance: PROVENANCE },
  };
}

/** Sends a dataset through begin/write/end in PDV-sized pieces, honouring backpressure. */
async function send(a: Archive, s: Sample, request: Partial<IngestRequest> = {}): Promise<StoreResult> {
  const session = a.svc.begin({ ...s.request, ...request });
  for (let at = 0; at < s.dataset.length; at += 16_372) {
    if (!session.write(s.dataset.subarray(at, at + 16_372))) await new Promise<void>((r) => session.onDrain(r));
  }
  assert.equal(session.bytesReceived, s.dataset.length);
  return session.end();
}

const failsWith = (code: ErrorCode) => (e: unknown) => {
  assert.ok(isPacsError(e, code), `expected ${code}, got ${String(e)}`);
  return true;
};

async function files(a: Archive): Promise<string[]> {
  const out: string[] = [];
  for await (const p of a.objects.list()) out.push(p);
  return out;
}

/** Nothing in the staging directory but the store's spare temporary files. */
async function assertNoLeftovers(a: Archive): Promise<void> {
  const staging = path.join(a.objects.root, '.incoming');
  const deadline = Date.now() + 2000;
  const extra = (): string[] => {
    const spares = new Set(a.objects.spareFiles().map((p) => path.basename(p)));
    return readdirSync(staging).filter((f) => !spares.has(f));
  };
  while (extra().length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(extra(), []);
}

/** The index and the disk agree: one file per row, with the row's checksum and size. */
async function assertConsistent(a: Archive, expectedInstances: number): Promise<void> {
  const rows = await a.index.listInstances(null, 1000);
  assert.equal(rows.length, expectedInstances);
  assert.deepEqual((await files(a)).sort(), rows.map((r) => r.path).sort(), 'one file per row, no orphan');
  for (const r of rows) {
    const bytes = readFileSync(a.objects.absolutePath(r.path));
    assert.equal(sha256(bytes), r.checksum, `${r.path}: the checksum of the file on disk`);
    assert.equal(bytes.length, r.size);
  }
  assert.deepEqual(a.missingAtEvent, [], 'every announced file was on disk when announced');
  await assertNoLeftovers(a);
}

describe('a new instance', () => {
  test('is stored as our File Meta + exactly the dataset bytes, indexed, announced once', async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    const r = await send(a, s);
    assert.equal(r.kind, 'stored');
    assert.equal(r.sopInstanceUID, s.request.sopInstanceUID);
    const expected = Buffer.concat([
      encodeFileMetaInformation({
        mediaStorageSOPClassUID: s.request.sopClassUID,
        mediaStorageSOPInstanceUID: s.request.sopInstanceUID,
        transferSyntaxUID: s.request.transferSyntaxUID,
        implementationClassUID: '1.2.3.999',
        implementationVersionName: 'TEST_1',
      }),
      s.dataset,
    ]);
    const onDisk = readFileSync(a.objects.absolutePath(r.path));
    assert.ok(onDisk.equals(expected), 'file = meta + dataset');
    assert.equal(r.size, expected.length);
    assert.equal(r.path, '1CT1/1.3.6.1.4.1.5962.1.2.1.20040119072730.12322/1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322/1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322.dcm');
    const row = (await a.index.findInstance(s.request.sopInstanceUID))!;
    assert.equal(row.path, r.path);
    assert.equal(row.checksum, sha256(expected));
    assert.equal(row.transferSyntaxUID, s.request.transferSyntaxUID);
    assert.equal(a.stored.length, 1);
    assert.equal(a.stored[0]!.record.instance.SOPInstanceUID, s.request.sopInstanceUID);
    assert.equal(a.stored[0]!.outcome, 'inserted');
    await assertConsistent(a, 1);
  });

  test('a throwing event listener does not fail the store', async () => {
    const a = await archive();
    const errors: unknown[] = [];
    a.events.onError = (e) => void errors.push(e);
    a.events.on('instance.stored', () => {
      throw new Error('listener bug');
    });
    assert.equal((await send(a, await load(CT_SMALL))).kind, 'stored');
    assert.equal(errors.length, 1);
    await assertConsistent(a, 1);
  });
});

describe('an index write whose log could not be synced', () => {
  /** The next storeInstance commits, then reports that its log could not be made durable. */
  function failNextSync(a: Archive): void {
    const real = a.index.storeInstance.bind(a.index);
    a.index.storeInstance = async (record, mode) => {
      a.index.storeInstance = real;
      await real(record, mode);
      throw new UncertainCommit('index: committed, but its log could not be synced: EIO', new Error('EIO'));
    };
  }

  test('a new instance: a failure answer, but the file stays with its row; the resend is identical', async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    failNextSync(a);
    await assert.rejects(send(a, s), failsWith('INDEX_FAILURE'));
    await assertConsistent(a, 1); // never a row without its file
    assert.equal(a.stored.length, 0, 'not announced: the store was not acknowledged');
    assert.equal((await send(a, s)).kind, 'identical');
  });

  test('an overwrite: both files stay, whichever the row names', async () => {
    const a = await archive({ duplicatePolicy: 'overwrite' });
    const first = await send(a, await load(MR_SMALL));
    const other = await load(MR_IMPLICIT);
    failNextSync(a);
    await assert.rejects(send(a, other), failsWith('INDEX_FAILURE'));
    const row = (await a.index.findInstance(MR_UID))!;
    assert.equal(row.transferSyntaxUID, '1.2.840.10008.1.2');
    assert.equal(sha256(readFileSync(a.objects.absolutePath(row.path))), row.checksum, 'the row names a whole file');
    assert.ok(existsSync(a.objects.absolutePath(first.path)), 'the old file stays too: the row might not have moved');
    assert.equal((await send(a, other)).kind, 'identical');
  });
});

describe('refused instances leave nothing', () => {
  test('SOP Instance UID of the command differs from the dataset: UID_MISMATCH', async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    await assert.rejects(send(a, s, { sopInstanceUID: '1.2.3.4.5' }), failsWith('UID_MISMATCH'));
    await assert.rejects(send(a, s, { sopClassUID: '1.2.840.10008.5.1.4.1.1.4' }), failsWith('UID_MISMATCH'));
    assert.equal(a.stored.length, 0);
    await assertConsistent(a, 0);
  });

  test('a dataset without SOP UIDs: DICOM_MISSING_UID', async () => {
    const a = await archive();
    await assert.rejects(send(a, await load('pydicom__priv_SQ.dcm')), failsWith('DICOM_MISSING_UID'));
    await assertConsistent(a, 0);
  });

  test('a truncated dataset: DICOM_PARSE', async () => {
    const a = await archive();
    await assert.rejects(send(a, await load('pydicom__MR_truncated.dcm')), failsWith('DICOM_PARSE'));
    await assertConsistent(a, 0);
  });

  test('an unknown transfer syntax: DICOM_PARSE without staging anything', async () => {
    const a = await archive();
    await assert.rejects(send(a, await load(CT_SMALL), { transferSyntaxUID: '1.2.3.4.5.6' }), failsWith('DICOM_PARSE'));
    assert.equal(a.stagedCount(), 0);
    await assertConsistent(a, 0);
  });

  test('abort() mid-way keeps nothing; end() afterwards is ABORTED', async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    const session = a.svc.begin(s.request);
    session.write(s.dataset.subarray(0, 20_000));
    await session.abort();
    await assert.rejects(session.end(), failsWith('ABORTED'));
    assert.equal(a.stored.length, 0);
    await assertConsistent(a, 0);
    // And the instance can be sent again afterwards.
    assert.equal((await send(a, s)).kind, 'stored');
    await assertConsistent(a, 1);
  });

  test('a before-store hook that throws REJECTED_BY_HOOK', async () => {
    const a = await archive();
    const seen: string[] = [];
    a.hooks.add('no-ct', ({ record }) => {
      seen.push(record.series.Modality ?? '');
      if (record.series.Modality === 'CT') throw new PacsError('REJECTED_BY_HOOK', 'no CT here');
    });
    await assert.rejects(send(a, await load(CT_SMALL)), failsWith('REJECTED_BY_HOOK'));
    assert.equal(a.stored.length, 0);
    await assertConsistent(a, 0);
    assert.equal((await send(a, await load(MR_SMALL))).kind, 'stored', 'the hook lets others through');
    assert.deepEqual(seen, ['CT', 'MR']);
    await assertConsistent(a, 1);
  });

  test('below the free-space minimum: OUT_OF_RESOURCES before any byte is written', async () => {
    const a = await archive({ minFreeBytes: Number.MAX_SAFE_INTEGER });
    await a.svc.refreshFreeSpace(true);
    await assert.rejects(send(a, await load(CT_SMALL)), failsWith('OUT_OF_RESOURCES'));
    assert.equal(a.stagedCount(), 0, 'no temporary file was even started');
    await assertConsistent(a, 0);
    a.settings.minFreeBytes = 1; // a reload lowering the minimum applies at once
    assert.equal((await send(a, await load(CT_SMALL))).kind, 'stored');
  });
});

test('sessions at once count each other\'s bytes against the free-space minimum: together they stop where it is, not 16 MB each past it', async () => {
  const a = await archive({ minFreeBytes: 10 * 1048576 });
  // A volume with 1.5 MB above the minimum, whose free space falls with every byte staged.
  let written = 0;
  const stage = a.objects.stage.bind(a.objects);
  a.objects.stage = () => {
    const staged = stage();
    const write = staged.write.bind(staged);
    staged.write = (chunk: Buffer) => ((written += chunk.length), write(chunk));
    return staged;
  };
  a.objects.freeBytes = async () => 11.5 * 1048576 - written;
  await a.svc.refreshFreeSpace(true);
  // Four datasets of 1 MB (CT_SMALL with trailing padding), their chunks interleaved as four associations send them.
  const ct = await load(CT_SMALL);
  const padding = Buffer.alloc(12 + 1048576 - ct.dataset.length);
  padding.writeUInt32LE(0xfffcfffc, 0);
  padding.write('OB', 4, 'latin1');
  padding.writeUInt32LE(padding.length - 12, 8);
  const dataset = Buffer.concat([ct.dataset, padding]);
  const sessions = [1, 2, 3, 4].map(() => a.svc.begin(ct.request));
  const chunk = 16_372;
  for (let at = 0; at < dataset.length; at += chunk) {
    for (const session of sessions) if (!session.write(dataset.subarray(at, at + chunk))) await new Promise<void>((r) => session.onDrain(r));
  }
  const outcomes = await Promise.allSettled(sessions.map((x) => x.end()));
  const refused = outcomes.filter((o) => o.status === 'rejected' && isPacsError(o.reason, 'OUT_OF_RESOURCES'));
  assert.ok(refused.length >= 2, `${refused.length} of 4 refused OUT_OF_RESOURCES`);
  // File Meta and chunks written before each session saw the figure fall below: one chunk each past 1.5 MB at most.
  assert.ok(written <= 1.5 * 1048576 + 4 * (chunk + 512), `${written} bytes staged`);
  await assertNoLeftovers(a);
});

test('while statfs fails the figure goes on counting what is kept (the guard stays on), and gives back what is discarded (no drift)', async () => {
  const a = await archive({ minFreeBytes: 1048576 });
  const free = 2 * 1048576;
  let failing = false;
  a.objects.freeBytes = async () => {
    if (failing) throw new Error('statfs: EIO');
    return free;
  };
  await a.svc.refreshFreeSpace(true);
  failing = true;
  const ct = await load(CT_SMALL);
  const mr = await load(MR_SMALL);
  assert.equal((await send(a, ct)).kind, 'stored');
  // Sent again and again (identical copies, discarded): each one's bytes given back.
  for (let i = 0; i < 60; i++) {
    assert.equal((await send(a, ct)).kind, 'identical');
    await a.svc.refreshFreeSpace(true);
  }
  // A minimum the next instance would pass by what was kept: refused, statfs or not.
  a.settings.minFreeBytes = free - ct.dataset.length - Math.floor(mr.dataset.length / 2);
  await assert.rejects(send(a, mr), failsWith('OUT_OF_RESOURCES'));
});

test('bytes of a discarded duplicate are measured back: the next store near the minimum is not refused for them', async () => {
  const a = await archive({ minFreeBytes: 1048576 });
  const ct = await load(CT_SMALL);
  const mr = await load(MR_SMALL);
  // Room above the minimum for two instances (the volume's figure, as a statfs would give it).
  const free = 1048576 + 2 * Math.max(ct.dataset.length, mr.dataset.length) + 8192;
  a.objects.freeBytes = async () => free;
  await a.svc.refreshFreeSpace(true);
  assert.equal((await send(a, ct)).kind, 'stored');
  // The same instance again, many times: each identical copy is staged, then discarded.
  for (let i = 0; i < 5; i++) assert.equal((await send(a, ct)).kind, 'identical');
  await new Promise((r) => setTimeout(r, 20)); // the measurement after the last discard
  assert.equal((await send(a, mr)).kind, 'stored');
});

describe('duplicates', () => {
  for (const policy of ['reject', 'ignore', 'overwrite'] as const) {
    test(`${policy}: the same bytes again are 'identical'; other content follows the policy`, async () => {
      const a = await archive({ duplicatePolicy: policy });
      const first = await load(MR_SMALL);
      const other = await load(MR_IMPLICIT);
      assert.equal(other.request.sopInstanceUID, MR_UID);
      const r1 = await send(a, first);
      assert.equal(r1.kind, 'stored');
      const original = (await a.index.findInstance(MR_UID))!;

      const again = await send(a, first);
      assert.equal(again.kind, 'identical');
      assert.equal(again.path, r1.path);
      assert.equal(a.stored.length, 1, 'no event for an identical copy');

      if (policy === 'reject') {
        await assert.rejects(send(a, other), failsWith('DUPLICATE_INSTANCE'));
        assert.equal((await a.index.findInstance(MR_UID))!.checksum, original.checksum);
      } else if (policy === 'ignore') {
        const r = await send(a, other);
        assert.equal(r.kind, 'ignored');
        assert.equal((await a.index.findInstance(MR_UID))!.checksum, original.checksum);
        assert.equal(a.stored.length, 1);
      } else {
        const r = await send(a, other);
        assert.equal(r.kind, 'replaced');
        const now = (await a.index.findInstance(MR_UID))!;
        assert.notEqual(now.checksum, original.checksum);
        assert.equal(now.transferSyntaxUID, '1.2.840.10008.1.2');
        assert.equal(now.path, r1.path.replace(/\.dcm$/, '~2.dcm'), 'written beside the old file, which is then removed');
        assert.equal(r.path, now.path);
        assert.equal(a.stored.length, 2);
        assert.equal(a.stored[1]!.outcome, 'replaced');
      }
      await assertConsistent(a, 1);
    });
  }

  test('overwrite when the previous file has gone missing: the new file stays', async () => {
    const a = await archive({ duplicatePolicy: 'overwrite' });
    const r1 = await send(a, await load(MR_SMALL));
    rmSync(a.objects.absolutePath(r1.path));
    const r2 = await send(a, await load(MR_IMPLICIT));
    assert.equal(r2.kind, 'replaced');
    assert.ok(existsSync(a.objects.absolutePath(r2.path)), 'the file just stored is on disk');
    await assertConsistent(a, 1);
  });

  test('two concurrent stores of one instance with different content under reject: exactly one is kept', async () => {
    const a = await archive({ duplicatePolicy: 'reject' });
    const [x, y] = [await load(MR_SMALL), await load(MR_IMPLICIT)];
    const results = await Promise.allSettled([send(a, x), send(a, y)]);
    const ok = results.filter((r) => r.status === 'fulfilled');
    const failed = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 1);
    assert.equal(ok[0]!.value.kind, 'stored');
    assert.equal(failed.length, 1);
    assert.ok(isPacsError(failed[0]!.reason, 'DUPLICATE_INSTANCE'));
    assert.equal(a.stored.length, 1);
    await assertConsistent(a, 1);
  });

  test("a store that found no row, then finds the instance's indexed file at its name (another process stored it meanwhile): that file is kept", async () => {
    const a = await archive({ duplicatePolicy: 'reject' });
    const [x, y] = [await load(MR_SMALL), await load(MR_IMPLICIT)];
    const first = await send(a, x);
    const kept = readFileSync(a.objects.absolutePath(first.path));
    // As `pacs import` beside the server on SQLite (no shared instance lock): this store looked
    // before the other's row was committed.
    const findInstance = a.index.findInstance.bind(a.index);
    let looked = false;
    a.index.findInstance = (uid) => (looked ? findInstance(uid) : ((looked = true), Promise.resolve(null)));
    await assert.rejects(send(a, y), failsWith('DUPLICATE_INSTANCE'));
    assert.ok(readFileSync(a.objects.absolutePath(first.path)).equals(kept), 'the acknowledged file, not replaced by the other bytes');
    await assertConsistent(a, 1);
  });

  test('two concurrent stores of the same bytes: one stored, one identical', async () => {
    const a = await archive();
    const x = await load(MR_SMALL);
    const kinds = (await Promise.all([send(a, x), send(a, x)])).map((r) => r.kind).sort();
    assert.deepEqual(kinds, ['identical', 'stored']);
    await assertConsistent(a, 1);
  });
});

describe('rows and files stay together', () => {
  test("the same bytes again when the row's file has gone: the file is put back, the answer is identical", async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    const first = await send(a, s);
    rmSync(a.objects.absolutePath(first.path));
    const again = await send(a, s);
    assert.equal(again.kind, 'identical');
    assert.equal(again.path, first.path);
    await assertConsistent(a, 1);
  });

  test('a delete and a resend of the same instance at once: either both row and file, or neither', async () => {
    const a = await archive();
    const s = await load(CT_SMALL);
    const exclusive = <T>(uid: string, fn: () => Promise<T>): Promise<T> => a.svc.exclusive(uid, fn);
    for (let round = 0; round < 20; round++) {
      await send(a, s).catch(() => undefined);
      const loc = (await a.index.findInstance(s.request.sopInstanceUID))!;
      await Promise.allSettled([
        deleteInstances({ index: a.index, objects: a.objects, derived: [], logger: createLogger({ level: 'silent' }), exclusive }, [loc]),
        send(a, s),
      ]);
      const row = await a.index.findInstance(s.request.sopInstanceUID);
      assert.equal(row !== null, existsSync(a.objects.absolutePath(loc.path)), `round ${round}: a row ${row ? 'with' : 'without'} its file`);
    }
    await assertNoLeftovers(a);
  });
});

describe('naming collisions', () => {
  test('another instance at the same templated path: the second gets ~2', async () => {
    const a = await archive({ naming: '{PatientID}/x.dcm' });
    const ra = await send(a, await load(CT2_A));
    const rb = await send(a, await load(CT2_B));
    assert.equal(ra.path, '77654033/x.dcm');
    assert.equal(rb.path, '77654033/x~2.dcm');
    await assertConsistent(a, 2);
  });

  test('concurrent stores into one templated path take distinct names', async () => {
    const a = await archive({ naming: '{PatientID}/x.dcm' });
    const paths = (await Promise.all([send(a, await load(CT2_A)), send(a, await load(CT2_B))])).map((r) => r.path).sort();
    assert.deepEqual(paths, ['77654033/x.dcm', '77654033/x~2.dcm']);
    await assertConsistent(a, 2);
  });

  test('an orphan file (no row, written minutes ago) at the path is taken over', async () => {
    const a = await archive({ naming: '{PatientID}/x.dcm' });
    mkdirSync(a.objects.absolutePath('77654033'), { recursive: true });
    copyFileSync(sample(CT_SMALL), a.objects.absolutePath('77654033/x.dcm'));
    const old = new Date(Date.now() - 120_000);
    utimesSync(a.objects.absolutePath('77654033/x.dcm'), old, old);
    const r = await send(a, await load(CT2_A));
    assert.equal(r.path, '77654033/x.dcm');
    await assertConsistent(a, 1);
  });

  test('a look-up failing after a name was found taken gives the name back: the next store takes over the orphan there, not ~2', async () => {
    const a = await archive({ naming: '{PatientID}/x.dcm' });
    mkdirSync(a.objects.absolutePath('77654033'), { recursive: true });
    copyFileSync(sample(CT_SMALL), a.objects.absolutePath('77654033/x.dcm'));
    const old = new Date(Date.now() - 120_000);
    utimesSync(a.objects.absolutePath('77654033/x.dcm'), old, old);
    const findInstanceByPath = a.index.findInstanceByPath.bind(a.index);
    let calls = 0;
    a.index.findInstanceByPath = async (p: string) => {
      // The first look-up (before placing) passes; the one after the name is found taken fails once.
      if (++calls === 2) throw new PacsError('INDEX_FAILURE', 'index: database is locked');
      return findInstanceByPath(p);
    };
    await assert.rejects(send(a, await load(CT2_A)), failsWith('INDEX_FAILURE'));
    const r = await send(a, await load(CT2_A));
    assert.equal(r.path, '77654033/x.dcm');
    await assertConsistent(a, 1);
  });

  test('the temporary name not removed after the file was linked into place: the store stands (the name is swept at the next start)', async (t) => {
    const a = await archive();
    const unlink = fs.unlinkSync;
    t.mock.method(fs, 'unlinkSync', (p: fs.PathLike) => {
      if (String(p).includes(`${path.sep}.incoming${path.sep}`)) throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' });
      return unlink(p);
    });
    const r = await send(a, await load(CT_SMALL));
    assert.equal(r.kind, 'stored');
    t.mock.restoreAll();
    const [row] = await a.index.listInstances(null, 10);
    assert.equal(row?.path, r.path);
    assert.equal(sha256(readFileSync(a.objects.absolutePath(r.path))), row.checksum);
  });

  test('a file without a row written moments ago (another process storing) is left alone: ~2', async () => {
    const a = await archive({ naming: '{PatientID}/x.dcm' });
    mkdirSync(a.objects.absolutePath('77654033'), { recursive: true });
    copyFileSync(sample(CT_SMALL), a.objects.absolutePath('77654033/x.dcm'));
    const r = await send(a, await load(CT2_A));
    assert.equal(r.path, '77654033/x~2.dcm');
    assert.ok(readFileSync(a.objects.absolutePath('77654033/x.dcm')).equals(readFileSync(sample(CT_SMALL))), "the other process's file is untouched");
  });

  test('overwrite of an instance that lives at ~2: its new file is kept', async () => {
    // MR_small and the nibabel file are both MR: '{Modality}/x.dcm' puts them on one name.
    const a = await archive({ naming: '{Modality}/x.dcm', duplicatePolicy: 'overwrite' });
    assert.equal((await send(a, await load('nibabel__csa_slice_norm.dcm'))).path, 'MR/x.dcm');
    assert.equal((await send(a, await load(MR_SMALL))).path, 'MR/x~2.dcm');
    const r = await send(a, await load(MR_IMPLICIT));
    assert.equal(r.kind, 'replaced');
    const row = (await a.index.findInstance(MR_UID))!;
    assert.equal(row.transferSyntaxUID, '1.2.840.10008.1.2');
    assert.equal(row.path, r.path);
    await assertConsistent(a, 2);
  });
});

describe('importFile', () => {
  test('a file without File Meta is stored with ours', async () => {
    const a = await archive();
    const f = sample('pydicom__ExplVR_LitEndNoMeta.dcm');
    const r = await importFile(a.svc, f, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
    assert.equal(r.kind, 'stored');
    assert.equal(r.sopInstanceUID, '1.2.333.4444.5.6.7.8');
    const stored = a.objects.absolutePath(r.path);
    const head = await readPart10Header(stored);
    assert.equal(head.hasMeta, true);
    assert.equal(head.transferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.equal(head.sopInstanceUID, '1.2.333.4444.5.6.7.8');
    assert.equal(head.sopClassUID, '1.2.840.10008.5.1.4.1.1.481.8');
    assert.ok(readFileSync(stored).subarray(head.datasetOffset).equals(readFileSync(f)), 'the whole file is the dataset');
    assert.equal(a.stored[0]!.record.provenance.source, 'import');
    await assertConsistent(a, 1);
  });

  test("a file whose meta says 1.2.3.4 is filed under the dataset's UID", async () => {
    const a = await archive();
    const f = sample('nibabel__csa_slice_norm.dcm');
    const uid = '1.3.12.2.1107.5.2.32.35078.2011122313265359230406172';
    const r = await importFile(a.svc, f, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
    assert.equal(r.sopInstanceUID, uid);
    assert.ok(await a.index.findInstance(uid));
    assert.equal(await a.index.findInstance('1.2.3.4'), null);
    const head = await readPart10Header(a.objects.absolutePath(r.path));
    assert.equal(elementText(head.meta.get(Tag.MediaStorageSOPInstanceUID), null), uid, 'our meta carries the real UID');
    const original = readFileSync(f);
    const prefix = parsePart10Prefix(original, true)!;
    assert.ok(readFileSync(a.objects.absolutePath(r.path)).subarray(head.datasetOffset).equals(original.subarray(prefix.datasetOffset)));
    await assertConsistent(a, 1);
  });

  test('not DICOM at all: DICOM_PARSE, nothing stored', async () => {
    const a = await archive();
    await assert.rejects(importFile(a.svc, sample('pydicom__zipMR.gz'), PROVENANCE), failsWith('DICOM_PARSE'));
    await assertConsistent(a, 0);
  });
});

describe('indexExistingFile', () => {
  test('indexes a file where it is; again is a replace', async () => {
    const a = await archive();
    mkdirSync(a.objects.absolutePath('old/layout'), { recursive: true });
    const rel = 'old/layout/ct.dcm';
    copyFileSync(sample(CT_SMALL), a.objects.absolutePath(rel));
    const bytes = readFileSync(sample(CT_SMALL));
    const r = await indexExistingFile(a.svc, rel);
    assert.deepEqual(r, {
      kind: 'stored',
      sopInstanceUID: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322',
      studyInstanceUID: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322',
      seriesInstanceUID: '1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322',
      path: rel,
      size: bytes.length,
    });
    const row = (await a.index.findInstance(r.sopInstanceUID))!;
    assert.equal(row.path, rel);
    assert.equal(row.checksum, sha256(bytes));
    assert.equal(a.stored.length, 1);
    assert.equal(a.stored[0]!.record.provenance.source, 'reindex');
    assert.equal((await indexExistingFile(a.svc, rel)).kind, 'replaced');
    assert.ok(readFileSync(a.objects.absolutePath(rel)).equals(bytes), 'the file is not touched');
    await assertConsistent(a, 1);
  });

  test('a path outside the store is refused', async () => {
    const a = await archive();
    await assert.rejects(indexExistingFile(a.svc, '../x.dcm'), failsWith('STORAGE_FAILURE'));
  });
});
