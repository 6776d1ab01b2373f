// Rendering on synthetic frames whose answers are worked out by hand: the VOI functions, the
// Modality and VOI LUTs, Bits Stored masks and signs, MONOCHROME1 and INVERSE, the colour
// models, palettes, regions and viewports; then the JPEG and PNG encoders read back, and a
// render task through the worker pool.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { type RenderImage, renderPixels, voiValue } from '../../../src/codecs/render.js';
import { fitSize, viewportOf } from '../../../src/codecs/resample.js';
import { PacsError } from '../../../src/core/errors.js';
import { encodeImage, encoderLayout } from '../../../src/codecs/image-encode.js';
import { compare, decodeJpeg, decodePng, grayOf, isJpeg, isPng, linear, linearExact, sigmoid } from '../../helpers/images.js';

const gray = (over: Partial<RenderImage>): RenderImage => ({
  rows: 1,
  columns: 4,
  samplesPerPixel: 1,
  bitsAllocated: 16,
  bitsStored: 16,
  highBit: 15,
  pixelRepresentation: 0,
  photometric: 'MONOCHROME2',
  planarConfiguration: 0,
  rescaleSlope: 1,
  rescaleIntercept: 0,
  modalityLut: null,
  window: null,
  voiLut: null,
  inverse: false,
  palette: null,
  ...over,
});

const u16 = (...v: number[]): Uint8Array => {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => b.writeUInt16LE(x & 0xffff, 2 * i));
  return new Uint8Array(b);
};
const px = (frame: Uint8Array, g: RenderImage, options = {}): number[] => Array.from(renderPixels(frame, g, options).data);

describe('VOI functions (PS3.3 C.11.2.1.2)', () => {
  test('LINEAR, LINEAR_EXACT and SIGMOID at and around the window edges', () => {
    for (const x of [-1000, -160, -159, 0, 39, 40, 41, 239, 240, 1000]) {
      assert.equal(voiValue(x, { center: 40, width: 400, function: 'LINEAR' }), linear(x, 40, 400), `LINEAR ${x}`);
      assert.equal(voiValue(x, { center: 40, width: 400, function: 'LINEAR_EXACT' }), linearExact(x, 40, 400), `LINEAR_EXACT ${x}`);
      assert.equal(voiValue(x, { center: 40, width: 400, function: 'SIGMOID' }), sigmoid(x, 40, 400), `SIGMOID ${x}`);
    }
    // Worked by hand: the centre of LINEAR lands half a step above the middle; width 1 is a threshold.
    assert.equal(voiValue(40, { center: 40, width: 400, function: 'LINEAR' }), 128);
    assert.equal(voiValue(40, { center: 40, width: 400, function: 'SIGMOID' }), 128);
    assert.equal(voiValue(39, { center: 40, width: 1, function: 'LINEAR' }), 0);
    assert.equal(voiValue(40, { center: 40, width: 1, function: 'LINEAR' }), 255);
  });
});

