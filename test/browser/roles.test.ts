// The web page follows the caller's role, in headless Chromium: the header says who is signed in;
// what the server would refuse is disabled with a title naming the role it needs (it used to
// show for everyone and end in 403); "Log in" answers the server's Basic challenge (Playwright's
// httpCredentials stand for the person typing into the browser's dialog); the job buttons follow
// the server's rule (write for the API's sends, admin for a rule's jobs).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { SAMPLES } from '../helpers/dcmtk.js';
import { basic, ROLE_USERS } from '../helpers/http-users.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { waitForText } from '../helpers/browser.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';

describe('roles on the web page (headless Chromium)', () => {
  let s: PageOnPacs;
  let page: Page;
  let apiJob: number;
  let ruleJob: number;
  before(async () => {
    s = await pageOnPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', users: [...ROLE_USERS] }, known_nodes: [{ ae_title: 'NOWHERE', host: '127.0.0.1', port: 1 }] as never });
    const web = s.pacs.server.httpServer!;
    const stored = await web.inject({ method: 'POST', url: '/api/instances', payload: fs.readFileSync(CT), headers: { 'content-type': 'application/dicom', ...basic('boss', 'b-secret') } });
    assert.equal(stored.statusCode, 201, stored.body);
    // Queued for a day from now: no worker runs them while the page shows them.
    const later = new Date(Date.now() + 86_400_000);
    const add = async (payload: Record<string, unknown>) => (await s.pacs.server.archive.index.jobs.enqueue({ type: 'send', payload, maxAttempts: 1, runAfter: later })).job.id;
    apiJob = await add({ destination: 'NOWHERE', level: 'STUDY', uids: [CT_STUDY] });
    ruleJob = await add({ rule: 'lab-b', destination: 'NOWHERE', level: 'STUDY', uids: [CT_STUDY] });
    // The browser's password dialog, answered as "writer" would.
    const context = await s.browser.newContext({ httpCredentials: { username: 'writer', password: 'w-secret' } });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
  });
  after(async () => {
    await s?.close();
  });

  const who = () => page.locator('#me-name').innerText();
  const title = (selector: string) => page.locator(selector).getAttribute('title');

  test('anonymous (read): the header says so; Send and Delete are disabled, naming the role they need', async () => {
    await page.goto(`${s.base}/#/study/${CT_STUDY}`);
    await page.waitForSelector('dl.attrs');
    assert.equal(await who(), 'anonymous (read)');
    assert.equal(await page.locator('#log-in').count(), 1, 'a log-in would give more');
    assert.ok(await page.isDisabled('#send'));
    assert.match((await title('#send')) ?? '', /write role/);
    assert.ok(await page.isDisabled('#delete'));
    assert.match((await title('#delete')) ?? '', /admin role/);
    await page.goto(`${s.base}/#/upload`);
    assert.ok(await page.isDisabled('#file-input'), 'upload needs write');
    await page.goto(`${s.base}/#/worklist`);
    assert.ok(await page.isDisabled('#worklist-form button[type=submit]'), 'scheduling needs write');
  });

  test('"Log in" (as writer): the header names the user; what write may do is enabled, what needs admin is not', async () => {
    await page.goto(`${s.base}/#/study/${CT_STUDY}`);
    await page.click('#log-in');
    await waitForText(page, '#me-name', /^Signed in as writer \(write\)$/);
    assert.equal(await page.locator('#log-in').count(), 0);
    await page.waitForSelector('#send:not([disabled])');
    assert.ok(await page.isDisabled('#delete'), 'delete needs admin');

    await page.goto(`${s.base}/#/nodes`);
    await page.locator('#nodes tr[data-ae="NOWHERE"]').waitFor();
    assert.ok(await page.isEnabled('#nodes tr[data-ae="NOWHERE"] button:has-text("Echo")'), 'echo is write');
    assert.ok(await page.isDisabled('#node-form button[type=submit]'), 'changing nodes is admin');
  });

  test('jobs: Cancel follows the server\'s rule, write for a send of the API, admin for a rule\'s', async () => {
    await page.goto(`${s.base}/#/jobs`);
    const cancel = (id: number) => `#jobs tr[data-id="${id}"] button:has-text("Cancel")`;
    await page.locator(cancel(apiJob)).waitFor();
    assert.equal(await who(), 'Signed in as writer (write)', 'the log-in holds on the next pages');
    assert.ok(await page.isEnabled(cancel(apiJob)));
    assert.ok(await page.isDisabled(cancel(ruleJob)));
    assert.match((await title(cancel(ruleJob))) ?? '', /admin role/);
    // And it works: the browser sends the writer's credentials with the cancel.
    await page.click(cancel(apiJob));
    await page.locator(`#jobs tr[data-id="${apiJob}"] td.state-canceled`).waitFor();
    assert.equal((await s.pacs.server.archive.index.jobs.get(apiJob))?.state, 'canceled', await s.failed('roles-cancel'));
  });
});
