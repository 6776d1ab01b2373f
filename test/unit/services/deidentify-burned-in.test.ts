// burned_in: flag (review): a copy whose pixels may show text says so itself, in
// De-identification Method (0012,0063), not only in the job's report; a copy of an instance
// without such a risk says nothing of it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deidentifyProfileSchema } from '../../../src/config/rules-schema.js';
import { encodeTree, parseTree, type TreeElement } from '../../../src/dicom/dataset-tree.js';
import { elementString } from '../../../src/dicom/deidentify.js';
import { encodeFileMetaInformation, parsePart10Prefix } from '../../../src/dicom/part10.js';
import type { DeidPatient, DeidStore } from '../../../src/index/deid.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { Deidentifier, fileParts } from '../../../src/services/deidentify.js';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const store: DeidStore = {
  secret: () => Promise.resolve('s3cr3t'),
  findSecret: () => Promise.resolve('s3cr3t'),
  patient: (p: Omit<DeidPatient, 'createdAt'>) => Promise.resolve({ ...p, createdAt: new Date() }),
  byPseudonym: () => Promise.resolve(null),
  byPatientKey: () => Promise.resolve(null),
} as DeidStore;

async function deidentified(sopClassUID: string, modality: string): Promise<TreeElement[]> {
  const text = (tag: number, vr: string, v: string): TreeElement => ({ tag, vr, value: Buffer.from(v.length % 2 ? `${v}${vr === 'UI' ? '\0' : ' '}` : v) });
  const dataset = encodeTree([text(0x00080016, 'UI', sopClassUID), text(0x00080018, 'UI', '1.2.3.9.1'), text(0x00080060, 'CS', modality), text(0x00100010, 'PN', 'Doe^John'), text(0x00100020, 'LO', 'MRN9')], { explicitVR: true, littleEndian: true });
  const file = Buffer.concat([encodeFileMetaInformation({ mediaStorageSOPClassUID: sopClassUID, mediaStorageSOPInstanceUID: '1.2.3.9.1', transferSyntaxUID: EXPLICIT_LE, implementationClassUID: '1.2.3.4', implementationVersionName: 'TEST' }), dataset]);
  const objects = { readAll: () => Promise.resolve(file) } as unknown as ObjectStore;
  const loc = { SOPInstanceUID: '1.2.3.9.1', SOPClassUID: sopClassUID, path: 'x', size: file.length } as InstanceLocation;
  const out = await new Deidentifier(store, objects, deidentifyProfileSchema.parse({ burned_in: 'flag' })).deidentify(loc);
  const whole = Buffer.concat(fileParts(out));
  const prefix = parsePart10Prefix(whole, true)!;
  return parseTree(whole.subarray(prefix.datasetOffset), { explicitVR: true, littleEndian: true });
}

test('a flagged copy says in De-identification Method that its pixels were not cleaned', async () => {
  const sc = await deidentified('1.2.840.10008.5.1.4.1.1.7', 'OT');
  assert.match(elementString(sc, 0x00120063) ?? '', /Pixels not cleaned: burned-in text possible/);
  const ct = await deidentified('1.2.840.10008.5.1.4.1.1.2', 'CT');
  assert.doesNotMatch(elementString(ct, 0x00120063) ?? '', /Pixels/);
});
