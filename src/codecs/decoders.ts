// One decoder per codec, run inside a worker: each checks what the codestream says against the
// dataset's Image Pixel Module before and after decoding, and answers with native samples and
// the Photometric Interpretation they are in. A frame no decoder here can take is an error
// with a reason (12-bit colour JPEG, a JPEG process the syntax does not allow, colour at 16 bits the
// WebAssembly wrappers do not write out ...), never pixels of the wrong shape.
import { createRequire } from 'node:module';
import { PacsError, errorMessage } from '../core/errors.js';
import { decodeRleFrame } from '../dicom/rle.js';
import type { CodecName, FrameResult, ImageGeometry } from './frame.js';
import { readJ2kSize, readJpegFrameHeader, readJpegLsFrameHeader } from './jpeg-header.js';
import { decodeJpeg12 } from './jpeg12.js';
import { clearMessages, decoderClass, discard, messages, type Library, type WasmDecoder } from './libraries.js';
import { owned, shapeFrame } from './shape.js';

const require = createRequire(import.meta.url);

const fail = (why: string): never => {
  throw new PacsError('DICOM_PARSE', why);
};

/** The Photometric Interpretation after a decoder that turns YBR into RGB. */
const rgbIf = (converted: boolean, photometric: string): string => (converted ? 'RGB' : photometric);

/** Runs a WebAssembly decoder over one codestream; the decoder object is freed whatever happens. */
async function runWasm(lib: Library, frame: Uint8Array, use: (d: WasmDecoder) => FrameResult): Promise<FrameResult> {
  const Decoder = await decoderClass(lib);
  // A fresh decoder per frame: openjpeg's keeps the previous frame's output when a decode fails.
  const d = new Decoder();
  clearMessages();
  try {
    d.getEncodedBuffer(frame.length).set(frame);
    try {
      d.decode();
    } catch (e) {
      // C++ exceptions arrive as bare numbers: the module's state is unknown from here on.
      discard(lib);
      fail(`${lib} could not decode the frame${messages.length ? `: ${messages.join('; ')}` : typeof e === 'number' ? '' : `: ${errorMessage(e)}`}`);
    }
    return use(d);
  } finally {
    try {
      d.delete();
    } catch {
      discard(lib);
    }
  }
}

const libraryError = (lib: string, what: string): string => `${lib}: ${what}${messages.length ? ` (${messages.join('; ')})` : ''}`;

/**
 * What the codestream's own header claims, checked against the dataset before its decoder runs:
 * a decoder allocates what the codestream claims (gigabytes, from a frame of a few bytes) before
 * it finds the size is not the dataset's. Null (a header not found): the decoder's own check after.
 */
function checkClaim(size: { rows: number; columns: number } | null, g: ImageGeometry): void {
  // 0 rows: a JPEG whose height comes later (DNL), which the decoder checks.
  if (size && size.rows !== 0 && (size.columns !== g.columns || size.rows !== g.rows)) fail(`the codestream is ${size.columns}×${size.rows}, the dataset says ${g.columns}×${g.rows}`);
}

function checkSize(info: { width: number; height: number }, g: ImageGeometry, lib: string): void {
  if (info.width !== g.columns || info.height !== g.rows)
    fail(libraryError(lib, `the codestream is ${info.width}×${info.height}, the dataset says ${g.columns}×${g.rows}`));
}

