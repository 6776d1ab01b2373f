// `pacs export` on an archive filled by storescu: by patient, study and C-FIND style keys;
// the dry run writes nothing; a re-run writes nothing twice; hard links share the archive's inode.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PacsServer } from '../../src/app.js';
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
  let dbArgs: string[] = [];
  const pacs = (...args: string[]) => run(process.execPath, [BIN, 'export', '--storage-dir', path.join(dir, 'archive'), ...dbArgs, ...args]);

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-cli-'));
    dbArgs = await testDatabaseArgs(dir);
    a1 = await makeStudy(path.join(dir, 'in-a1'), { patientID: 'SUBJ1', studyDescription: 'baseline', studyDate: '20260101', series: [{ number: 1, description: 'T1', count: 3 }] });
    a2 = await makeStudy(path.join(dir, 'in-a2'), { patientID: 'SUBJ1', studyDescription: 'followup', studyDate: '20260301', series: [{ number: 2, description: 'T2', count: 2 }] });
    b = await makeStudy(path.join(dir, 'in-b'), { patientID: 'SUBJ2', studyDescription: 'baseline', studyDate: '20260102', series: [{ number: 1, description: 'T1', count: 2 }] });
    const config = parseConfigData(
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
      const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(dicomPort), ...a1.files, ...a2.files, ...b.files]);
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
    assert.match(r.stdout, /5 would be written, 0 failed/);
    assert.equal(fs.existsSync(out), false);
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

  test('nothing selected, or no selection at all, is an error', async () => {
    const none = await pacs('--patient', 'NOBODY', '--to', path.join(dir, 'none'));
    assert.equal(none.code, 1);
    assert.match(none.stderr, /nothing stored matches/);
    const usage = await pacs('--to', path.join(dir, 'none'));
    assert.equal(usage.code, 2);
    assert.ok(a2.files.length);
  });
});
