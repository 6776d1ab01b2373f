// The Upload page in headless Chromium: a folder dropped on it is walked (sub-folders, entries
// read in several batches) and every file in it is stored. Playwright cannot drop a real folder,
// so the drop event carries a synthetic entry tree shaped as Chromium's FileSystemEntry API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES } from '../helpers/dcmtk.js';
import type { TestPacs } from '../helpers/pacs.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { type WatchedPage, waitForText } from '../helpers/browser.js';

const FILES = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm', 'pydicom-dicomdir__77654033_CR1_6154.dcm'];

describe('Upload page (headless Chromium)', () => {
  let s: PageOnPacs;
  let pacs: TestPacs;
  let base: string;
  let w: WatchedPage;
  before(async () => {
    s = await pageOnPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', max_upload_mb: 1 } });
    ({ pacs, base, w } = s);
  });
  after(async () => {
    await s?.close();
  });

  test('a dropped folder (with a sub-folder, read in batches) is uploaded file by file', async () => {
    await w.page.goto(`${base}/#/upload`);
    await w.page.waitForSelector('#drop');
    const files = FILES.map((f) => fs.readFileSync(path.join(SAMPLES, f)).toString('base64'));
    await w.page.evaluate((b64: string[]) => {
      const file = (name: string, data: string) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        return { isFile: true, isDirectory: false, name, file: (ok: (f: File) => void) => setTimeout(() => ok(new File([bytes], name))) };
      };
      // readEntries answers in batches, then an empty one: the walk must ask until it is empty.
      const dir = (name: string, batches: unknown[][]) => ({
        isFile: false,
        isDirectory: true,
        name,
        createReader: () => {
          let i = 0;
          return { readEntries: (ok: (e: unknown[]) => void) => setTimeout(() => ok(batches[i++] ?? [])) };
        },
      });
      const tree = dir('scans', [[file('ct.dcm', b64[0]!), dir('sub', [[file('mr.dcm', b64[1]!)]])], [file('cr.dcm', b64[2]!)]]);
      // What dataTransfer.files holds for a dropped folder: one empty entry.
      const dataTransfer = { files: [new File([], 'scans')], items: [{ kind: 'file', webkitGetAsEntry: () => tree }] };
      const drop = new Event('drop', { bubbles: true, cancelable: true });
      Object.defineProperty(drop, 'dataTransfer', { value: dataTransfer });
      // (No DOM types in the tests' compilation: the page's document, typed as used.)
      const doc = (globalThis as unknown as { document: { getElementById(id: string): { dispatchEvent(e: Event): boolean } } }).document;
      doc.getElementById('drop').dispatchEvent(drop);
    }, files);
    await waitForText(w.page, '#upload-summary', /3 of 3 files stored/, 30_000).catch(async (e: Error) => {
      throw new Error(`${e.message}; ${await s.failed('upload-folder')}`);
    });
    assert.equal((await pacs.server.archive.index.statistics()).instances, 3);
    const names = await w.page.$$eval('#uploads td[title]', (cells) => cells.map((c) => c.getAttribute('title')));
    assert.deepEqual(names, ['scans/ct.dcm', 'scans/sub/mr.dcm', 'scans/cr.dcm']);
  });

  const result = (name: string) => w.page.locator('#uploads tr', { has: w.page.locator(`td[title="${name}"]`) }).locator('td').nth(2);

  test('a file over http.max_upload_mb: the server\'s reason, not "network error"', async () => {
    await w.page.goto(`${base}/#/upload`);
    await w.page.setInputFiles('#file-input', { name: 'big.dcm', mimeType: 'application/dicom', buffer: Buffer.alloc(24 * 1024 * 1024, 1) });
    await waitForText(w.page, '#upload-summary', /0 of 1 files stored/, 30_000);
    assert.equal(await result('big.dcm').innerText(), 'the file exceeds http.max_upload_mb (1 MB)', await s.failed('upload-too-large'));
  });

  test('no answer at all: "connection closed by the server"', async () => {
    await w.page.goto(`${base}/#/upload`);
    await w.page.route('**/api/instances', (route) => route.abort('connectionclosed'));
    try {
      await w.page.setInputFiles('#file-input', { name: 'lost.dcm', mimeType: 'application/dicom', buffer: Buffer.alloc(1000, 1) });
      await waitForText(w.page, '#upload-summary', /0 of 1 files stored/, 30_000);
      assert.match(await result('lost.dcm').innerText(), /^connection closed by the server/);
    } finally {
      await w.page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  test('the server busy (503): the file goes again after its Retry-After and is stored', async () => {
    await w.page.goto(`${base}/#/upload`);
    let tries = 0;
    await w.page.route('**/api/instances', async (route) => {
      // The first try finds every upload slot taken (http.max_concurrent_uploads).
      if (++tries === 1)
        return route.fulfill({
          status: 503,
          headers: { 'retry-after': '1', 'content-type': 'application/problem+json' },
          body: JSON.stringify({ status: 503, title: 'Service unavailable', detail: '32 uploads are being received (http.max_concurrent_uploads): try again shortly' }),
        });
      return route.continue();
    });
    try {
      const file = fs.readFileSync(path.join(SAMPLES, 'pydicom__rtdose_1frame.dcm'));
      await w.page.setInputFiles('#file-input', { name: 'busy.dcm', mimeType: 'application/dicom', buffer: file });
      await waitForText(w.page, '#upload-summary', /1 of 1 files stored/, 30_000);
      assert.equal(await result('busy.dcm').innerText(), 'stored');
      assert.equal(tries, 2);
    } finally {
      await w.page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  });
});