describe('grayscale pipeline', () => {
  test('signed 16-bit with Rescale Slope/Intercept through the dataset window', () => {
    const g = gray({ pixelRepresentation: 1, rescaleSlope: 2, rescaleIntercept: -1024, window: { center: 0, width: 1000, function: 'LINEAR' } });
    // Stored -100 → -1224, 512 → 0, 700 → 376, 1000 → 976.
    assert.deepEqual(px(u16(-100, 512, 700, 1000), g), [0, linear(0, 0, 1000), linear(376, 0, 1000), 255]);
  });

  test('Bits Stored masks the bits above High Bit and signs the stored value', () => {
    const g = gray({ bitsStored: 12, highBit: 11, pixelRepresentation: 1, window: { center: 0, width: 4096, function: 'LINEAR_EXACT' } });
    // 0xF800 carries garbage above bit 11: stored 0x800 = -2048. 0x07FF = 2047. 0xA000 = 0.
    assert.deepEqual(px(u16(0xf800, 0x07ff, 0xa000, 0x0fff), g), [0, linearExact(2047, 0, 4096), 128, linearExact(-1, 0, 4096)]);
  });

  test('a High Bit below Bits Stored − 1 of Bits Allocated shifts the stored value down', () => {
    const g = gray({ bitsAllocated: 16, bitsStored: 8, highBit: 11, window: { center: 127.5, width: 256, function: 'LINEAR_EXACT' } });
    assert.deepEqual(px(u16(0x0ff0, 0x0000, 0x0800, 0xf00f), g), [255, 0, linearExact(128, 127.5, 256), 0]);
  });

  test('without any window: the frame range end to end; MONOCHROME1 and INVERSE invert', () => {
    const frame = u16(100, 200, 150, 300);
    assert.deepEqual(px(frame, gray({})), [0, linearExact(200, 200, 200), linearExact(150, 200, 200), 255]);
    const inverted = px(frame, gray({ photometric: 'MONOCHROME1' }));
    assert.deepEqual(inverted, px(frame, gray({})).map((v) => 255 - v));
    assert.deepEqual(px(frame, gray({ inverse: true })), inverted);
    assert.deepEqual(px(frame, gray({ photometric: 'MONOCHROME1', inverse: true })), px(frame, gray({})), 'INVERSE of MONOCHROME1 is upright');
    assert.deepEqual(px(u16(7, 7, 7, 7), gray({})), [128, 128, 128, 128], 'a flat frame is mid-gray');
  });

  test('a window asked for overrides the dataset one', () => {
    const g = gray({ window: { center: 0, width: 10, function: 'LINEAR' } });
    assert.deepEqual(px(u16(0, 100, 200, 300), g, { window: { center: 200, width: 200, function: 'LINEAR_EXACT' } }), [0, 0, 128, 255]);
  });

  test('Modality LUT and VOI LUT Sequences', () => {
    const modalityLut = { first: 10, bits: 16, data: [0, 1000, 2000, 3000] };
    const voiLut = { first: 0, bits: 12, data: Array.from({ length: 3001 }, (_, i) => Math.round((i / 3000) * 4095)) };
    // 9 clamps to the first entry, 13 and above to the last.
    assert.deepEqual(px(u16(9, 11, 12, 40), gray({ modalityLut, voiLut })), [0, 85, 170, 255]);
  });

  test('8-bit and 1-bit frames', () => {
    assert.deepEqual(px(Uint8Array.from([0, 64, 128, 255]), gray({ bitsAllocated: 8, bitsStored: 8, highBit: 7 })), [0, 64, 128, 255]);
    assert.deepEqual(px(Uint8Array.from([0b1010]), gray({ bitsAllocated: 1, bitsStored: 1, highBit: 0 })), [0, 255, 0, 255]);
  });
});

describe('colour', () => {
  const rgb = (over: Partial<RenderImage>): RenderImage => gray({ samplesPerPixel: 3, bitsAllocated: 8, bitsStored: 8, highBit: 7, photometric: 'RGB', columns: 2, ...over });

  test('RGB by pixel or by plane, and 16-bit RGB scaled to 8 bits', () => {
    const interleaved = Uint8Array.from([255, 0, 0, 10, 20, 30]);
    const planar = Uint8Array.from([255, 10, 0, 20, 0, 30]);
    assert.deepEqual(px(interleaved, rgb({})), [255, 0, 0, 10, 20, 30]);
    assert.deepEqual(px(planar, rgb({ planarConfiguration: 1 })), [255, 0, 0, 10, 20, 30]);
    assert.deepEqual(px(u16(4095, 0, 2048, 16, 32, 48), rgb({ bitsAllocated: 16, bitsStored: 12, highBit: 11 })), [255, 0, 128, 1, 2, 3]);
  });

  test('YBR_FULL and packed YBR_FULL_422 become RGB (PS3.3 C.7.6.3.1.2)', () => {
    // Pure red is Y 76, Cb 85, Cr 255 in full range; gray stays gray.
    const ybr = Uint8Array.from([76, 85, 255, 128, 128, 128]);
    const [r, g, b, ...grey] = px(ybr, rgb({ photometric: 'YBR_FULL' }));
    assert.ok(r! >= 253 && g! <= 2 && b! <= 2, `red: ${r},${g},${b}`);
    assert.deepEqual(grey, [128, 128, 128]);
    const packed = Uint8Array.from([50, 200, 128, 128]); // Y1 Y2 Cb Cr
    assert.deepEqual(Array.from(renderPixels(packed, rgb({ photometric: 'YBR_FULL_422' }), {}, true).data), [50, 50, 50, 200, 200, 200]);
  });

  test('PALETTE COLOR through 16-bit and 8-bit tables, indices clamped to the table', () => {
    const red = { first: 1, bits: 16, data: [0x0000, 0xff00, 0x8000] };
    const green = { first: 1, bits: 16, data: [0x1000, 0x2000, 0x3000] };
    const blue = { first: 1, bits: 8, data: [5, 6, 7] };
    const g = gray({ bitsAllocated: 8, bitsStored: 8, highBit: 7, photometric: 'PALETTE COLOR', columns: 3, palette: { red, green, blue } });
    assert.deepEqual(px(Uint8Array.from([0, 2, 9]), g), [0, 0x10, 5, 0xff, 0x20, 6, 0x80, 0x30, 7]);
    assert.throws(() => renderPixels(Uint8Array.from([0]), { ...g, columns: 1, palette: null }, {}), /palette/);
  });
});

