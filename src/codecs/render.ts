// A frame made fit for people (PS3.4 N.2): grayscale goes through the Modality LUT (Rescale
// Slope/Intercept or a Modality LUT Sequence), the VOI LUT (a window, a VOI LUT Sequence, or
// the frame's own range) and the Presentation LUT (MONOCHROME1 and INVERSE are inverted), down
// to 8 bits; colour (RGB, YBR_FULL, YBR_FULL_422, YBR_PARTIAL_422, PALETTE COLOR) becomes 8-bit
// RGB. Runs inside a worker, on native little-endian samples as stored or as a decoder gave them.
import { PacsError } from '../core/errors.js';
import type { ImageGeometry } from './frame.js';
import { type Region, viewportOf } from './resample.js';

export type { Region } from './resample.js';

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
export const VOI_FUNCTIONS: readonly VoiFunction[] = ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'];

export interface VoiWindow {
  center: number;
  width: number;
  function: VoiFunction;
}

/** A lookup table as a LUT Descriptor gives it: the first input value mapped, the bits of each entry, and the entries. */
export interface Lut {
  first: number;
  bits: number;
  data: number[];
}

/** What rendering needs of a dataset, beyond the geometry a decoder needs. */
export interface RenderImage extends ImageGeometry {
  planarConfiguration: number;
  highBit: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Modality LUT Sequence: replaces Rescale Slope/Intercept when present. */
  modalityLut: Lut | null;
  /** The dataset's first Window Center/Width (and VOI LUT Function), if usable. */
  window: VoiWindow | null;
  /** The first VOI LUT Sequence item, used when there is no window. */
  voiLut: Lut | null;
  /** Presentation LUT Shape INVERSE. */
  inverse: boolean;
  palette: { red: Lut; green: Lut; blue: Lut } | null;
}

export interface Viewport {
  /** The largest width and height of the result; the region is scaled to fit, keeping its aspect ratio. Absent: the region's own size. */
  width?: number;
  height?: number;
  /** The part of the image to show (default: all of it); a negative width or height flips it. */
  region?: Region;
}

export interface RenderOptions {
  /** Overrides the dataset's windowing (grayscale only). */
  window?: VoiWindow;
  viewport?: Viewport;
  format: 'jpeg' | 'png';
  /** JPEG quality, 1–100. */
  quality: number;
}

/** 8-bit pixels, gray (1 channel) or RGB (3), row by row. */
export interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

const fail = (why: string): never => {
  throw new PacsError('UNSUPPORTED', `cannot render: ${why}`);
};

const clamp8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

/** The VOI transform of PS3.3 C.11.2.1.2 onto 0…255. */
export function voiValue(x: number, w: VoiWindow): number {
  const { center: c, function: fn } = w;
  if (fn === 'SIGMOID') return clamp8(255 / (1 + Math.exp((-4 * (x - c)) / w.width)));
  if (fn === 'LINEAR_EXACT') {
    if (x <= c - w.width / 2) return 0;
    if (x > c + w.width / 2) return 255;
    return clamp8(((x - c) / w.width + 0.5) * 255);
  }
  const width = Math.max(1, w.width);
  if (x <= c - 0.5 - (width - 1) / 2) return 0;
  if (x > c - 0.5 + (width - 1) / 2) return 255;
  return width === 1 ? 255 : clamp8(((x - (c - 0.5)) / (width - 1) + 0.5) * 255);
}

const lutValue = (lut: Lut, x: number): number => lut.data[Math.min(lut.data.length - 1, Math.max(0, Math.round(x) - lut.first))]!;

/** The frame rendered to 8 bits and cut and scaled to the viewport. */
export function renderPixels(frame: Uint8Array, image: RenderImage, options: Pick<RenderOptions, 'window' | 'viewport'>, packed422 = false): Pixels {
  const full: Pixels = image.photometric.startsWith('MONOCHROME') ? grayscale(frame, image, options.window) : colour(frame, image, packed422);
  return viewportOf(full, options.viewport);
}

