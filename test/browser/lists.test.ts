// The long lists of the web page in headless Chromium: the worklist shows the newest steps first,
// the ones still to be done unless asked for all, a page at a time with the total (one list of
// the oldest 200 never showed what came later); the performed steps (MPPS) and the jobs page too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonDataset } from '../../src/dicom/json.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { waitForText } from '../helpers/browser.js';

const pid = (n: number) => `P${String(n).padStart(3, '0')}`;

describe('lists in pages (headless Chromium)', () => {
  let s: PageOnPacs;
  before(async () => {
    s = await pageOnPacs();
    const { archive } = s.pacs.server;
    const step = (n: number, status: string): JsonDataset => ({
      '00100020': { vr: 'LO', Value: [pid(n)] },
      '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] }, '00400002': { vr: 'DA', Value: ['20260312'] }, '00400020': { vr: 'CS', Value: [status] } }] },
    });
    for (let n = 1; n <= 55; n++) await archive.worklist.create(step(n, 'SCHEDULED'));
    await archive.worklist.create(step(56, 'COMPLETED'));
    for (let n = 1; n <= 52; n++) await archive.index.mpps.create(`1.2.3.${n}`, 'CT1', { '00100020': { vr: 'LO', Value: [pid(n)] }, '00400252': { vr: 'CS', Value: ['IN PROGRESS'] } }, 0);
    // Queued for a day from now: no worker runs them while the page shows them.
    const later = new Date(Date.now() + 86_400_000);
    for (let n = 1; n <= 53; n++) await archive.index.jobs.enqueue({ type: 'export', payload: { uid: `1.2.${n}`, level: 'STUDY', to: '/tmp/x' }, maxAttempts: 1, runAfter: later });
  });
  after(async () => {
    await s?.close();
  });

  const cells = (selector: string, column: number) => s.w.page.$$eval(selector, (rows, c) => rows.map((r) => r.children[c]?.textContent ?? ''), column);
  const count = (pagerId: string) => s.w.page.locator(`#${pagerId} .count`).innerText();

  test('worklist: the steps to be done, newest first, a page at a time; all statuses on request', async () => {
    const { page } = s.w;
    await page.goto(`${s.base}/#/worklist`);
    await page.waitForSelector('#worklist tbody tr[data-id]');
    const ids = await cells('#worklist tbody tr[data-id]', 1);
    assert.equal(ids.length, 50);
    assert.deepEqual(ids.slice(0, 2), ['P055', 'P054'], `newest first, the completed P056 left out; ${await s.failed('worklist')}`);
    assert.equal(await count('worklist-pager'), '1–50 of 55');
    await page.click('#worklist-pager button:has-text("Next")');
    await waitForText(page, '#worklist-pager .count', /^51–55 of 55$/);
    assert.deepEqual(await cells('#worklist tbody tr[data-id]', 1), ['P005', 'P004', 'P003', 'P002', 'P001']);
    assert.ok(await page.isDisabled('#worklist-pager button:has-text("Next")'));

    await page.selectOption('#worklist-status', 'all');
    await waitForText(page, '#worklist-pager .count', /^1–50 of 56$/);
    assert.deepEqual((await cells('#worklist tbody tr[data-id]', 1)).slice(0, 2), ['P056', 'P055']);
  });

  test('performed steps (MPPS): a page at a time', async () => {
    const { page } = s.w;
    await page.goto(`${s.base}/#/worklist`);
    await page.waitForSelector('#mpps-pager');
    assert.equal(await count('mpps-pager'), '1–50 of 52');
    await page.click('#mpps-pager button:has-text("Next")');
    await waitForText(page, '#mpps-pager .count', /^51–52 of 52$/);
    assert.equal(await page.locator('#mpps tbody tr').count(), 2);
    assert.equal(await count('worklist-pager'), '1–50 of 55', 'the worklist stays on its page');
  });

  test('jobs: newest first, a page at a time', async () => {
    const { page } = s.w;
    await page.goto(`${s.base}/#/jobs`);
    await page.waitForSelector('#jobs tbody tr[data-id]');
    assert.equal(await count('jobs-pager'), '1–50 of 53');
    const first = await cells('#jobs tbody tr[data-id]', 0);
    assert.equal(first.length, 50);
    await page.click('#jobs-pager button:has-text("Next")');
    await waitForText(page, '#jobs-pager .count', /^51–53 of 53$/);
    const rest = await cells('#jobs tbody tr[data-id]', 0);
    assert.equal(rest.length, 3);
    assert.ok(Number(first.at(-1)) > Number(rest[0]), 'the second page has the older jobs');
  });
});
