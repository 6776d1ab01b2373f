// A rule's export folder is never created: a lab's share that is not mounted must not be
// replaced by a folder on the local disk (the files would fill it and be hidden once the share
// is mounted again). Missing: that try fails and is retried; a file in its place: never retried.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger } from '../../../src/core/logging.js';
import type { Job } from '../../../src/index/jobs.js';
import { type ExportDeps, exportJobHandler } from '../../../src/services/export-job.js';
import { PermanentJobError } from '../../../src/services/jobs.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-folder-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// The folder is checked before anything is read: the index and storage are never reached.
const unreachable = new Proxy({}, { get: () => assert.fail('the index or storage was used') }) as ExportDeps;
const exportTo = (to: string) =>
  exportJobHandler(unreachable).run({
    job: { id: 1, type: 'export', payload: { level: 'STUDY', uid: '1.2.3', to, template: '{SOPInstanceUID}.dcm', mode: 'copy' } } as unknown as Job,
    signal: new AbortController().signal,
    progress: () => undefined,
    logger: createLogger({ level: 'silent' }),
  });

test('a missing export folder is not created: the try fails, to be retried', async () => {
  const share = path.join(dir, 'mnt', 'lab-share', 'incoming');
  await assert.rejects(exportTo(share), (e: Error) => !(e instanceof PermanentJobError) && /does not exist \(a share not mounted\?\)/.test(e.message));
  assert.equal(fs.existsSync(path.join(dir, 'mnt')), false, 'nothing made on the local disk');
});

test('a file where the export folder should be fails for good', async () => {
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  await assert.rejects(exportTo(file), PermanentJobError);
});
