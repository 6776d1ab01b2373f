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
/** More fragments than any image has (a malformed file would walk for ever, and its index would fill memory). */
const MAX_FRAGMENTS = 200_000;

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

/** The items of encapsulated Pixel Data whose value starts at `valueStart` in a file of `fileSize` bytes. */
export async function readEncapsulatedIndex(read: ReadAt, valueStart: number, fileSize: number): Promise<EncapsulatedIndex> {
  const at = windowed(read);
  const header = async (p: number): Promise<{ tag: number; len: number }> => {
    const h = await at(p, 8);
    if (h.length < 8) fail('no sequence delimiter');
    return { tag: ((h.readUInt16LE(0) << 16) | h.readUInt16LE(2)) >>> 0, len: h.readUInt32LE(4) };
  };
  const bot = await header(valueStart);
  if (bot.tag !== ITEM) fail('no Basic Offset Table item');
  if (bot.len === 0xffffffff || bot.len % 4) fail('Basic Offset Table length is not a multiple of 4');
  // Lengths are checked against the file before anything is read or allocated for them.
  if (valueStart + 8 + bot.len > fileSize) fail('the Basic Offset Table runs past the end of the file');
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
    if (p + 8 + len > fileSize) fail(`item at ${p} runs past the end of the file`);
    if (fragments.length >= MAX_FRAGMENTS) fail(`more than ${MAX_FRAGMENTS} fragments`);
    fragments.push({ offset: p - first, at: p + 8, length: len, head: Buffer.from(await at(p + 8, Math.min(HEAD, len))) });
    p += 8 + len;
  }
  return { basicOffsets, fragments };
}

/**
 * The grouping made for an index, kept as long as the index is (services/frames.ts keeps the
 * indexes of the instances whose frames were asked for last): a viewer asking for frame after
 * frame groups the fragments once, not once a frame.
 */
const groupings = new WeakMap<EncapsulatedIndex, { how: FrameSplit; groups: number[][] }>();

function groupsOf(index: EncapsulatedIndex, how: FrameSplit): number[][] {
  const kept = groupings.get(index);
  if (kept && kept.how.frames === how.frames && kept.how.extendedOffsets === how.extendedOffsets && kept.how.startsFrame === how.startsFrame) return kept.groups;
  const groups = groupFrames(index.fragments, index.basicOffsets, how);
  groupings.set(index, { how: { ...how }, groups });
  return groups;
}

/**
 * Frame `n` (1-based) of the instance the index describes: its fragments' bytes, read in one go
 * (they follow each other in the file: from the first one's bytes to the last one's end) and
 * joined without their item headers.
 */
export async function readIndexedFrame(read: ReadAt, index: EncapsulatedIndex, how: FrameSplit, n: number): Promise<Buffer> {
  const group = groupsOf(index, how)[n - 1];
  if (!group?.length) throw new PacsError('NOT_FOUND', `there is no frame ${n} (the instance has ${how.frames})`);
  const first = index.fragments[group[0]!]!;
  const last = index.fragments[group[group.length - 1]!]!;
  const span = await read(first.at, last.at + last.length - first.at);
  if (span.length < last.at + last.length - first.at) fail(`frame ${n} runs past the end of the file`);
  if (group.length === 1) return span;
  return Buffer.concat(group.map((i) => index.fragments[i]!).map((f) => span.subarray(f.at - first.at, f.at - first.at + f.length)));
}
