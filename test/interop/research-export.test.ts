// The research workflow end to end, in process: two "scanners" (storescu with different
// calling AE titles) send at once; once each study is stable, the rules export it into its
// lab's folder under readable names. Also: a study that was arriving when the server stopped
// becomes stable, and is exported, after a restart; a re-run writes nothing twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PacsServer } from '../../src/app.js';
import { parseConfigData } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logging.js';
import { run } from '../helpers/dcmtk.js';
import { listTree, makeStudy, waitFor, type MadeStudy } from '../helpers/research.js';
import { testDatabase } from '../helpers/index-backend.js';

const TEMPLATE = '{PatientID}/{StudyDate}_{StudyDescription}/{SeriesNumber:03}_{SeriesDescription}/{InstanceNumber:05}.dcm';

async function configFor(dir: string, labA: string, labB: string, stableAfter: number): Promise<Record<string, unknown>> {
  return {
    server: { port: 0, host: '127.0.0.1', ae_title: 'PACS_SERVER', shutdown_grace: 2 },
    storage: { directory: path.join(dir, 'archive'), min_free_mb: 0 },
    database: await testDatabase(dir),
    http: { enabled: false },
    monitoring: { enabled: false },
    logging: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
    jobs: { backoff_seconds: 1 },
    stability: { stable_after: stableAfter, check_interval: 0.2 },
    rules: [
      { name: 'lab-a', on: 'study.stable', match: { CallingAE: 'SCANNER_A' }, actions: [{ type: 'export', to: labA, template: TEMPLATE, mode: 'copy' }] },
      { name: 'lab-b', on: 'study.stable', match: { CallingAE: 'SCANNER_B', StudyDescription: '/^fmri/i' }, actions: [{ type: 'export', to: labB, template: TEMPLATE, mode: 'hardlink' }] },
    ],
  };
}

async function startServer(config: Record<string, unknown>, dir: string): Promise<{ server: PacsServer; port: number }> {
  const server = await PacsServer.create(parseConfigData(config, dir), { logger: createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }) });
  const { dicomPort } = await server.start();
  return { server, port: dicomPort };
}

const send = (aet: string, port: number, files: string[]) => run('storescu', ['-aet', aet, '-aec', 'PACS_SERVER', '127.0.0.1', String(port), ...files]);

/** The names a study's files should get; `seriesFolders` as the template should make them safe. */
const expectedNames = (study: MadeStudy, patient: string, folder: string, seriesFolders: string[]): string[] =>
  study.series.flatMap((s, k) => s.files.map((_f, i) => `${patient}/${folder}/${seriesFolders[k]}/${String(i + 1).padStart(5, '0')}.dcm`)).sort();
const A_FOLDERS = ['003_T1_MPRAGE', '004_T2_FLAIR'];

const jobsOf = async (server: PacsServer, type: string) => (await server.archive.index.jobs.list({ type, limit: 100, offset: 0 })).jobs;

