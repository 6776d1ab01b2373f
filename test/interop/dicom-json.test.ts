// Our DICOM JSON model (WADO-RS metadata) against DCMTK's dcm2json on every sample file
// dcm2json can read: same elements, same values (floats to 6 significant digits; DCMTK prints
// 32-bit floats with 9). Private elements whose VR only DCMTK's private dictionary knows are
// UN for us, and (0008,0005) is ISO_IR 192 in both since JSON is UTF-8.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, manifest, run } from '../helpers/dcmtk.js';
import { datasetToJson, type JsonDataset } from '../../src/dicom/json.js';
import { parsePart10Prefix } from '../../src/dicom/part10.js';
import { inflateBounded } from '../../src/dicom/inflate.js';
import { TS, transferSyntaxInfo } from '../../src/dicom/transfer-syntax.js';

type Loose = Record<string, { vr: string; Value?: unknown[] }>;
const BINARY = ['OB', 'OW', 'OD', 'OF', 'OL', 'OV', 'UN'];

function normalize(ds: Loose, ours: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [tag, el] of Object.entries(ds)) {
    const isPrivate = Number.parseInt(tag.slice(0, 4), 16) % 2 === 1;
    if (isPrivate || BINARY.includes(el.vr)) continue; // private VRs and binary encodings differ by design
    out[tag] = el.vr === 'SQ' ? (el.Value ?? []).map((i) => normalize(i as Loose, ours)) : JSON.stringify((el.Value ?? []).map((v) => (typeof v === 'number' ? Number(v.toPrecision(6)) : v)));
  }
  return out;
}

test('datasetToJson agrees with dcm2json on the sample files', async () => {
  let compared = 0;
  for (const row of await manifest()) {
    if (row.expected !== 'accept') continue;
    const file = path.join(SAMPLES, row.file);
    const dcmtk = await run('dcm2json', [file]);
    if (dcmtk.code !== 0) continue; // dcm2json refuses encapsulated pixel data and some character sets
    const bytes = fs.readFileSync(file);
    const prefix = parsePart10Prefix(bytes, true)!;
    let dataset: Buffer = bytes.subarray(prefix.datasetOffset);
    let transferSyntaxUID = prefix.transferSyntaxUID;
    if (transferSyntaxInfo(transferSyntaxUID)?.deflated) {
      dataset = (await inflateBounded(dataset, 64 * 1024 * 1024))!; // as the metadata service does
      transferSyntaxUID = TS.ExplicitVRLittleEndian;
    }
    const ours: JsonDataset = datasetToJson(dataset, { transferSyntaxUID, bulkDataURI: (p) => p }).json;
    assert.deepEqual(normalize(ours as Loose, true), normalize(JSON.parse(dcmtk.stdout) as Loose, false), row.file);
    compared++;
  }
  assert.ok(compared >= 30, `compared ${compared} files`);
});
