// Frames out of encapsulated Pixel Data (PS3.5 A.4): by Extended Offset Table, Basic Offset
// Table, one fragment per frame, or the codestreams' start markers; malformed layouts refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encapsulatedFrames, groupFrames, readEncapsulated, splitFrames } from '../../../src/dicom/encapsulated.js';

/** Items (Basic Offset Table first) and the sequence delimiter, as they follow the Pixel Data header. */
function encapsulated(offsets: number[], fragments: Buffer[]): Buffer {
  const item = (b: Buffer): Buffer => {
    const h = Buffer.alloc(8);
    h.writeUInt32LE(0xe000fffe, 0);
    h.writeUInt32LE(b.length, 4);
    return Buffer.concat([h, b]);
  };
  const bot = Buffer.alloc(4 * offsets.length);
  offsets.forEach((o, i) => bot.writeUInt32LE(o, 4 * i));
  return Buffer.concat([item(bot), ...fragments.map(item), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
}

const SOI = (tail: string): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8]), Buffer.from(tail)]);
const startsWithSoi = (b: Buffer): boolean => b[0] === 0xff && b[1] === 0xd8;
const text = (frames: Buffer[]): string[] => frames.map((f) => f.toString('latin1').replace(/\xff\xd8/g, '^'));

test('a single frame is all its fragments, whatever the table says', () => {
  const px = readEncapsulated(encapsulated([], [SOI('ab'), Buffer.from('cd'), Buffer.from('ef')]), 0);
  assert.deepEqual(text(splitFrames(px, { frames: 1 })), ['^abcdef']);
});

test('Basic Offset Table: frames of several fragments', () => {
  const frags = [SOI('a1'), Buffer.from('a2'), SOI('b1'), SOI('c1'), Buffer.from('c2')];
  // Offsets count from the first fragment's item tag: each item is 8 + its length.
  const d = encapsulated([0, 22, 34], frags);
  const { frames, end } = encapsulatedFrames(d, 0, { frames: 3 });
  assert.deepEqual(text(frames), ['^a1a2', '^b1', '^c1c2']);
  assert.equal(end, d.length);
});

test('no offset table, one fragment per frame', () => {
  const px = readEncapsulated(encapsulated([], [Buffer.from('f1'), Buffer.from('f2')]), 0);
  assert.deepEqual(text(splitFrames(px, { frames: 2 })), ['f1', 'f2']);
});

test('no offset table, several fragments per frame: split at each start marker', () => {
  const px = readEncapsulated(encapsulated([], [SOI('a1'), Buffer.from('a2'), Buffer.from('a3'), SOI('b1'), SOI('c1'), Buffer.from('c2')]), 0);
  assert.deepEqual(text(splitFrames(px, { frames: 3, startsFrame: startsWithSoi })), ['^a1a2a3', '^b1', '^c1c2']);
  assert.throws(() => splitFrames(px, { frames: 4, startsFrame: startsWithSoi }), /3 frames found by their start markers, 4 expected/);
  assert.throws(() => splitFrames(px, { frames: 4 }), /6 fragments for 4 frames and no offset table/);
});

test('the Extended Offset Table wins over an empty Basic Offset Table', () => {
  const px = readEncapsulated(encapsulated([], [SOI('a1'), Buffer.from('a2'), SOI('b1')]), 0);
  assert.deepEqual(text(splitFrames(px, { frames: 2, extendedOffsets: [0, 22] })), ['^a1a2', '^b1']);
});

test('offset tables that do not fit the fragments are refused', () => {
  const px = readEncapsulated(encapsulated([0, 7], [SOI('a1'), SOI('b1')]), 0);
  assert.throws(() => splitFrames(px, { frames: 2 }), /offset 7 of frame 2 is not the start of a fragment/);
  assert.throws(() => splitFrames(px, { frames: 3 }), /offset table of 2 entries for 3 frames/);
  const backwards = readEncapsulated(encapsulated([12, 0], [SOI('a1'), SOI('b1')]), 0);
  assert.throws(() => splitFrames(backwards, { frames: 2 }), /not increasing/);
});

test('malformed items are refused', () => {
  const d = encapsulated([], [SOI('a1')]);
  assert.throws(() => readEncapsulated(d.subarray(0, d.length - 8), 0), /no sequence delimiter/);
  const long = Buffer.from(d);
  long.writeUInt32LE(1000, 12); // the fragment claims more bytes than there are
  assert.throws(() => readEncapsulated(long, 0), /runs past the end/);
  const noItems = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  assert.throws(() => readEncapsulated(noItems, 0), /no Basic Offset Table/);
});

/**
 * `frames` frames of 1 to 3 fragments each, of odd lengths (3 to 11 bytes), frame k's bytes all
 * (k % 251): the encapsulated items, each frame's bytes, and the offset of each frame's first fragment.
 */
function manyFrames(frames: number): { fragments: Buffer[]; expected: Buffer[]; offsets: number[] } {
  const fragments: Buffer[] = [];
  const expected: Buffer[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let k = 0; k < frames; k++) {
    offsets.push(at);
    const parts = Array.from({ length: 1 + (k % 3) }, (_v, p) => Buffer.alloc(3 + 2 * ((k + p) % 5), k % 251));
    parts[0]![0] = 0xff; // a start marker (SOI) heads each frame
    parts[0]![1] = 0xd8;
    for (const f of parts) at += 8 + f.length;
    fragments.push(...parts);
    expected.push(Buffer.concat(parts));
  }
  return { fragments, expected, offsets };
}

test('a table of many frames: multi-fragment frames of odd sizes, by the Basic Offset Table, the Extended one, and start markers', () => {
  const { fragments, expected, offsets } = manyFrames(600);
  const equal = (got: Buffer[], why: string): void => {
    assert.equal(got.length, expected.length, why);
    got.forEach((f, i) => assert.ok(f.equals(expected[i]!), `${why}: frame ${i + 1}`));
  };
  equal(splitFrames(readEncapsulated(encapsulated(offsets, fragments), 0), { frames: 600 }), 'Basic Offset Table');
  const noTable = readEncapsulated(encapsulated([], fragments), 0);
  equal(splitFrames(noTable, { frames: 600, extendedOffsets: offsets }), 'Extended Offset Table, empty Basic Offset Table');
  equal(splitFrames(noTable, { frames: 600, startsFrame: startsWithSoi }), 'empty Basic Offset Table, start markers');
  // A table whose first entry skips a fragment: that fragment is in no frame, as before.
  const skipped = splitFrames(readEncapsulated(encapsulated(offsets.slice(1), fragments), 0), { frames: 599 });
  assert.ok(skipped[0]!.equals(expected[1]!));
});

test('grouping by an offset table looks at each fragment once, not once per frame', () => {
  const { fragments, offsets } = manyFrames(3000);
  let at = 0;
  const layout = fragments.map((f) => {
    const o = at;
    at += 8 + f.length;
    return o;
  });
  let reads = 0;
  // Each fragment's offset counts how often it is read.
  const counted = layout.map((o) => ({
    get offset(): number {
      reads++;
      return o;
    },
    head: Buffer.alloc(0),
  }));
  const groups = groupFrames(counted, offsets, { frames: 3000 });
  assert.equal(groups.length, 3000);
  assert.deepEqual(groups.slice(0, 3), [[0], [1, 2], [3, 4, 5]]);
  assert.deepEqual(groups.flat(), layout.map((_o, i) => i), 'every fragment in one frame, in order');
  assert.ok(reads <= fragments.length + 1, `${reads} reads of the offsets of ${fragments.length} fragments`);
});
