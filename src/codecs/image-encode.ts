// Rendered pixels into the media types of PS3.18 8.7.4: JPEG by jpeg-js (baseline, 4:4:4, the
// quality asked for) and PNG by fast-png (lossless, 8-bit gray or RGB). Both are plain
// JavaScript and run inside a worker. (The encoder of the WebAssembly libjpeg-turbo package
// we decode with sizes its output buffer to the raw image and writes past it on small or
// noisy images, so it is not used.)
import jpeg from 'jpeg-js';
import { encode as encodePng } from 'fast-png';
import type { Pixels } from './render.js';

export function encodeJpeg(px: Pixels, quality: number): Uint8Array {
  // jpeg-js takes RGBA; gray goes in as equal channels (its JPEGs are always YCbCr).
  const n = px.width * px.height;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0, s = 0; i < n; i++) {
    if (px.channels === 1) {
      const v = px.data[i]!;
      rgba[4 * i] = v;
      rgba[4 * i + 1] = v;
      rgba[4 * i + 2] = v;
    } else {
      rgba[4 * i] = px.data[s++]!;
      rgba[4 * i + 1] = px.data[s++]!;
      rgba[4 * i + 2] = px.data[s++]!;
    }
    rgba[4 * i + 3] = 255;
  }
  const out = jpeg.encode({ width: px.width, height: px.height, data: rgba }, Math.min(100, Math.max(1, Math.round(quality))));
  return new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
}

export function encodePngImage(px: Pixels): Uint8Array {
  return encodePng({ width: px.width, height: px.height, data: px.data, channels: px.channels, depth: 8 });
}

export async function encodeImage(px: Pixels, format: 'jpeg' | 'png', quality: number): Promise<Uint8Array> {
  return format === 'png' ? encodePngImage(px) : encodeJpeg(px, quality);
}