/** Stored values of a grayscale frame as they come, one call per pixel index. */
function sampleReader(frame: Uint8Array, g: RenderImage): (i: number) => number {
  const count = g.rows * g.columns;
  const bytes = g.bitsAllocated === 1 ? Math.ceil(count / 8) : (count * g.bitsAllocated) / 8;
  if (frame.length < bytes) fail(`the frame has ${frame.length} bytes, ${bytes} expected`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  switch (g.bitsAllocated) {
    case 1:
      return (i) => (frame[i >> 3]! >> (i & 7)) & 1;
    case 8:
      return (i) => frame[i]!;
    case 16:
      return (i) => view.getUint16(2 * i, true);
    case 32:
      return (i) => view.getUint32(4 * i, true);
    default:
      return fail(`Bits Allocated ${g.bitsAllocated}`);
  }
}

/** Maps a stored word to its signed or unsigned value (Bits Stored, High Bit, Pixel Representation). */
function storedValue(g: RenderImage): (raw: number) => number {
  const bits = Math.min(32, Math.max(1, g.bitsStored || g.bitsAllocated));
  const shift = Math.max(0, (g.highBit >= 0 ? g.highBit : bits - 1) + 1 - bits);
  const span = 2 ** bits;
  const signed = g.pixelRepresentation === 1 && bits > 1;
  return (raw) => {
    const v = Math.floor(raw / 2 ** shift) % span;
    return signed && v >= span / 2 ? v - span : v;
  };
}

function grayscale(frame: Uint8Array, g: RenderImage, asked: VoiWindow | undefined): Pixels {
  const read = sampleReader(frame, g);
  const value = storedValue(g);
  const count = g.rows * g.columns;
  const modality = g.modalityLut ? (s: number) => lutValue(g.modalityLut!, s) : (s: number) => s * g.rescaleSlope + g.rescaleIntercept;
  let voi: (m: number) => number;
  const window = asked ?? g.window;
  if (window) voi = (m) => voiValue(m, window);
  else if (g.voiLut) {
    const lut = g.voiLut;
    const top = 2 ** lut.bits - 1 || 1;
    voi = (m) => clamp8((lutValue(lut, m) * 255) / top);
  } else {
    // No windowing anywhere: the frame's own range of modality values, end to end.
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < count; i++) {
      const m = modality(value(read(i)));
      if (m < lo) lo = m;
      if (m > hi) hi = m;
    }
    const range: VoiWindow = { center: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6), function: 'LINEAR_EXACT' };
    voi = hi > lo ? (m) => voiValue(m, range) : () => 128;
  }
  const invert = (g.photometric === 'MONOCHROME1') !== g.inverse;
  const out = new Uint8Array(count);
  const bits = g.bitsStored || g.bitsAllocated;
  if (g.bitsAllocated <= 16 && bits <= 16) {
    // Every stored word maps through one table: at most 65536 entries, made once.
    const words = 2 ** g.bitsAllocated;
    const table = new Uint8Array(Math.min(words, 65536));
    for (let w = 0; w < table.length; w++) {
      const v = voi(modality(value(w)));
      table[w] = invert ? 255 - v : v;
    }
    for (let i = 0; i < count; i++) out[i] = table[read(i)]!;
  } else {
    for (let i = 0; i < count; i++) {
      const v = voi(modality(value(read(i))));
      out[i] = invert ? 255 - v : v;
    }
  }
  return { data: out, width: g.columns, height: g.rows, channels: 1 };
}

/** YCbCr to RGB: full range (ITU-R BT.601 as PS3.3 C.7.6.3.1.2 gives it) or partial (studio) range. */
function ybrToRgb(out: Uint8Array, o: number, y: number, cb: number, cr: number, partial: boolean): void {
  if (partial) {
    const yy = 1.1644 * (y - 16);
    out[o] = clamp8(yy + 1.596 * (cr - 128));
    out[o + 1] = clamp8(yy - 0.3918 * (cb - 128) - 0.813 * (cr - 128));
    out[o + 2] = clamp8(yy + 2.0172 * (cb - 128));
    return;
  }
  out[o] = clamp8(y + 1.402 * (cr - 128));
  out[o + 1] = clamp8(y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128));
  out[o + 2] = clamp8(y + 1.772 * (cb - 128));
}

