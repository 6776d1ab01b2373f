// Frames of an instance's Pixel Data for WADO-RS /frames: native pixel data is cut by frame
// size; encapsulated pixel data is split the way decompression splits it (PS3.5 A.4).
import { PacsError } from '../core/errors.js';
import { encapsulatedFrames } from '../dicom/encapsulated.js';
import { type EncapsulatedIndex, readEncapsulatedIndex, readIndexedFrame } from '../dicom/encapsulated-index.js';
import type { InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface PixelGeometry {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  numberOfFrames: number;
  /** Photometric Interpretation: YBR_FULL_422 / YBR_PARTIAL_422 store two samples a pixel, not three. */
  photometric?: string;
}

export const frameSize = (g: PixelGeometry): number => {
  const packed = g.photometric === 'YBR_FULL_422' || g.photometric === 'YBR_PARTIAL_422';
  return Math.ceil((g.rows * g.columns * (packed ? 2 : g.samplesPerPixel) * g.bitsAllocated) / 8);
};

/** Frame `n` (1-based) of native pixel data. */
export function nativeFrame(pixels: Buffer, g: PixelGeometry, n: number): Buffer {
  const size = frameSize(g);
  if (g.bitsAllocated === 1 && g.numberOfFrames > 1 && (g.rows * g.columns) % 8 !== 0) {
    // 1-bit frames follow each other bit after bit (PS3.5 8.1.1): one that does not start on a
    // byte boundary is copied out to start on one (it was answered 404, as if it did not exist).
    const bits = g.rows * g.columns;
    if (n * bits > pixels.length * 8) throw new PacsError('DICOM_PARSE', `Pixel Data holds fewer than ${n} frames`);
    return bitFrame(pixels, bits, n);
  }
  const start = (n - 1) * size;
  if (start + size > pixels.length) throw new PacsError('DICOM_PARSE', `Pixel Data holds fewer than ${n} frames`);
  return pixels.subarray(start, start + size);
}

/** Frame `n` of 1-bit pixel data, whose frames need not start on a byte boundary: its `bits` bits from bit 0 of a buffer of their own. */
export function bitFrame(all: Buffer, bits: number, n: number): Buffer {
  const out = Buffer.alloc(Math.ceil(bits / 8));
  const from = (n - 1) * bits;
  for (let i = 0; i < bits; i++) {
    const b = from + i;
    if ((all[b >> 3]! >> (b & 7)) & 1) out[i >> 3] = out[i >> 3]! | (1 << (i & 7));
  }
  return out;
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

/**
 * The fragment index of the instances whose frames were asked for last: a viewer scrolling
 * through a multi-frame instance asks for its frames one by one. Keyed by path and checksum, so an
 * instance stored again is indexed again. A few entries: each is a header per fragment.
 */
const indexes = new Map<string, { index: Promise<EncapsulatedIndex>; fragments: number }>();
const INDEXES_KEPT = 16;
/** Fragments kept in all the indexes together (a fragment costs about 100 bytes, its place in the frames' grouping included). */
const FRAGMENTS_KEPT = 200_000;
let fragmentsKept = 0;

function forget(key: string): void {
  const e = indexes.get(key);
  if (!e) return;
  indexes.delete(key);
  fragmentsKept -= e.fragments;
}

/**
 * Frame `n` (1-based) of an instance's encapsulated Pixel Data, whose value starts at `valueStart`
 * in its file: read by the items' headers and the frame's own fragments, not the whole file.
 */
export async function storedEncapsulatedFrame(objects: ObjectStore, loc: InstanceLocation, valueStart: number, frames: number, n: number, startsFrame?: (b: Buffer) => boolean): Promise<Buffer> {
  if (n < 1 || n > frames) throw new PacsError('NOT_FOUND', `there is no frame ${n} (the instance has ${frames})`);
  const read = (position: number, length: number): Promise<Buffer> => objects.readRange(loc.path, position, length);
  const key = `${loc.path}|${loc.checksum}|${valueStart}`;
  let entry = indexes.get(key);
  if (entry) {
    // Moved to the newest end.
    indexes.delete(key);
    indexes.set(key, entry);
  } else {
    const index = readEncapsulatedIndex(read, valueStart, loc.size);
    entry = { index, fragments: 0 };
    const made = entry;
    indexes.set(key, made);
    index.then(
      (ix) => {
        if (indexes.get(key) !== made) return;
        made.fragments = ix.fragments.length;
        fragmentsKept += made.fragments;
        while (indexes.size > 1 && (indexes.size > INDEXES_KEPT || fragmentsKept > FRAGMENTS_KEPT)) forget(indexes.keys().next().value!);
      },
      () => forget(key),
    );
  }
  return readIndexedFrame(read, await entry.index, { frames, ...(startsFrame ? { startsFrame } : {}) }, n);
}
