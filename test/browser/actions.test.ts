// The page's actions in headless Chromium, where they went wrong: a failing list of nodes was
// taken for "no node" (the user was told to add one); Send and Schedule made two jobs or entries
// on a double click; a job's state stopped being watched after one failed poll and went on being
// polled after the page was left; a delete that left files behind was reported as clean; a
// worklist step was canceled without asking; a refused study search replaced the whole page,
// search form included.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Request } from 'playwright-core';
import { SAMPLES } from '../helpers/dcmtk.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { waitForText } from '../helpers/browser.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const problem = (status: number, title: string, detail: string) => ({ status, contentType: 'application/problem+json', body: JSON.stringify({ title, detail }) });

describe('actions on the web page (headless Chromium)', () => {
  let s: PageOnPacs;
  before(async () => {
    // One try per job: a send to a closed port fails at once, for good.
    s = await pageOnPacs({ known_nodes: [{ ae_title: 'NOWHERE', host: '127.0.0.1', port: 1 }] as never, jobs: { max_attempts: 1 } });
    const stored = await s.pacs.server.httpServer!.inject({ method: 'POST', url: '/api/instances', payload: fs.readFileSync(CT), headers: { 'content-type': 'application/dicom' } });
    assert.equal(stored.statusCode, 201, stored.body);
  });
  after(async () => {
    await s?.close();
  });
  const page = () => s.w.page;
  let visits = 0;
  /** Loads the page afresh at `hash` (going to the same hash again would change nothing). */
  const open = (hash: string) => page().goto(`${s.base}/?visit=${++visits}${hash}`);
  const sends = async () => (await s.pacs.server.archive.index.jobs.list({ type: 'send', limit: 100, offset: 0 })).total;

  test('the known nodes cannot be listed: said beside Send, which is disabled (not "add a node first")', async () => {
    await page().route('**/api/nodes', (route) => route.fulfill(problem(503, 'Unavailable', 'the index is restarting')));
    try {
      await open(`#/study/${CT_STUDY}`);
      await page().waitForSelector('#send-state');
      assert.match(await page().locator('#send-state').innerText(), /Cannot list the known nodes: Unavailable: the index is restarting/, await s.failed('nodes-failed'));
      assert.ok(await page().isDisabled('#send'));
    } finally {
      await page().unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  test('Send: a double click queues one job', async () => {
    const before = await sends();
    await open(`#/study/${CT_STUDY}`);
    await page().waitForSelector('#send:not([disabled])');
    await page().selectOption('#send-node', 'NOWHERE');
    await page().dblclick('#send');
    await waitForText(page(), '#send-state', /: failed/, 20_000);
    assert.equal((await sends()) - before, 1, 'one job for a double click');
  });

  test("Send: the job's state is watched through a failed poll to its end", async () => {
    let failOnce = true;
    await page().route(/\/api\/jobs\/\d+$/, (route) => {
      if (!failOnce) return route.continue();
      failOnce = false;
      return route.fulfill(problem(503, 'Unavailable', 'restarting'));
    });
    try {
      await open(`#/study/${CT_STUDY}`);
      await page().waitForSelector('#send:not([disabled])');
      await page().selectOption('#send-node', 'NOWHERE');
      await page().click('#send');
      await waitForText(page(), '#send-state', /: failed/, 20_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; said: ${await page().locator('#send-state').innerText()}; ${await s.failed('send-watch')}`);
      });
      assert.equal(failOnce, false, 'a poll failed on the way');
    } finally {
      await page().unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  test("leaving the study page ends the watching of its job: the poll under way is aborted", async () => {
    let asked!: (r: Request) => void;
    const polled = new Promise<Request>((resolve) => (asked = resolve));
    // Polls are left unanswered: only leaving the page ends them.
    await page().route(/\/api\/jobs\/\d+$/, (route) => asked(route.request()));
    try {
      await open(`#/study/${CT_STUDY}`);
      await page().waitForSelector('#send:not([disabled])');
      await page().selectOption('#send-node', 'NOWHERE');
      await page().click('#send');
      const poll = await polled;
      const aborted = page().waitForEvent('requestfailed', { predicate: (r) => r === poll, timeout: 10_000 });
      await page().evaluate(() => ((globalThis as unknown as { location: { hash: string } }).location.hash = '#/nodes'));
      assert.match((await aborted).failure()?.errorText ?? '', /ABORTED/);
    } finally {
      await page().unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  test('Delete: files the server could not remove are said, not reported as a clean delete', async () => {
    await page().route(`**/api/studies/${CT_STUDY}`, (route) =>
      route.request().method() === 'DELETE' ? route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ deleted: 1, bytes: 39206, leftFiles: ['P/1/2/3.dcm'] }) }) : route.continue(),
    );
    try {
      await open(`#/study/${CT_STUDY}`);
      await page().waitForSelector('#delete');
      page().once('dialog', (d) => void d.accept());
      await page().click('#delete');
      await waitForText(page(), '#toast', /could not be removed/);
      assert.match(await page().locator('#toast').innerText(), /^Deleted 1 instances \(38\.3 KB\)\. 1 file could not be removed from the storage: the server removes it at its next start/);
    } finally {
      await page().unrouteAll({ behavior: 'ignoreErrors' });
    }
  });

  test('Worklist: a double click on Schedule makes one entry', async () => {
    const posts: string[] = [];
    const count = (r: Request) => void (r.method() === 'POST' && r.url().endsWith('/api/worklist') && posts.push(r.url()));
    page().on('request', count);
    try {
      await open(`#/worklist`);
      await page().fill('#worklist-form input[name=PatientID]', 'DOUBLE');
      await page().fill('#worklist-form input[name=ScheduledProcedureStepStartDate]', '20260312');
      await page().dblclick('#worklist-form button[type=submit]');
      await page().waitForSelector('#worklist tbody tr[data-id]');
      assert.deepEqual(posts.length, 1, 'one POST for a double click');
    } finally {
      page().off('request', count);
    }
    assert.equal(await page().locator('#worklist tbody tr[data-id]', { hasText: 'DOUBLE' }).count(), 1);
  });

  test('Worklist: Cancel asks first', async () => {
    const entry = await s.pacs.server.archive.worklist.create({
      '00100020': { vr: 'LO', Value: ['CANCELME'] },
      '00400100': { vr: 'SQ', Value: [{ '00080060': { vr: 'CS', Value: ['CT'] }, '00400002': { vr: 'DA', Value: ['20260312'] } }] },
    });
    await open('#/worklist');
    const row = page().locator(`#worklist tbody tr[data-id="${entry.id}"]`);
    await row.waitFor();
    const asked = page().waitForEvent('dialog', { timeout: 10_000 });
    // The click ends once its dialog is answered.
    const clicked = row.locator('button', { hasText: 'Cancel' }).click();
    const dialog = await asked;
    assert.match(dialog.message(), /Cancel the step of CANCELME/);
    await dialog.dismiss();
    await clicked;
    const status = async () => (await s.pacs.server.archive.worklist.get(entry.id)).status;
    assert.equal(await status(), 'SCHEDULED', 'kept when the user says no');
    page().once('dialog', (d) => void d.accept());
    await row.locator('button', { hasText: 'Cancel' }).click();
    await row.waitFor({ state: 'detached' });
    assert.equal(await status(), 'CANCELED');
  });

  test('a refused study search is said in the table; the form stays to correct it', async () => {
    await page().route('**/api/studies?*', (route) => route.fulfill(problem(400, 'Bad Request', 'PatientName: a wildcard the server refuses')));
    try {
      await open(`#/?name=x`);
      await page().waitForSelector('#studies-error');
      assert.equal(await page().locator('#studies-error').innerText(), 'Bad Request: PatientName: a wildcard the server refuses');
      assert.equal(await page().inputValue('#study-search input[name=name]'), 'x', 'the form is still there, as filled');
    } finally {
      await page().unrouteAll({ behavior: 'ignoreErrors' });
    }
    await page().fill('#study-search input[name=name]', '');
    await page().click('#study-search button[type=submit]');
    await page().waitForSelector(`#studies tbody tr[data-uid="${CT_STUDY}"]`);
  });
});
