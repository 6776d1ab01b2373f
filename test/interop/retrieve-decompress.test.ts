// Decompression on retrieve against DCMTK peers: a study stored compressed in five syntaxes
// (by DCMTK's and GDCM's encoders) goes to getscu and, by C-MOVE, to storescp, both accepting
// uncompressed syntaxes only. The decodable instances arrive in Explicit VR Little Endian with
// the original pixels; a 12-bit colour JPEG Extended one, which no decoder of ours takes, is a
// failed sub-operation with its UID while the others are delivered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, freePort, run, startDaemon, storescuProfile } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { encapsulate, hasTool, imageOfFile, readFile } from '../helpers/pixels.js';
import { readEncapsulated } from '../../src/dicom/encapsulated.js';
import { TS } from '../../src/dicom/transfer-syntax.js';

const ORIGINAL = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const UID_ROOT = '1.2.826.0.1.3680043.10.1.77';

/** Encoders from outside the project, one instance each (lossless, so the pixels must come back exactly). */
const ENCODERS: { name: string; cmd: string; args: string[]; ts: string }[] = [
  { name: 'jpeg-sv1', cmd: 'dcmcjpeg', args: ['+e1'], ts: TS.JPEGLosslessSV1 },
  { name: 'jpeg-p14', cmd: 'dcmcjpeg', args: ['+el', '+fs', '4'], ts: TS.JPEGLossless },
  { name: 'jpeg-ls', cmd: 'dcmcjpls', args: [], ts: TS.JPEGLSLossless },
  { name: 'rle', cmd: 'dcmcrle', args: [], ts: TS.RLELossless },
  { name: 'j2k', cmd: 'gdcmconv', args: ['--j2k'], ts: TS.JPEG2000Lossless },
].filter((e) => hasTool(e.cmd));

