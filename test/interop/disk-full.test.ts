// A full disk: the storage directory on a 1 MB tmpfs. A C-STORE that does not fit gets 0xA700
// with a comment and leaves nothing; the server goes on serving what fits. The free-space guard
// refuses before writing anything. Needs root to mount (CI runs as root); skipped otherwise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-tinyfs-'));
let mounted = false;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mountPoint], { stdio: 'ignore' });
  mounted = true;
} catch {
  mounted = false;
}

describe('full disk', { skip: mounted ? false : 'cannot mount a tmpfs here (needs root)' }, () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ storage: { directory: path.join(mountPoint, 'archive'), min_free_mb: 0 } });
  });
  after(async () => {
    await pacs.stop();
    execFileSync('umount', [mountPoint]);
    fs.rmSync(mountPoint, { recursive: true, force: true });
  });

  const filesUnder = (d: string): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(path.join(d, e.name)) : [path.join(d, e.name)]));
  const nonEmpty = (): string[] => filesUnder(path.join(mountPoint, 'archive')).filter((f) => fs.statSync(f).size > 0);

  test('an instance larger than the free space: 0xA700 with a comment, nothing half written', async () => {
    const big = path.join(SAMPLES, 'nibabel__siemens_dwi_0.dcm'); // 1.7 MB
    const r = await run('storescu', ['-v', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), big]);
    assert.match(r.stderr, /Received Store Response \(.*(A700|Out of Resources|Refused).*\)/i, r.stderr);
    assert.deepEqual(nonEmpty(), [], 'no file, no temporary file with data');
    assert.equal((await pacs.server.archive.index.statistics()).instances, 0, 'no row');
  });

  test('then a small instance still fits and is stored', async () => {
    const small = path.join(SAMPLES, 'pydicom__CT_small.dcm');
    const r = await run('storescu', ['-v', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), small]);
    assert.match(r.stderr, /Received Store Response \(Success\)/, r.stderr);
    assert.equal((await pacs.server.archive.index.statistics()).instances, 1);
  });
});

describe('free-space guard', () => {
  test('the free space falling below storage.min_free_mb while a large dataset arrives: 0xA700 for it, its staged file removed at once', async () => {
    const pacs = await startTestPacs({ storage: { min_free_mb: 1 }, http: { enabled: true, port: 0, host: '127.0.0.1' } });
    try {
      const objects = pacs.server.archive.store.deps.store;
      // Plenty of room until the staged file of this dataset holds 8 MB: then none.
      const staged = (): number => pacs.files().filter((f) => f.includes('.incoming')).reduce((n, f) => n + fs.statSync(path.join(pacs.storageDir, f)).size, 0);
      objects.freeBytes = async () => (staged() > 8 * 1024 * 1024 ? 0 : 10 * 1024 ** 3);
      await pacs.server.archive.store.refreshFreeSpace(true);
      const big = Buffer.concat([fs.readFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm')), Buffer.alloc(96 * 1024 * 1024)]);
      const address = pacs.server.httpServer!.server.address() as { port: number };
      const r = await fetch(`http://127.0.0.1:${address.port}/dicom-web/studies`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b', accept: 'application/dicom+json' },
        body: Buffer.concat([Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'), big, Buffer.from('\r\n--b--\r\n')]),
      });
      const text = await r.text();
      assert.equal(r.status, 503, text);
      assert.match(text, /storage below its free-space minimum \(0 MB free\) while the d/);
      assert.equal((await pacs.server.archive.index.statistics()).instances, 0);
      assert.deepEqual(pacs.files().filter((f) => f.includes('.incoming')), []);
    } finally {
      await pacs.stop();
    }
  });

  test('below storage.min_free_mb every store is refused with 0xA700 before a byte is written', async () => {
    const pacs = await startTestPacs({ storage: { min_free_mb: 100_000_000 } });
    try {
      const r = await run('storescu', ['-v', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm')]);
      assert.match(r.stderr, /Received Store Response \(.*(A700|Out of Resources|Refused).*\)/i, r.stderr);
      assert.equal((await pacs.server.archive.index.statistics()).instances, 0);
      assert.deepEqual(pacs.files().filter((f) => !f.endsWith('.part')), []);
    } finally {
      await pacs.stop();
    }
  });
});
