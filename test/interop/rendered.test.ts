// DICOMweb rendered and thumbnail resources, and WADO-URI images, on real samples stored by
// storescu: the images are read back and their pixels checked against values computed here
// from the raw pixel data (PS3.3 windowing written out in test/helpers/images.ts) and against
// DCMTK's dcmj2pnm; compressed twins made by DCMTK and GDCM render like their original.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES, run, storescuProfile } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { hasTool, imageOfFile } from '../helpers/pixels.js';
import { type Decoded, compare, decodeJpeg, decodePng, grayOf, isJpeg, isPng, linear, linearExact, sample16, sigmoid } from '../helpers/images.js';
import { parts } from '../helpers/multipart.js';

const sample = (f: string): string => path.join(SAMPLES, f);
/** 512×512 CT, signed 16 bits, Window 1024/4095, Rescale Intercept −1024, Implicit VR LE. */
const ANKLE = sample('octave-dicom__CT-MONO2-16-ankle.dcm');
/** 128×128 CT, signed 16 bits, no window in the dataset. */
const CT = sample('pydicom__CT_small.dcm');
/** 16×16 MONOCHROME1, 12 bits, Window 1600/2800, Rescale 0.684/200; a study of three series of one CR each. */
const CR = ['CR1_6154', 'CR2_6247', 'CR3_6278'].map((s) => sample(`pydicom-dicomdir__77654033_${s}.dcm`));
/** 16×16 CT, one series of four instances numbered 18, 180, 181, 182. */
const CT2 = ['17106', '17136', '17166', '17196'].map((s) => sample(`pydicom-dicomdir__77654033_CT2_${s}.dcm`));
const RGB_RLE = sample('pydicom__SC_rgb_rle_2frame.dcm');
const PALETTE = sample('octave-dicom__US-PAL-8-10x-echo.dcm');
const YBR_JPEG = sample('pydicom__SC_rgb_jpeg_dcmtk.dcm');
const SR = sample('dicomscope__reportki.dcm');
/** Deflated Explicit VR LE, 512×512 8-bit, no window. */
const DEFLATED = sample('pydicom__image_dfl.dcm');
/** Explicit VR Big Endian: 16-bit MR (OW) with a window, and 8-bit RGB by plane (OB). */
const MR_BIG = sample('pydicom__MR_small_bigendian.dcm');
const RGB_BIG = sample('pydicom__ExplVR_BigEnd.dcm');
const JPEG12 = sample('pydicom__JPGExtended.dcm');
const UID_ROOT = '1.2.826.0.1.3680043.10.1.78';

/** Lossless encoders from outside the project: each twin of CT_small must render as the original does. */
const TWINS = [
  { name: 'jpeg-ls', cmd: 'dcmcjpls', args: [] as string[] },
  { name: 'jpeg-lossless', cmd: 'dcmcjpeg', args: ['+e1'] },
  { name: 'rle', cmd: 'dcmcrle', args: [] as string[] },
  { name: 'j2k', cmd: 'gdcmconv', args: ['--j2k'] },
].filter((t) => hasTool(t.cmd));

type Json = Record<string, { Value?: unknown[] }>;

