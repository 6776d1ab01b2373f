// Encapsulated Pixel Data read by its item headers (src/dicom/encapsulated-index.ts): frames equal
// what splitting the whole buffer gives; lengths that claim more than the file are refused before
// anything is read or allocated for them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readEncapsulatedIndex, readIndexedFrame, type ReadAt } from '../../../src/dicom/encapsulated-index.js';
import { encapsulatedFrames } from '../../../src/dicom/encapsulated.js';

const item = (bytes: Buffer): Buffer => {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0);
  h.writeUInt16LE(0xe000, 2);
  h.writeUInt32LE(bytes.length, 4);
  return Buffer.concat([h, bytes]);
};
const END = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);

/** A read that also records the largest length asked for. */
function reader(file: Buffer): { read: ReadAt; largest: () => number } {
  let largest = 0;
  return {
    read: async (position, length) => {
      largest = Math.max(largest, length);
      return file.subarray(position, position + length);
    },
    largest: () => largest,
  };
}

test('frames by the headers equal the whole-buffer split: one fragment a frame, and a frame of two fragments by the offset table', async () => {
  const f1 = Buffer.from('AAAAAAAAAA');
  const f2a = Buffer.from('BBBB');
  const f2b = Buffer.from('CCCCCC');
  const bot = Buffer.alloc(8);
  bot.writeUInt32LE(0, 0);
  bot.writeUInt32LE(8 + f1.length, 4);
  const prefix = Buffer.from('some dataset bytes before');
  const file = Buffer.concat([prefix, item(bot), item(f1), item(f2a), item(f2b), END]);
  const { read } = reader(file);
  const index = await readEncapsulatedIndex(read, prefix.length, file.length);
  const whole = encapsulatedFrames(file, prefix.length, { frames: 2 }).frames;
  for (const n of [1, 2]) assert.ok((await readIndexedFrame(read, index, { frames: 2 }, n)).equals(whole[n - 1]!), `frame ${n}`);
  assert.deepEqual((await readIndexedFrame(read, index, { frames: 2 }, 2)).toString(), 'BBBBCCCCCC');
});

test('a Basic Offset Table or an item claiming more than the file: refused, nothing allocated for it', async () => {
  const prefix = Buffer.alloc(16);
  const hugeBot = Buffer.alloc(8);
  hugeBot.writeUInt16LE(0xfffe, 0);
  hugeBot.writeUInt16LE(0xe000, 2);
  hugeBot.writeUInt32LE(0xfffffff0, 4);
  const file = Buffer.concat([prefix, hugeBot, item(Buffer.from('x'.repeat(64))), END]);
  const r = reader(file);
  await assert.rejects(readEncapsulatedIndex(r.read, prefix.length, file.length), /Basic Offset Table runs past the end/);
  assert.ok(r.largest() <= 64 * 1024, 'no read of the claimed length');
  const hugeItem = Buffer.alloc(8);
  hugeItem.writeUInt16LE(0xfffe, 0);
  hugeItem.writeUInt16LE(0xe000, 2);
  hugeItem.writeUInt32LE(0x7ffffff0, 4);
  const file2 = Buffer.concat([prefix, item(Buffer.alloc(0)), hugeItem, Buffer.from('short')]);
  await assert.rejects(readEncapsulatedIndex(reader(file2).read, prefix.length, file2.length), /runs past the end of the file/);
  const noEnd = Buffer.concat([prefix, item(Buffer.alloc(0)), item(Buffer.from('abcd'))]);
  await assert.rejects(readEncapsulatedIndex(reader(noEnd).read, prefix.length, noEnd.length), /no sequence delimiter/);
});

test('frame after frame of one index: the fragments are grouped once, not once a frame', async () => {
  const frames = 200;
  const bot = Buffer.alloc(4 * frames);
  const items: Buffer[] = [];
  let at = 0;
  for (let k = 0; k < frames; k++) {
    bot.writeUInt32LE(at, 4 * k);
    // Two fragments a frame, of odd lengths.
    for (const f of [Buffer.alloc(5, k), Buffer.alloc(3, k)]) {
      items.push(item(f));
      at += 8 + f.length;
    }
  }
  const file = Buffer.concat([item(bot), ...items, END]);
  const { read } = reader(file);
  const index = await readEncapsulatedIndex(read, 0, file.length);
  let reads = 0;
  index.fragments = index.fragments.map((f) => {
    const { offset, ...rest } = f;
    return {
      ...rest,
      get offset(): number {
        reads++;
        return offset;
      },
    };
  });
  for (let n = 1; n <= frames; n++) assert.ok((await readIndexedFrame(read, index, { frames }, n)).equals(Buffer.alloc(8, n - 1)), `frame ${n}`);
  assert.ok(reads <= index.fragments.length + 1, `${reads} reads of the offsets of ${index.fragments.length} fragments for ${frames} frames`);
});
