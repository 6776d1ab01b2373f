// Pages that refresh themselves, in headless Chromium: the Jobs page keeps refreshing after a
// Retry (it re-rendered once and stopped), rebuilds only the rows that changed, and polls every
// second only while a job is due or runs; the Status page goes on after a failed poll (one error
// ended its refreshing for good), and changes its values in place (it was rebuilt every 2 s).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES } from '../helpers/dcmtk.js';
import type { TestPacs } from '../helpers/pacs.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { type WatchedPage, waitForText } from '../helpers/browser.js';

describe('self-refreshing pages (headless Chromium)', () => {
  let s: PageOnPacs;
  let pacs: TestPacs;
  let base: string;
  let w: WatchedPage;
  before(async () => {
    s = await pageOnPacs({ known_nodes: [{ ae_title: 'NOWHERE', host: '127.0.0.1', port: 1 }] });
    ({ pacs, base, w } = s);
  });
  after(async () => {
    await s?.close();
  });
  const failed = (name: string): Promise<string> => s.failed(name);

  test('Jobs: after Retry the page refreshes until the job ends', async () => {
    // No workers: a queued job stays queued until this test changes it.
    await pacs.server.jobs.stop();
    const job = await pacs.server.jobs.enqueue('send', { destination: 'NOWHERE', level: 'STUDY', uids: ['1.2.3'] });
    await pacs.server.jobs.cancel(job.id);
    await w.page.goto(`${base}/#/jobs`);
    const state = w.page.locator(`#jobs tr[data-id="${job.id}"] td.state-canceled, #jobs tr[data-id="${job.id}"] td.state-queued`);
    await w.page.locator(`#jobs tr[data-id="${job.id}"] td.state-canceled`).waitFor();
    await w.page.locator(`#jobs tr[data-id="${job.id}"] button`, { hasText: 'Retry' }).click();
    await w.page.locator(`#jobs tr[data-id="${job.id}"] td.state-queued`).waitFor();
    // Changed behind the page's back: only a refresh shows it.
    await pacs.server.jobs.cancel(job.id);
    await w.page.locator(`#jobs tr[data-id="${job.id}"] td.state-canceled`).waitFor({ timeout: 5000 }).catch(async () => assert.fail(`still ${await state.innerText()}; ${await failed('jobs-refresh')}`));
  });

  test('Jobs: a refresh rebuilds only the rows that changed (a click or an open menu on the others survives)', async () => {
    await pacs.server.jobs.stop();
    const waiting = await pacs.server.jobs.enqueue('send', { destination: 'NOWHERE', level: 'STUDY', uids: ['1.2.4'] });
    const still = await pacs.server.jobs.enqueue('send', { destination: 'NOWHERE', level: 'STUDY', uids: ['1.2.5'] });
    await pacs.server.jobs.cancel(still.id);
    await w.page.goto(`${base}/#/jobs`);
    await w.page.locator(`#jobs tr[data-id="${waiting.id}"] td.state-queued`).waitFor();
    const row = await w.page.$(`#jobs tr[data-id="${still.id}"]`);
    const filter = await w.page.$('select[aria-label=State]');
    await pacs.server.jobs.cancel(waiting.id);
    await w.page.locator(`#jobs tr[data-id="${waiting.id}"] td.state-canceled`).waitFor({ timeout: 10_000 });
    assert.equal(await row!.evaluate((el) => el.isConnected), true, `the unchanged row was rebuilt; ${await failed('jobs-rows')}`);
    assert.equal(await filter!.evaluate((el) => el.isConnected), true, 'the state menu was rebuilt');
  });

  test('Jobs: polled every second while a job is due or runs, every 10 s while all wait out a back-off', async () => {
    await pacs.server.jobs.stop();
    const inAnHour = new Date(Date.now() + 3_600_000);
    await pacs.server.archive.index.jobs.enqueue({ type: 'send', payload: { destination: 'NOWHERE', level: 'STUDY', uids: ['1.2.6'] }, maxAttempts: 3, runAfter: inAnHour });
    await w.page.goto(`${base}/#/jobs?state=queued`);
    await w.page.waitForSelector('#jobs tr[data-id]');
    assert.equal(await w.page.locator('#jobs-refresh').innerText(), 'refreshed every 10 s');
    const due = await pacs.server.jobs.enqueue('send', { destination: 'NOWHERE', level: 'STUDY', uids: ['1.2.7'] });
    await w.page.goto(`${base}/#/jobs?state=queued&offset=0`);
    await w.page.waitForSelector(`#jobs tr[data-id="${due.id}"]`);
    assert.equal(await w.page.locator('#jobs-refresh').innerText(), 'refreshed every 1 s');
    await pacs.server.jobs.cancel(due.id);
  });

  test('Status: a failed poll is said, and the page goes on refreshing', async () => {
    let polls = 0;
    let failNext = false;
    await w.page.route('**/api/status', async (route) => {
      if (failNext) {
        failNext = false;
        return route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ title: 'Unavailable', detail: 'restarting' }) });
      }
      polls++;
      return route.continue();
    });
    await w.page.goto(`${base}/#/status`);
    await w.page.waitForSelector('#status-cards');
    failNext = true;
    await waitForText(w.page, '#toast', /Could not refresh/, 10_000);
    const after = polls;
    for (let i = 0; i < 60 && polls < after + 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(polls >= after + 2, `polls after the failure: ${polls - after}; ${await failed('status-refresh')}`);
    assert.equal(await w.page.locator('#status-cards').count(), 1, 'the page stays, not replaced by an error');
    await w.page.unroute('**/api/status');
  });

  test('Status: new values come in place; the page, its cards and unchanged rows stay the same elements', async () => {
    await w.page.goto(`${base}/#/status`);
    await w.page.waitForSelector('#status-cards');
    const before = await w.page.locator('#status-cards').innerText();
    const cards = await w.page.$('#status-cards');
    const heading = await w.page.$('#main h1');
    const errors = await w.page.$('#errors tbody tr');
    // Something new to show: an instance stored.
    const up = await fetch(`${base}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: fs.readFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm')) });
    assert.equal(up.status, 201);
    await waitForText(w.page, '#stores tbody', /CT/, 10_000);
    assert.notEqual(await w.page.locator('#status-cards').innerText(), before);
    for (const [name, el] of [['the cards', cards], ['the heading', heading], ['the errors row', errors]] as const)
      assert.equal(await el!.evaluate((e) => e.isConnected), true, `${name} rebuilt; ${await failed('status-in-place')}`);
  });
});
