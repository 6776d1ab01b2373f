// RLE Lossless (PS3.5 Annex G), decoding: each frame is a header of segment offsets and up to
// 15 PackBits-compressed byte planes, most significant byte of each sample first.
import { PacsError } from '../core/errors.js';

export interface FrameGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
}

/** Decodes one RLE frame into native little-endian pixels, samples interleaved (Planar Configuration 0). */
export function decodeRleFrame(frame: Buffer, g: FrameGeometry): Buffer {
  const bytesPerSample = g.bitsAllocated / 8;
  if (!Number.isInteger(bytesPerSample) || bytesPerSample < 1 || bytesPerSample > 4) throw new PacsError('DICOM_PARSE', `RLE: unsupported Bits Allocated ${g.bitsAllocated}`);
  if (frame.length < 64) throw new PacsError('DICOM_PARSE', 'RLE: frame shorter than its 64-byte header');
  const segments = frame.readUInt32LE(0);
  const expected = g.samplesPerPixel * bytesPerSample;
  if (segments !== expected) throw new PacsError('DICOM_PARSE', `RLE: ${segments} segments, ${expected} expected`);
  const pixels = g.rows * g.columns;
  // PackBits makes at most 128 bytes of 2 (a run): a segment too short for the image it claims
  // is refused before the image is allocated — 600 bytes claiming 65535 × 65535 asked for 4 GB.
  for (let s = 0; s < segments; s++) {
    const start = frame.readUInt32LE(4 + 4 * s);
    const end = s + 1 < segments ? frame.readUInt32LE(8 + 4 * s) : frame.length;
    if (start < 64 || end > frame.length || end < start) throw new PacsError('DICOM_PARSE', `RLE: segment ${s + 1} lies outside its frame`);
    if (pixels > 64 * (end - start) + 128) throw new PacsError('DICOM_PARSE', `RLE: segment ${s + 1} of ${end - start} bytes cannot hold ${g.rows} × ${g.columns} samples`);
  }
  const out = Buffer.alloc(pixels * expected);
  for (let s = 0; s < segments; s++) {
    const start = frame.readUInt32LE(4 + 4 * s);
    const end = s + 1 < segments ? frame.readUInt32LE(8 + 4 * s) : frame.length;
    // Segment s is byte (bytesPerSample - 1 - s % bytesPerSample) of sample floor(s / bytesPerSample).
    const sample = Math.floor(s / bytesPerSample);
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    unpack(frame, start, end, out, sample * bytesPerSample + byteInSample, expected, pixels);
  }
  return out;
}

/** PackBits into every `stride`-th byte of `out` from `offset`, `count` bytes. */
function unpack(src: Buffer, from: number, to: number, out: Buffer, offset: number, stride: number, count: number): void {
  let i = from;
  let n = 0;
  while (i < to && n < count) {
    const h = src[i++]!;
    if (h < 128) {
      for (let k = 0; k <= h && n < count && i < to; k++) out[offset + stride * n++] = src[i++]!;
    } else if (h > 128) {
      const v = src[i++]!;
      for (let k = 0; k < 257 - h && n < count; k++) out[offset + stride * n++] = v;
    } // 128: no operation
  }
  if (n < count) throw new PacsError('DICOM_PARSE', `RLE: a segment decodes to ${n} of ${count} bytes`);
}
