// Encapsulated Pixel Data (PS3.5 A.4): the item of the Basic Offset Table, then fragments,
// then a sequence delimiter. Which fragments make which frame is told, in this order of
// trust, by the Extended Offset Table (7FE0,0001), the Basic Offset Table, one fragment per
// frame, or — for a multi-frame object with neither table — the codestream's own start
// marker at the head of each frame's first fragment.
import { PacsError } from '../core/errors.js';

const ITEM = 0xfffee000;
const SEQ_END = 0xfffee0dd;

export interface Fragment {
  /** Where the fragment's item tag lies, counted from the first fragment's item tag (the unit of both offset tables). */
  offset: number;
  bytes: Buffer;
}

export interface EncapsulatedPixelData {
  basicOffsets: number[];
  fragments: Fragment[];
  /** Where the sequence delimiter ends: the next element. */
  end: number;
}

function fail(why: string): never {
  throw new PacsError('DICOM_PARSE', `encapsulated Pixel Data: ${why}`);
}

/** Reads the items of encapsulated Pixel Data whose value starts at `pos` (after its 12-byte header). */
export function readEncapsulated(d: Buffer, pos: number): EncapsulatedPixelData {
  let p = pos;
  const items: { at: number; bytes: Buffer }[] = [];
  for (;;) {
    if (p + 8 > d.length) fail('no sequence delimiter');
    const tag = ((d.readUInt16LE(p) << 16) | d.readUInt16LE(p + 2)) >>> 0;
    const len = d.readUInt32LE(p + 4);
    if (tag === SEQ_END) {
      p += 8;
      break;
    }
    if (tag !== ITEM) fail(`expected an item at offset ${p}, found (${tag.toString(16).padStart(8, '0')})`);
    if (len === 0xffffffff || p + 8 + len > d.length) fail(`item at offset ${p} runs past the end`);
    items.push({ at: p, bytes: d.subarray(p + 8, p + 8 + len) });
    p += 8 + len;
  }
  const [bot, ...rest] = items;
  if (!bot) fail('no Basic Offset Table item');
  if (bot.bytes.length % 4) fail('Basic Offset Table length is not a multiple of 4');
  const basicOffsets: number[] = [];
  for (let i = 0; i < bot.bytes.length; i += 4) basicOffsets.push(bot.bytes.readUInt32LE(i));
  const first = rest[0]?.at ?? 0;
  return { basicOffsets, fragments: rest.map((f) => ({ offset: f.at - first, bytes: f.bytes })), end: p };
}

export interface FrameSplit {
  frames: number;
  /** Extended Offset Table values (7FE0,0001), if the dataset has one. */
  extendedOffsets?: readonly number[];
  /** Whether a fragment is the first of a frame by its content (a codestream start marker). */
  startsFrame?: (fragment: Buffer) => boolean;
}

/** The fragments of each frame, concatenated: one buffer per frame. */
export function splitFrames(px: EncapsulatedPixelData, how: FrameSplit): Buffer[] {
  const { fragments } = px;
  return groupFrames(
    fragments.map((f) => ({ offset: f.offset, head: f.bytes })),
    px.basicOffsets,
    how,
  ).map((group) => concat(group.map((i) => fragments[i]!.bytes)));
}

/**
 * Which fragments (their indexes) make each frame. Each fragment is known by its offset (from the
 * first fragment's item tag) and its first bytes (`head`: enough for a start marker), so callers
 * that read the fragments' headers only, not their bytes, can group them too.
 */
export function groupFrames(fragments: readonly { offset: number; head: Buffer }[], basicOffsets: readonly number[], how: FrameSplit): number[][] {
  const n = how.frames;
  if (n < 1) fail(`Number of Frames ${n}`);
  if (!fragments.length) fail('no fragments');
  const all = fragments.map((_f, i) => i);
  // A single frame is every fragment there is (PS3.5 A.4: a frame may span fragments).
  if (n === 1) return [all];
  const table = how.extendedOffsets?.length ? how.extendedOffsets : basicOffsets.length ? basicOffsets : null;
  if (table) return byOffsets(fragments, table, n);
  if (fragments.length === n) return all.map((i) => [i]);
  if (!how.startsFrame) fail(`${fragments.length} fragments for ${n} frames and no offset table`);
  const out: number[][] = [];
  for (const i of all) {
    if (how.startsFrame(fragments[i]!.head) || !out.length) out.push([i]);
    else out[out.length - 1]!.push(i);
  }
  if (out.length !== n) fail(`${out.length} frames found by their start markers, ${n} expected`);
  return out;
}

/**
 * Frames by an offset table, in one pass over the fragments: the table must increase (checked
 * first) and fragments lie in file order, so frame i is the run of fragments from the one at its
 * offset up to the next frame's offset. Each fragment is looked at once, not once per frame (a
 * 10,000-frame table over 10,000 fragments is 10,000 steps here, not 10^8).
 */
function byOffsets(fragments: readonly { offset: number }[], offsets: readonly number[], n: number): number[][] {
  if (offsets.length !== n) fail(`an offset table of ${offsets.length} entries for ${n} frames`);
  for (let i = 0; i + 1 < n; i++) if (offsets[i + 1]! <= offsets[i]!) fail(`offset table entries ${i} and ${i + 1} are not increasing`);
  const out: number[][] = [];
  let j = 0;
  let offset = fragments[0]!.offset;
  const next = (): void => {
    const after = ++j < fragments.length ? fragments[j]!.offset : Infinity;
    if (after <= offset) fail(`fragment ${j + 1} does not follow fragment ${j}`);
    offset = after;
  };
  for (let i = 0; i < n; i++) {
    const from = offsets[i]!;
    const to = i + 1 < n ? offsets[i + 1]! : Infinity;
    // Fragments before the first frame's offset belong to no frame.
    while (offset < from) next();
    if (offset !== from) fail(`offset ${from} of frame ${i + 1} is not the start of a fragment`);
    const group: number[] = [];
    while (offset < to) {
      group.push(j);
      next();
    }
    out.push(group);
  }
  return out;
}

const concat = (parts: Buffer[]): Buffer => (parts.length === 1 ? parts[0]! : Buffer.concat(parts));

/** The frames of encapsulated Pixel Data with its end, for callers holding the whole dataset. */
export function encapsulatedFrames(d: Buffer, valueStart: number, how: FrameSplit): { frames: Buffer[]; end: number } {
  const px = readEncapsulated(d, valueStart);
  return { frames: splitFrames(px, how), end: px.end };
}
