// A stored dataset in another transfer syntax, for a receiver that did not accept the stored
// one: uncompressed syntaxes are re-encoded, Deflated Explicit VR LE is inflated (on libuv's
// threads, under the same size cap as a decompression), and compressed Pixel Data is decoded frame by frame on the worker pool, so the
// event loop only walks headers and copies bytes. A frame that cannot be decoded fails the
// whole dataset with the reason: nothing half-converted is ever sent.
import { PacsError, errorMessage, isPacsError } from '../core/errors.js';
import { type CompressedDataset, type PixelModule, openCompressedDataset } from '../dicom/decompress.js';
import { Semaphore } from '../core/semaphore.js';
import { TS } from '../dicom/transfer-syntax.js';
import { transcodeDataset } from '../dicom/transcode.js';
import { type CodecName, frameBytes, type FrameResult } from './frame.js';
import { inflateDataset } from './inflate.js';
import type { FrameDecoder } from './pool.js';
import { DECODERS, ENCAPSULATED_UNCOMPRESSED, LOSSY_SYNTAXES, START_MARKER, canConvert } from './syntaxes.js';

export { canConvert } from './syntaxes.js';

/** Frames of one instance decoding at once: enough to keep the pool's threads busy. */
const FRAMES_IN_FLIGHT = 4;

/**
 * The largest decompressed result we make: it is held whole (the receiver gets one dataset), so a
 * 2,000-frame tomosynthesis decompressed for one request could take the server's memory.
 */
export const MAX_CONVERTED_BYTES = 2048 * 1048576;

/**
 * Decompressions larger than this run one at a time in the process: each holds its decoded
 * frames, the dataset rebuilt around them and, re-encoded, a third copy. C-GET and C-MOVE prepare
 * instances ahead and WADO-RS reads ahead, so a few 600-frame instances decompressed side by side
 * (for one request or several) took gigabytes where one takes hundreds of megabytes.
 */
const LARGE_CONVERSION = 64 * 1048576;
const largeConversions = new Semaphore(1);

/**
 * The largest single frame decoded for a rendered image or a WADO-RS frame: a header is not
 * believed past it (a few MB of RLE claiming 16384 × 16384 samples took 550 MB a thumbnail; a
 * handful of such requests, the server).
 */
export const MAX_FRAME_BYTES = 512 * 1048576;

/**
 * `decode`, a frame of `bytes` decoded, under the bounds of a conversion: refused past
 * MAX_FRAME_BYTES, one at a time with the large conversions past LARGE_CONVERSION.
 */
export async function withinDecodeBudget<T>(bytes: number, what: string, decode: () => Promise<T>): Promise<T> {
  if (bytes > MAX_FRAME_BYTES) throw new PacsError('UNSUPPORTED', `${what} would take ${Math.ceil(bytes / 1048576)} MB decoded, more than ${MAX_FRAME_BYTES / 1048576} MB`);
  return oneLargeAtATime(bytes, decode);
}

/** `decode` (of `bytes` decoded) at once, or past LARGE_CONVERSION in turn with the other large ones. */
const oneLargeAtATime = <T>(bytes: number, decode: () => Promise<T>): Promise<T> => (bytes <= LARGE_CONVERSION ? decode() : largeConversions.run(decode));

export interface ConvertOptions {
  /** The cap on the result (default MAX_CONVERTED_BYTES; tests use a small one). */
  maxBytes?: number;
  /** The caller gave up (a cancelled job, a retrieve abandoned): no further frame is decoded, and the conversion fails ABORTED. */
  signal?: AbortSignal;
}

