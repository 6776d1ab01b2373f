// Frames of an instance's Pixel Data for WADO-RS /frames: native pixel data is cut by frame
// size; encapsulated pixel data is split the way decompression splits it (PS3.5 A.4).
import { PacsError } from '../core/errors.js';
import { encapsulatedFrames } from '../dicom/encapsulated.js';

export interface PixelGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  numberOfFrames: number;
}

export const frameSize = (g: PixelGeometry): number => Math.ceil((g.rows * g.columns * g.samplesPerPixel * g.bitsAllocated) / 8);

/** Frame `n` (1-based) of native pixel data. */
export function nativeFrame(pixels: Buffer, g: PixelGeometry, n: number): Buffer {
  const size = frameSize(g);
  if (g.bitsAllocated === 1 && g.numberOfFrames > 1 && (g.rows * g.columns) % 8 !== 0)
    throw new PacsError('NOT_FOUND', 'frames of 1-bit pixel data that do not end on a byte boundary cannot be cut apart');
  const start = (n - 1) * size;
  if (start + size > pixels.length) throw new PacsError('DICOM_PARSE', `Pixel Data holds fewer than ${n} frames`);
  return pixels.subarray(start, start + size);
}

/**
 * Frame `n` (1-based) of encapsulated pixel data whose value starts at `pos` in `d`, split as
 * decompression splits it (src/dicom/encapsulated.ts); `startsFrame` tells a codestream's
 * first fragment when several fragments make one frame and there is no offset table.
 */
export function encapsulatedFrame(d: Buffer, pos: number, frames: number, n: number, startsFrame?: (b: Buffer) => boolean): Buffer {
  if (n < 1 || n > frames) throw new PacsError('NOT_FOUND', `there is no frame ${n} (the instance has ${frames})`);
  return encapsulatedFrames(d, pos, { frames, ...(startsFrame ? { startsFrame } : {}) }).frames[n - 1]!;
}
