// Rendered images read back for tests: PNG by fast-png, JPEG by libjpeg-turbo (the decoder
// build of the package whose encoder makes them), and the expected grayscale values computed
// from raw pixel data with the formulas of PS3.3 C.11.2.1.2, written out here on their own.
import { createRequire } from 'node:module';
import { decode as decodePngLib } from 'fast-png';

const require = createRequire(import.meta.url);

export interface Decoded {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export function decodePng(bytes: Uint8Array): Decoded {
  const p = decodePngLib(bytes);
  if (p.depth !== 8) throw new Error(`PNG of depth ${p.depth}`);
  return { width: p.width, height: p.height, channels: p.channels, data: Uint8Array.from(p.data as Uint8Array) };
}

interface JpegDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; componentCount: number };
  delete(): void;
}
let jpeg: Promise<new () => JpegDecoder> | null = null;

export async function decodeJpeg(bytes: Uint8Array): Promise<Decoded> {
  jpeg ??= (require('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs') as (o: object) => Promise<{ JPEGDecoder: new () => JpegDecoder }>)({}).then((m) => m.JPEGDecoder);
  const d = new (await jpeg)();
  try {
    d.getEncodedBuffer(bytes.length).set(bytes);
    d.decode();
    const info = d.getFrameInfo();
    return { width: info.width, height: info.height, channels: info.componentCount, data: d.getDecodedBuffer().slice() };
  } finally {
    d.delete();
  }
}

/** The first channel of an image whose channels are equal (a gray image sent as YCbCr JPEG). */
export function grayOf(d: Decoded): Decoded {
  if (d.channels === 1) return d;
  const data = new Uint8Array(d.width * d.height);
  for (let i = 0; i < data.length; i++) data[i] = d.data[i * d.channels]!;
  return { width: d.width, height: d.height, channels: 1, data };
}

export const isJpeg = (b: Uint8Array): boolean => b[0] === 0xff && b[1] === 0xd8;
export const isPng = (b: Uint8Array): boolean => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;

const round8 = (v: number): number => Math.min(255, Math.max(0, Math.round(v)));

/** PS3.3 C.11.2.1.2.1 LINEAR onto 0…255. */
export function linear(x: number, c: number, w: number): number {
  if (x <= c - 0.5 - (w - 1) / 2) return 0;
  if (x > c - 0.5 + (w - 1) / 2) return 255;
  return round8(((x - (c - 0.5)) / (w - 1) + 0.5) * 255);
}

/** PS3.3 C.11.2.1.3.2 LINEAR_EXACT. */
export function linearExact(x: number, c: number, w: number): number {
  if (x <= c - w / 2) return 0;
  if (x > c + w / 2) return 255;
  return round8(((x - c) / w + 0.5) * 255);
}

/** PS3.3 C.11.2.1.3.1 SIGMOID. */
export const sigmoid = (x: number, c: number, w: number): number => round8(255 / (1 + Math.exp((-4 * (x - c)) / w)));

/** Sample `i` of 16-bit pixel data, signed or not, masked to its stored bits. */
export function sample16(pixels: Buffer, i: number, bitsStored: number, signed: boolean): number {
  const raw = pixels.readUInt16LE(2 * i) % 2 ** bitsStored;
  return signed && raw >= 2 ** (bitsStored - 1) ? raw - 2 ** bitsStored : raw;
}

/** Largest and mean absolute difference of two equally sized images. */
export function compare(a: Decoded, b: Decoded): { max: number; mean: number } {
  if (a.width !== b.width || a.height !== b.height || a.channels !== b.channels) return { max: Infinity, mean: Infinity };
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.data.length };
}