async function jpeg(frame: Uint8Array, g: ImageGeometry): Promise<FrameResult> {
  const h = readJpegFrameHeader(frame) ?? fail('no JPEG frame header (SOF) before the first scan');
  if (h.sof === 0xffc3 || h.sof > 0xffc2) fail(`JPEG process of marker ${h.sof.toString(16)} is not allowed in this transfer syntax`);
  checkClaim(h, g);
  if (h.precision === 12) return jpeg12(frame, g);
  if (h.precision !== 8) fail(`${h.precision}-bit JPEG (SOF${h.sof & 0xf}) cannot be decoded: JPEG baseline and extended are 8 or 12 bits`);
  return runWasm('libjpeg-turbo', frame, (d) => {
    const info = d.getFrameInfo();
    checkSize(info, g, 'libjpeg-turbo');
    const samples = d.getDecodedBuffer();
    // libjpeg-turbo writes three components as RGB, converting from YCbCr as the codestream says.
    const pixels = shapeFrame({ samples, bytesPerSample: 1, components: info.componentCount, planar: false, signed: false }, g);
    // DCT processes quantize: never lossless.
    return { pixels, photometric: rgbIf(info.componentCount === 3, g.photometric), lossy: true };
  });
}

/** 12-bit JPEG Extended (process 4), grey-scale: our own decoder (jpeg12.ts). */
function jpeg12(frame: Uint8Array, g: ImageGeometry): FrameResult {
  const image = decodeJpeg12(frame);
  if (image.columns !== g.columns || image.rows !== g.rows) fail(`the codestream is ${image.columns}×${image.rows}, the dataset says ${g.columns}×${g.rows}`);
  return { pixels: shapeFrame({ samples: image.samples, bytesPerSample: 2, components: 1, planar: false, signed: false }, g), photometric: g.photometric, lossy: true };
}

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
}
let Lossless: (new () => LosslessDecoder) | null = null;

function jpegLossless(frame: Uint8Array, g: ImageGeometry): FrameResult {
  const h = readJpegFrameHeader(frame) ?? fail('no JPEG frame header (SOF) before the first scan');
  if (h.sof !== 0xffc3) fail(`JPEG marker SOF${h.sof & 0xf} in a JPEG Lossless (process 14) transfer syntax`);
  if (h.precision > 16 || h.precision < 2) fail(`JPEG Lossless precision ${h.precision}`);
  if (h.components !== 1 && !(h.components === 3 && h.precision <= 8)) fail(`JPEG Lossless with ${h.components} components of ${h.precision} bits is not supported`);
  if (h.columns !== g.columns || h.rows !== g.rows) fail(`the codestream is ${h.columns}×${h.rows}, the dataset says ${g.columns}×${g.rows}`);
  // The decoder writes samples as wide as asked: 16-bit samples asked for in bytes would lose their high bits.
  if (h.precision > g.bitsAllocated) fail(`the codestream has ${h.precision}-bit samples, Bits Allocated is ${g.bitsAllocated}`);
  Lossless ??= (require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder }).Decoder;
  const bytesPerSample = h.components === 1 && g.bitsAllocated > 8 ? 2 : 1;
  let samples: Uint8Array | Uint16Array;
  try {
    samples = new Lossless().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.byteLength, bytesPerSample);
  } catch (e) {
    return fail(`jpeg-lossless-decoder-js: ${errorMessage(e)}`);
  }
  return { pixels: shapeFrame({ samples, bytesPerSample, components: h.components, planar: false, signed: false }, g), photometric: g.photometric };
}

function jpegLs(frame: Uint8Array, g: ImageGeometry): Promise<FrameResult> {
  checkClaim(readJpegLsFrameHeader(frame), g);
  return runWasm('charls', frame, (d) => {
    const info = d.getFrameInfo();
    checkSize(info, g, 'charls');
    const samples = d.getDecodedBuffer();
    const planar = info.componentCount > 1 && d.getInterleaveMode!() === 0;
    const near = d.getNearLossless?.();
    const pixels = shapeFrame({ samples, bytesPerSample: info.bitsPerSample > 8 ? 2 : 1, components: info.componentCount, planar, signed: false }, g);
    // NEAR is the largest error a sample may have: 0 is lossless whatever the syntax says.
    return { pixels, photometric: g.photometric, ...(near === undefined ? {} : { lossy: near > 0 }) };
  });
}

