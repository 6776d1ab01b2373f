// Which stored transfer syntaxes we can turn into an uncompressed one, and how. Only these
// are offered to a receiver that did not accept the stored syntax; every other one (MPEG,
// HEVC, JPEG XL, JPIP, JPEG 2000 Part 2, the retired JPEG processes, private syntaxes) goes
// as stored or not at all. Within a decodable syntax some codestreams still cannot be decoded
// (12-bit colour JPEG, a damaged codestream): those fail per instance, with the reason.
import { TS } from '../dicom/transfer-syntax.js';
import { UNCOMPRESSED } from '../dicom/transcode.js';
import type { CodecName } from './frame.js';
import { startsWithJ2k, startsWithSoi } from './jpeg-header.js';

export const DECODERS: ReadonlyMap<string, CodecName> = new Map<string, CodecName>([
  [TS.JPEGBaseline8Bit, 'jpeg'],
  [TS.JPEGExtended12Bit, 'jpeg'], // 8-bit: libjpeg-turbo; 12-bit grey-scale: jpeg12.ts; 12-bit colour fails per frame
  [TS.JPEGLossless, 'jpeg-lossless'],
  [TS.JPEGLosslessSV1, 'jpeg-lossless'],
  [TS.JPEGLSLossless, 'jpeg-ls'],
  [TS.JPEGLSNearLossless, 'jpeg-ls'],
  [TS.JPEG2000Lossless, 'j2k'],
  [TS.JPEG2000, 'j2k'],
  [TS.HTJ2KLossless, 'htj2k'],
  [TS.HTJ2KLosslessRPCL, 'htj2k'],
  [TS.HTJ2K, 'htj2k'],
  [TS.RLELossless, 'rle'],
]);

/**
 * Syntaxes whose compression is lossy by their definition (PS3.5 8.2, A.4): their decoded
 * output has Lossy Image Compression 01 (PS3.3 C.7.6.1.1.5), unless the codestream proves
 * otherwise (JPEG-LS with NEAR 0). The JPEG 2000 ones allow reversible coding, which does not
 * prove lossless coding (layers may have been cut): they stay lossy.
 */
export const LOSSY_SYNTAXES: ReadonlySet<string> = new Set([TS.JPEGBaseline8Bit, TS.JPEGExtended12Bit, TS.JPEGLSNearLossless, TS.JPEG2000, TS.HTJ2K]);

/** Fragments that hold native frames as they are: no decoder needed. */
export const ENCAPSULATED_UNCOMPRESSED = TS.EncapsulatedUncompressedExplicitVRLittleEndian;

/** A frame's first fragment, told by its codestream's start marker (for multi-frame objects with no offset table). */
export const START_MARKER: Record<CodecName, ((b: Buffer) => boolean) | undefined> = {
  jpeg: startsWithSoi,
  'jpeg-lossless': startsWithSoi,
  'jpeg-ls': startsWithSoi,
  j2k: startsWithJ2k,
  htj2k: startsWithJ2k,
  rle: undefined, // one fragment per frame (PS3.5 A.4.2)
};

/** Transfer syntaxes we can turn into `to`: the same, re-encoded, inflated or decompressed. */
export function canConvert(from: string, to: string): boolean {
  if (from === to) return true;
  if (!UNCOMPRESSED.has(to)) return false;
  return UNCOMPRESSED.has(from) || from === TS.DeflatedExplicitVRLittleEndian || from === ENCAPSULATED_UNCOMPRESSED || DECODERS.has(from);
}

