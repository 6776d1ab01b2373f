// The source region and viewport of a rendered image (PS3.18 8.3.5.1.3; WADO-URI rows,
// columns and region): the region is cut out, flipped where its width or height is negative,
// and scaled to fit the viewport with its aspect ratio kept. Scaling is separable: an area
// average when shrinking (every source pixel counts, no aliasing), linear when enlarging.
import { PacsError } from '../core/errors.js';
import type { Pixels, Viewport } from './render.js';

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** The largest side a rendered image may have. */
export const MAX_SIDE = 8192;
/**
 * The most pixels a viewport may enlarge a region to (a 4K screen's 8.3 million fit): an image is
 * rendered at its own size whatever that is, but a viewport of 8192×8192 made of any small
 * image 67 million pixels, hundreds of MB in the encoder that a worker's WebAssembly heap then
 * keeps for good.
 */
export const MAX_ENLARGED_PIXELS = 4096 * 4096;

const bad = (why: string): never => {
  throw new PacsError('BAD_ARGUMENT', why);
};

/** Output size for a region of w × h fitted into a viewport (either side may be absent). */
export function fitSize(w: number, h: number, vw?: number, vh?: number): { width: number; height: number } {
  if (vw === undefined && vh === undefined) return { width: w, height: h };
  const scale = Math.min(vw === undefined ? Infinity : vw / w, vh === undefined ? Infinity : vh / h);
  return { width: Math.max(1, Math.min(MAX_SIDE, Math.round(w * scale))), height: Math.max(1, Math.min(MAX_SIDE, Math.round(h * scale))) };
}

/** For each output position along one axis: the source positions it takes from and their weights. */
interface Taps {
  start: Int32Array; // first tap of output o in `index`/`weight`
  index: Int32Array;
  weight: Float32Array;
}

function taps(origin: number, length: number, out: number): Taps {
  const n = Math.abs(length);
  const flip = length < 0;
  const src = (k: number): number => origin + (flip ? n - 1 - k : k);
  const index: number[] = [];
  const weight: number[] = [];
  const start = new Int32Array(out + 1);
  const step = n / out;
  for (let o = 0; o < out; o++) {
    start[o] = index.length;
    if (step >= 1) {
      const a = o * step;
      const b = a + step;
      for (let k = Math.floor(a); k < Math.min(n, Math.ceil(b)); k++) {
        const w = Math.min(b, k + 1) - Math.max(a, k);
        if (w > 1e-9) {
          index.push(src(k));
          weight.push(w / step);
        }
      }
    } else {
      const c = Math.min(n - 1, Math.max(0, (o + 0.5) * step - 0.5));
      const k = Math.floor(c);
      const f = c - k;
      index.push(src(k));
      weight.push(1 - f);
      if (f > 0 && k + 1 < n) {
        index.push(src(k + 1));
        weight.push(f);
      }
    }
  }
  start[out] = index.length;
  return { start, index: Int32Array.from(index), weight: Float32Array.from(weight) };
}

/** The image cut to its region and scaled into the viewport. */
export function viewportOf(image: Pixels, viewport: Viewport | undefined): Pixels {
  const r = viewport?.region ?? { x: 0, y: 0, width: image.width, height: image.height };
  if (!Number.isInteger(r.x) || !Number.isInteger(r.y) || r.x < 0 || r.y < 0 || !r.width || !r.height)
    bad(`the region ${r.x},${r.y},${r.width},${r.height} is not a region of the image`);
  if (r.x + Math.abs(r.width) > image.width || r.y + Math.abs(r.height) > image.height)
    bad(`the region ${r.x},${r.y},${r.width},${r.height} lies outside the image of ${image.width}×${image.height}`);
  const { width, height } = fitSize(Math.abs(r.width), Math.abs(r.height), viewport?.width, viewport?.height);
  if (width * height > Math.max(MAX_ENLARGED_PIXELS, Math.abs(r.width * r.height)))
    bad(`the viewport ${viewport?.width ?? ''}×${viewport?.height ?? ''} enlarges ${Math.abs(r.width)}×${Math.abs(r.height)} pixels to ${width}×${height}: at most ${MAX_ENLARGED_PIXELS} pixels when enlarging`);
  if (r.x === 0 && r.y === 0 && r.width === image.width && r.height === image.height && width === image.width && height === image.height) return image;
  const ch = image.channels;
  const tx = taps(r.x, r.width, width);
  const ty = taps(r.y, r.height, height);
  // Rows the vertical pass needs, scaled horizontally first.
  const rows = new Map<number, Float32Array>();
  const rowOf = (y: number): Float32Array => {
    let row = rows.get(y);
    if (row) return row;
    row = new Float32Array(width * ch);
    const base = y * image.width;
    for (let o = 0; o < width; o++) {
      for (let c = 0; c < ch; c++) {
        let s = 0;
        for (let t = tx.start[o]!; t < tx.start[o + 1]!; t++) s += image.data[(base + tx.index[t]!) * ch + c]! * tx.weight[t]!;
        row[o * ch + c] = s;
      }
    }
    rows.set(y, row);
    return row;
  };
  const out = new Uint8Array(width * height * ch);
  const acc = new Float32Array(width * ch);
  for (let o = 0; o < height; o++) {
    const first = ty.start[o]!;
    const last = ty.start[o + 1]!;
    // Only the source rows of this output row stay cached (they are shared with the next one at most).
    const needed = new Set(Array.from(ty.index.subarray(first, last)));
    for (const y of rows.keys()) if (!needed.has(y)) rows.delete(y);
    acc.fill(0);
    for (let t = first; t < last; t++) {
      const row = rowOf(ty.index[t]!);
      const w = ty.weight[t]!;
      for (let k = 0; k < acc.length; k++) acc[k] = acc[k]! + row[k]! * w;
    }
    const line = o * width * ch;
    for (let k = 0; k < acc.length; k++) out[line + k] = Math.min(255, Math.max(0, Math.round(acc[k]!)));
  }
  return { data: out, width, height, channels: ch };
}