/** The dataset (the bytes after the File Meta) re-expressed in `to`, an uncompressed syntax. */
export async function convertDataset(data: Buffer, from: string, to: string, decoder: FrameDecoder, options: ConvertOptions = {}): Promise<Buffer> {
  const maxBytes = options.maxBytes ?? MAX_CONVERTED_BYTES;
  if (from === to) return data;
  // Given up before it began (the file was being read): not even inflated or walked.
  if (options.signal?.aborted) throw new PacsError('ABORTED', 'conversion given up before it began');
  if (!canConvert(from, to)) throw new PacsError('DICOM_PARSE', `cannot convert from ${from} to ${to}`);
  // Inflated under the same cap as a decompression: the re-encoding after it is no larger.
  if (from === TS.DeflatedExplicitVRLittleEndian) return transcodeDataset(await inflateDataset(data, maxBytes), TS.ExplicitVRLittleEndian, to);
  if (from === ENCAPSULATED_UNCOMPRESSED) return transcodeDataset(unwrap(data), TS.ExplicitVRLittleEndian, to);
  const codec = DECODERS.get(from);
  if (!codec) return transcodeDataset(data, from, to);
  const ds = openCompressedDataset(data, START_MARKER[codec]);
  const image = ds.image;
  // No Pixel Data to decode (a header-only object, Float Pixel Data): the dataset is explicit VR
  // little endian as it is, and nothing about its image changes — rebuilt, it lost its
  // Photometric Interpretation (Type 1) to the empty "decoded as" of no frames.
  if (!image) return transcodeDataset(data, TS.ExplicitVRLittleEndian, to);
  const decoded = frameBytes(image) * ds.frames.length;
  if (decoded > maxBytes)
    throw new PacsError('UNSUPPORTED', `decompressing ${ds.frames.length} frames would take ${Math.round(decoded / 1048576)} MB, more than ${Math.round(maxBytes / 1048576)} MB: ask for the stored transfer syntax`);
  return oneLargeAtATime(decoded, () => decompress(ds, image, codec, from, to, decoder, options.signal));
}

/** The frames of `ds` decoded and the dataset rebuilt around them, re-encoded in `to`. */
async function decompress(ds: CompressedDataset, image: PixelModule, codec: CodecName, from: string, to: string, decoder: FrameDecoder, signal: AbortSignal | undefined): Promise<Buffer> {
  if (signal?.aborted) throw new PacsError('ABORTED', 'conversion given up before it began');
  const results: FrameResult[] = new Array<FrameResult>(ds.frames.length);
  // A few frames in flight, not all: one multi-frame instance must not fill the pool's queue
  // ahead of everyone else's frames, and a frame that fails stops the rest from being decoded.
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < ds.frames.length; i = next++) {
      if (signal?.aborted) throw new PacsError('ABORTED', `conversion given up after ${i} of ${ds.frames.length} frames`);
      const f = ds.frames[i]!;
      // A copy of the compressed frame (small beside its decoded size) owns its buffer, so it
      // can be transferred to the worker without detaching the whole file's bytes.
      results[i] = await decoder.decode({ codec, geometry: image, frame: (f.buffer as ArrayBuffer).slice(f.byteOffset, f.byteOffset + f.length) }, signal).catch((e: unknown) => {
        next = ds.frames.length;
        // The pool's own failures (busy, a dead worker, given up) say nothing of the codestream: their code stays.
        const code = isPacsError(e, 'UNAVAILABLE') || isPacsError(e, 'ABORTED') ? e.code : 'DICOM_PARSE';
        throw new PacsError(code, `frame ${i + 1} of ${ds.frames.length} (${codec}): ${errorMessage(e)}`);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(FRAMES_IN_FLIGHT, ds.frames.length) }, lane));
  const photometric = results[0]?.photometric ?? image.photometric;
  // Lossy if any frame's codestream says so, or, where the decoder cannot tell, the syntax does.
  const nominal = LOSSY_SYNTAXES.has(from);
  const lossy = results.some((r) => r.lossy ?? nominal);
  const rebuilt = ds.rebuild(results.map((r) => Buffer.from(r.pixels)), photometric, lossy);
  // The decoded frames are in `rebuilt` now: let them go before the re-encoding makes another copy.
  results.length = 0;
  return transcodeDataset(rebuilt, TS.ExplicitVRLittleEndian, to);
}

/** Encapsulated Uncompressed Explicit VR LE: the fragments are the native frames. */
function unwrap(data: Buffer): Buffer {
  const ds = openCompressedDataset(data);
  if (!ds.image) return data;
  const size = frameBytes(ds.image);
  for (const f of ds.frames) if (f.length < size || f.length > size + 1) throw new PacsError('DICOM_PARSE', `an encapsulated uncompressed frame of ${f.length} bytes, ${size} expected`);
  return ds.rebuild(ds.frames.map((f) => f.subarray(0, size)), ds.image.photometric);
}
