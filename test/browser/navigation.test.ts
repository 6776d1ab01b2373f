// Moving from page to page in headless Chromium: a page left before its reads ended has them
// aborted, and shows nothing once another page is up (it replaced the page the user had moved
// on to when its answer came).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Page, Route } from 'playwright-core';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { newPage } from '../helpers/browser.js';

const UID = '1.2.826.0.1.3680043.2.1125.77';
const STUDY = { StudyInstanceUID: UID, PatientID: 'P1', PatientName: 'SLOW^PAGE', NumberOfStudyRelatedSeries: 0, NumberOfStudyRelatedInstances: 0, series: [] };

describe('navigation (headless Chromium)', () => {
  let s: PageOnPacs;
  before(async () => {
    s = await pageOnPacs();
  });
  after(async () => {
    await s?.close();
  });

  const leaveWhileReading = async (page: Page) => {
    await page.route(`**/api/studies/${UID}`, (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(STUDY) }));
    // The study page's second read hangs until the page is left.
    let held!: (r: Route) => void;
    const nodesAsked = new Promise<Route>((resolve) => (held = resolve));
    await page.route('**/api/nodes', (route) => held(route));
    try {
      await page.goto(`${s.base}/#/study/${UID}`);
      await nodesAsked;
      const aborted = page.waitForEvent('requestfailed', { predicate: (r) => r.url().endsWith('/api/nodes'), timeout: 10_000 });
      await page.evaluate(() => ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/jobs'));
      await page.waitForSelector('#jobs');
      assert.match((await aborted).failure()?.errorText ?? '', /ABORTED/);
      // Whatever the study page did with its aborted read has run by now (one task after it).
      await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      assert.equal(await page.locator('#jobs').count(), 1, await s.failed('left-page'));
      assert.equal(await page.locator('dl.attrs').count(), 0, 'the study page left behind showed itself');
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  };

  test('a page left while it reads: its reads are aborted and it does not replace the page shown now', () => leaveWhileReading(s.w.page));

  // (A page that cannot even start its reads there leaves this test waiting: it fails at its time limit.)
  test('the same in a browser without AbortSignal.any (Safari before 17.4)', { timeout: 60_000 }, async () => {
    const w = await newPage(s.browser);
    try {
      await w.page.addInitScript(() => delete (AbortSignal as unknown as { any?: unknown }).any);
      await leaveWhileReading(w.page);
    } finally {
      await w.page.close();
    }
  });
});
