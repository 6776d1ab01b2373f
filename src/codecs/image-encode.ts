// Rendered pixels into the media types of PS3.18 8.7.4: JPEG by libjpeg-turbo (the full
// WebAssembly build of the package whose decoder we already use; baseline, 4:4:4, the quality
// asked for) and PNG by fast-png (lossless, 8-bit gray or RGB). Both run inside a worker.
import { createRequire } from 'node:module';
import { encode as encodePng } from 'fast-png';
import { PacsError } from '../core/errors.js';
import type { Pixels } from './render.js';

const require = createRequire(import.meta.url);

interface WasmEncoder {
  getDecodedBuffer(info: { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean }): Uint8Array;
  getEncodedBuffer(): Uint8Array;
  setQuality(quality: number): void;
  setProgressive(progressive: number): void;
  setSubSampling(subsampling: number): void;
  encode(): void;
  delete(): void;
}

let Encoder: Promise<new () => WasmEncoder> | null = null;
const printed: string[] = [];

function encoderClass(): Promise<new () => WasmEncoder> {
  if (!Encoder) {
    const factory = require('@cornerstonejs/codec-libjpeg-turbo-8bit/wasmjs') as (opts: object) => Promise<{ JPEGEncoder: new () => WasmEncoder }>;
    const capture = (line: string): void => void (printed.length < 20 && printed.push(String(line)));
    Encoder = factory({ print: capture, printErr: capture }).then((m) => m.JPEGEncoder);
  }
  return Encoder;
}

/** TJSAMP_444: no chroma subsampling (colour edges in medical images stay sharp). */
const SUBSAMPLING_444 = 0;

/**
 * How to describe the image to the wrapper so that its output buffer is big enough. The wrapper
 * (JPEGEncoder.hpp of @cornerstonejs/codec-libjpeg-turbo-8bit) makes the output buffer as large
 * as its input buffer and compresses with TJFLAG_NOREALLOC, so a small or noisy image would be
 * written past the end. Its input buffer is width × height × componentCount × ⌈bitsPerSample/8⌉
 * bytes, of which libjpeg-turbo reads only width × height × (1 or 3): asking for more bits per
 * sample (and, for RGB, more components — anything but 1 is read as RGB) makes room. The room
 * asked for is above libjpeg-turbo's own worst case (tjBufSize: 6 bytes per pixel of the image
 * padded to its 8×8 MCUs at 4:4:4, 2 for gray, plus 2048): 6 bytes per pixel of the image padded
 * to 16×16, plus 4096. Gray images too small for that become RGB (equal channels).
 */
export function encoderLayout(width: number, height: number, channels: 1 | 3): { channels: 1 | 3; componentCount: number; bitsPerSample: number } {
  const pad = (x: number): number => Math.ceil(x / 16) * 16;
  const room = 6 * pad(width) * pad(height) + 4096;
  const pixels = width * height;
  // Both are 8-bit fields there: at most 255 bits (32 bytes) per sample, 255 components.
  const bits = (bytes: number): number => Math.min(255, 8 * Math.max(1, bytes));
  if (channels === 1 && pixels * 32 >= room) return { channels: 1, componentCount: 1, bitsPerSample: bits(Math.ceil(room / pixels)) };
  const componentCount = Math.max(3, Math.ceil(room / (pixels * 32)));
  if (componentCount > 255) throw new PacsError('UNSUPPORTED', `cannot size the JPEG encoder's buffer for ${width}×${height}`);
  return { channels: 3, componentCount, bitsPerSample: bits(Math.ceil(room / (pixels * componentCount))) };
}

export async function encodeJpeg(px: Pixels, quality: number): Promise<Uint8Array> {
  const E = await encoderClass();
  const layout = encoderLayout(px.width, px.height, px.channels);
  const e = new E();
  printed.length = 0;
  try {
    const input = e.getDecodedBuffer({ width: px.width, height: px.height, bitsPerSample: layout.bitsPerSample, componentCount: layout.componentCount, isSigned: false });
    if (layout.channels === px.channels) input.set(px.data);
    else for (let i = 0; i < px.data.length; i++) input.fill(px.data[i]!, 3 * i, 3 * i + 3);
    e.setQuality(Math.min(100, Math.max(1, Math.round(quality))));
    e.setProgressive(0);
    e.setSubSampling(SUBSAMPLING_444);
    try {
      e.encode();
    } catch (err) {
      // A C++ exception leaves the module in an unknown state: the next image gets a fresh one.
      Encoder = null;
      throw new PacsError('UNSUPPORTED', `libjpeg-turbo could not encode the image${printed.length ? `: ${printed.join('; ')}` : typeof err === 'number' ? '' : `: ${String(err)}`}`);
    }
    return new Uint8Array(e.getEncodedBuffer());
  } finally {
    try {
      e.delete();
    } catch {
      Encoder = null;
    }
  }
}

export function encodePngImage(px: Pixels): Uint8Array {
  return encodePng({ width: px.width, height: px.height, data: px.data, channels: px.channels, depth: 8 });
}

export async function encodeImage(px: Pixels, format: 'jpeg' | 'png', quality: number): Promise<Uint8Array> {
  return format === 'png' ? encodePngImage(px) : encodeJpeg(px, quality);
}
