// RLE Lossless decoding checked against DCMTK's dcmdrle, pixel for pixel, on every RLE sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canConvert, convertDataset, RLE_LOSSLESS } from '../../../src/dicom/decompress.js';
import { parsePart10Prefix } from '../../../src/dicom/part10.js';
import { DatasetStreamReader } from '../../../src/dicom/reader.js';
import { SAMPLES } from '../../helpers/dcmtk.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-rle-'));
const PIXEL_DATA = 0x7fe00010;

async function pixelData(dataset: Buffer, ts: string): Promise<Buffer> {
  const reader = new DatasetStreamReader({ transferSyntaxUID: ts, collect: new Set([PIXEL_DATA]), maxCollectLength: 1 << 30 });
  reader.push(dataset);
  return (await reader.end()).values.get(PIXEL_DATA)!.bytes;
}

test('what converts to what', () => {
  assert.ok(canConvert(RLE_LOSSLESS, '1.2.840.10008.1.2'));
  assert.ok(!canConvert('1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.1'));
  assert.ok(!canConvert('1.2.840.10008.1.2.1', RLE_LOSSLESS));
});

for (const name of ['pydicom__MR_small_RLE.dcm', 'pydicom__SC_rgb_rle_2frame.dcm', 'octave-dicom__US-PAL-8-10x-echo.dcm']) {
  test(`${name}: decoded pixels equal dcmdrle's; in implicit VR too`, async () => {
    const file = path.join(SAMPLES, name);
    const buf = fs.readFileSync(file);
    const prefix = parsePart10Prefix(buf, true)!;
    assert.equal(prefix.transferSyntaxUID, RLE_LOSSLESS);
    const ours = convertDataset(buf.subarray(prefix.datasetOffset), RLE_LOSSLESS, '1.2.840.10008.1.2.1');
    const ref = path.join(dir, `${name}.raw`);
    execFileSync('dcmdrle', [file, ref]);
    const refBuf = fs.readFileSync(ref);
    const refPrefix = parsePart10Prefix(refBuf, true)!;
    const expected = await pixelData(refBuf.subarray(refPrefix.datasetOffset), refPrefix.transferSyntaxUID);
    const got = await pixelData(ours, '1.2.840.10008.1.2.1');
    assert.equal(got.length, expected.length);
    assert.ok(got.equals(expected), 'same pixels');
    const implicit = convertDataset(buf.subarray(prefix.datasetOffset), RLE_LOSSLESS, '1.2.840.10008.1.2');
    assert.ok((await pixelData(implicit, '1.2.840.10008.1.2')).equals(expected));
  });
}

test('a truncated RLE frame is refused with a reason', () => {
  const buf = fs.readFileSync(path.join(SAMPLES, 'pydicom__MR_small_RLE.dcm'));
  const prefix = parsePart10Prefix(buf, true)!;
  const cut = buf.subarray(prefix.datasetOffset, buf.length - 200);
  assert.throws(() => convertDataset(cut, RLE_LOSSLESS, '1.2.840.10008.1.2.1'), /cannot decompress|RLE/);
});
