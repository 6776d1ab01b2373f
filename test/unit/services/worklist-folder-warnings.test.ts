// The worklist folder's warnings are said once per lasting state, not at every pass (at the
// default poll of 5 s a bad file, an unreadable AE folder or an unmounted share was 17,000 log
// lines a day), and again when the state changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorklistFolder } from '../../../src/services/worklist-folder.js';
import type { WorklistService } from '../../../src/services/worklist.js';
import type { Logger } from '../../../src/core/logging.js';

test('a bad file, an AE folder not readable and a share not mounted are each warned of once while they last', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-warn-'));
  try {
    fs.mkdirSync(path.join(dir, 'CT1'));
    fs.writeFileSync(path.join(dir, 'CT1', 'broken.wl'), 'not DICOM at all');
    const warnings: string[] = [];
    const logger = { warn: (_: unknown, msg: string) => warnings.push(msg), info: () => {}, error: () => {}, debug: () => {} } as unknown as Logger;
    // One entry from the folder, as an earlier pass left it.
    const entries = [{ id: 1, sourceKey: 'CT1/gone.wl' }];
    const worklist = {
      // Ids and keys only: a pass reads no entry's dataset (no list()).
      sourceKeys: async () => entries,
      remove: async () => true,
      bySourceKey: async () => null,
      upsertFromSource: async () => null,
    } as unknown as WorklistService;
    const folder = new WorklistFolder(dir, worklist, logger);
    for (let i = 0; i < 3; i++) await folder.scan();
    assert.deepEqual(warnings, ['worklist file not taken']);

    // The AE folder replaced by a dangling link (unreadable), then nothing left but a stray file (not mounted).
    fs.rmSync(path.join(dir, 'CT1'), { recursive: true });
    fs.symlinkSync(path.join(dir, 'no-such-target'), path.join(dir, 'CT1'));
    warnings.length = 0;
    for (let i = 0; i < 3; i++) await folder.scan();
    assert.deepEqual(warnings, ['worklist folder not readable: its entries are kept']);
    fs.rmSync(path.join(dir, 'CT1'));
    fs.writeFileSync(path.join(dir, 'stray'), '');
    warnings.length = 0;
    for (let i = 0; i < 3; i++) await folder.scan();
    assert.deepEqual(warnings, ['worklist folder holds no AE title folders: is the share mounted? its entries are kept']);

    // Back, then gone again: said again.
    fs.mkdirSync(path.join(dir, 'CT1'));
    await folder.scan();
    fs.rmSync(path.join(dir, 'CT1'), { recursive: true });
    warnings.length = 0;
    await folder.scan();
    assert.equal(warnings.length, 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
