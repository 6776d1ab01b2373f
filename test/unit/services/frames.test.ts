// Frames of native pixel data as WADO-RS /frames cuts them: 1-bit frames that do not start on a
// byte boundary (3 × 3 pixels: 9 bits a frame) are copied out bit by bit; they were 404.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nativeFrame } from '../../../src/services/frames.js';
import { isPacsError } from '../../../src/core/errors.js';

test('1-bit frames not on a byte boundary are cut out bit by bit, each from bit 0 of its own bytes', () => {
  const g = { rows: 3, columns: 3, samplesPerPixel: 1, bitsAllocated: 1, numberOfFrames: 3 };
  // Frame 1: only its first pixel set; frame 2: all nine; frame 3: only its last (bits 0, 9–17, 26).
  const bits = [0, ...Array.from({ length: 9 }, (_, i) => 9 + i), 26];
  const all = Buffer.alloc(4);
  for (const b of bits) all[b >> 3] = all[b >> 3]! | (1 << (b & 7));
  assert.deepEqual([...nativeFrame(all, g, 1)], [0b0000_0001, 0]);
  assert.deepEqual([...nativeFrame(all, g, 2)], [0xff, 0b1]);
  assert.deepEqual([...nativeFrame(all, g, 3)], [0, 0b1]);
  assert.throws(() => nativeFrame(all.subarray(0, 3), g, 3), (e: unknown) => isPacsError(e, 'DICOM_PARSE'), 'the data ends inside frame 3');
});

test('frames of whole bytes are views of the pixel data', () => {
  const g = { rows: 2, columns: 2, samplesPerPixel: 1, bitsAllocated: 8, numberOfFrames: 2 };
  const all = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual([...nativeFrame(all, g, 2)], [5, 6, 7, 8]);
});
