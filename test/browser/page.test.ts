// The web page in headless Chromium, as a person uses it: the study list shows a study sent by
// storescu and finds it by patient ID, and a name by its start; the study page shows its series
// thumbnails (real images, not blanks); a file dropped on the upload page is stored; a node is
// added and echoed; a study is sent to storescp from the study page; the status page shows the
// stores; no page breaks its Content-Security-Policy; a study is deleted after confirming.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { Browser } from 'playwright-core';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { launchBrowser, newPage, pixelStats, saveScreenshot, waitForText, type WatchedPage } from '../helpers/browser.js';

const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const CT_FILES = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('pydicom-dicomdir__77654033_CT2_')).map((f) => path.join(SAMPLES, f));
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');
// The dicomdir CT images are 16×16 stand-ins; this one is a real 128×128 slice.
const CT_SMALL = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_SMALL_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const UPLOAD = path.join(SAMPLES, 'pydicom-dicomdir__77654033_CR1_6154.dcm');

describe('web page (headless Chromium)', () => {
  let pacs: TestPacs;
  let base: string;
  let browser: Browser;
  let w: WatchedPage;
  const daemons: ChildProcess[] = [];
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    const address = pacs.server.httpServer!.server.address();
    base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...CT_FILES, MR, CT_SMALL]);
    assert.equal(r.code, 0, r.stderr);
    browser = await launchBrowser();
    w = await newPage(browser);
  });
  after(async () => {
    for (const d of daemons) d.kill();
    await browser?.close();
    await pacs.stop();
  });
  const failed = async (name: string): Promise<string> => `screenshot: ${await saveScreenshot(w.page, name)}; problems: ${w.problems.join(' | ')}`;

  test('the study list shows the studies sent by storescu, newest first, and finds one by patient ID', async () => {
    const answer = await w.page.goto(`${base}/`);
    assert.match(answer?.headers()['content-security-policy'] ?? '', /^default-src 'self'; /, 'the page runs under its Content-Security-Policy');
    await w.page.waitForSelector('#studies tbody tr[data-uid]');
    const rows = await w.page.locator('#studies tbody tr[data-uid]').count();
    assert.equal(rows, 3, await failed('list'));
    await w.page.fill('input[name=id]', '77654033');
    await w.page.click('#study-search button[type=submit]');
    await w.page.locator('#studies tbody tr[data-uid]').nth(1).waitFor({ state: 'detached' });
    assert.equal(await w.page.locator('#studies tbody tr[data-uid]').getAttribute('data-uid'), CT_STUDY);
    assert.match(await w.page.locator('#count').innerText(), /1–1/);
  });

  test('the study page shows the attributes and a real thumbnail per series', async () => {
    await w.page.click(`#studies tbody tr[data-uid="${CT_STUDY}"]`);
    await w.page.waitForSelector('dl.attrs');
    assert.match(await w.page.locator('dl.attrs').innerText(), /77654033/);
    assert.equal(await w.page.locator('#open-viewer').getAttribute('href'), `/viewer/viewer?StudyInstanceUIDs=${CT_STUDY}`);
    await w.page.goto(`${base}/#/study/${CT_SMALL_STUDY}`);
    await w.page.waitForSelector('#series .card img');
    // A function, not a string: the page's Content-Security-Policy forbids eval (waitForText).
    type Images = { document: { querySelectorAll(s: string): Iterable<{ complete: boolean; naturalWidth: number }> } };
    await w.page.waitForFunction(() => [...(globalThis as unknown as Images).document.querySelectorAll('#series .card img')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 30_000 });
    const card = w.page.locator('#series .card').first();
    const shot = await card.locator('img').screenshot();
    const stats = pixelStats(shot);
    assert.ok(stats.variance > 100 && stats.levels > 20, `thumbnail is an image (variance ${stats.variance}, ${stats.levels} levels); ${await failed('thumbnail')}`);
  });

  test('a name matches from its start; a * the user types is a wildcard', async () => {
    await w.page.goto(`${base}/#/?name=samples`);
    await w.page.locator('#studies td', { hasText: 'No study matches.' }).waitFor();
    await w.page.goto(`${base}/#/?name=compressed`);
    await w.page.locator('#studies tbody tr[data-uid]').nth(1).waitFor();
    await w.page.goto(`${base}/#/?name=*samples*`);
    await w.page.locator('#studies tbody tr[data-uid]').nth(1).waitFor();
    assert.equal(await w.page.locator('#studies tbody tr[data-uid]').count(), 2, 'the two CompressedSamples studies');
    assert.match(await w.page.locator('#search-hint').innerText(), /\* and \? are wildcards/);
  });

  test('a name as the list shows it ("Family, Given") finds its study; a study opens from the keyboard; Clear on the bare list empties the form', async () => {
    await w.page.goto(`${base}/#/?id=77654033`);
    const link = w.page.locator('#studies tbody tr[data-uid] a').first();
    await link.waitFor();
    const shown = await link.innerText();
    assert.match(shown, /^[^,^]+, /, `a family name, a comma, the given ones: "${shown}"`);
    await w.page.goto(`${base}/#/`);
    await w.page.fill('input[name=name]', shown);
    await w.page.click('#study-search button[type=submit]');
    await w.page.locator('#studies tbody tr[data-uid]').nth(1).waitFor({ state: 'detached' });
    assert.equal(await w.page.locator('#studies tbody tr[data-uid]').getAttribute('data-uid'), CT_STUDY, await failed('name as shown'));
    // The row's link takes the focus and opens the study with Enter.
    await w.page.locator('#studies tbody tr[data-uid] a').first().focus();
    await w.page.keyboard.press('Enter');
    await w.page.waitForSelector('dl.attrs');
    // On the bare list (#/), Clear set the same hash: nothing happened, the typed text stayed.
    await w.page.goto(`${base}/#/`);
    await w.page.waitForSelector('#studies tbody tr[data-uid]');
    await w.page.fill('input[name=id]', 'typed');
    await w.page.click('#study-search button[type=button]');
    await w.page.waitForFunction(() => (globalThis as unknown as { document: { querySelector(s: string): { value: string } | null } }).document.querySelector('input[name=id]')?.value === '');
  });

  test('upload: a file chosen on the upload page is stored', async () => {
    await w.page.goto(`${base}/#/upload`);
    await w.page.setInputFiles('#file-input', UPLOAD);
    await waitForText(w.page, '#upload-summary', /1 of 1 files stored/, 30_000);
    const stats = await pacs.server.archive.index.statistics();
    assert.equal(stats.studies, 4);
  });

  test('nodes: add storescp, echo it; send the study to it from the study page', async () => {
    const port = await freePort();
    const out = fs.mkdtempSync(path.join(pacs.dir, 'rcv-'));
    daemons.push(await startDaemon('storescp', ['-aet', 'WEBRCV', '-od', out, String(port)], port));
    await w.page.goto(`${base}/#/nodes`);
    await w.page.fill('#node-form input[name=ae]', 'WEBRCV');
    await w.page.fill('#node-form input[name=host]', '127.0.0.1');
    await w.page.fill('#node-form input[name=port]', String(port));
    await w.page.click('#node-form button[type=submit]');
    const row = w.page.locator('#nodes tr[data-ae="WEBRCV"]');
    await row.waitFor();
    await row.locator('button', { hasText: 'Echo' }).click();
    await waitForText(w.page, '#nodes tr[data-ae="WEBRCV"]', /OK \(\d+ ms\)/, 20_000);

    await w.page.goto(`${base}/#/study/${CT_STUDY}`);
    await w.page.selectOption('#send-node', 'WEBRCV');
    await w.page.click('#send');
    await waitForText(w.page, '#send-state', /succeeded/, 30_000);
    assert.equal(fs.readdirSync(out).length, CT_FILES.length, await failed('send'));
  });

  test('status page: the recent stores and the counts', async () => {
    await w.page.goto(`${base}/#/status`);
    await w.page.waitForSelector('#stores tbody tr.link');
    assert.match(await w.page.locator('#status-cards').innerText(), /4 \/ 7/);
  });

  test('no page broke a rule of its Content-Security-Policy', async () => {
    for (const hash of ['#/worklist', '#/jobs', '#/upload']) {
      await w.page.goto(`${base}/${hash}`);
      await w.page.waitForSelector('h1');
    }
    assert.deepEqual(w.problems.filter((p) => /Content Security Policy/i.test(p)), []);
  });

  test('delete a study after confirming: it leaves the list', async () => {
    await w.page.goto(`${base}/#/study/${CT_STUDY}`);
    await w.page.waitForSelector('#delete');
    w.page.once('dialog', (d) => void d.accept());
    await w.page.click('#delete');
    await w.page.waitForSelector('#studies tbody tr[data-uid]');
    assert.equal(await w.page.locator(`#studies tbody tr[data-uid="${CT_STUDY}"]`).count(), 0);
    assert.equal(await pacs.server.archive.index.findStudy(CT_STUDY), null);
  });
});
