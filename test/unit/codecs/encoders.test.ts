// Our decoders against encoders from outside the project: DCMTK's dcmcjpeg, dcmcjpls and
// dcmcrle, GDCM's gdcmconv (JPEG 2000) and OpenJPH's ojph_compress (HTJ2K, wrapped into a
// dataset here). Each compressed file is decoded by us and compared with the uncompressed
// original: exactly when lossless, within a bound when lossy. The options also make the
// frame layouts to handle: several fragments per frame, empty offset tables, planar JPEG-LS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DecoderPool } from '../../../src/codecs/pool.js';
import { convertDataset } from '../../../src/codecs/convert.js';
import { TS } from '../../../src/dicom/transfer-syntax.js';
import { readEncapsulated } from '../../../src/dicom/encapsulated.js';
import { SAMPLES } from '../../helpers/dcmtk.js';
import { converted, difference, encapsulate, hasTool, imageOf, imageOfFile, readFile, shortElement, type Image } from '../../helpers/pixels.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-codec-enc-'));
const pool = new DecoderPool();
const ORIGINAL = {
  /** 128×128 CT, 16 bits signed. */
  ct16: path.join(SAMPLES, 'pydicom__CT_small.dcm'),
  /** 12 frames of 512×512, 8 bits (decompressed from a JPEG Lossless sample by dcmdjpeg). */
  gray8: path.join(dir, 'gray8.dcm'),
  /** 2 frames of 100×100 RGB (decompressed from an RLE sample by dcmdrle). */
  rgb: path.join(dir, 'rgb.dcm'),
};

