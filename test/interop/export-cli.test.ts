// `pacs export` on an archive filled by storescu: by patient, study and C-FIND style keys;
// the dry run writes nothing; a re-run writes nothing twice; hard links share the archive's inode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArchive, PacsServer } from '../../src/app.js';
import type { Config } from '../../src/config/schema.js';
import { parseConfigData } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logging.js';
import { run } from '../helpers/dcmtk.js';
import { listTree, makeStudy, type MadeStudy } from '../helpers/research.js';
import { testDatabase, testDatabaseArgs } from '../helpers/index-backend.js';

const BIN = new URL('../../../bin/pacs', import.meta.url).pathname;
const TEMPLATE = '{PatientID}/{StudyDescription}/{SeriesNumber:03}/{InstanceNumber:05}.dcm';

describe('pacs export', () => {
  let dir: string;
  let a1: MadeStudy;
  let a2: MadeStudy;
  let b: MadeStudy;
  let c: MadeStudy;
  let config: Config;
  let dbArgs: string[] = [];
  const pacs = (...args: string[]) => run(process.execPath, [BIN, 'export', '--storage-dir', path.join(dir, 'archive'), ...dbArgs, ...args]);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-cli-'));
    dbArgs = await testDatabaseArgs(dir);
    a1 = await makeStudy(path.join(dir, 'in-a1'), { patientID: 'SUBJ1', studyDescription: 'baseline', studyDate: '20260101', series: [{ number: 1, description: 'T1', count: 3 }] });
    a2 = await makeStudy(path.join(dir, 'in-a2'), { patientID: 'SUBJ1', studyDescription: 'followup', studyDate: '20260301', series: [{ number: 2, description: 'T2', count: 2 }] });
    b = await makeStudy(path.join(dir, 'in-b'), { patientID: 'SUBJ2', studyDescription: 'baseline', studyDate: '20260102', series: [{ number: 1, description: 'T1', count: 2 }] });
    // SUBJ3: one study with burned-in annotation (refused with --burned-in refuse), one without.
    c = await makeStudy(path.join(dir, 'in-c'), { patientID: 'SUBJ3', studyDescription: 'screen', studyDate: '20260201', series: [{ number: 1, description: 'SC', count: 1 }], extra: ['BurnedInAnnotation=YES'] });
    const c2 = await makeStudy(path.join(dir, 'in-c2'), { patientID: 'SUBJ3', studyDescription: 'scan', studyDate: '20260202', series: [{ number: 1, description: 'T1', count: 1 }] });
    config = parseConfigData(
      {
        server: { port: 0, host: '127.0.0.1', ae_title: 'PACS_SERVER', shutdown_grace: 2 },
        storage: { directory: path.join(dir, 'archive'), min_free_mb: 0 },
        database: await testDatabase(dir),
        http: { enabled: false },
        monitoring: { enabled: false },
        logging: { level: 'silent' },
      },
      dir,
    );
    const server = await PacsServer.create(config, { logger: createLogger({ level: 'silent' }) });
    const { dicomPort } = await server.start();
    try {
      const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(dicomPort), ...a1.files, ...a2.files, ...b.files, ...c.files, ...c2.files]);
      assert.equal(r.code, 0, r.stderr);
    } finally {
      await server.stop();
    }
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('--dry-run prints every name and writes nothing', async () => {
    const out = path.join(dir, 'dry');
    const r = await pacs('--patient', 'SUBJ1', '--to', out, '--template', TEMPLATE, '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith(out));
    assert.deepEqual(lines.map((l) => path.relative(out, l)).sort(), [
      'SUBJ1/baseline/001/00001.dcm', 'SUBJ1/baseline/001/00002.dcm', 'SUBJ1/baseline/001/00003.dcm',
      'SUBJ1/followup/002/00001.dcm', 'SUBJ1/followup/002/00002.dcm',
    ]);
    assert.match(r.stdout, /5 would be written, 0 already there, 0 failed/);
    assert.equal(fs.existsSync(out), false);
    // A file where the patient's folder would go: the dry run says the real run would fail there.
    const blocked = path.join(dir, 'dry-blocked');
    fs.mkdirSync(blocked);
    fs.writeFileSync(path.join(blocked, 'SUBJ1'), 'a file, not a folder');
    const b = await pacs('--patient', 'SUBJ1', '--to', blocked, '--template', TEMPLATE, '--dry-run');
    assert.equal(b.code, 1, b.stdout);
    assert.match(b.stdout, /CANNOT PLACE .*SUBJ1\/baseline/);
    assert.match(b.stdout, /0 would be written, 0 already there, 5 failed/);
  });

  test('by patient: the files are the stored bytes; a re-run writes nothing twice', async () => {
    const out = path.join(dir, 'by-patient');
    const r = await pacs('--patient', 'SUBJ1', '--to', out, '--template', TEMPLATE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /5 written, 0 already there, 0 failed/);
    assert.equal(listTree(out).length, 5);
    const again = await pacs('--patient', 'SUBJ1', '--to', out, '--template', TEMPLATE);
    assert.match(again.stdout, /0 written, 5 already there/);
    assert.equal(listTree(out).length, 5);
    const dry = await pacs('--patient', 'SUBJ1', '--to', out, '--template', TEMPLATE, '--dry-run');
    assert.match(dry.stdout, /0 would be written, 5 already there/, 'a dry run finds what is in place');
  });

  test('by study, with the default template', async () => {
    const out = path.join(dir, 'by-study');
    const r = await pacs('--study', b.studyUID, '--to', out);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listTree(out), ['SUBJ2/20260102_baseline/001_T1/00001.dcm', 'SUBJ2/20260102_baseline/001_T1/00002.dcm']);
  });

  test('by -k keys matched as C-FIND matches them (wildcards, date ranges), as hard links', async () => {
    const out = path.join(dir, 'by-keys');
    const r = await pacs('-k', 'StudyDescription=base*', '-k', 'StudyDate=20260101-20260131', '--to', out, '--template', TEMPLATE, '--mode', 'hardlink');
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(listTree(out), ['SUBJ1/baseline/001/00001.dcm', 'SUBJ1/baseline/001/00002.dcm', 'SUBJ1/baseline/001/00003.dcm', 'SUBJ2/baseline/001/00001.dcm', 'SUBJ2/baseline/001/00002.dcm']);
    assert.ok(fs.statSync(path.join(out, 'SUBJ2/baseline/001/00001.dcm')).nlink >= 2);
  });

  /** What de-identification has recorded in the index: the secret, and the pseudonyms of SUBJ1 and SUBJ3. */
  const recorded = async () => {
    const archive = await openArchive(config, { logger: createLogger({ level: 'silent' }) });
    try {
      const d = archive.index.deid;
      return { secret: await d.findSecret(), subj1: await d.byPatientKey('SUBJ1\\\u0001ANON'), subj3: await d.byPatientKey('SUBJ3\\\u0001ANON') };
    } finally {
      await archive.close();
    }
  };
  const DEID_TEMPLATE = '{PatientID}/{StudyDate}/{SeriesNumber:03}/{InstanceNumber:05}.dcm';
  const printed = (stdout: string, out: string) => stdout.split('\n').filter((l) => l.startsWith(out)).map((l) => path.relative(out, l)).sort();

  test('--dry-run --deidentify records nothing; a refused (burned-in) instance is not counted as would be written', async () => {
    const out = path.join(dir, 'deid-dry');
    const r = await pacs('--patient', 'SUBJ3', '--to', out, '--deidentify', '--burned-in', 'refuse', '--template', DEID_TEMPLATE, '--dry-run');
    assert.equal(r.code, 1, 'a refusal is reported as a problem');
    assert.match(r.stdout, /2 instances \(de-identified\).*: 1 would be written, 0 already there, 0 failed, 1 refused/);
    assert.match(r.stdout, /REFUSED .*burned-in/);
    assert.equal(printed(r.stdout, out).length, 1);
    assert.match(r.stdout, /NOTE nothing was de-identified in this archive yet/);
    assert.deepEqual(await recorded(), { secret: null, subj1: null, subj3: null }, 'no secret, no pseudonym made by a dry run');
    assert.equal(fs.existsSync(out), false);
  });

  test('--deidentify: new files named from the de-identified attributes; a re-run finds them done', async () => {
    const out = path.join(dir, 'deid');
    const r = await pacs('--patient', 'SUBJ1', '--to', out, '--deidentify', '--retain-dates', '--template', '{PatientID}/{StudyDate}/{SeriesNumber:03}/{InstanceNumber:05}.dcm');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /5 instances \(de-identified\).*5 written/);
    const files = listTree(out);
    assert.equal(files.length, 5);
    const pseudonym = files[0]!.split('/')[0]!;
    assert.match(pseudonym, /^ANON[A-Z2-9]{10}$/);
    assert.ok(files.every((f) => f.startsWith(`${pseudonym}/`) && !f.includes('SUBJ1') && !f.includes('20260101')), files.join(' '));
    const dump = await run('dcmdump', ['+P', 'PatientID', '+P', 'PatientIdentityRemoved', path.join(out, files[0]!)]);
    assert.match(dump.stdout, new RegExp(`\\[${pseudonym}\\]`));
    assert.match(dump.stdout, /\[YES\]/);
    const again = await pacs('--patient', 'SUBJ1', '--to', out, '--deidentify', '--retain-dates', '--template', '{PatientID}/{StudyDate}/{SeriesNumber:03}/{InstanceNumber:05}.dcm');
    assert.match(again.stdout, /0 written, 5 already there/);
    const link = await pacs('--patient', 'SUBJ1', '--to', out, '--deidentify', '--mode', 'hardlink');
    assert.equal(link.code, 2, 'a link would expose the original');
  });

  test('--dry-run --deidentify once the archive has its secret: the names a real run writes, still nothing recorded', async () => {
    const before = await recorded();
    assert.ok(before.secret && before.subj1 && !before.subj3);
    const known = await pacs('--patient', 'SUBJ1', '--to', path.join(dir, 'deid'), '--deidentify', '--retain-dates', '--template', DEID_TEMPLATE, '--dry-run');
    assert.deepEqual(printed(known.stdout, path.join(dir, 'deid')), listTree(path.join(dir, 'deid')), 'the names the real run wrote');
    assert.doesNotMatch(known.stdout, /NOTE/);
    assert.match(known.stdout, /0 would be written, 5 already there/);
    const out = path.join(dir, 'deid3');
    const dry = await pacs('--patient', 'SUBJ3', '--to', out, '--deidentify', '--burned-in', 'flag', '--template', DEID_TEMPLATE, '--dry-run');
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.deepEqual(await recorded(), before, 'a new patient got no pseudonym from the dry run');
    const real = await pacs('--patient', 'SUBJ3', '--to', out, '--deidentify', '--burned-in', 'flag', '--template', DEID_TEMPLATE);
    assert.equal(real.code, 0, real.stdout + real.stderr);
    assert.deepEqual(printed(dry.stdout, out), listTree(out), 'the real run writes the names the dry run printed');
    assert.ok((await recorded()).subj3, 'the real run records the pseudonym');
  });

  test('nothing selected, or no selection at all, is an error', async () => {
    const none = await pacs('--patient', 'NOBODY', '--to', path.join(dir, 'none'));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /nothing stored matches/);
    const usage = await pacs('--to', path.join(dir, 'none'));
    assert.equal(usage.code, 2);
    assert.ok(a2.files.length);
  });

  test('a -k key the index does not hold is refused, naming it: it selected nothing, so the whole archive was exported', async () => {
    for (const args of [['-k', 'SequenceName=NOPE'], ['--patient', 'SUBJ001', '-k', 'EchoTime=30']]) {
      const r = await pacs(...args, '--to', path.join(dir, 'unheld'), '--dry-run');
      assert.equal(r.code, 2, r.stdout);
      assert.match(r.stderr, /-k (SequenceName|EchoTime): the index does not hold this attribute, so it cannot select what to export/);
      assert.doesNotMatch(r.stdout, /would be written/);
    }
  });
});
