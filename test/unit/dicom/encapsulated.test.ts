// Frames out of encapsulated Pixel Data (PS3.5 A.4): by Extended Offset Table, Basic Offset
// Table, one fragment per frame, or the codestreams' start markers; malformed layouts refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encapsulatedFrames, readEncapsulated, splitFrames } from '../../../src/dicom/encapsulated.js';

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