/** YBR_RCT and YBR_ICT name the JPEG 2000 component transform, which the decoder inverts. */
const J2K_MCT = new Set(['YBR_RCT', 'YBR_ICT']);

function j2kResult(d: WasmDecoder, g: ImageGeometry, lib: string, convertedColour: boolean): FrameResult {
  // Both wrappers print their errors and leave the output empty rather than throw.
  const samples = d.getDecodedBuffer();
  if (!samples.length) fail(libraryError(lib, 'decoding failed'));
  const info = d.getFrameInfo();
  checkSize(info, g, lib);
  const offset = d.getImageOffset?.();
  if (offset && (offset.x || offset.y)) fail(libraryError(lib, `image offset ${offset.x},${offset.y} is not supported`));
  if (info.componentCount > 1 && info.bitsPerSample > 8) fail(libraryError(lib, `${info.componentCount} components of ${info.bitsPerSample} bits are not supported`));
  if (info.bitsPerSample > 16) fail(libraryError(lib, `${info.bitsPerSample}-bit samples are not supported`));
  if (info.isSigned && info.bitsPerSample <= 8) fail(libraryError(lib, 'signed 8-bit samples are not supported'));
  const pixels = shapeFrame({ samples, bytesPerSample: info.bitsPerSample > 8 ? 2 : 1, components: info.componentCount, planar: false, signed: info.isSigned ?? false }, g);
  const photometric = rgbIf(J2K_MCT.has(g.photometric) || (convertedColour && g.photometric.startsWith('YBR')), g.photometric);
  // The irreversible 9-7 wavelet loses; the reversible one may still have lost (layers cut to a rate).
  return { pixels, photometric, ...(d.getIsReversible?.() === false ? { lossy: true } : {}) };
}

function j2k(frame: Uint8Array, g: ImageGeometry): Promise<FrameResult> {
  checkClaim(readJ2kSize(frame), g);
  // openjpeg turns sYCC and subsampled colour into RGB itself, then says colour space 1 (sRGB).
  return runWasm('openjpeg', frame, (d) => j2kResult(d, g, 'openjpeg', d.getColorSpace?.() === 1));
}

async function htj2k(frame: Uint8Array, g: ImageGeometry): Promise<FrameResult> {
  checkClaim(readJ2kSize(frame), g);
  try {
    return await runWasm('openjph', frame, (d) => {
      const info = d.getFrameInfo();
      for (let c = 1; c < info.componentCount; c++) {
        const s = d.getDownSample!(c);
        if (s.x !== 1 || s.y !== 1) fail('openjph: subsampled colour components are not supported');
      }
      return j2kResult(d, g, 'openjph', false);
    });
  } catch (e) {
    // OpenJPH decodes HT code-blocks only; OpenJPEG also reads Part 1 ones (an HTJ2K codestream
    // may mix them) and subsampled colour. Slower, so second.
    return j2k(frame, g).catch((e2: unknown) => fail(`${errorMessage(e)}; openjpeg: ${errorMessage(e2)}`));
  }
}

function rle(frame: Uint8Array, g: ImageGeometry): FrameResult {
  const pixels = decodeRleFrame(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength), g);
  if (pixels.length !== g.rows * g.columns * g.samplesPerPixel * (g.bitsAllocated / 8)) fail('RLE: decoded frame has the wrong length');
  return { pixels: owned(pixels), photometric: g.photometric };
}

/** Decodes one frame with the decoder of `codec`. */
export async function decodeFrame(codec: CodecName, frame: Uint8Array, g: ImageGeometry): Promise<FrameResult> {
  switch (codec) {
    case 'jpeg':
      return jpeg(frame, g);
    case 'jpeg-lossless':
      return jpegLossless(frame, g);
    case 'jpeg-ls':
      return jpegLs(frame, g);
    case 'j2k':
      return j2k(frame, g);
    case 'htj2k':
      return htj2k(frame, g);
    case 'rle':
      return rle(frame, g);
  }
}