describe('region and viewport', () => {
  const image = { data: Uint8Array.from({ length: 16 }, (_, i) => i * 10), width: 4, height: 4, channels: 1 as const };

  test('sizes keep the aspect ratio', () => {
    assert.deepEqual(fitSize(512, 400, 128, 128), { width: 128, height: 100 });
    assert.deepEqual(fitSize(128, 128, 100, 50), { width: 50, height: 50 });
    assert.deepEqual(fitSize(16, 16, 128, 128), { width: 128, height: 128 });
    assert.deepEqual(fitSize(300, 100, undefined, 50), { width: 150, height: 50 });
  });

  test('a viewport enlarges to at most MAX_ENLARGED_PIXELS; an image at its own size is never refused', () => {
    assert.throws(() => viewportOf(image, { width: 8192, height: 8192 }), (e: Error) => e instanceof PacsError && e.code === 'BAD_ARGUMENT' && /at most 16777216 pixels/.test(e.message));
    assert.throws(() => viewportOf(image, { width: 8192, height: 8192, region: { x: 0, y: 0, width: 1, height: 1 } }), PacsError);
    assert.equal(viewportOf(image, { width: 4096, height: 4096 }).width, 4096, 'up to the budget');
    const big = { data: new Uint8Array(5000 * 4000), width: 5000, height: 4000, channels: 1 as const };
    assert.equal(viewportOf(big, undefined).width, 5000, 'larger than the budget at its own size');
    assert.equal(viewportOf(big, { width: 5000, height: 5000 }).width, 5000, 'a viewport that does not enlarge it');
  });

  test('halving averages 2×2 blocks; a region is cut out; negative sizes flip', () => {
    const half = viewportOf(image, { width: 2, height: 2 });
    assert.deepEqual(Array.from(half.data), [25, 45, 105, 125]);
    const region = viewportOf(image, { region: { x: 1, y: 2, width: 2, height: 1 } });
    assert.deepEqual([region.width, region.height, ...region.data], [2, 1, 90, 100]);
    const flipped = viewportOf(image, { region: { x: 0, y: 0, width: -4, height: 4 } });
    assert.deepEqual(Array.from(flipped.data.subarray(0, 4)), [30, 20, 10, 0]);
    const upside = viewportOf(image, { region: { x: 0, y: 1, width: 4, height: -2 } });
    assert.deepEqual(Array.from(upside.data), [80, 90, 100, 110, 40, 50, 60, 70]);
  });

  test('enlarging interpolates between neighbours and keeps the corners', () => {
    const big = viewportOf({ data: Uint8Array.from([0, 100]), width: 2, height: 1, channels: 1 }, { width: 4, height: 4 });
    assert.deepEqual([big.width, big.height, ...big.data.subarray(0, 4)], [4, 2, 0, 25, 75, 100]);
  });

  test('a region outside the image is refused', () => {
    assert.throws(() => viewportOf(image, { region: { x: 2, y: 0, width: 3, height: 1 } }), (e: Error & { code?: string }) => e.code === 'BAD_ARGUMENT');
    assert.throws(() => viewportOf(image, { region: { x: 0, y: 0, width: 0, height: 1 } }), /not a region/);
  });
});