/** 8-bit entries of a palette LUT: 16-bit entries keep their high byte; 8-bit ones sit in either byte. */
function palette8(lut: Lut): Uint8Array {
  const high = lut.bits > 8 || lut.data.some((v) => v > 255);
  return Uint8Array.from(lut.data, (v) => (high ? v >> 8 : v & 0xff));
}

function colour(frame: Uint8Array, g: RenderImage, packed422: boolean): Pixels {
  const count = g.rows * g.columns;
  const out = new Uint8Array(count * 3);
  const pm = g.photometric;
  if (pm === 'PALETTE COLOR') {
    const p = g.palette ?? fail('PALETTE COLOR without a complete palette (segmented palettes are not supported)');
    const [r, gr, b] = [palette8(p.red), palette8(p.green), palette8(p.blue)];
    const read = sampleReader(frame, g);
    const value = storedValue(g);
    const at = (lut: Lut, t: Uint8Array, v: number): number => t[Math.min(t.length - 1, Math.max(0, v - lut.first))]!;
    for (let i = 0; i < count; i++) {
      const v = value(read(i));
      out[3 * i] = at(p.red, r, v);
      out[3 * i + 1] = at(p.green, gr, v);
      out[3 * i + 2] = at(p.blue, b, v);
    }
    return { data: out, width: g.columns, height: g.rows, channels: 3 };
  }
  if (g.samplesPerPixel !== 3) fail(`Photometric Interpretation ${pm} with ${g.samplesPerPixel} samples per pixel`);
  if (g.bitsAllocated !== 8 && g.bitsAllocated !== 16) fail(`colour with Bits Allocated ${g.bitsAllocated}`);
  const wide = g.bitsAllocated === 16;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const down = Math.max(0, (g.bitsStored || g.bitsAllocated) - 8);
  const sample = wide ? (k: number) => Math.min(255, view.getUint16(2 * k, true) >> down) : (k: number) => frame[k]!;
  const partial = pm === 'YBR_PARTIAL_422' || pm === 'YBR_PARTIAL_420';
  if (packed422 && (pm === 'YBR_FULL_422' || pm === 'YBR_PARTIAL_422')) {
    // Two pixels in four samples: Y1 Y2 Cb Cr (PS3.3 C.7.6.3.1.2).
    const need = count * 2 * (wide ? 2 : 1);
    if (frame.length < need) fail(`the frame has ${frame.length} bytes, ${need} expected for ${pm}`);
    for (let row = 0; row < g.rows; row++) {
      for (let col = 0; col < g.columns; col++) {
        const i = row * g.columns + col;
        const pair = 2 * (i - (col & 1));
        ybrToRgb(out, 3 * i, sample(pair + (col & 1)), sample(pair + 2), sample(pair + 3), partial);
      }
    }
    return { data: out, width: g.columns, height: g.rows, channels: 3 };
  }
  const need = count * 3 * (wide ? 2 : 1);
  if (frame.length < need) fail(`the frame has ${frame.length} bytes, ${need} expected`);
  const planar = g.planarConfiguration === 1;
  const s = planar ? (i: number, c: number) => sample(c * count + i) : (i: number, c: number) => sample(3 * i + c);
  const ybr = pm.startsWith('YBR_');
  if (!ybr && pm !== 'RGB') fail(`Photometric Interpretation ${pm}`);
  for (let i = 0; i < count; i++) {
    if (ybr) ybrToRgb(out, 3 * i, s(i, 0), s(i, 1), s(i, 2), partial);
    else {
      out[3 * i] = s(i, 0);
      out[3 * i + 1] = s(i, 1);
      out[3 * i + 2] = s(i, 2);
    }
  }
  return { data: out, width: g.columns, height: g.rows, channels: 3 };
}