describe('DICOMweb rendered and thumbnail resources, WADO-URI images', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  const urls = new Map<string, string>(); // file → instance URL path
  const twinUrls = new Map<string, string>(); // twin name → instance URL path
  const get = (url: string, accept?: string) => web.inject({ method: 'GET', url, headers: accept ? { accept } : {} });
  const png = async (url: string): Promise<Decoded> => {
    const res = await get(url, 'image/png');
    assert.equal(res.statusCode, 200, `${url}: ${res.body.slice(0, 300)}`);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.ok(isPng(res.rawPayload));
    return decodePng(res.rawPayload);
  };
  /** DCMTK's rendering of a file as PNG, with its options. */
  const dcmtk = (file: string, args: string[]): Decoded => {
    const out = path.join(pacs.dir, `dcmtk-${path.basename(file)}-${args.join('_')}.png`);
    execFileSync('dcmj2pnm', ['--write-png', ...args, file, out], { stdio: 'pipe' });
    return decodePng(fs.readFileSync(out));
  };

  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    web = pacs.server.httpServer!;
    const files = [ANKLE, CT, ...CR, ...CT2, RGB_RLE, PALETTE, YBR_JPEG, SR, JPEG12, DEFLATED, MR_BIG, RGB_BIG];
    TWINS.forEach((t, i) => {
      const copy = path.join(pacs.dir, `${t.name}-orig.dcm`);
      fs.copyFileSync(CT, copy);
      fs.chmodSync(copy, 0o644);
      execFileSync('dcmodify', ['-nb', '-m', `(0008,0018)=${UID_ROOT}.${i + 1}`, copy]);
      const out = path.join(pacs.dir, `${t.name}.dcm`);
      execFileSync(t.cmd, [...t.args, copy, out], { stdio: 'pipe' });
      files.push(out);
    });
    const r = await run('storescu', [...(await storescuProfile(files, pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of files) {
      const dump = await run('dcmdump', ['-q', '+P', '0008,0018', f]);
      const sop = /\[([0-9.]+)\]/.exec(dump.stdout)![1]!;
      const [inst] = (await get(`/dicom-web/instances?SOPInstanceUID=${sop}`)).json() as Json[];
      const url = new URL(String(inst!['00081190']!.Value![0])).pathname;
      urls.set(f, url);
      const twin = TWINS.find((t) => f.endsWith(`/${t.name}.dcm`));
      if (twin) twinUrls.set(twin.name, url);
    }
  });
  after(() => pacs.stop());

  test('a CT with its own window: each PNG pixel is the LINEAR window of the rescaled raw value, as DCMTK renders it', async () => {
    const img = await png(`${urls.get(ANKLE)}/rendered`);
    assert.deepEqual([img.width, img.height, img.channels], [512, 512, 1]);
    const raw = await imageOfFile(ANKLE);
    const expected = (i: number): number => linear(sample16(raw.pixels, i, raw.bitsStored, raw.signed) - 1024, 1024, 4095);
    for (const [x, y] of [[0, 0], [256, 256], [100, 300], [400, 120], [511, 511], [255, 40]] as const) {
      const i = y * 512 + x;
      assert.equal(img.data[i], expected(i), `pixel ${x},${y} (raw ${sample16(raw.pixels, i, raw.bitsStored, raw.signed)})`);
    }
    let wrong = 0;
    for (let i = 0; i < 512 * 512; i++) if (img.data[i] !== expected(i)) wrong++;
    assert.equal(wrong, 0, 'every pixel');
    assert.ok(compare(img, dcmtk(ANKLE, ['+Wi', '1'])).max <= 1, 'DCMTK agrees within rounding');
    // The same as JPEG: within its loss.
    const res = await get(`${urls.get(ANKLE)}/rendered`);
    assert.equal(res.headers['content-type'], 'image/jpeg', 'JPEG is the default');
    const jpeg = grayOf(await decodeJpeg(res.rawPayload));
    const d = compare(jpeg, img);
    assert.ok(d.mean < 1.5 && d.max < 40, `JPEG differs by ${d.mean} on average, ${d.max} at most`);
  });

  test('window=center,width,function overrides the dataset: LINEAR, LINEAR_EXACT, SIGMOID', async () => {
    const raw = await imageOfFile(ANKLE);
    const hu = (i: number): number => sample16(raw.pixels, i, raw.bitsStored, raw.signed) - 1024;
    for (const [fn, f] of [['LINEAR', linear], ['LINEAR_EXACT', linearExact], ['SIGMOID', sigmoid]] as const) {
      const img = await png(`${urls.get(ANKLE)}/rendered?window=40,400,${fn}`);
      let wrong = 0;
      for (let i = 0; i < 512 * 512; i += 7) if (img.data[i] !== f(hu(i), 40, 400)) wrong++;
      assert.equal(wrong, 0, fn);
    }
    const sig = dcmtk(ANKLE, ['+Ww', '40', '400', '+Wfs']);
    assert.ok(compare(await png(`${urls.get(ANKLE)}/rendered?window=40,400,sigmoid`), sig).max <= 1, 'SIGMOID as DCMTK has it');
  });

  test('no window in the dataset: min to max of the frame; MONOCHROME1 comes out inverted', async () => {
    const ct = await png(`${urls.get(CT)}/rendered`);
    const raw = await imageOfFile(CT);
    const values = Array.from({ length: 128 * 128 }, (_, i) => sample16(raw.pixels, i, raw.bitsStored, raw.signed) - 1024);
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    assert.ok(values.every((v, i) => ct.data[i] === linearExact(v, (lo + hi) / 2, hi - lo)), 'min-max window');
    assert.ok(compare(ct, dcmtk(CT, ['+Wm'])).max <= 1, 'DCMTK min-max agrees within rounding');
    const cr = await png(`${urls.get(CR[0]!)}/rendered`);
    const crRaw = await imageOfFile(CR[0]!);
    for (let i = 0; i < 256; i++) {
      const m = sample16(crRaw.pixels, i, crRaw.bitsStored, crRaw.signed) * 0.684 + 200;
      assert.equal(cr.data[i], 255 - linear(m, 1600, 2800), `CR pixel ${i}`);
    }
    assert.ok(compare(cr, dcmtk(CR[0]!, ['+Wi', '1'])).max <= 1, 'DCMTK agrees on MONOCHROME1');
  });

  test('compressed twins (JPEG-LS, JPEG Lossless, RLE, JPEG 2000) render exactly as the original', async () => {
    assert.ok(TWINS.length >= 3, 'DCMTK encoders are installed');
    const orig = await png(`${urls.get(CT)}/rendered`);
    for (const t of TWINS) {
      const img = await png(`${twinUrls.get(t.name)}/rendered`);
      assert.equal(compare(img, orig).max, 0, t.name);
      const jpeg = await get(`${twinUrls.get(t.name)}/rendered?quality=80`);
      assert.equal(jpeg.statusCode, 200, t.name);
      assert.ok(isJpeg(jpeg.rawPayload));
    }
    assert.ok(pacs.server.decoders.threads >= 1, 'rendered on the worker pool');
  });

  test('colour: RGB frames of an RLE multi-frame keep their values; palette and YBR JPEG as DCMTK renders them', async () => {
    const plain = path.join(pacs.dir, 'rgb-plain.dcm');
    execFileSync('dcmdrle', [RGB_RLE, plain]);
    const raw = await imageOfFile(plain);
    for (const frame of [1, 2]) {
      const img = await png(`${urls.get(RGB_RLE)}/frames/${frame}/rendered`);
      assert.deepEqual([img.width, img.height, img.channels], [100, 100, 3]);
      const size = 100 * 100 * 3;
      assert.ok(Buffer.from(img.data).equals(raw.pixels.subarray((frame - 1) * size, frame * size)), `frame ${frame}: the stored RGB values`);
    }
    const [r, g, b] = (await png(`${urls.get(RGB_RLE)}/rendered`)).data;
    assert.ok([r, g, b].some((v) => v !== r), 'colour, not gray');
    const pal = await png(`${urls.get(PALETTE)}/frames/3/rendered`);
    assert.equal(compare(pal, dcmtk(PALETTE, ['+F', '3'])).max, 0, 'palette colour as DCMTK');
    const ybr = await png(`${urls.get(YBR_JPEG)}/rendered`);
    assert.ok(compare(ybr, dcmtk(YBR_JPEG, [])).max <= 3, `YBR_FULL JPEG within ${compare(ybr, dcmtk(YBR_JPEG, [])).max} of DCMTK`);
  });

  test('deflated and big-endian datasets (16-bit words, planar RGB) render as DCMTK renders them', async () => {
    const stored = async (f: string) => (await pacs.server.archive.index.findInstance(urls.get(f)!.split('/').pop()!))!.transferSyntaxUID;
    assert.deepEqual([await stored(DEFLATED), await stored(MR_BIG), await stored(RGB_BIG)], ['1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.2'], 'stored as sent');
    assert.equal(compare(await png(`${urls.get(DEFLATED)}/rendered`), dcmtk(DEFLATED, ['+Wm'])).max <= 1, true, 'deflated');
    assert.ok(compare(await png(`${urls.get(MR_BIG)}/rendered`), dcmtk(MR_BIG, ['+Wi', '1'])).max <= 1, 'big endian 16-bit');
    const rgb = await png(`${urls.get(RGB_BIG)}/rendered`);
    assert.equal(rgb.channels, 3);
    assert.equal(compare(rgb, dcmtk(RGB_BIG, [])).max, 0, 'big endian RGB by plane');
  });

  test('viewport: scaled to fit with the aspect ratio kept, a source region, flips', async () => {
    const base = `${urls.get(CT)}/rendered`;
    const full = await png(base);
    const half = await png(`${base}?viewport=64,64`);
    assert.deepEqual([half.width, half.height], [64, 64]);
    for (const [x, y] of [[0, 0], [32, 17], [63, 63]] as const) {
      const avg = (full.data[2 * y * 128 + 2 * x]! + full.data[2 * y * 128 + 2 * x + 1]! + full.data[(2 * y + 1) * 128 + 2 * x]! + full.data[(2 * y + 1) * 128 + 2 * x + 1]!) / 4;
      assert.ok(Math.abs(half.data[y * 64 + x]! - avg) <= 0.51, `${x},${y}: the 2×2 average`);
    }
    const wide = await png(`${base}?viewport=100,50`);
    assert.deepEqual([wide.width, wide.height], [50, 50]);
    const region = await png(`${base}?viewport=64,32,10,20,64,32`);
    assert.deepEqual([region.width, region.height], [64, 32]);
    assert.equal(region.data[0], full.data[20 * 128 + 10]);
    assert.equal(region.data[31 * 64 + 63], full.data[51 * 128 + 73]);
    const mirror = await png(`${base}?viewport=128,128,0,0,-128,128`);
    assert.equal(mirror.data[5 * 128], full.data[5 * 128 + 127]);
    assert.equal(mirror.data[5 * 128 + 127], full.data[5 * 128]);
    const big = await png(`${urls.get(CR[0]!)}/rendered?viewport=64,64`);
    assert.deepEqual([big.width, big.height], [64, 64], 'enlarged too');
    assert.equal((await get(`${base}?viewport=64,64,100,100,64,64`)).statusCode, 400, 'a region outside the image');
    // An image enlarged past 4096² pixels, and a parameter given twice (`accept` was a 500).
    for (const bad of ['viewport=8192,8192', 'accept=image/png&accept=image/jpeg', 'viewport=0,10', 'viewport=10', 'window=abc,10', 'window=40,0', 'window=40,400,CUBIC', 'quality=0', 'quality=101'])
      assert.equal((await get(`${base}?${bad}`)).statusCode, 400, bad);
  });

  test('thumbnails: 128 px on the longest side; a series shows its middle image, a study the one of its first series', async () => {
    const t = await get(`${urls.get(ANKLE)}/thumbnail`);
    assert.equal(t.statusCode, 200);
    assert.equal(t.headers['content-type'], 'image/jpeg');
    const d = await decodeJpeg(t.rawPayload);
    assert.deepEqual([d.width, d.height], [128, 128]);
    const again = await get(`${urls.get(ANKLE)}/thumbnail`);
    assert.ok(again.rawPayload.equals(t.rawPayload), 'the same thumbnail again');
    assert.ok(pacs.files().some((f) => f.startsWith('.thumbnails/')), 'kept in the thumbnail cache');
    const sized = await png(`${urls.get(ANKLE)}/thumbnail?viewport=40,30`);
    assert.deepEqual([sized.width, sized.height], [30, 30]);
    const series = urls.get(CT2[0]!)!.replace(/\/instances\/.*$/, '');
    const middle = await get(`${urls.get(CT2[2]!)}/thumbnail`, 'image/png'); // Instance Number 181 of 18, 180, 181, 182
    const seriesThumb = await get(`${series}/thumbnail`, 'image/png');
    assert.equal(seriesThumb.statusCode, 200);
    assert.ok(seriesThumb.rawPayload.equals(middle.rawPayload), 'the middle instance of the series');
    const study = urls.get(CR[0]!)!.replace(/\/series\/.*$/, '');
    const studyThumb = await get(`${study}/thumbnail`, 'image/png');
    assert.ok(studyThumb.rawPayload.equals((await get(`${urls.get(CR[0]!)}/thumbnail`, 'image/png')).rawPayload), 'the image of series 1');
    const frame = await png(`${urls.get(RGB_RLE)}/frames/2/thumbnail`);
    assert.deepEqual([frame.width, frame.height, frame.channels], [128, 128, 3]);
    assert.equal((await get(`${urls.get(RGB_RLE)}/frames/3/thumbnail`)).statusCode, 404);
  });

  test('study and series rendered: multipart/related of each image, non-images left out', async () => {
    const study = urls.get(CT)!.replace(/\/series\/.*$/, '');
    const res = await get(`${study}/rendered`, 'multipart/related; type="image/png"');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^multipart\/related; type="image\/png"; boundary=/);
    const ps = parts(res.rawPayload, String(res.headers['content-type']));
    assert.equal(ps.length, 1 + TWINS.length, 'CT_small and its twins');
    for (const p of ps) {
      assert.match(p.headers, /Content-Type: image\/png/);
      assert.equal(compare(decodePng(p.body), await png(`${urls.get(CT)}/rendered`)).max, 0);
    }
    const series = urls.get(CT2[0]!)!.replace(/\/instances\/.*$/, '');
    const jpegs = await get(`${series}/rendered`);
    const jp = parts(jpegs.rawPayload, String(jpegs.headers['content-type']));
    assert.equal(jp.length, 4);
    assert.ok(jp.every((p) => isJpeg(p.body)));
    // The instance's metadata is read once for all its frames listed (it was once per frame).
    const metadata = pacs.server.archive.metadata;
    const get0 = metadata.get.bind(metadata);
    let reads = 0;
    metadata.get = (loc) => (reads++, get0(loc));
    let frames;
    try {
      frames = await get(`${urls.get(PALETTE)}/frames/1,10,1,2,3/rendered`);
    } finally {
      metadata.get = get0;
    }
    assert.equal(parts(frames.rawPayload, String(frames.headers['content-type'])).length, 5, 'five frames listed, five parts');
    assert.equal(reads, 1);
    const srStudy = urls.get(SR)!.replace(/\/series\/.*$/, '');
    assert.equal((await get(`${srStudy}/rendered`)).statusCode, 406, 'a study of a report has nothing to render');
  });

  test('media types: Accept and the accept query parameter; 406 for others', async () => {
    const url = `${urls.get(CT)}/rendered`;
    assert.equal((await get(url, 'image/png')).headers['content-type'], 'image/png');
    assert.equal((await get(`${url}?accept=image/png`, 'image/jpeg')).headers['content-type'], 'image/png', 'the query parameter wins');
    assert.equal((await get(url, 'image/webp, image/*;q=0.8')).headers['content-type'], 'image/jpeg');
    assert.equal((await get(url, '*/*')).headers['content-type'], 'image/jpeg');
    const one = await get(url, 'multipart/related; type="image/jpeg"');
    assert.match(String(one.headers['content-type']), /^multipart\/related; type="image\/jpeg"/);
    for (const type of ['application/dicom', 'image/gif', 'text/html']) {
      const res = await get(url, type);
      assert.equal(res.statusCode, 406, type);
      assert.match(String(res.headers['content-type']), /problem\+json/);
    }
    assert.equal((await get(`${url}?accept=application/json`)).statusCode, 406);
  });

  test('errors: unknown instance 404, frame beyond Number of Frames 404, a report or an undecodable image 406', async () => {
    const ct = urls.get(CT)!;
    const unknown = await get(`${ct.replace(/instances\/.*$/, 'instances/1.2.3.4')}/rendered`);
    assert.equal(unknown.statusCode, 404);
    assert.match(String(unknown.headers['content-type']), /problem\+json/);
    assert.equal((await get(`/dicom-web/studies/1.2.3/thumbnail`)).statusCode, 404);
    const beyond = await get(`${urls.get(PALETTE)}/frames/11/rendered`);
    assert.equal(beyond.statusCode, 404);
    assert.match(beyond.json().detail, /there is no frame 11 \(the instance has 10\)/);
    assert.equal((await get(`${urls.get(PALETTE)}/frames/1,11/rendered`)).statusCode, 404, 'checked before any part is sent');
    assert.equal((await get(`${ct}/frames/0/rendered`)).statusCode, 400);
    const sr = await get(`${urls.get(SR)}/rendered`);
    assert.equal(sr.statusCode, 406);
    assert.match(sr.json().detail, /no pixel data/);
    // 12-bit JPEG Extended (grey-scale) is decoded by our own decoder: rendered like any other.
    const ext = await get(`${urls.get(JPEG12)}/rendered`);
    assert.equal(ext.statusCode, 200, ext.body);
    const extImage = await decodeJpeg(ext.rawPayload);
    assert.deepEqual([extImage.width, extImage.height], [256, 1024]);
    assert.equal((await get(`${ct}/rendered`)).statusCode, 200, 'the server goes on serving');
  });

  test('WADO-URI: image/jpeg by default, image/png with window, size, region and frame', async () => {
    const [, study, series, sop] = /studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/]+)/.exec(urls.get(ANKLE)!)!;
    const base = `/wado?requestType=WADO&studyUID=${study}&seriesUID=${series}&objectUID=${sop}`;
    const dflt = await get(base);
    assert.equal(dflt.statusCode, 200);
    assert.equal(dflt.headers['content-type'], 'image/jpeg');
    assert.deepEqual([(await decodeJpeg(dflt.rawPayload)).width], [512]);
    const res = await get(`${base}&contentType=image/png&windowCenter=40&windowWidth=400&rows=256`);
    const img = decodePng(res.rawPayload);
    assert.deepEqual([img.width, img.height], [256, 256]);
    const full = await png(`${urls.get(ANKLE)}/rendered?window=40,400`);
    const viewport = await png(`${urls.get(ANKLE)}/rendered?window=40,400&viewport=256,256`);
    assert.equal(compare(img, viewport).max, 0, 'the same as the RS viewport');
    assert.ok(compare(img, full).max > 0);
    const region = decodePng((await get(`${base}&contentType=image/png&region=0.5,0.25,1,0.75`)).rawPayload);
    assert.deepEqual([region.width, region.height], [256, 256]);
    const regionRs = await png(`${urls.get(ANKLE)}/rendered?viewport=256,256,256,128,256,256`);
    assert.equal(compare(region, regionRs).max, 0, 'region as fractions of the image');
    const [, s2, se2, o2] = /studies\/([^/]+)\/series\/([^/]+)\/instances\/([^/]+)/.exec(urls.get(RGB_RLE)!)!;
    const frame2 = decodePng((await get(`/wado?requestType=WADO&studyUID=${s2}&seriesUID=${se2}&objectUID=${o2}&contentType=image/png&frameNumber=2`)).rawPayload);
    assert.equal(compare(frame2, await png(`${urls.get(RGB_RLE)}/frames/2/rendered`)).max, 0);
    const q = await get(`${base}&imageQuality=20&columns=128`);
    assert.deepEqual([(await decodeJpeg(q.rawPayload)).width], [128]);
    assert.equal((await get(`${base}&windowCenter=40`)).statusCode, 400, 'windowCenter without windowWidth');
    assert.equal((await get(`${base}&contentType=image/png&region=0.5,0.5,0.2,1`)).statusCode, 400);
    assert.equal((await get(`${base}&contentType=text/html`)).statusCode, 406);
    assert.equal((await get(`${base}&contentType=application/dicom`)).headers['content-type'], 'application/dicom');
  });
});
