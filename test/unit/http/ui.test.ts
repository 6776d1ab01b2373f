// The web page and its files carry the page's Content-Security-Policy: scripts, styles and calls
// from this server only, images also as data: and blob: URLs, no plugins, no <base>, and framed
// by no page (another site showing the study list with its Delete button in an invisible frame
// could trick a logged-in user into clicking). The browser tests run the page under it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { registerUi } from '../../../src/http/ui.js';

test("the page and its files: the page's Content-Security-Policy, framed by none", async () => {
  const app = Fastify();
  await registerUi(app);
  for (const url of ['/', '/ui/index.html', '/ui/js/main.js', '/ui/style.css']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 200, url);
    assert.equal(res.headers['content-security-policy'], "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'", url);
    assert.equal(res.headers['x-frame-options'], 'DENY', url);
  }
});
