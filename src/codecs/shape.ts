// A decoder's samples made into a native DICOM frame: the Bits Allocated of the dataset (a
// decoder gives 8-bit precision in bytes even where the dataset allocates 16), samples
// interleaved by pixel, little-endian, exactly one frame long. Anything that does not fit is
// an error, never a guess.
import { PacsError } from '../core/errors.js';
import { frameBytes, type ImageGeometry } from './frame.js';

export interface DecodedSamples {
  /** The decoder's output; a view into WebAssembly memory is copied out. */
  samples: Uint8Array | Uint16Array | Int16Array;
  /** 1 or 2 bytes per sample as the decoder wrote them. */
  bytesPerSample: number;
  components: number;
  /** Component planes one after another (JPEG-LS interleave mode 0) rather than interleaved. */
  planar: boolean;
  signed: boolean;
}

const fail = (why: string): never => {
  throw new PacsError('DICOM_PARSE', why);
};

/** The decoded frame, owning its buffer, ready to be transferred. */
export function shapeFrame(d: DecodedSamples, g: ImageGeometry): ArrayBuffer {
  if (d.components !== g.samplesPerPixel) fail(`the codestream has ${d.components} components, Samples per Pixel is ${g.samplesPerPixel}`);
  const out = g.bitsAllocated / 8;
  if (out !== 1 && out !== 2) fail(`Bits Allocated ${g.bitsAllocated} is not supported for decompression`);
  const count = g.rows * g.columns * g.samplesPerPixel;
  const bytes = new Uint8Array(d.samples.buffer, d.samples.byteOffset, d.samples.byteLength);
  if (bytes.byteLength !== count * d.bytesPerSample)
    fail(`the decoder gave ${bytes.byteLength} bytes, ${count * d.bytesPerSample} expected for ${g.rows}×${g.columns}×${g.samplesPerPixel} samples of ${d.bytesPerSample} byte(s)`);
  if (d.bytesPerSample > out) fail(`the codestream has ${d.bytesPerSample * 8}-bit samples, Bits Allocated is ${g.bitsAllocated}`);
  if (!d.planar && d.bytesPerSample === out) return owned(bytes);
  const result = new Uint8Array(frameBytes(g));
  const planeSize = g.rows * g.columns;
  const spp = g.samplesPerPixel;
  const widen = d.bytesPerSample === 1 && out === 2;
  const signExtend = widen && d.signed && g.pixelRepresentation === 1;
  const view = new DataView(result.buffer);
  for (let i = 0; i < count; i++) {
    // Sample i of the output (pixel p, component c) comes from plane c at p when planar.
    const src = d.planar ? (i % spp) * planeSize + Math.floor(i / spp) : i;
    if (!widen) {
      if (out === 1) result[i] = bytes[src]!;
      else {
        result[2 * i] = bytes[2 * src]!;
        result[2 * i + 1] = bytes[2 * src + 1]!;
      }
    } else view.setUint16(2 * i, signExtend ? (bytes[src]! << 24) >> 24 : bytes[src]!, true);
  }
  return result.buffer;
}

/** The bytes in an ArrayBuffer of their own: as they are if they already fill one, else copied. */
export function owned(b: Uint8Array): ArrayBuffer {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return b.buffer;
  return b.slice().buffer;
}
