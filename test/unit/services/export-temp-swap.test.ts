// An export's temporary file is written through the handle that created it: swapped for a link
// right after it was made (by anyone who writes in the lab's folder), the instance went wherever
// the link pointed — any file the server may write.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { placeBytes } from '../../../src/services/export.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-swap-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('a temporary file swapped for a link after it is made: the link target is not written', async () => {
  const victim = path.join(dir, 'victim');
  fs.writeFileSync(victim, 'precious');
  const lab = path.join(dir, 'lab');
  fs.mkdirSync(lab);
  const open = fsp.open;
  let swapped = false;
  fsp.open = (async (...args: Parameters<typeof open>) => {
    const handle = await open(...args);
    const file = String(args[0]);
    if (!swapped && file.endsWith('.pacs-export')) {
      swapped = true;
      fs.unlinkSync(file);
      fs.symlinkSync(victim, file);
    }
    return handle;
  }) as typeof open;
  let outcome: unknown;
  try {
    outcome = await placeBytes([Buffer.from('DICM-bytes-of-the-instance')], path.join(lab, 'x.dcm'), '1.2.3', lab).catch((e: unknown) => e);
  } finally {
    fsp.open = open;
  }
  assert.ok(swapped, 'the swap happened');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
  assert.match(String(outcome), /was replaced by something else/, 'refused, not placed');
  assert.equal(fs.existsSync(path.join(lab, 'x.dcm')) || fs.lstatSync(path.join(lab, 'x.dcm'), { throwIfNoEntry: false }) !== undefined, false, 'the link was not placed as the instance');
});
