// Encapsulated Pixel Data (PS3.5 A.4) read by its item headers only: where each fragment lies and
// its first bytes, without reading the fragments themselves. One frame of a 1 GB multi-frame
// instance is then a few header reads and the bytes of its own fragments, not the whole file.
import { PacsError } from '../core/errors.js';
import { type FrameSplit, groupFrames } from './encapsulated.js';

const ITEM = 0xfffee000;
const SEQ_END = 0xfffee0dd;
/** What a start marker needs of a fragment (JPEG SOI, J2K SOC/SIZ): its first bytes. */
const HEAD = 16;
/** Headers are read through a window this large, so small fragments cost one read between many. */
const WINDOW = 64 * 1024;
/** More fragments than any image has (a malformed file would walk for ever). */
const MAX_FRAGMENTS = 1_000_000;

/** Reads up to `length` bytes at `position` of the file (fewer at its end). */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

export interface FragmentRef {
  /** From the first fragment's item tag (the unit of the offset tables). */
  offset: number;
  /** Where its bytes start in the file, and how many. */
  at: number;
  length: number;
  /** Its first bytes (HEAD at most). */
  head: Buffer;
}

export interface EncapsulatedIndex {
  basicOffsets: number[];
  fragments: FragmentRef[];
}

function fail(why: string): never {
  throw new PacsError('DICOM_PARSE', `encapsulated Pixel Data: ${why}`);
}

/** Reads through a window: consecutive small reads cost one read of the file. */
function windowed(read: ReadAt): ReadAt {
  let start = 0;
  let win: Buffer = Buffer.alloc(0);
  return async (position, length) => {
    if (position < start || position + length > start + win.length) {
      win = await read(position, Math.max(length, WINDOW));
      start = position;
    }
    return win.subarray(position - start, position - start + length);
  };
}

/** The items of encapsulated Pixel Data whose value starts at `valueStart` in the file. */
export async function readEncapsulatedIndex(read: ReadAt, valueStart: number): Promise<EncapsulatedIndex> {
  const at = windowed(read);
  const header = async (p: number): Promise<{ tag: number; len: number }> => {
    const h = await at(p, 8);
    if (h.length < 8) fail('no sequence delimiter');
    return { tag: ((h.readUInt16LE(0) << 16) | h.readUInt16LE(2)) >>> 0, len: h.readUInt32LE(4) };
  };
  const bot = await header(valueStart);
  if (bot.tag !== ITEM) fail('no Basic Offset Table item');
  if (bot.len === 0xffffffff || bot.len % 4) fail('Basic Offset Table length is not a multiple of 4');
  const table = bot.len ? await read(valueStart + 8, bot.len) : Buffer.alloc(0);
  if (table.length < bot.len) fail('the Basic Offset Table runs past the end');
  const basicOffsets: number[] = [];
  for (let i = 0; i < table.length; i += 4) basicOffsets.push(table.readUInt32LE(i));
  const first = valueStart + 8 + bot.len;
  const fragments: FragmentRef[] = [];
  for (let p = first; ; ) {
    const { tag, len } = await header(p);
    if (tag === SEQ_END) break;
    if (tag !== ITEM) fail(`expected an item at ${p}, found (${tag.toString(16).padStart(8, '0')})`);
    if (len === 0xffffffff) fail(`item at ${p} has an undefined length`);
    if (fragments.length >= MAX_FRAGMENTS) fail(`more than ${MAX_FRAGMENTS} fragments`);
    fragments.push({ offset: p - first, at: p + 8, length: len, head: Buffer.from(await at(p + 8, Math.min(HEAD, len))) });
    p += 8 + len;
  }
  return { basicOffsets, fragments };
}

/** Frame `n` (1-based) of the instance the index describes: its fragments' bytes, read and joined. */
export async function readIndexedFrame(read: ReadAt, index: EncapsulatedIndex, how: FrameSplit, n: number): Promise<Buffer> {
  const group = groupFrames(index.fragments, index.basicOffsets, how)[n - 1];
  if (!group) throw new PacsError('NOT_FOUND', `there is no frame ${n} (the instance has ${how.frames})`);
  const parts = await Promise.all(
    group.map(async (i) => {
      const f = index.fragments[i]!;
      const bytes = await read(f.at, f.length);
      if (bytes.length < f.length) fail(`fragment ${i + 1} runs past the end of the file`);
      return bytes;
    }),
  );
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
}
