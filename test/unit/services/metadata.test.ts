// The metadata service's memory of recent entries: hits skip the disk cache, a replaced instance
// (another checksum) is made again, and the memory stays under its byte budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MetadataService } from '../../../src/services/metadata.js';
import type { MetadataCache } from '../../../src/storage/metadata-cache.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import { SAMPLES, run } from '../../helpers/dcmtk.js';

const FILE = path.join(SAMPLES, 'pydicom__CT_small.dcm');

function setup(memoryBytes?: number) {
  const counts = { cacheGets: 0, fileReads: 0 };
  const entries = new Map<string, string>();
  const cache: MetadataCache = {
    get: async (uid) => (counts.cacheGets++, entries.get(uid) ?? null),
    getMany: async (uids) => (counts.cacheGets++, new Map(uids.flatMap((u) => (entries.has(u) ? [[u, entries.get(u)!] as const] : [])))),
    put: async (uid, text) => void entries.set(uid, text),
    remove: async (uid) => void entries.delete(uid),
  };
  const read = async (): Promise<Buffer> => (counts.fileReads++, fs.readFileSync(FILE));
  const store = { readAll: read, readHead: read } as unknown as ObjectStore;
  const service = new MetadataService(store, cache, memoryBytes);
  const loc = (uid: string, checksum = 'a'): InstanceLocation => ({
    SOPInstanceUID: uid, SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SeriesInstanceUID: '1', StudyInstanceUID: '1', PatientID: 'P',
    path: 'x.dcm', size: fs.statSync(FILE).size, transferSyntaxUID: '1.2.840.10008.1.2.1', checksum, receivedAt: new Date(),
  });
  return { service, counts, entries, loc };
}

test('a recent entry is answered from memory, the same as the first answer', async () => {
  const { service, counts, loc } = setup();
  const first = await service.get(loc('1.1'));
  assert.match(first.text, /"00100020"/);
  assert.deepEqual(counts, { cacheGets: 1, fileReads: 1 });
  const again = await service.get(loc('1.1'));
  assert.equal(again.text, first.text);
  assert.deepEqual(counts, { cacheGets: 1, fileReads: 1 }, 'neither the disk cache nor the file read again');
});

test('a replaced instance (another checksum) is made again', async () => {
  const { service, counts, loc } = setup();
  await service.get(loc('1.1', 'a'));
  await service.get(loc('1.1', 'b'));
  assert.equal(counts.fileReads, 2);
});

test('an entry made by an older version (no format, or another) is made again, then kept', async () => {
  const { service, counts, entries, loc } = setup();
  entries.set('1.9', `${JSON.stringify({ checksum: 'a', transferSyntaxUID: '1.2.840.10008.1.2.1', datasetOffset: 0, bulk: [] })}\n{}`);
  const made = await service.get(loc('1.9'));
  assert.equal(counts.fileReads, 1, 'made from the file');
  assert.ok(made.text.length > 2);
  assert.match(entries.get('1.9')!, /"format":2/);
  await service.prepare(loc('1.9'));
  assert.equal(counts.fileReads, 1, 'the new entry stands');
});

test('memory keeps to its budget: the least recently used entries go, the disk cache still has them', async () => {
  const { service, counts, entries, loc } = setup(1);
  await service.get(loc('1.1'));
  await service.get(loc('1.2'));
  assert.equal(entries.size, 2);
  await service.get(loc('1.1'));
  assert.deepEqual(counts, { cacheGets: 3, fileReads: 2 }, '1.1 was forgotten in memory and read back from the disk cache');
});

test('a series at once: one cache read for every prepared entry, only the missing made from files, in order', async () => {
  const { service, counts, entries, loc } = setup();
  const locs = ['2.1', '2.2', '2.3', '2.4'].map((u) => loc(u));
  await service.prepare(locs[1]!);
  await service.prepare(locs[3]!);
  const fresh = setup(); // another process: nothing in memory, the same cache
  for (const [k, v] of entries) fresh.entries.set(k, v);
  const all = await fresh.service.getAll(locs);
  assert.equal(all.length, 4);
  assert.deepEqual(fresh.counts, { cacheGets: 1, fileReads: 2 }, 'one cache read for the four, files read for the two not prepared');
  assert.equal(fresh.entries.size, 4, 'the two made are cached');
  assert.equal(all[1]!.text, (await service.get(locs[1]!)).text);
  assert.ok(counts.fileReads >= 2);
});

