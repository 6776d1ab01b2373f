// What passes between the converter and a decoding worker: one compressed frame out, its
// native pixels back. Both ways the bytes travel as a transferred ArrayBuffer, never cloned.

/** Which decoder a frame needs; each maps to one library (see decoders.ts). */
export type CodecName = 'jpeg' | 'jpeg-lossless' | 'jpeg-ls' | 'j2k' | 'htj2k' | 'rle';

import type { PixelModule } from '../dicom/decompress.js';

/** The Image Pixel Module attributes a decoder needs to check and shape its output. */
export type ImageGeometry = PixelModule;

export interface FrameTask {
  codec: CodecName;
  geometry: ImageGeometry;
  /** The frame's codestream, alone in its buffer so that it can be transferred. */
  frame: ArrayBuffer;
}

export interface FrameResult {
  /** Native little-endian samples, pixel-interleaved (Planar Configuration 0), exactly rows × columns × samples × bytes. */
  pixels: ArrayBuffer;
  /** The Photometric Interpretation of the decoded samples (RGB where the decoder converted colour). */
  photometric: string;
  /**
   * What the codestream itself says of its coding, where the decoder can tell: true when lossy
   * (JPEG DCT, JPEG-LS NEAR > 0, an irreversible JPEG 2000 wavelet), false when proven lossless
   * (JPEG-LS NEAR 0); absent when it cannot tell (a reversible wavelet proves nothing: its layers
   * may have been cut to a rate). The transfer syntax's own kind then decides.
   */
  lossy?: boolean;
}

/** Bytes of one native frame. */
export const frameBytes = (g: ImageGeometry): number => g.rows * g.columns * g.samplesPerPixel * (g.bitsAllocated / 8);

import type { RenderImage, RenderOptions } from './render.js';

/** One frame to render and encode as an image: decoded first when `codec` is set. */
export interface RenderTask {
  /** A codec's codestream, or native little-endian samples as stored; alone in its buffer. */
  frame: ArrayBuffer;
  codec: CodecName | null;
  image: RenderImage;
  options: RenderOptions;
}

export interface RenderResult {
  /** The encoded image (JPEG or PNG as the options said). */
  bytes: ArrayBuffer;
  width: number;
  height: number;
}
