// RLE Lossless decoding checked against DCMTK's dcmdrle, pixel for pixel, on every RLE sample;
// which syntaxes convert to which.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MAX_FRAME_BYTES, canConvert, convertDataset, withinDecodeBudget } from '../../../src/codecs/convert.js';
import { decodeRleFrame } from '../../../src/dicom/rle.js';
import { PacsError } from '../../../src/core/errors.js';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { encodeFileMetaInformation } from '../../../src/dicom/part10.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { decodeJsonDataset, encodeJsonDataset } from '../../../src/dicom/json-encode.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { SEQUENCE_DELIMITER, imageOf, imageOfFile, item, readFile, shortElement } from '../../helpers/pixels.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-rle-'));
const pool = new DecoderPool();
after(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('what converts to what', () => {
  for (const from of [TS.RLELossless, TS.JPEGBaseline8Bit, TS.JPEGExtended12Bit, TS.JPEGLossless, TS.JPEGLosslessSV1, TS.JPEGLSLossless, TS.JPEGLSNearLossless, TS.JPEG2000Lossless, TS.JPEG2000, TS.HTJ2KLossless, TS.HTJ2KLosslessRPCL, TS.HTJ2K, TS.DeflatedExplicitVRLittleEndian, TS.EncapsulatedUncompressedExplicitVRLittleEndian])
    for (const to of [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian]) assert.ok(canConvert(from, to), `${from} → ${to}`);
  for (const from of [TS.MPEG2MPML, TS.MPEG4HP41, TS.HEVCMP51, TS.JPEGXL, TS.JPEG2000MC, TS.JPIPReferenced, '1.2.3.4.private'])
    assert.ok(!canConvert(from, TS.ExplicitVRLittleEndian), `${from} is not decodable`);
  assert.ok(!canConvert(TS.ExplicitVRLittleEndian, TS.RLELossless), 'we never compress');
  assert.ok(!canConvert(TS.JPEGBaseline8Bit, TS.JPEG2000), 'nor transcode between compressed syntaxes');
});

for (const name of ['pydicom__MR_small_RLE.dcm', 'pydicom__SC_rgb_rle_2frame.dcm', 'octave-dicom__US-PAL-8-10x-echo.dcm']) {
  test(`${name}: decoded pixels equal dcmdrle's; in implicit VR too`, async () => {
    const file = path.join(SAMPLES, name);
    const { ts, dataset } = readFile(file);
    assert.equal(ts, TS.RLELossless);
    const ref = path.join(dir, `${name}.raw`);
    execFileSync('dcmdrle', [file, ref]);
    const expected = await imageOfFile(ref);
    const got = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian);
    assert.ok(got.pixels.equals(expected.pixels), 'same pixels');
    const implicit = await imageOf(await convertDataset(dataset, ts, TS.ImplicitVRLittleEndian, pool), TS.ImplicitVRLittleEndian);
    assert.ok(implicit.pixels.equals(expected.pixels));
  });
}

test('a truncated RLE frame is refused with a reason', async () => {
  const { dataset } = readFile(path.join(SAMPLES, 'pydicom__MR_small_RLE.dcm'));
  const cut = dataset.subarray(0, dataset.length - 200);
  await assert.rejects(convertDataset(cut, TS.RLELossless, TS.ExplicitVRLittleEndian, pool), /encapsulated|RLE/);
});

test('a multi-frame instance decodes a few frames at a time: a frame that fails stops the rest', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'octave-dicom__US-PAL-8-10x-echo.dcm'));
  let asked = 0;
  const failing = { decode: async () => (asked++, await new Promise((r) => setTimeout(r, 5)), Promise.reject(new Error('bad codestream'))) };
  await assert.rejects(convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, failing), /frame \d+ of 10 .*bad codestream/);
  assert.ok(asked < 10, `${asked} of 10 frames were sent to the decoder after the first failed`);
});

test('a conversion given up (its signal) decodes no further frame and fails ABORTED; the pool being busy stays UNAVAILABLE', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'octave-dicom__US-PAL-8-10x-echo.dcm'));
  const controller = new AbortController();
  let asked = 0;
  const abortingAfterOne = {
    decode: async (_t: unknown, signal?: AbortSignal) => {
      asked++;
      assert.equal(signal, controller.signal, 'the signal reaches the decoder');
      controller.abort();
      return Promise.reject(new PacsError('ABORTED', 'the frame was no longer wanted'));
    },
  };
  await assert.rejects(convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, abortingAfterOne, { signal: controller.signal }), (e: Error & { code?: string }) => e.code === 'ABORTED');
  assert.equal(asked, 1, 'no frame asked for after the signal');
  const busy = { decode: async () => Promise.reject(new PacsError('UNAVAILABLE', '1024 frames are waiting to be decoded: try again later')) };
  await assert.rejects(convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, busy), (e: Error & { code?: string }) => e.code === 'UNAVAILABLE' && /frame 1 of 10/.test(e.message));
});

