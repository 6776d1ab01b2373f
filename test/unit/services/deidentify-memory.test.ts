// De-identified copies of large files: the copy's Pixel Data is a slice of the stored file's
// bytes, not a copy (the file, the encoded dataset and the file made of it were three copies:
// 3 GB for a 1 GB image); files of LARGE_FILE bytes and more are de-identified one at a time in
// a process (each holds its file until its copy is written or sent); a file past
// MAX_CONVERTED_BYTES is refused with its size, and an export does not retry it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_CONVERTED_BYTES } from '../../../src/codecs/convert.js';
import { deidentifyProfileSchema } from '../../../src/config/rules-schema.js';
import { encodeTree, parseTree, type TreeElement } from '../../../src/dicom/dataset-tree.js';
import { encodeFileMetaInformation, parsePart10Prefix } from '../../../src/dicom/part10.js';
import type { DeidPatient, DeidStore } from '../../../src/index/deid.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { Deidentifier, fileParts, LARGE_FILE, TooLargeToDeidentify } from '../../../src/services/deidentify.js';
import { isPermanentExportFailure } from '../../../src/services/export.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const store = {
  secret: () => Promise.resolve('s3cr3t'),
  patient: (p: Omit<DeidPatient, 'createdAt'>) => Promise.resolve({ ...p, createdAt: new Date() }),
  byPatientKey: () => Promise.resolve(null),
} as unknown as DeidStore;
const PROFILE = deidentifyProfileSchema.parse({});

const text = (tag: number, vr: string, v: string): TreeElement => ({ tag, vr, value: Buffer.from(v.length % 2 ? `${v}${vr === 'UI' ? '\0' : ' '}` : v) });
const us = (tag: number, n: number): TreeElement => {
  const value = Buffer.alloc(2);
  value.writeUInt16LE(n);
  return { tag, vr: 'US', value };
};

/** A CT file of 16-bit pixels (all bits used: nothing to clear), 320 KB of Pixel Data. */
function ctFile(uid: string): Buffer {
  const pixels = Buffer.alloc(320 * 512 * 2, 7);
  const dataset = encodeTree(
    [
      text(0x00080016, 'UI', CT),
      text(0x00080018, 'UI', uid),
      text(0x00080060, 'CS', 'CT'),
      text(0x00100010, 'PN', 'Doe^John'),
      text(0x00100020, 'LO', 'MRN9'),
      us(0x00280010, 320),
      us(0x00280011, 512),
      us(0x00280100, 16),
      us(0x00280101, 16),
      us(0x00280102, 15),
      { tag: 0x7fe00010, vr: 'OW', value: pixels },
    ],
    { explicitVR: true, littleEndian: true },
  );
  const meta = encodeFileMetaInformation({ mediaStorageSOPClassUID: CT, mediaStorageSOPInstanceUID: uid, transferSyntaxUID: EXPLICIT_LE, implementationClassUID: '1.2.3.4', implementationVersionName: 'TEST' });
  return Buffer.concat([meta, dataset]);
}

const locOf = (uid: string, size: number): InstanceLocation => ({ SOPInstanceUID: uid, SOPClassUID: CT, path: uid, size, transferSyntaxUID: EXPLICIT_LE }) as InstanceLocation;

test('the copy keeps the stored file\'s Pixel Data in place: a slice of the bytes read, not a copy', async () => {
  const read: Buffer[] = [];
  const objects = { readAll: (p: string) => Promise.resolve(read[read.push(ctFile(p)) - 1]!) } as unknown as ObjectStore;
  const d = await new Deidentifier(store, objects, PROFILE).deidentify(locOf('1.2.3.1', 1000));
  d.release();
  const whole = read[0]!;
  const pixelPart = d.dataset.find((p) => p.length === 320 * 512 * 2);
  assert.ok(pixelPart, 'the Pixel Data is a part of its own');
  assert.equal(pixelPart.buffer, whole.buffer, 'and shares the memory of the file read');
  assert.ok(d.dataset.length <= 3, `the rest packed (${d.dataset.length} parts)`);
  assert.equal(d.datasetSize, d.dataset.reduce((n, p) => n + p.length, 0));
  const file = Buffer.concat(fileParts(d));
  const tree = parseTree(file.subarray(parsePart10Prefix(file, true)!.datasetOffset), { explicitVR: true, littleEndian: true });
  assert.ok(tree.find((e) => e.tag === 0x7fe00010)!.value.equals(whole.subarray(whole.length - 320 * 512 * 2)));
  assert.doesNotMatch(file.toString('latin1'), /Doe\^John|MRN9/);
});

test('large files are de-identified one at a time, each until its copy is released', async () => {
  const reads: string[] = [];
  const objects = { readAll: (p: string) => (reads.push(p), Promise.resolve(ctFile(p))) } as unknown as ObjectStore;
  const deid = new Deidentifier(store, objects, PROFILE);
  const first = await deid.deidentify(locOf('1.2.3.1', LARGE_FILE));
  const second = deid.deidentify(locOf('1.2.3.2', LARGE_FILE));
  const small = await deid.deidentify(locOf('1.2.3.3', LARGE_FILE - 1));
  small.release();
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(reads, ['1.2.3.1', '1.2.3.3'], 'the second large file waits; a smaller one does not');
  first.release();
  first.release(); // twice: no second slot given back
  (await second).release();
  assert.deepEqual(reads, ['1.2.3.1', '1.2.3.3', '1.2.3.2']);
});

test('a large file whose de-identification fails gives its turn back', async () => {
  let n = 0;
  const objects = { readAll: (p: string) => (n++ === 0 ? Promise.reject(new Error('EIO')) : Promise.resolve(ctFile(p))) } as unknown as ObjectStore;
  const deid = new Deidentifier(store, objects, PROFILE);
  await assert.rejects(deid.deidentify(locOf('1.2.3.1', LARGE_FILE)), /EIO/);
  const next = await Promise.race([deid.deidentify(locOf('1.2.3.2', LARGE_FILE)), new Promise((resolve) => setTimeout(resolve, 1000, 'stuck'))]);
  assert.notEqual(next, 'stuck');
  (next as { release(): void }).release();
});

test('a file past the limit is refused with its size, unread, and an export does not retry it', async () => {
  let reads = 0;
  const objects = { readAll: () => (reads++, Promise.reject(new Error('read'))) } as unknown as ObjectStore;
  const err = await new Deidentifier(store, objects, PROFILE).deidentify(locOf('1.2.3.1', MAX_CONVERTED_BYTES + 1)).catch((e: unknown) => e);
  assert.ok(err instanceof TooLargeToDeidentify);
  assert.match(err.message, /1\.2\.3\.1: its file is 2049 MB; de-identified copies are made of files up to 2048 MB/);
  assert.equal(reads, 0);
  assert.ok(isPermanentExportFailure(err));
});
