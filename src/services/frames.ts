// Frames of an instance's Pixel Data for WADO-RS /frames: native pixel data is cut by frame
// size; encapsulated pixel data is split into frames by its Basic Offset Table, else one
// fragment per frame, else (single frame) all fragments together (PS3.5 A.4).
import { PacsError } from '../core/errors.js';

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

/** The items of encapsulated Pixel Data from its value start (after the element header). */
function fragments(d: Buffer, pos: number): { bot: Buffer; items: Buffer[] } {
  const items: Buffer[] = [];
  let bot: Buffer | null = null;
  while (pos + 8 <= d.length) {
    const tag = ((d.readUInt16LE(pos) << 16) | d.readUInt16LE(pos + 2)) >>> 0;
    const len = d.readUInt32LE(pos + 4);
    pos += 8;
    if (tag === 0xfffee0dd) break;
    if (tag !== 0xfffee000 || pos + len > d.length) throw new PacsError('DICOM_PARSE', 'malformed encapsulated Pixel Data');
    if (bot === null) bot = d.subarray(pos, pos + len);
    else items.push(d.subarray(pos, pos + len));
    pos += len;
  }
  return { bot: bot ?? Buffer.alloc(0), items };
}

/** Frame `n` (1-based) of encapsulated pixel data whose value starts at `pos` in `d`. */
export function encapsulatedFrame(d: Buffer, pos: number, frames: number, n: number): Buffer {
  const { bot, items } = fragments(d, pos);
  if (n < 1 || n > frames) throw new PacsError('NOT_FOUND', `there is no frame ${n} (the instance has ${frames})`);
  if (frames === 1) return items.length === 1 ? items[0]! : Buffer.concat(items);
  if (items.length === frames) return items[n - 1]!;
  if (bot.length === frames * 4) {
    // Offsets are from the first fragment item's tag; walk the items to find where each frame starts.
    const starts: number[] = [];
    let off = 0;
    for (const it of items) {
      starts.push(off);
      off += it.length + 8;
    }
    const first = bot.readUInt32LE((n - 1) * 4);
    const next = n < frames ? bot.readUInt32LE(n * 4) : off;
    const parts = items.filter((_, i) => starts[i]! >= first && starts[i]! < next);
    return Buffer.concat(parts);
  }
  throw new PacsError('DICOM_PARSE', `cannot tell the ${frames} frames apart: ${items.length} fragments and no offset table`);
}
