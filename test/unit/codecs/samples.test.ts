// Every compressed sample of ../shared/dicom-samples decoded by us and by a reference decoder
// from outside the project (DCMTK's dcmdjpeg, dcmdjpls, dcmdrle, dcmconv; GDCM's gdcmconv for
// JPEG 2000): the same pixels (lossless: exactly; lossy: within a small bound, the decoders'
// rounding differing), the same Photometric Interpretation, the same other attributes.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { convertDataset } from '../../../src/codecs/convert.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { SAMPLES, manifest } from '../../helpers/dcmtk.js';
import { converted, hasTool, imageOf, maxDifference, readFile } from '../../helpers/pixels.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-codec-samples-'));
const pool = new DecoderPool();
after(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The reference decoder of each syntax, and how far a lossy decoding may stray from it. */
const REFERENCE: Record<string, { cmd: string; args: string[]; tolerance: number }> = {
  [TS.JPEGBaseline8Bit]: { cmd: 'dcmdjpeg', args: [], tolerance: 2 },
  [TS.JPEGExtended12Bit]: { cmd: 'dcmdjpeg', args: [], tolerance: 2 },
  [TS.JPEGLossless]: { cmd: 'dcmdjpeg', args: [], tolerance: 0 },
  [TS.JPEGLosslessSV1]: { cmd: 'dcmdjpeg', args: [], tolerance: 0 },
  [TS.JPEGLSLossless]: { cmd: 'dcmdjpls', args: ['+px'], tolerance: 0 },
  [TS.JPEGLSNearLossless]: { cmd: 'dcmdjpls', args: ['+px'], tolerance: 0 },
  [TS.JPEG2000Lossless]: { cmd: 'gdcmconv', args: ['--raw'], tolerance: 0 },
  [TS.JPEG2000]: { cmd: 'gdcmconv', args: ['--raw'], tolerance: 2 },
  [TS.RLELossless]: { cmd: 'dcmdrle', args: [], tolerance: 0 },
  [TS.DeflatedExplicitVRLittleEndian]: { cmd: 'dcmconv', args: ['+te'], tolerance: 0 },
};
const KEYWORD_TO_UID = Object.fromEntries(Object.entries(TS).map(([k, v]) => [k, v]));

const rows = await manifest();
for (const row of rows) {
  const uid = KEYWORD_TO_UID[row.transferSyntax.replace(/\(.*\)$/, '')] ?? '';
  const ref = REFERENCE[uid];
  if (!ref || row.expected !== 'accept') continue;
  test(`${row.file} (${row.transferSyntax}): our decoding matches ${ref.cmd}`, { skip: !hasTool(ref.cmd) && `${ref.cmd} is not installed` }, async () => {
    const file = path.join(SAMPLES, row.file);
    const { ts, dataset } = readFile(file);
    const ours = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian);
    const theirs = await converted(ref.cmd, ref.args, file, path.join(dir, `${row.file}.ref.dcm`));
    assert.equal(ours.pixels.length, theirs.pixels.length + (theirs.pixels.length % 2), 'Pixel Data length');
    assert.ok(ours.pixels.length % 2 === 0, 'even length');
    assert.equal(ours.photometric, theirs.photometric);
    assert.equal(ours.planar, 0);
    assert.equal(ours.lossy, theirs.lossy, 'Lossy Image Compression kept');
    const diff = maxDifference(ours, theirs);
    assert.ok(diff <= ref.tolerance, `largest difference ${diff}, at most ${ref.tolerance} allowed`);
  });
}

test('implicit VR and big endian targets carry the same pixels', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'pydicom__MR_small_jp2klossless.dcm'));
  const explicit = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian);
  const implicit = await imageOf(await convertDataset(dataset, ts, TS.ImplicitVRLittleEndian, pool), TS.ImplicitVRLittleEndian);
  assert.ok(implicit.pixels.equals(explicit.pixels));
  const big = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRBigEndian, pool), TS.ExplicitVRBigEndian);
  assert.ok(Buffer.from(big.pixels).swap16().equals(explicit.pixels));
});
