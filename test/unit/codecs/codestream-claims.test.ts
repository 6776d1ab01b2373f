// A codestream whose own header claims another image than the dataset's is refused before its
// decoder runs: the decoders allocate what the codestream claims (gigabytes from a few bytes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrame } from '../../../src/codecs/decoders.js';

const g = { rows: 8, columns: 8, samplesPerPixel: 1, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometric: 'MONOCHROME2' };
const be16 = (n: number) => [n >> 8, n & 0xff];
const be32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

test('JPEG (SOF0), JPEG-LS (SOF55) and JPEG 2000 (SIZ) claiming 60000 × 60000 for an 8 × 8 dataset: refused, the claim named', async () => {
  const sof = (marker: number) => Uint8Array.from([0xff, 0xd8, 0xff, marker, 0, 11, 8, ...be16(60000), ...be16(60000), 1, 1, 0x11, 0, 0xff, 0xd9]);
  const siz = Uint8Array.from([0xff, 0x4f, 0xff, 0x51, 0, 41, 0, 0, ...be32(60000), ...be32(60000), ...be32(0), ...be32(0), ...Array<number>(30).fill(0)]);
  for (const [codec, frame] of [['jpeg', sof(0xc0)], ['jpeg-ls', sof(0xf7)], ['j2k', siz], ['htj2k', siz]] as const)
    await assert.rejects(decodeFrame(codec, frame, g), /the codestream is 60000×60000, the dataset says 8×8/, codec);
});
