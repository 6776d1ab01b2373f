// Deflated datasets are inflated under the conversion cap: a small file that inflates far past it
// is refused as an over-cap decompression is (UNSUPPORTED), by zlib stopping at the cap rather
// than by a size check after the whole output is made.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { constants, deflateRawSync } from 'node:zlib';
import { convertDataset } from '../../../src/codecs/convert.js';
import { inflateDataset } from '../../../src/codecs/inflate.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { imageOf, readFile } from '../../helpers/pixels.js';

const MB = 1048576;
const noDecoder = { decode: (): never => assert.fail('nothing to decode in a deflated dataset') };

/**
 * A deflated dataset of one Encapsulated Document (0042,0011) OB of `mb` MB of zeros, made without
 * holding them: one MB of zeros deflated and flushed to a byte boundary is a block that can be
 * repeated (its back-references reach only zeros), then an empty final block ends the stream.
 */
function deflatedZeros(mb: number): Buffer {
  const header = Buffer.from([0x42, 0x00, 0x11, 0x00, 0x4f, 0x42, 0, 0, 0, 0, 0, 0]);
  header.writeUInt32LE(mb * MB, 8);
  const head = deflateRawSync(header, { finishFlush: constants.Z_FULL_FLUSH });
  const zeros = deflateRawSync(Buffer.alloc(MB), { finishFlush: constants.Z_FULL_FLUSH });
  return Buffer.concat([head, ...Array.from({ length: mb }, () => zeros), Buffer.from([0x03, 0x00])]);
}

test('the bomb is what it says: 64 MB of zeros in a few tens of kB', async () => {
  const bomb = deflatedZeros(64);
  assert.ok(bomb.length < 100 * 1024, `${bomb.length} bytes`);
  const small = await inflateDataset(deflatedZeros(2), 3 * MB);
  assert.equal(small.length, 12 + 2 * MB);
  assert.equal(small.readUInt32LE(8), 2 * MB);
});

test('a deflated dataset that inflates past the cap is refused (UNSUPPORTED), not converted', async () => {
  const bomb = deflatedZeros(64);
  for (const to of [TS.ImplicitVRLittleEndian, TS.ExplicitVRLittleEndian, TS.ExplicitVRBigEndian])
    await assert.rejects(convertDataset(bomb, TS.DeflatedExplicitVRLittleEndian, to, noDecoder, { maxBytes: MB }), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /inflates to more than 1 MB/.test(e.message));
  await assert.rejects(inflateDataset(bomb, MB), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED');
});

test('a damaged deflate stream is DICOM_PARSE; a real deflated sample still converts', async () => {
  await assert.rejects(inflateDataset(Buffer.from('not deflate at all'), MB), (e: Error & { code?: string }) => e.code === 'DICOM_PARSE' && /does not inflate/.test(e.message));
  const { ts, dataset } = readFile(path.join(SAMPLES, 'pydicom__image_dfl.dcm'));
  assert.equal(ts, TS.DeflatedExplicitVRLittleEndian);
  const image = await imageOf(await convertDataset(dataset, ts, TS.ImplicitVRLittleEndian, noDecoder), TS.ImplicitVRLittleEndian);
  assert.ok(image.pixels.length > 0 && image.rows > 0);
});
