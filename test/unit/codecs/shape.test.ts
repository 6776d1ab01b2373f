// Decoder output made native: planes interleaved, 8-bit samples widened into 16 bits allocated
// (sign-extended when signed), wrong sizes refused; JPEG frame headers read before decoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { shapeFrame } from '../../../src/codecs/shape.js';
import { readJpegFrameHeader, startsWithJ2k, startsWithSoi } from '../../../src/codecs/jpeg-header.js';

const g = { rows: 1, columns: 2, samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, pixelRepresentation: 0, photometric: 'RGB' };

test('planes become pixel-interleaved samples', () => {
  const planes = Uint8Array.from([1, 2, 10, 20, 100, 200]); // R R G G B B
  const out = shapeFrame({ samples: planes, bytesPerSample: 1, components: 3, planar: true, signed: false }, g);
  assert.deepEqual([...new Uint8Array(out)], [1, 10, 100, 2, 20, 200]);
});

test('8-bit samples widened into 16 bits allocated; sign-extended only when signed', () => {
  const mono = { ...g, samplesPerPixel: 1, bitsAllocated: 16, photometric: 'MONOCHROME2' };
  const samples = Uint8Array.from([0x7f, 0xff]);
  const unsigned = shapeFrame({ samples, bytesPerSample: 1, components: 1, planar: false, signed: false }, mono);
  assert.deepEqual([...new Uint16Array(unsigned)], [0x7f, 0xff]);
  const signed = shapeFrame({ samples, bytesPerSample: 1, components: 1, planar: false, signed: true }, { ...mono, pixelRepresentation: 1 });
  assert.deepEqual([...new Int16Array(signed)], [127, -1]);
});

test('sizes and shapes that do not fit are refused', () => {
  const s = (n: number): Uint8Array => new Uint8Array(n);
  assert.throws(() => shapeFrame({ samples: s(5), bytesPerSample: 1, components: 3, planar: false, signed: false }, g), /gave 5 bytes, 6 expected/);
  assert.throws(() => shapeFrame({ samples: s(2), bytesPerSample: 1, components: 1, planar: false, signed: false }, g), /1 components, Samples per Pixel is 3/);
  assert.throws(() => shapeFrame({ samples: s(12), bytesPerSample: 2, components: 3, planar: false, signed: false }, g), /16-bit samples, Bits Allocated is 8/);
  assert.throws(() => shapeFrame({ samples: s(24), bytesPerSample: 2, components: 3, planar: false, signed: false }, { ...g, bitsAllocated: 32 }), /Bits Allocated 32/);
});

test('the JPEG frame header: process and precision before any decoder runs', () => {
  // SOI, an APP0 segment, SOF1 of 12 bits, 3×2, one component.
  const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46, 0xff, 0xc1, 0x00, 0x0b, 0x0c, 0x00, 0x02, 0x00, 0x03, 0x01, 0x01, 0x11, 0x00]);
  assert.deepEqual(readJpegFrameHeader(jpeg), { sof: 0xffc1, precision: 12, rows: 2, columns: 3, components: 1 });
  assert.equal(readJpegFrameHeader(Uint8Array.from([0xff, 0xd8, 0xff, 0xda, 0, 2])), null, 'no SOF before the scan');
  assert.equal(readJpegFrameHeader(Uint8Array.from([0, 1, 2, 3])), null);
  assert.ok(startsWithSoi(jpeg));
  assert.ok(startsWithJ2k(Uint8Array.from([0xff, 0x4f, 0xff, 0x51, 0, 0])));
  assert.ok(startsWithJ2k(Uint8Array.from([0, 0, 0, 0x0c, 0x6a, 0x50, 0x20, 0x20])), 'a JP2 signature box');
  assert.ok(!startsWithJ2k(jpeg));
});
