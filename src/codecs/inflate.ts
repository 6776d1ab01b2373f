// Deflated datasets inflated for conversion, rendering, frames and metadata, under a conversion's
// cap (../dicom/inflate.ts says why the output is bounded while it is made).
import { PacsError } from '../core/errors.js';
import { inflateBounded } from '../dicom/inflate.js';

/** The dataset inflated, refused (UNSUPPORTED, as an over-cap conversion is) if it would pass `maxBytes`. */
export async function inflateDataset(data: Buffer, maxBytes: number): Promise<Buffer> {
  const inflated = await inflateBounded(data, maxBytes);
  if (inflated === null)
    throw new PacsError('UNSUPPORTED', `the deflated dataset inflates to more than ${Math.round(maxBytes / 1048576)} MB, the most a conversion may make: ask for the stored transfer syntax`);
  return inflated;
}