test('a conversion given up before it begins (the file was still being read) does no work: no frame asked for, a deflated one not inflated', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'octave-dicom__US-PAL-8-10x-echo.dcm'));
  const signal = AbortSignal.abort();
  let asked = 0;
  const counting = { decode: async () => (asked++, Promise.reject(new Error('not to be asked'))) };
  await assert.rejects(convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, counting, { signal }), (e: Error & { code?: string }) => e.code === 'ABORTED');
  assert.equal(asked, 0);
  // Not deflated data at all: had it been inflated, it would have failed DICOM_PARSE.
  await assert.rejects(convertDataset(Buffer.from('not deflate'), TS.DeflatedExplicitVRLittleEndian, TS.ExplicitVRLittleEndian, counting, { signal }), (e: Error & { code?: string }) => e.code === 'ABORTED');
});

test('a decompressed result larger than the cap is refused before anything is decoded', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'octave-dicom__US-PAL-8-10x-echo.dcm'));
  // Rows and Columns (0028,0010/0011, explicit VR US) claimed to be 65535 each: 10 frames of 4 GB.
  const big = Buffer.from(dataset);
  for (const element of [0x10, 0x11]) {
    const at = big.indexOf(Buffer.from([0x28, 0x00, element, 0x00, 0x55, 0x53, 0x02, 0x00]));
    assert.ok(at >= 0);
    big.writeUInt16LE(65535, at + 8);
  }
  let asked = 0;
  const counting = { decode: async () => (asked++, Promise.reject(new Error('not reached'))) };
  await assert.rejects(convertDataset(big, ts, TS.ExplicitVRLittleEndian, counting), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED' && /ask for the stored transfer syntax/.test(e.message));
  assert.equal(asked, 0);
});

test('group lengths (dcmconv +g) do not survive decompression stale', async () => {
  const withLengths = path.join(dir, 'pal.group-lengths.dcm');
  execFileSync('dcmconv', ['+g', '-q', path.join(SAMPLES, 'octave-dicom__US-PAL-8-10x-echo.dcm'), withLengths]);
  const { ts, dataset } = readFile(withLengths);
  assert.ok(dataset.includes(Buffer.from([0xe0, 0x7f, 0x00, 0x00, 0x55, 0x4c])), 'the source has (7FE0,0000)');
  for (const to of [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian]) {
    const out = path.join(dir, `pal.group-lengths.${to}.dcm`);
    const meta = encodeFileMetaInformation({ mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.3.1', mediaStorageSOPInstanceUID: '1.2.3', transferSyntaxUID: to, implementationClassUID: '1.2.3', implementationVersionName: 'TEST' });
    fs.writeFileSync(out, Buffer.concat([meta, await convertDataset(dataset, ts, to, pool)]));
    const stale = execFileSync('dcmdump', ['-q', out], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /^\s*\([0-9a-f]{4},0000\)/.test(l) && !l.trim().startsWith('(0002,0000)'));
    assert.deepEqual(stale, [], `→ ${to}`);
  }
});

test('JPEG Lossless samples wider than Bits Allocated are refused, not cut to 8 bits', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'jpeg-lossless-decoder-js__jpeg_lossless_sel2.dcm'));
  assert.equal(ts, TS.JPEGLossless);
  // Bits Allocated, Bits Stored, High Bit (0028,0100/0101/0102, explicit VR US) made 8, 8, 7: the codestream stays 16-bit.
  const narrowed = Buffer.from(dataset);
  for (const [element, value] of [[0x00, 8], [0x01, 8], [0x02, 7]] as const) {
    const at = narrowed.indexOf(Buffer.from([0x28, 0x00, element, 0x01, 0x55, 0x53, 0x02, 0x00]));
    assert.ok(at >= 0);
    narrowed.writeUInt16LE(value, at + 8);
  }
  await assert.rejects(convertDataset(narrowed, ts, TS.ExplicitVRLittleEndian, pool), (e: Error & { code?: string }) => e.code === 'DICOM_PARSE' && /16-bit samples, Bits Allocated is 8/.test(e.message));
  // As stored, it decodes.
  assert.ok((await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool)).length > 0);
});

test('trailing zero padding after compressed Pixel Data is left out of the decompressed dataset', async () => {
  const { ts, dataset } = readFile(path.join(SAMPLES, 'pydicom__MR_small_RLE.dcm'));
  const clean = await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool);
  for (const zeros of [3, 8, 100_000]) {
    const padded = Buffer.concat([dataset, Buffer.alloc(zeros)]);
    assert.ok((await convertDataset(padded, ts, TS.ExplicitVRLittleEndian, pool)).equals(clean), `${zeros} zero bytes`);
  }
});

