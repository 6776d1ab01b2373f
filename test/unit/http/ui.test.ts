// The web page and its files may be framed by our own pages only: another site showing the study
// list (with its Delete button) in an invisible frame could trick a logged-in user into clicking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { registerUi } from '../../../src/http/ui.js';

test('the page and its files: Content-Security-Policy frame-ancestors \'self\' and X-Frame-Options SAMEORIGIN', async () => {
  const app = Fastify();
  await registerUi(app);
  for (const url of ['/', '/ui/index.html', '/ui/js/main.js', '/ui/style.css']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 200, url);
    assert.equal(res.headers['content-security-policy'], "frame-ancestors 'self'", url);
    assert.equal(res.headers['x-frame-options'], 'SAMEORIGIN', url);
  }
});
