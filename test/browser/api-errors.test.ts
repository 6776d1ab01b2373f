// What the page says when the API's answer is not what it expects, in headless Chromium: a 2xx
// that is not JSON (a proxy's login page) is said, not a TypeError of the page reading it; an
// HTML error page (nginx's 502) is its status line, not its markup; no answer at all is "Cannot
// reach the server", not "Failed to fetch"; an answer that never comes ends after 60 s (a fake
// clock runs the minute).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type PageOnPacs, pageOnPacs } from '../helpers/browser-pacs.js';
import { newPage } from '../helpers/browser.js';

const NGINX_502 = '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

describe('API answers the page cannot use (headless Chromium)', () => {
  let s: PageOnPacs;
  before(async () => {
    s = await pageOnPacs();
  });
  after(async () => {
    await s?.close();
  });

  /** The study list, its /api/studies call answered by `answer`; what the page then says. */
  const studiesSay = async (search: string, answer: Parameters<typeof s.w.page.route>[1]): Promise<string> => {
    const { page } = s.w;
    await page.route('**/api/studies?*', answer);
    try {
      await page.goto(`${s.base}/#/?${search}`);
      await page.waitForSelector('.error');
      return await page.locator('#main').innerText();
    } finally {
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    }
  };

  test('a 2xx that is not JSON (a login page) is said as such', async () => {
    const said = await studiesSay('name=a', (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<html><form>Log in</form></html>' }));
    assert.match(said, /answered 200 with text\/html instead of JSON/, `${said}; ${await s.failed('not-json')}`);
  });

  test('an HTML error page is its status line, not its markup', async () => {
    const said = await studiesSay('name=b', (route) => route.fulfill({ status: 502, contentType: 'text/html', body: NGINX_502 }));
    assert.match(said, /502 Bad Gateway/);
    assert.doesNotMatch(said, /<html|<center|nginx/, said);
  });

  test('no answer at all: "Cannot reach the server"', async () => {
    const said = await studiesSay('name=c', (route) => route.abort('connectionrefused'));
    assert.match(said, /Cannot reach the server/, said);
    assert.doesNotMatch(said, /Failed to fetch/);
  });

  test('an answer that never comes: given up after 60 s', async () => {
    const w = await newPage(s.browser);
    try {
      await w.page.clock.install();
      let asked!: () => void;
      const held = new Promise<void>((resolve) => (asked = resolve));
      // Never answered: only the page's own time limit ends the wait.
      await w.page.route('**/api/studies?*', () => asked());
      await w.page.goto(`${s.base}/#/`);
      await held;
      await w.page.clock.fastForward(61_000);
      await w.page.waitForSelector('.error');
      assert.match(await w.page.locator('#main').innerText(), /No answer from the server within 60 s/);
    } finally {
      await w.page.close();
    }
  });
});