test('a dataset in a compressed syntax without Pixel Data keeps its image attributes when converted (Photometric Interpretation was emptied)', async () => {
  const header = encodeJsonDataset(
    {
      '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.7'] },
      '00080018': { vr: 'UI', Value: ['1.2.3.4.5'] },
      '00280002': { vr: 'US', Value: [1] },
      '00280004': { vr: 'CS', Value: ['MONOCHROME2'] },
      '00280006': { vr: 'US', Value: [0] },
      '00280010': { vr: 'US', Value: [8] },
      '00280011': { vr: 'US', Value: [8] },
      '00280100': { vr: 'US', Value: [16] },
    },
    TS.ExplicitVRLittleEndian,
    null,
  );
  for (const [from, to] of [
    [TS.JPEGBaseline8Bit, TS.ImplicitVRLittleEndian],
    [TS.JPEG2000Lossless, TS.ExplicitVRLittleEndian],
    [TS.EncapsulatedUncompressedExplicitVRLittleEndian, TS.ExplicitVRLittleEndian],
  ] as const) {
    const { dataset } = await decodeJsonDataset(await convertDataset(header, from, to, pool), to);
    assert.deepEqual([dataset['00280004']?.Value, dataset['00280006']?.Value, dataset['00280010']?.Value], [['MONOCHROME2'], [0], [8]], `${from} → ${to}`);
  }
});

test('large decompressions run one at a time in the process; small ones side by side', async () => {
  /** A dataset of `frames` encapsulated frames of rows × 4096 16-bit samples, each fragment tagged with `mark`. */
  const encapsulated = (rows: number, frames: number, mark: number): Buffer => {
    const us = (tag: number, v: number) => shortElement(tag, 'US', Buffer.from([v & 0xff, v >> 8]));
    const header = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    return Buffer.concat([
      us(0x00280002, 1),
      shortElement(0x00280004, 'CS', Buffer.from('MONOCHROME2')),
      shortElement(0x00280008, 'IS', Buffer.from(String(frames))),
      us(0x00280010, rows),
      us(0x00280011, 4096),
      us(0x00280100, 16),
      us(0x00280101, 16),
      us(0x00280103, 0),
      header,
      item(Buffer.alloc(0)),
      ...Array.from({ length: frames }, () => item(Buffer.from([mark, 0]))),
      SEQUENCE_DELIMITER,
    ]);
  };
  const seen: number[] = [];
  const decoder = {
    decode: async (task: { frame: ArrayBuffer; geometry: { rows: number; columns: number } }) => {
      seen.push(new Uint8Array(task.frame)[0]!);
      await new Promise((r) => setTimeout(r, 5));
      return { pixels: new ArrayBuffer(task.geometry.rows * task.geometry.columns * 2), photometric: 'MONOCHROME2' };
    },
  };
  // 9 frames of 1024 × 4096 × 2 bytes: 72 MB decoded, over the 64 MB bound (more frames than
  // the 4 one conversion decodes at once, so two side by side would interleave).
  const inTurn = [...Array<number>(9).fill(1), ...Array<number>(9).fill(2)];
  await Promise.all([1, 2].map((mark) => convertDataset(encapsulated(1024, 9, mark), TS.RLELossless, TS.ExplicitVRLittleEndian, decoder)));
  assert.deepEqual(seen, inTurn, 'the second began when the first was done');
  seen.length = 0;
  await Promise.all([1, 2].map((mark) => convertDataset(encapsulated(64, 9, mark), TS.RLELossless, TS.ExplicitVRLittleEndian, decoder)));
  assert.notDeepEqual(seen, inTurn, 'small ones interleave');
});

test('an RLE frame whose segments are too short for the image its header claims is refused before anything is allocated', () => {
  const frame = Buffer.alloc(600);
  frame.writeUInt32LE(1, 0); // one segment
  frame.writeUInt32LE(64, 4);
  frame.fill(0x81, 64); // runs of 128 bytes: 536 bytes of them make at most ~34 KB
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => decodeRleFrame(frame, { rows: 65535, columns: 65535, samplesPerPixel: 1, bitsAllocated: 8 }), /segment 1 of 536 bytes cannot hold 65535 × 65535/);
  assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1048576, 'no 4 GB buffer');
  // One that can hold it still decodes: 128 × 128 from runs.
  assert.equal(decodeRleFrame(frame, { rows: 128, columns: 128, samplesPerPixel: 1, bitsAllocated: 8 }).length, 128 * 128);
});

test('a single frame decoded for rendering or WADO-RS frames is refused past MAX_FRAME_BYTES, before its decoder runs', async () => {
  let ran = false;
  await assert.rejects(
    withinDecodeBudget(MAX_FRAME_BYTES + 1, 'frame 1', async () => (ran = true)),
    (e: unknown) => e instanceof PacsError && e.code === 'UNSUPPORTED' && /frame 1 would take 513 MB decoded, more than 512 MB/.test(e.message),
  );
  assert.equal(ran, false);
  assert.equal(await withinDecodeBudget(1024, 'frame 1', async () => 'decoded'), 'decoded');
});