before(() => {
  execFileSync('dcmdjpeg', [path.join(SAMPLES, 'jpeg-lossless-decoder-js__jpeg_lossless_sel1-8bit.dcm'), ORIGINAL.gray8]);
  execFileSync('dcmdrle', [path.join(SAMPLES, 'pydicom__SC_rgb_rle_2frame.dcm'), ORIGINAL.rgb]);
});
after(async () => {
  await pool.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

let n = 0;
/** Our decoding of `file`, with the original it came from. */
async function decode(file: string, original: keyof typeof ORIGINAL): Promise<{ ours: Image; orig: Image }> {
  const { ts, dataset } = readFile(file);
  const ours = await imageOf(await convertDataset(dataset, ts, TS.ExplicitVRLittleEndian, pool), TS.ExplicitVRLittleEndian);
  return { ours, orig: await imageOfFile(ORIGINAL[original]) };
}

interface Case {
  name: string;
  original: keyof typeof ORIGINAL;
  cmd: string;
  args: string[];
  ts: string;
  /** 0: lossless, identical to the original; else the mean difference allowed from it. */
  mean: number;
}

/** A reference decoder for the lossy cases: ours must agree with it within 2 (their rounding differs). */
const REFERENCE: Record<string, string[]> = {
  dcmcjpeg: ['dcmdjpeg'],
  dcmcjpls: ['dcmdjpls', '+px'],
  gdcmconv: ['gdcmconv', '--raw'],
};

const cases: Case[] = [
  { name: 'JPEG baseline, 8-bit multi-frame', original: 'gray8', cmd: 'dcmcjpeg', args: ['+eb'], ts: TS.JPEGBaseline8Bit, mean: 3 },
  { name: 'JPEG baseline, several fragments per frame, empty offset table', original: 'gray8', cmd: 'dcmcjpeg', args: ['+eb', '+fs', '4', '-ot'], ts: TS.JPEGBaseline8Bit, mean: 3 },
  { name: 'JPEG baseline, RGB as YBR_FULL_422', original: 'rgb', cmd: 'dcmcjpeg', args: ['+eb'], ts: TS.JPEGBaseline8Bit, mean: 8 },
  { name: 'JPEG baseline, RGB as YBR_FULL 4:4:4', original: 'rgb', cmd: 'dcmcjpeg', args: ['+eb', '+s4'], ts: TS.JPEGBaseline8Bit, mean: 4 },
  { name: 'JPEG baseline, RGB kept RGB', original: 'rgb', cmd: 'dcmcjpeg', args: ['+eb', '+cr'], ts: TS.JPEGBaseline8Bit, mean: 4 },
  { name: 'JPEG extended, 8-bit (SOF1)', original: 'gray8', cmd: 'dcmcjpeg', args: ['+ee'], ts: TS.JPEGExtended12Bit, mean: 3 },
  { name: 'JPEG lossless process 14, 16-bit signed', original: 'ct16', cmd: 'dcmcjpeg', args: ['+el'], ts: TS.JPEGLossless, mean: 0 },
  { name: 'JPEG lossless SV1, 16-bit, several fragments', original: 'ct16', cmd: 'dcmcjpeg', args: ['+e1', '+fs', '4'], ts: TS.JPEGLosslessSV1, mean: 0 },
  { name: 'JPEG lossless SV1, RGB', original: 'rgb', cmd: 'dcmcjpeg', args: ['+e1'], ts: TS.JPEGLosslessSV1, mean: 0 },
  { name: 'JPEG lossless SV1, multi-frame, empty offset table', original: 'gray8', cmd: 'dcmcjpeg', args: ['+e1', '-ot', '+fs', '16'], ts: TS.JPEGLosslessSV1, mean: 0 },
  { name: 'JPEG-LS lossless, 16-bit signed', original: 'ct16', cmd: 'dcmcjpls', args: [], ts: TS.JPEGLSLossless, mean: 0 },
  { name: 'JPEG-LS near-lossless (NEAR 2)', original: 'gray8', cmd: 'dcmcjpls', args: ['+en'], ts: TS.JPEGLSNearLossless, mean: 2 },
  { name: 'JPEG-LS lossless RGB, uninterleaved (planes)', original: 'rgb', cmd: 'dcmcjpls', args: ['+in'], ts: TS.JPEGLSLossless, mean: 0 },
  { name: 'JPEG-LS lossless RGB, line-interleaved', original: 'rgb', cmd: 'dcmcjpls', args: ['+il'], ts: TS.JPEGLSLossless, mean: 0 },
  { name: 'JPEG-LS lossless RGB, sample-interleaved', original: 'rgb', cmd: 'dcmcjpls', args: ['+is'], ts: TS.JPEGLSLossless, mean: 0 },
  { name: 'JPEG-LS lossless, multi-frame, fragments of 4 KiB, empty offset table', original: 'gray8', cmd: 'dcmcjpls', args: ['+fs', '4', '-ot'], ts: TS.JPEGLSLossless, mean: 0 },
  { name: 'RLE, 16-bit signed', original: 'ct16', cmd: 'dcmcrle', args: [], ts: TS.RLELossless, mean: 0 },
  { name: 'RLE, RGB multi-frame', original: 'rgb', cmd: 'dcmcrle', args: [], ts: TS.RLELossless, mean: 0 },
  { name: 'JPEG 2000 lossless, 16-bit signed', original: 'ct16', cmd: 'gdcmconv', args: ['--j2k'], ts: TS.JPEG2000Lossless, mean: 0 },
  { name: 'JPEG 2000 lossless, RGB multi-frame', original: 'rgb', cmd: 'gdcmconv', args: ['--j2k'], ts: TS.JPEG2000Lossless, mean: 0 },
  { name: 'JPEG 2000 lossy, 16-bit signed', original: 'ct16', cmd: 'gdcmconv', args: ['--j2k', '--lossy', '-q', '70'], ts: TS.JPEG2000, mean: 30 },
  { name: 'JPEG 2000 lossy, RGB (YBR_ICT)', original: 'rgb', cmd: 'gdcmconv', args: ['--j2k', '--lossy', '-q', '40'], ts: TS.JPEG2000, mean: 4 },
];

describe('decoding what outside encoders made', () => {
  for (const c of cases) {
    test(`${c.name} (${c.cmd} ${c.args.join(' ')})`, { skip: !hasTool(c.cmd) && `${c.cmd} is not installed` }, async () => {
      const file = path.join(dir, `case${n++}.dcm`);
      execFileSync(c.cmd, [...c.args, ORIGINAL[c.original], file], { stdio: 'pipe' });
      assert.equal(readFile(file).ts, c.ts, `${c.cmd} wrote the expected transfer syntax`);
      const { ours, orig } = await decode(file, c.original);
      assert.equal(ours.pixels.length, orig.pixels.length);
      assert.equal(ours.planar, 0);
      assert.equal(ours.photometric, orig.photometric, 'Photometric Interpretation of the decoded samples');
      const d = difference(ours, orig);
      if (c.mean === 0) assert.ok(ours.pixels.equals(orig.pixels), `lossless: identical (largest difference ${d.max})`);
      else {
        assert.ok(d.max > 0, 'lossy, yet identical: was the file really compressed?');
        assert.ok(d.mean <= c.mean, `mean difference from the original ${d.mean.toFixed(2)} > ${c.mean}`);
        if (c.args.includes('+en')) assert.ok(d.max <= 2, `near-lossless: largest difference ${d.max} > NEAR`);
        const [cmd, ...args] = REFERENCE[c.cmd]!;
        const ref = await converted(cmd!, args, file, `${file}.ref.dcm`);
        const r = difference(ours, ref);
        assert.ok(r.max <= 2, `largest difference from ${cmd}'s decoding ${r.max} > 2`);
      }
    });
  }
});

/** Native samples of frame `i` of an image, as a file ojph_compress reads. */
function ojphInput(img: Image, frame: number, file: string): void {
  const size = img.rows * img.columns * img.samples * (img.bitsAllocated / 8);
  const px = img.pixels.subarray(frame * size, (frame + 1) * size);
  if (file.endsWith('.raw')) fs.writeFileSync(file, px);
  else fs.writeFileSync(file, Buffer.concat([Buffer.from(`${img.samples === 3 ? 'P6' : 'P5'}\n${img.columns} ${img.rows}\n255\n`), px]));
}

describe('HTJ2K from ojph_compress', { skip: !hasTool('ojph_compress') && 'ojph_compress is not installed' }, () => {
  const htj2k = async (original: keyof typeof ORIGINAL, ext: string, args: string[], ts: string, photometric?: string): Promise<{ ours: Image; orig: Image }> => {
    const orig = await imageOfFile(ORIGINAL[original]);
    const frames = orig.pixels.length / (orig.rows * orig.columns * orig.samples * (orig.bitsAllocated / 8));
    const codestreams: Buffer[][] = [];
    for (let f = 0; f < frames; f++) {
      const input = path.join(dir, `ojph${n}-${f}.${ext}`);
      const output = path.join(dir, `ojph${n}-${f}.j2c`);
      ojphInput(orig, f, input);
      execFileSync('ojph_compress', ['-i', input, '-o', output, ...args], { stdio: 'pipe' });
      codestreams.push([fs.readFileSync(output)]);
    }
    const file = path.join(dir, `htj2k${n++}.dcm`);
    const replace: Record<number, Buffer> = photometric ? { 0x00280004: shortElement(0x00280004, 'CS', Buffer.from(photometric)) } : {};
    await encapsulate(ORIGINAL[original], codestreams, ts, file, { replace });
    return decode(file, original);
  };

  test('lossless 16-bit signed', async () => {
    const raw = ['-dims', '{128,128}', '-num_comps', '1', '-signed', 'true', '-bit_depth', '16', '-downsamp', '{1,1}', '-reversible', 'true'];
    const { ours, orig } = await htj2k('ct16', 'raw', raw, TS.HTJ2KLossless);
    assert.ok(ours.pixels.equals(orig.pixels));
  });

  test('lossless RGB with the reversible colour transform (YBR_RCT → RGB)', async () => {
    const { ours, orig } = await htj2k('rgb', 'ppm', ['-reversible', 'true', '-colour_trans', 'true'], TS.HTJ2KLosslessRPCL, 'YBR_RCT');
    assert.equal(ours.photometric, 'RGB');
    assert.ok(ours.pixels.equals(orig.pixels));
  });

  test('a Part 1 (non-HT) codestream under an HTJ2K syntax: OpenJPH cannot, OpenJPEG takes over', { skip: !hasTool('gdcmconv') && 'gdcmconv is not installed' }, async () => {
    const j2k = path.join(dir, `part1-${n++}.dcm`);
    execFileSync('gdcmconv', ['--j2k', ORIGINAL.ct16, j2k], { stdio: 'pipe' });
    const { dataset } = readFile(j2k);
    const at = dataset.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42]));
    const codestream = readEncapsulated(dataset, at + 12).fragments.map((f) => f.bytes);
    const file = path.join(dir, `part1-as-htj2k-${n++}.dcm`);
    await encapsulate(ORIGINAL.ct16, [codestream], TS.HTJ2K, file);
    const { ours, orig } = await decode(file, 'ct16');
    assert.ok(ours.pixels.equals(orig.pixels));
  });

  test('lossy 8-bit multi-frame, within a bound', async () => {
    const { ours, orig } = await htj2k('gray8', 'pgm', ['-qstep', '0.02'], TS.HTJ2K);
    const d = difference(ours, orig);
    assert.ok(d.max > 0 && d.max <= 40 && d.mean <= 2, `differences ${d.max} / ${d.mean}`);
  });
});
