// Deflated Explicit VR Little Endian (PS3.5 A.5) inflated before a dataset is parsed. Deflate
// shrinks runs of zeros a thousandfold, so a few KB (a peer's request) or MB (a stored file) can
// stand for gigabytes: the output is bounded while it is made (zlib's maxOutputLength stops the
// stream past the cap), never measured after the whole of it is held, and zlib's asynchronous
// API runs on libuv's threads, so the event loop is not held either. Each caller says what
// passing its cap means (a conversion refused, a request malformed).
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { PacsError, errorMessage } from '../core/errors.js';

const inflate = promisify(inflateRaw);

/** The inflated dataset, or null when it would pass `maxBytes`; DICOM_PARSE when it does not inflate. */
export async function inflateBounded(data: Buffer, maxBytes: number): Promise<Buffer | null> {
  try {
    return await inflate(data, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return null;
    throw new PacsError('DICOM_PARSE', `deflated dataset does not inflate: ${errorMessage(e)}`);
  }
}
