// An export job fails for good only on what no retry can change (here: names the template makes
// longer than any filesystem takes); a folder that is missing is retried (export-folder.test.ts).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openArchive, type ArchiveParts } from '../../src/app.js';
import { parseConfigData } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logging.js';
import type { Job } from '../../src/index/jobs.js';
import { exportJobHandler } from '../../src/services/export-job.js';
import { importFile } from '../../src/services/import.js';
import { PermanentJobError } from '../../src/services/jobs.js';
import { makeStudy, type MadeStudy } from '../helpers/research.js';
import { testDatabase } from '../helpers/index-backend.js';

let dir: string;
let archive: ArchiveParts;
let study: MadeStudy;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-permanent-'));
  const config = parseConfigData({ storage: { directory: path.join(dir, 'archive'), min_free_mb: 0 }, database: await testDatabase(dir), logging: { level: 'silent' } }, dir);
  archive = await openArchive(config, { logger: createLogger({ level: 'silent' }) });
  study = await makeStudy(path.join(dir, 'in'), { patientID: 'EXP01', studyDescription: 'exp', series: [{ number: 1, description: 'T1', count: 2 }] });
  for (const f of study.files) await importFile(archive.store, f, { callingAE: null, calledAE: null, remoteAddress: null, source: 'import' });
  fs.mkdirSync(path.join(dir, 'lab'));
});
after(async () => {
  await archive.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const exportWith = (template: string) =>
  exportJobHandler(archive).run({
    job: { id: 1, type: 'export', payload: { level: 'STUDY', uid: study.studyUID, to: path.join(dir, 'lab'), template, mode: 'copy' } } as unknown as Job,
    signal: new AbortController().signal,
    progress: () => undefined,
    logger: archive.logger,
  });

test('names longer than any filesystem takes: failed for good, not retried for hours', async () => {
  const long = Array.from({ length: 12 }, (_, i) => `${String(i).repeat(100)}`).join('/');
  await assert.rejects(exportWith(`${long}/{SOPInstanceUID}.dcm`), (e: Error) => e instanceof PermanentJobError && /longer than 1024 bytes/.test(e.message));
});

test('a template that works: written', async () => {
  const r = await exportWith('{PatientID}/{SOPInstanceUID}.dcm');
  assert.equal(r?.completed, 2);
});
