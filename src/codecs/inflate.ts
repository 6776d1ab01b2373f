// Deflated Explicit VR Little Endian (PS3.5 A.5) inflated for conversion, rendering, frames and
// metadata. Deflate shrinks runs of zeros a thousandfold, so a file of a few MB can stand for
// gigabytes: the output is bounded while it is made (zlib's maxOutputLength stops the stream past
// the cap), never measured after the whole of it is held. zlib's asynchronous API runs on libuv's
// threads, so the event loop is not held either.
import { promisify } from 'node:util';
import { inflateRaw } from 'node:zlib';
import { PacsError, errorMessage } from '../core/errors.js';

const inflate = promisify(inflateRaw);

/** The dataset inflated, refused (UNSUPPORTED, as an over-cap conversion is) if it would pass `maxBytes`. */
export async function inflateDataset(data: Buffer, maxBytes: number): Promise<Buffer> {
  try {
    return await inflate(data, { maxOutputLength: maxBytes });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw new PacsError('UNSUPPORTED', `the deflated dataset inflates to more than ${Math.round(maxBytes / 1048576)} MB, the most a conversion may make: ask for the stored transfer syntax`);
    throw new PacsError('DICOM_PARSE', `deflated dataset does not inflate: ${errorMessage(e)}`);
  }
}
