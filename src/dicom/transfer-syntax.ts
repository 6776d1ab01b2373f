// How each transfer syntax of PS3.5 encodes a dataset: what the reader and writer need to
// know, derived from the generated list so a new syntax of the standard is known at once.
import { TRANSFER_SYNTAXES } from './uids.generated.js';

export const TS = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  EncapsulatedUncompressedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.98',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  JPEG2000MCLossless: '1.2.840.10008.1.2.4.92',
  JPEG2000MC: '1.2.840.10008.1.2.4.93',
  JPIPReferenced: '1.2.840.10008.1.2.4.94',
  JPIPReferencedDeflate: '1.2.840.10008.1.2.4.95',
  MPEG2MPML: '1.2.840.10008.1.2.4.100',
  MPEG4HP41: '1.2.840.10008.1.2.4.102',
  HEVCMP51: '1.2.840.10008.1.2.4.107',
  JPEGXLLossless: '1.2.840.10008.1.2.4.110',
  JPEGXL: '1.2.840.10008.1.2.4.112',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

export interface TransferSyntaxInfo {
  readonly uid: string;
  readonly keyword: string;
  readonly name: string;
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
  /** The dataset after the File Meta is raw deflate (RFC 1951) of an explicit VR LE dataset. */
  readonly deflated: boolean;
  /** Pixel Data is a sequence of fragments (PS3.5 A.4), not a native value. */
  readonly encapsulated: boolean;
  readonly retired: boolean;
}

/**
 * Syntaxes whose Pixel Data is native or absent: PS3.5 A.4 says every other syntax of the
 * standard encapsulates it (compressed still images, MPEG/HEVC video, JPEG XL, HTJ2K ...).
 * The JPIP syntaxes reference pixel data by URL (Pixel Data Provider URL); the SMPTE ST 2110
 * ones carry it out of band; MIME and XML encodings never appear in a DICOM stream.
 */
const NOT_ENCAPSULATED = new Set([
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.4.94',
  '1.2.840.10008.1.2.4.95',
  '1.2.840.10008.1.2.4.204',
  '1.2.840.10008.1.2.4.205',
  '1.2.840.10008.1.2.6.1',
  '1.2.840.10008.1.2.6.2',
  '1.2.840.10008.1.2.7.1',
  '1.2.840.10008.1.2.7.2',
  '1.2.840.10008.1.2.7.3',
  '1.2.840.10008.1.20',
]);

/** Implicit VR LE, and the retired Papyrus 3 syntax that is the same encoding. */
const IMPLICIT_VR = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.20']);
const BIG_ENDIAN = new Set(['1.2.840.10008.1.2.2']);
/** Deflated Explicit VR LE and the deflated JPIP variants. */
const DEFLATED = new Set(['1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.4.95', '1.2.840.10008.1.2.4.205']);

let table: Map<string, TransferSyntaxInfo> | undefined;

const build = (): Map<string, TransferSyntaxInfo> => {
  const m = new Map<string, TransferSyntaxInfo>();
  for (const ts of TRANSFER_SYNTAXES) {
    m.set(ts.uid, {
      uid: ts.uid,
      keyword: ts.keyword,
      name: ts.name,
      explicitVR: !IMPLICIT_VR.has(ts.uid),
      littleEndian: !BIG_ENDIAN.has(ts.uid),
      deflated: DEFLATED.has(ts.uid),
      encapsulated: !NOT_ENCAPSULATED.has(ts.uid),
      retired: ts.retired,
    });
  }
  return m;
};

/** What the standard says of a transfer syntax; undefined for private or unknown UIDs. */
export const transferSyntaxInfo = (uid: string): TransferSyntaxInfo | undefined => {
  table ??= build();
  return table.get(uid);
};