describe('encoders', () => {
  const w = 64;
  const h = 48;
  const grayImage = { data: Uint8Array.from({ length: w * h }, (_, i) => ((i % w) * 4) & 255), width: w, height: h, channels: 1 as const };
  const colourImage = { data: Uint8Array.from({ length: w * h * 3 }, (_, i) => (i % 3 === 0 ? 200 : i % 3 === 1 ? 40 : 90)), width: w, height: h, channels: 3 as const };

  test('PNG reads back exactly, gray and RGB', async () => {
    for (const img of [grayImage, colourImage]) {
      const bytes = await encodeImage(img, 'png', 90);
      assert.ok(isPng(bytes));
      const back = decodePng(bytes);
      assert.equal(compare(back, { ...img }).max, 0);
    }
  });

  test('JPEG reads back within its loss; quality sets the size', async () => {
    const bytes = await encodeImage(grayImage, 'jpeg', 95);
    assert.ok(isJpeg(bytes));
    const back = grayOf(await decodeJpeg(bytes));
    assert.ok(compare(back, grayImage).mean < 2, `mean ${compare(back, grayImage).mean}`);
    const colour = await decodeJpeg(await encodeImage(colourImage, 'jpeg', 90));
    assert.equal(colour.channels, 3);
    assert.ok(compare(colour, colourImage).max <= 3, 'a flat colour survives');
    const small = await encodeImage(grayImage, 'jpeg', 10);
    assert.ok(small.length < bytes.length, `${small.length} < ${bytes.length}`);
    assert.equal((await decodeJpeg(bytes)).channels, 1, 'a gray JPEG');
  });

  test('JPEG of tiny and incompressible images: the encoder never runs out of room', async () => {
    // The WebAssembly wrapper writes into a buffer sized by what it is told (see encoderLayout).
    let seed = 7;
    const noise = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) >> 23);
    for (const channels of [1, 3] as const)
      for (const [w, h] of [[1, 1], [1, 9], [3, 3], [7, 2], [8, 8], [13, 17], [16, 16], [33, 5], [100, 3], [256, 256]] as const)
        for (const quality of [1, 100]) {
          const img = { data: noise(w * h * channels), width: w, height: h, channels };
          const back = await decodeJpeg(await encodeImage(img, 'jpeg', quality));
          assert.deepEqual([back.width, back.height], [w, h], `${w}×${h}×${channels} at ${quality}`);
          if (quality === 100) assert.ok(compare(channels === 1 ? grayOf(back) : back, img).mean < 4, `${w}×${h}×${channels} reads back`);
        }
    for (const [w, h, c] of [[1, 1, 1], [1, 1, 3], [5, 5, 1], [512, 512, 1], [8192, 1, 3]] as const) {
      const l = encoderLayout(w, h, c);
      const room = w * h * l.componentCount * Math.ceil(l.bitsPerSample / 8);
      const tjBufSize = 6 * Math.ceil(w / 8) * 8 * Math.ceil(h / 8) * 8 + 2048; // libjpeg-turbo's worst case at 4:4:4
      assert.ok(room >= tjBufSize && l.bitsPerSample <= 255 && l.componentCount <= 255, `${w}×${h}×${c}: ${JSON.stringify(l)}`);
    }
  });
});

describe('render tasks on the worker pool', () => {
  const pool = new DecoderPool({ size: 1 });
  after(() => pool.close());

  test('a native frame rendered and encoded off the main thread; bad input fails with its reason', async () => {
    const frame = u16(0, 1000, 2000, 3000);
    const r = await pool.render({ frame: frame.buffer as ArrayBuffer, codec: null, image: gray({}), options: { format: 'png', quality: 90 } });
    assert.deepEqual([r.width, r.height], [4, 1]);
    assert.deepEqual(Array.from(decodePng(new Uint8Array(r.bytes)).data), [0, 85, 170, 255]);
    const jpeg = await pool.render({ frame: u16(1, 2, 3, 4).buffer as ArrayBuffer, codec: null, image: gray({}), options: { format: 'jpeg', quality: 80, viewport: { width: 8, height: 8 } } });
    assert.deepEqual([jpeg.width, jpeg.height], [8, 2]);
    assert.ok(isJpeg(new Uint8Array(jpeg.bytes)));
    await assert.rejects(
      pool.render({ frame: new ArrayBuffer(2), codec: null, image: gray({}), options: { format: 'png', quality: 90 } }),
      (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /bytes/.test(e.message),
    );
  });
});
