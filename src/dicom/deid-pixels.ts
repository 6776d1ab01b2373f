// Overlays embedded in the unused bits of native Pixel Data (PS3.5 8.1.2 as it was before
// 2004, PS3.3 C.9.2 Overlay Bit Position): the Overlay Plane module goes with its repeating
// group (de-identification removes groups 6000-601E), but bits above High Bit (or below the
// stored ones) may still draw a name or a date. They are set to what the stored value implies,
// zeros or the sign, so every pixel keeps its value and nothing else is left in the word.
import type { TreeElement } from './dataset-tree.js';

const PIXEL_DATA = 0x7fe00010;

interface PixelModule {
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
}

/**
 * A 16-bit native Pixel Data value with its unused bits cleared, or null when there is nothing
 * to clear (every bit stored, none set) or the layout is not one handled here (encapsulated,
 * Bits Allocated other than 16: 8-bit data rarely leaves bits unused, 1-bit and 32-bit never
 * carried overlays in practice).
 */
export function clearUnusedBits(pixel: Buffer, m: PixelModule, littleEndian: boolean): Buffer | null {
  if (m.bitsAllocated !== 16 || m.bitsStored >= 16 || m.bitsStored < 1 || m.highBit > 15 || m.highBit < m.bitsStored - 1) return null;
  const low = m.highBit - m.bitsStored + 1;
  const mask = (1 << m.bitsStored) - 1;
  const sign = 1 << (m.bitsStored - 1);
  let out: Buffer | null = null;
  const words = pixel.length >> 1;
  for (let i = 0; i < words; i++) {
    const o = i * 2;
    const word = littleEndian ? pixel.readUInt16LE(o) : pixel.readUInt16BE(o);
    let field = (word >> low) & mask;
    if (m.signed && field & sign) field -= 1 << m.bitsStored; // sign-extended, as PS3.5 asks of signed data
    const clean = ((field << low) & 0xffff) >>> 0;
    if (clean === word) continue;
    out ??= Buffer.from(pixel); // the original bytes are a slice of the stored file
    if (littleEndian) out.writeUInt16LE(clean, o);
    else out.writeUInt16BE(clean, o);
  }
  return out;
}

const us = (list: readonly TreeElement[], tag: number, littleEndian: boolean): number | null => {
  const e = list.find((x) => x.tag === tag);
  if (!e || e.value.length < 2) return null;
  return littleEndian ? e.value.readUInt16LE(0) : e.value.readUInt16BE(0);
};

/**
 * The top-level native Pixel Data of a de-identified dataset with its unused bits cleared (in
 * place in `elements`); whether anything was cleared.
 */
export function clearPixelOverlayBits(elements: TreeElement[], littleEndian: boolean): boolean {
  const i = elements.findIndex((e) => e.tag === PIXEL_DATA);
  const pixel = elements[i];
  if (!pixel || pixel.encapsulated || pixel.items) return false;
  const bitsAllocated = us(elements, 0x00280100, littleEndian);
  const bitsStored = us(elements, 0x00280101, littleEndian);
  const highBit = us(elements, 0x00280102, littleEndian);
  if (bitsAllocated === null || bitsStored === null || highBit === null) return false;
  const signed = us(elements, 0x00280103, littleEndian) === 1;
  const cleared = clearUnusedBits(pixel.value, { bitsAllocated, bitsStored, highBit, signed }, littleEndian);
  if (!cleared) return false;
  elements[i] = { ...pixel, value: cleared };
  return true;
}
