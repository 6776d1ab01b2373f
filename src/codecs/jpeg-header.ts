// The frame header of a JPEG codestream (ITU T.81 B.2.2), read before a decoder is chosen:
// the SOF marker tells the process (baseline, extended, progressive, lossless) and the
// sample precision, which decide whether any decoder we have can take the frame.

export interface JpegFrameHeader {
  /** The SOFn marker, 0xffc0 … 0xffcf. */
  sof: number;
  precision: number;
  rows: number;
  columns: number;
  components: number;
}

const isSof = (m: number): boolean => m >= 0xffc0 && m <= 0xffcf && m !== 0xffc4 && m !== 0xffc8 && m !== 0xffcc;

/** The first frame header of the codestream, or null if there is none before the first scan. */
export function readJpegFrameHeader(b: Uint8Array): JpegFrameHeader | null {
  return frameHeader(b, isSof);
}

/** The frame header (SOF55, ITU T.87 C.2.2) of a JPEG-LS codestream, or null. */
export function readJpegLsFrameHeader(b: Uint8Array): JpegFrameHeader | null {
  return frameHeader(b, (m) => m === 0xfff7);
}

/**
 * The width and height a JPEG 2000 / HTJ2K codestream's SIZ segment gives (T.800 A.5.1: the
 * reference grid less its offset), or null for what is not a bare codestream (a JP2 file).
 */
export function readJ2kSize(b: Uint8Array): { rows: number; columns: number } | null {
  if (b.length < 24 || b[0] !== 0xff || b[1] !== 0x4f || b[2] !== 0xff || b[3] !== 0x51) return null;
  const u32 = (at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  return { columns: u32(8) - u32(16), rows: u32(12) - u32(20) };
}

function frameHeader(b: Uint8Array, isFrame: (marker: number) => boolean): JpegFrameHeader | null {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return null;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return null;
    const marker = (0xff00 | b[p + 1]!) >>> 0;
    if (marker === 0xffff) {
      p++; // fill byte
      continue;
    }
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    if (isFrame(marker)) {
      if (p + 10 > b.length) return null;
      return { sof: marker, precision: b[p + 4]!, rows: (b[p + 5]! << 8) | b[p + 6]!, columns: (b[p + 7]! << 8) | b[p + 8]!, components: b[p + 9]! };
    }
    if (marker === 0xffda || marker === 0xffd9) return null;
    p += 2 + len;
  }
  return null;
}

/** A frame of JPEG or JPEG-LS starts with SOI (for splitting fragments into frames without an offset table). */
export const startsWithSoi = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0xff && b[1] === 0xd8;

/** A JPEG 2000 / HTJ2K codestream starts with SOC then SIZ; a JP2 file with its signature box. */
export const startsWithJ2k = (b: Uint8Array): boolean =>
  (b.length >= 4 && b[0] === 0xff && b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51) ||
  (b.length >= 8 && b[3] === 0x0c && b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20);
