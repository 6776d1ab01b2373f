// Buffers that stored files are read into, reused within one retrieve (a WADO-RS study, the
// C-STORE sub-operations of a C-GET or C-MOVE). A fresh 0.5 MB buffer per instance is a fresh
// mapping: page faults and zeroed pages in the kernel, then V8's collector and an unmap, for
// every file — at hundreds of instances a second a large share of the server's CPU.
import type { ObjectStore } from './object-store.js';

/**
 * Files up to this size are read whole, in one request (far fewer round trips than a stream);
 * larger ones are streamed. One threshold for every retrieve: DIMSE sub-operations and WADO-RS.
 */
export const READ_WHOLE = 16 * 1024 * 1024;

export class ReadBuffers {
  private readonly free: Buffer[] = [];

  take(bytes: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= bytes);
    // Rounded up: the files of a series differ by a few bytes (UIDs of different lengths).
    return i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafe(Math.ceil(bytes / 65536) * 65536);
  }

  give(b: Buffer): void {
    if (this.free.length < 8) this.free.push(b);
  }
}

/** A file read whole into one of `buffers`; `release` gives it back once its bytes are no longer needed (never calling it is safe). */
export interface HeldBytes {
  bytes: Buffer;
  release?: () => void;
}

/** A file of the size the index says, read whole into a reused buffer (in a fresh one if the size is not what the index says). */
export async function readReused(objects: ObjectStore, path: string, size: number, buffers: ReadBuffers): Promise<HeldBytes> {
  const buf = buffers.take(size + 1);
  let bytes: Buffer | null;
  try {
    bytes = await objects.readInto(path, size, buf);
  } catch (e) {
    buffers.give(buf);
    throw e;
  }
  if (bytes) return { bytes, release: () => buffers.give(buf) };
  // The file is not the size the index says: what is there, in a buffer of its own.
  buffers.give(buf);
  return { bytes: await objects.readAll(path, size) };
}