describe('research workflow: stable studies exported by rules', () => {
  let dir: string;
  let labA: string;
  let labB: string;
  let a: MadeStudy;
  let b: MadeStudy;
  let other: MadeStudy;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-research-'));
    labA = path.join(dir, 'nas', 'lab-a');
    labB = path.join(dir, 'nas', 'lab-b');
    // A rule's folder must exist: it is never created (export-job.ts).
    for (const lab of [labA, labB]) fs.mkdirSync(lab, { recursive: true });
    a = await makeStudy(path.join(dir, 'in-a'), { patientID: 'SUBJ042', studyDescription: 'Anat/T1 ../..', referring: 'Smith^Ann', series: [{ number: 3, description: 'T1 MPRAGE', count: 5 }, { number: 4, description: 'T2: FLAIR?', count: 3 }] });
    b = await makeStudy(path.join(dir, 'in-b'), { patientID: 'SUBJ007', studyDescription: 'fMRI rest', series: [{ number: 1, description: 'BOLD run1', count: 6 }] });
    other = await makeStudy(path.join(dir, 'in-c'), { patientID: 'SUBJ999', studyDescription: 'Clinical', series: [{ number: 1, description: 'Other', count: 2 }] });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('two scanners at once: each stable study lands in its lab with readable, safe names', async () => {
    const { server, port } = await startServer(await configFor(path.join(dir, 's1'), labA, labB, 1), dir);
    try {
      const sent = await Promise.all([send('SCANNER_A', port, a.files), send('SCANNER_B', port, [...b.files]), send('SCANNER_B', port, other.files)]);
      for (const r of sent) assert.equal(r.code, 0, r.stderr);
      // Nothing is exported before the studies are stable.
      assert.deepEqual(listTree(labA), []);
      await waitFor('both exports', async () => {
        const jobs = [...(await jobsOf(server, 'export'))];
        return jobs.length === 2 && jobs.every((j) => j.state === 'succeeded');
      });
      assert.deepEqual(listTree(labA), expectedNames(a, 'SUBJ042', '20260312_Anat_T1', A_FOLDERS));
      assert.deepEqual(listTree(labB), expectedNames(b, 'SUBJ007', '20260312_fMRI_rest', ['001_BOLD_run1']));
      // Copies are byte-identical to what was sent; hard links share the archive's inode.
      const firstA = path.join(labA, expectedNames(a, 'SUBJ042', '20260312_Anat_T1', A_FOLDERS)[0]!);
      assert.ok(fs.readFileSync(firstA).length > 1000);
      const linked = fs.statSync(path.join(labB, expectedNames(b, 'SUBJ007', '20260312_fMRI_rest', ['001_BOLD_run1'])[0]!));
      assert.ok(linked.nlink >= 2, 'a hard link');
      // The study of SCANNER_B that the rule does not match went nowhere.
      assert.ok(!listTree(labB).some((f) => f.startsWith('SUBJ999')));
      const events: string[] = [];
      server.archive.events.on('study.stable', ({ entry }) => events.push(entry.uid));
      // The study grows (a late series): stable again, a second job adds only the new files.
      const before = fs.statSync(firstA);
      const late = await makeStudy(path.join(dir, 'in-a-late'), { studyUID: a.studyUID, patientID: 'SUBJ042', studyDescription: 'Anat/T1 ../..', referring: 'Smith^Ann', series: [{ number: 5, description: 'DTI', count: 2 }] });
      assert.equal((await send('SCANNER_A', port, late.files)).code, 0);
      await waitFor('the study stable again', () => events.includes(a.studyUID));
      await waitFor('the second export', async () => (await jobsOf(server, 'export')).filter((j) => j.state === 'succeeded').length === 3);
      const grown = [...expectedNames(a, 'SUBJ042', '20260312_Anat_T1', A_FOLDERS), 'SUBJ042/20260312_Anat_T1/005_DTI/00001.dcm', 'SUBJ042/20260312_Anat_T1/005_DTI/00002.dcm'].sort();
      assert.deepEqual(listTree(labA), grown, 'the new series added, nothing doubled');
      assert.equal(fs.statSync(firstA).mtimeMs, before.mtimeMs, 'files already exported are left alone');
      const jobsA = (await jobsOf(server, 'export')).filter((j) => j.payload.rule === 'lab-a').sort((x, y) => y.id - x.id);
      assert.match(jobsA[0]!.progress.message ?? '', /^2 written, 8 already there/);
    } finally {
      await server.stop();
    }
  });

  test('a study arriving when the server stopped becomes stable after the restart', async () => {
    const sdir = path.join(dir, 's2');
    const labC = path.join(dir, 'nas', 'lab-c');
    fs.mkdirSync(labC, { recursive: true });
    const config = await configFor(sdir, labC, path.join(dir, 'nas', 'unused'), 2);
    let { server, port } = await startServer(config, dir);
    assert.equal((await send('SCANNER_A', port, a.files.slice(0, 3))).code, 0);
    await server.stop(); // before stable_after has passed
    assert.deepEqual(listTree(labC), []);
    ({ server, port } = await startServer(config, dir));
    try {
      // The first look reads the change log: what arrived before the stop is pending again.
      await server.research.stability.tick();
      assert.equal((await server.archive.index.stability.pending(10)).length, 2, 'the series and the study are still pending');
      await waitFor('the export after restart', async () => (await jobsOf(server, 'export')).some((j) => j.state === 'succeeded'), 20_000);
      assert.equal(listTree(labC).length, 3);
      assert.equal((await server.archive.index.stability.pending(10)).length, 0);
    } finally {
      await server.stop();
    }
  });
});
