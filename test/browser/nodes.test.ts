// The Nodes page in headless Chromium: changing a node added before keeps what the form does not
// show by default (its permissions, TLS), and lets one edit them; the page sends every field.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestPacs } from '../helpers/pacs.js';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { type WatchedPage, waitForText } from '../helpers/browser.js';

describe('Nodes page (headless Chromium)', () => {
  let s: PageOnPacs;
  let pacs: TestPacs;
  let base: string;
  let w: WatchedPage;
  before(async () => {
    s = await pageOnPacs();
    ({ pacs, base, w } = s);
  });
  after(async () => {
    await s?.close();
  });
  const failed = (name: string): Promise<string> => s.failed(name);
  const node = async (ae: string) => (await pacs.server.archive.nodes.view(ae))!;

  test('"Change" loads a restricted node; saving a new description keeps its permissions; permissions can be edited', async () => {
    await pacs.server.archive.nodes.put({ ae_title: 'LAB_MR', host: '127.0.0.1', port: 104, tls: false, permissions: ['find'], description: 'old' });
    await w.page.goto(`${base}/#/nodes`);
    const row = w.page.locator('#nodes tr[data-ae="LAB_MR"]');
    await row.waitFor();
    assert.match(await row.innerText(), /find/);
    await row.locator('button', { hasText: 'Change' }).click();
    assert.equal(await w.page.inputValue('#node-form input[name=ae]'), 'LAB_MR');
    const checked = () => w.page.$$eval('#node-form input[name=permissions]:checked', (boxes) => boxes.map((b) => b.getAttribute('value')));
    assert.deepEqual(await checked(), ['find']);
    assert.equal(await w.page.isChecked('#node-form input[name=tls]'), false);
    await w.page.fill('#node-form input[name=description]', 'new');
    await w.page.click('#node-form button[type=submit]');
    await waitForText(w.page, '#nodes tr[data-ae="LAB_MR"]', /new/);
    const kept = await node('LAB_MR');
    assert.deepEqual([kept.description, kept.permissions, kept.tls], ['new', ['find'], false], await failed('nodes-keep'));

    await w.page.locator('#nodes tr[data-ae="LAB_MR"] button', { hasText: 'Change' }).click();
    await w.page.check('#node-form input[name=permissions][value=store]');
    await w.page.uncheck('#node-form input[name=permissions][value=find]');
    await w.page.click('#node-form button[type=submit]');
    await waitForText(w.page, '#nodes tr[data-ae="LAB_MR"]', /store/);
    assert.deepEqual((await node('LAB_MR')).permissions, ['store'], await failed('nodes-edit'));
  });

  test('typing the AE title of a node already added loads its values into the form', async () => {
    await w.page.goto(`${base}/#/nodes`);
    await w.page.locator('#nodes tr[data-ae="LAB_MR"]').waitFor();
    await w.page.fill('#node-form input[name=ae]', 'LAB_MR');
    await w.page.locator('#node-form input[name=ae]').dispatchEvent('change');
    assert.equal(await w.page.inputValue('#node-form input[name=description]'), 'new');
    assert.deepEqual(await w.page.$$eval('#node-form input[name=permissions]:checked', (b) => b.map((x) => x.getAttribute('value'))), ['store']);
  });
});
