// Zero bytes after the last element of a dataset, which some writers leave (2.5 MB of them in one
// sample). Eight zero bytes cannot begin an element, so the reader takes them, and everything
// after them, as trailing padding, which must be all zeros (dataset-parser.ts); so do those that
// rewrite a stored dataset (transcode.ts, decompress.ts), which stop there and drop it: a file the
// archive accepted can then be converted too.
import { PacsError } from '../core/errors.js';

const ZERO = Buffer.alloc(64 * 1024);

/** The first non-zero byte of d[from, to), or -1: compared 64 KB at a time, not byte by byte. */
export function firstNonZero(d: Buffer, from: number, to: number): number {
  for (let i = from; i < to; i += ZERO.length) {
    const e = Math.min(to, i + ZERO.length);
    if (d.subarray(i, e).equals(ZERO.subarray(0, e - i))) continue;
    while (d[i] === 0) i++;
    return i;
  }
  return -1;
}

/**
 * Whether trailing padding begins at `pos`, where a top-level element was due: fewer bytes than a
 * header left, all zero, or eight zero bytes; refused (DICOM_PARSE, as on ingest) when a non-zero
 * byte follows those eight.
 */
export function trailingPaddingAt(d: Buffer, pos: number): boolean {
  if (d.length - pos < 8) return firstNonZero(d, pos, d.length) < 0;
  if (d.readUInt32LE(pos) !== 0 || d.readUInt32LE(pos + 4) !== 0) return false;
  const k = firstNonZero(d, pos + 8, d.length);
  if (k >= 0) throw new PacsError('DICOM_PARSE', `non-zero byte at offset ${k} in what follows the last element; eight zero bytes at offset ${pos} began trailing padding, which must be all zeros`);
  return true;
}
