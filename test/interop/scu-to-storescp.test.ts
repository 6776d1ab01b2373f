// Our SCU against DCMTK's SCPs: `pacs store` into storescp (bit-preserving) must deliver every
// file byte for byte, in its own transfer syntax, several associations at once; `pacs echo`
// against storescp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, freePort, manifest, run, startDaemon, storescpProfile } from '../helpers/dcmtk.js';
import { parsePart10Prefix, readPart10Header } from '../../src/dicom/part10.js';

const BIN = new URL('../../../bin/pacs', import.meta.url).pathname;
const datasetOf = (file: string): Buffer => {
  const b = fs.readFileSync(file);
  return b.subarray(parsePart10Prefix(b, true)!.datasetOffset);
};

test('pacs store -j 3 into storescp: every accepted sample arrives byte for byte; pacs echo', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-scu-'));
  const rows = (await manifest()).filter((r) => r.expected === 'accept' && !r.file.startsWith('pydicom__MR_small_'));
  const files = rows.map((r) => path.join(SAMPLES, r.file));
  const port = await freePort();
  const profile = await storescpProfile(files, dir);
  const out = path.join(dir, 'received');
  fs.mkdirSync(out);
  const scp = await startDaemon('storescp', ['+B', ...profile, '-od', out, '-aet', 'STORESCP', String(port)], port);
  try {
    const echo = await run(process.execPath, [BIN, 'echo', '-aec', 'STORESCP', '127.0.0.1', String(port)]);
    assert.equal(echo.code, 0, echo.stderr);
    const r = await run(process.execPath, [BIN, 'store', '-aec', 'STORESCP', '-j', '3', '127.0.0.1', String(port), ...files], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`Sent ${files.length} of ${files.length} files`));
    const received = fs.readdirSync(out);
    for (const f of files) {
      const uid = (await readPart10Header(f)).sopInstanceUID!;
      const name = received.find((n) => n.endsWith(`.${uid}`));
      assert.ok(name, `${path.basename(f)} arrived`);
      const got = fs.readFileSync(path.join(out, name));
      const meta = parsePart10Prefix(got, true)!;
      assert.equal(meta.transferSyntaxUID, (await readPart10Header(f)).transferSyntaxUID, `${path.basename(f)} kept its transfer syntax`);
      // An odd-length dataset (only the deflated sample is) travels with one pad byte.
      const sent = datasetOf(f);
      const expected = sent.length % 2 ? Buffer.concat([sent, Buffer.alloc(1)]) : sent;
      assert.ok(got.subarray(meta.datasetOffset).equals(expected), `${path.basename(f)}: dataset byte for byte`);
    }
  } finally {
    scp.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('pacs store -j 4 to a server that takes one association from us: the others are refused, every file is sent, exit 0', async () => {
  const { startTestPacs } = await import('../helpers/pacs.js');
  const pacs = await startTestPacs({ server: { max_associations_per_ae: 1 } });
  try {
    const files = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm', 'pydicom-dicomdir__77654033_CR2_6247.dcm'].map((f) => path.join(SAMPLES, f));
    const r = await run(process.execPath, [BIN, 'store', '-aet', 'ONE_AT_A_TIME', '-aec', 'PACS_SERVER', '-j', '4', '127.0.0.1', String(pacs.port), ...files, ...files], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Sent 8 of 8 files.*, 0 failed/);
    assert.match(r.stdout, /NOTE [1-3] of 4 associations refused \(the others sent the files\)/);
  } finally {
    await pacs.stop();
  }
});

test('pacs store to a peer that aborts each association at its first file: exit 1, the rest "not sent" because the peer ended it, not "no association could be opened"', async () => {
  const port = await freePort();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-abort-after-'));
  const scp = await startDaemon('storescp', ['--abort-after', '-od', out, '-aet', 'STORESCP', String(port)], port);
  try {
    const files = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm'].map((f) => path.join(SAMPLES, f));
    const r = await run(process.execPath, [BIN, 'store', '-aec', 'STORESCP', '-j', '1', '127.0.0.1', String(port), ...files], { timeoutMs: 120_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /Sent 0 of 3 files.*, 3 failed/);
    assert.equal((r.stdout.match(/not sent: the peer ended the association/g) ?? []).length, 2, r.stdout);
    assert.doesNotMatch(r.stdout, /no association could be opened/);
  } finally {
    scp.kill();
    fs.rmSync(out, { recursive: true, force: true });
  }
});