describe('decompression on retrieve (getscu, movescu → storescp, uncompressed only)', () => {
  let pacs: TestPacs;
  let rcvPort: number;
  let storescp: ChildProcess;
  let rcvDir: string;
  const sopOf = new Map<string, string>(); // SOP Instance UID → encoder name
  let undecodable = '';

  before(async () => {
    pacs = await startTestPacs({});
    rcvPort = await freePort();
    const cfg = pacs.server.archive.config();
    pacs.server.archive.setConfig({ ...cfg, known_nodes: [{ ae_title: 'PLAIN', host: '127.0.0.1', port: rcvPort, tls: false, permissions: ['store'] }] });
    rcvDir = path.join(pacs.dir, 'plain');
    fs.mkdirSync(rcvDir);
    // storescp as it comes: it accepts the uncompressed syntaxes only (+xe: Explicit VR LE first).
    storescp = await startDaemon('storescp', ['+xe', '-od', rcvDir, '-aet', 'PLAIN', String(rcvPort)], rcvPort);
    const files: string[] = [];
    ENCODERS.forEach((e, i) => {
      const uid = `${UID_ROOT}.${i + 1}`;
      const copy = path.join(pacs.dir, `${e.name}-orig.dcm`);
      fs.copyFileSync(ORIGINAL, copy);
      fs.chmodSync(copy, 0o644);
      execFileSync('dcmodify', ['-nb', '-m', `(0008,0018)=${uid}`, copy]);
      const out = path.join(pacs.dir, `${e.name}.dcm`);
      execFileSync(e.cmd, [...e.args, copy, out], { stdio: 'pipe' });
      assert.equal(readFile(out).ts, e.ts);
      sopOf.set(uid, e.name);
      files.push(out);
    });
    // A 12-bit colour JPEG Extended image (DCMTK makes one from an RGB sample), which no decoder
    // of ours takes (12 bits: grey-scale only), moved into the same study.
    const rgb = path.join(pacs.dir, 'rgb8.dcm');
    execFileSync('dcmdjpeg', [path.join(SAMPLES, 'pydicom__SC_rgb_jpeg_dcmtk.dcm'), rgb], { stdio: 'pipe' });
    const ext = path.join(pacs.dir, 'jpeg12-colour.dcm');
    execFileSync('dcmcjpeg', ['+ee', '+bt', rgb, ext], { stdio: 'pipe' });
    assert.equal(readFile(ext).ts, TS.JPEGExtended12Bit);
    undecodable = `${UID_ROOT}.99`;
    execFileSync('dcmodify', ['-nb', '-m', `(0020,000d)=${STUDY}`, '-m', `(0010,0020)=1CT1`, '-m', `(0008,0018)=${undecodable}`, ext]);
    files.push(ext);
    const r = await run('storescu', [...(await storescuProfile(files, pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...files]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    storescp.kill();
    await pacs.stop();
  });

  /** Every received file: in Explicit VR LE, with the original's pixels. */
  async function checkReceived(dir: string): Promise<void> {
    const orig = await imageOfFile(ORIGINAL);
    const got = fs.readdirSync(dir);
    assert.equal(got.length, ENCODERS.length, `received ${got.join(', ')}`);
    for (const f of got) {
      const uid = f.slice(f.indexOf('.') + 1);
      assert.ok(sopOf.has(uid), `${uid} is one of the decodable instances`);
      const img = await imageOfFile(path.join(dir, f));
      assert.equal(img.ts, TS.ExplicitVRLittleEndian, `${sopOf.get(uid)} arrived in Explicit VR LE`);
      assert.equal(img.photometric, 'MONOCHROME2');
      assert.ok(img.pixels.equals(orig.pixels), `${sopOf.get(uid)}: the original pixels`);
      assert.equal((await run('dcmdump', ['-q', path.join(dir, f)])).code, 0);
    }
  }

  test('getscu accepting Explicit VR LE only: decodable instances arrive decompressed, the 12-bit colour JPEG fails with its UID', async () => {
    const dir = path.join(pacs.dir, 'get');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '+xe', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, new RegExp(`Completed Suboperations\\s*:\\s*${ENCODERS.length}`), r.stderr);
    assert.match(r.stderr, /Failed Suboperations\s*:\s*1/);
    await checkReceived(dir);
    assert.ok(pacs.server.decoders.threads >= 1, 'decoded on the worker pool');
  });

  test('getscu of the undecodable instance alone: every sub-operation failed is a failure, 0xA702 with its counts and UID (not a warning)', async () => {
    const dir = path.join(pacs.dir, 'get-one');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-d', '+xe', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=IMAGE', '-k', `StudyInstanceUID=${STUDY}`, '-k', `SOPInstanceUID=${undecodable}`, '127.0.0.1', String(pacs.port)]);
    const out = r.stdout + r.stderr;
    const final = out.slice(out.lastIndexOf('C-GET RSP'));
    assert.match(final, /0xa702|Refused: Out of resources|OutOfResourcesSubOperations/i, final);
    assert.doesNotMatch(final, /0xb000/i);
    assert.match(final, /Failed Suboperations\s*:\s*1/);
    assert.match(final, /Completed Suboperations\s*:\s*0/);
    assert.ok(out.includes(undecodable), 'the UID in the Failed SOP Instance UID List');
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  test('movescu to a storescp taking uncompressed syntaxes only: the same', async () => {
    const r = await run('movescu', ['-d', '-aec', 'PACS_SERVER', '-aem', 'PLAIN', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /Received Final Move Response/, r.stderr);
    assert.match(r.stderr, /Warning: SubOperationsCompleteOneOrMoreFailures/);
    const out = r.stdout + r.stderr;
    const final = out.slice(out.lastIndexOf('C-MOVE RSP'));
    assert.match(final, new RegExp(`Completed Suboperations\\s*:\\s*${ENCODERS.length}`), final);
    assert.match(final, /Failed Suboperations\s*:\s*1/);
    assert.ok(final.includes(undecodable), 'the failed UID in the Failed SOP Instance UID List');
    await checkReceived(rcvDir);
  });

  test('a receiver that accepts the stored syntax gets it as stored, not decoded', async () => {
    const dir = path.join(pacs.dir, 'get-asis');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '+xv', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=IMAGE', '-k', `StudyInstanceUID=${STUDY}`, '-k', `SOPInstanceUID=${UID_ROOT}.${ENCODERS.findIndex((e) => e.name === 'j2k') + 1}`, '127.0.0.1', String(pacs.port)]);
    if (!ENCODERS.some((e) => e.name === 'j2k')) return;
    assert.match(r.stderr, /Completed Suboperations\s*:\s*1/, r.stderr);
    const [f] = fs.readdirSync(dir);
    assert.equal((await imageOfFile(path.join(dir, f!))).ts, TS.JPEG2000Lossless);
  });

  test('a corrupt codestream fails its sub-operation; the server goes on serving', { skip: !hasTool('gdcmconv') && 'gdcmconv is not installed' }, async () => {
    const j2k = path.join(pacs.dir, 'corrupt-source.dcm');
    execFileSync('gdcmconv', ['--j2k', ORIGINAL, j2k], { stdio: 'pipe' });
    const { dataset } = readFile(j2k);
    const at = dataset.lastIndexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42]));
    const codestream = readEncapsulated(dataset, at + 12).fragments[0]!.bytes;
    // The main header intact, most of the tile data gone.
    const cut = codestream.subarray(0, 300);
    const uid = `${UID_ROOT}.98`;
    const src = path.join(pacs.dir, 'corrupt-orig.dcm');
    fs.copyFileSync(ORIGINAL, src);
    fs.chmodSync(src, 0o644);
    execFileSync('dcmodify', ['-nb', '-m', `(0008,0018)=${uid}`, src]);
    const file = path.join(pacs.dir, 'corrupt.dcm');
    await encapsulate(src, [[cut]], TS.JPEG2000Lossless, file);
    const stored = await run('storescu', [...(await storescuProfile([file], pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), file]);
    assert.equal(stored.code, 0, stored.stderr);
    const dir = path.join(pacs.dir, 'get-corrupt');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=IMAGE', '-k', `StudyInstanceUID=${STUDY}`, '-k', `SOPInstanceUID=${uid}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /Failed Suboperations\s*:\s*1/, r.stderr);
    assert.equal(fs.readdirSync(dir).length, 0, 'nothing sent wrongly');
    assert.equal((await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)])).code, 0, 'still serving');
  });
});