test('an element other than the pixels across the first 256 KB (a private CSA header) does not end the metadata; the file is read again larger, not whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-meta-'));
  try {
    const file = path.join(dir, 'csa.dcm');
    fs.copyFileSync(FILE, file);
    fs.writeFileSync(path.join(dir, 'blob.bin'), Buffer.alloc(300_000, 7));
    assert.equal((await run('dcmodify', ['-nb', '-i', '(0029,0010)=SIEMENS CSA HEADER', '-if', `(0029,1020)=${path.join(dir, 'blob.bin')}`, file])).code, 0);
    const whole = fs.readFileSync(file);
    const reads: string[] = [];
    const store = {
      readAll: async () => (reads.push('all'), whole),
      readHead: async (_p: string, limit: number) => (reads.push(`head ${limit}`), whole.subarray(0, limit)),
    } as unknown as ObjectStore;
    const entries = new Map<string, string>();
    const cache: MetadataCache = { get: async () => null, getMany: async () => new Map(), put: async (u, t) => void entries.set(u, t), remove: async () => {} };
    const service = new MetadataService(store, cache);
    const loc: InstanceLocation = {
      SOPInstanceUID: '1.2.3.4', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SeriesInstanceUID: '1', StudyInstanceUID: '1', PatientID: 'P',
      path: 'csa.dcm', size: whole.length, transferSyntaxUID: '1.2.840.10008.1.2.1', checksum: 'c', receivedAt: new Date(),
    };
    // Asked three times at once: made once.
    const [meta] = await Promise.all([service.get(loc), service.get(loc), service.get(loc)]);
    const ds = JSON.parse(meta!.text) as Record<string, { BulkDataURI?: string; Value?: unknown[] }>;
    assert.ok(ds['00291020']?.BulkDataURI, 'the CSA header as bulk data');
    assert.ok(ds['00291026'], 'the element after it is there');
    assert.ok(ds['7FE00010']?.BulkDataURI, 'Pixel Data is there');
    assert.deepEqual(reads, whole.length > 4 * 262144 ? ['head 262144', 'head 1048576'] : ['head 262144', 'all'], 'read once, then larger');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a binary element of 100 MB before the pixels: the header read stops at 64 MB, the element is bulk data and what follows is left out', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-meta-'));
  try {
    // A real file with a small private OB element, then its length declared 100 MB and the
    // value grown to match in a file that exists only as the reads of a fake store.
    const file = path.join(dir, 'big.dcm');
    fs.copyFileSync(FILE, file);
    fs.writeFileSync(path.join(dir, 'blob.bin'), Buffer.alloc(16, 7));
    assert.equal((await run('dcmodify', ['-nb', '-i', '(0029,0010)=ACME BLOB', '-if', `(0029,1020)=${path.join(dir, 'blob.bin')}`, file])).code, 0);
    const small = fs.readFileSync(file);
    // An unknown private element: dcmodify writes it as UN (explicit VR little endian, 4-byte length).
    const at = small.indexOf(Buffer.from([0x29, 0x00, 0x20, 0x10, 0x55, 0x4e, 0, 0]));
    assert.ok(at > 0, 'the element as UN in explicit VR little endian');
    const BIG = 100 * 1024 * 1024;
    const head = Buffer.from(small.subarray(0, at + 12));
    head.writeUInt32LE(BIG, at + 8);
    const tail = small.subarray(at + 12 + 16);
    const size = head.length + BIG + tail.length;
    const reads: string[] = [];
    const virtual = (limit: number): Buffer => {
      const zeros = Math.min(BIG, Math.max(0, limit - head.length));
      return Buffer.concat([head, Buffer.alloc(zeros), tail]).subarray(0, limit);
    };
    const store = {
      readAll: async () => {
        reads.push('all');
        throw new Error('the whole file must not be read');
      },
      readHead: async (_p: string, limit: number) => (reads.push(`head ${limit}`), virtual(limit)),
    } as unknown as ObjectStore;
    const cache: MetadataCache = { get: async () => null, getMany: async () => new Map(), put: async () => {}, remove: async () => {} };
    const service = new MetadataService(store, cache);
    const loc: InstanceLocation = {
      SOPInstanceUID: '1.2.3.5', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SeriesInstanceUID: '1', StudyInstanceUID: '1', PatientID: 'P',
      path: 'big.dcm', size, transferSyntaxUID: '1.2.840.10008.1.2.1', checksum: 'd', receivedAt: new Date(),
    };
    const meta = await service.get(loc);
    assert.deepEqual(reads, ['head 262144', 'head 1048576', 'head 4194304', 'head 16777216', 'head 67108864'], 'four times larger each time, up to 64 MB, never whole');
    const ds = JSON.parse(meta.text) as Record<string, { BulkDataURI?: string; Value?: unknown[] }>;
    assert.match(String(ds['00291020']?.BulkDataURI), /\/bulkdata\/00291020$/, 'the large element as bulk data');
    assert.deepEqual(ds['00100010']?.Value, [{ Alphabetic: 'CompressedSamples^CT1' }], 'what comes before it is there');
    assert.equal(ds['7FE00010'], undefined, 'what follows it is left out');
    assert.ok(meta.bulk.some((b) => b.path === '00291020' && b.length === BIG), 'its place and length known, for the bulk data request');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
