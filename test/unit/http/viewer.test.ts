// /viewer without a browser: a stand-in bundle served with the app's fallback, our generated
// app-config.js, cross-origin isolation and anti-framing headers on every answer, and a clear page
// when the bundle is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import Fastify from 'fastify';
import { registerViewer, viewerConfig } from '../../../src/http/viewer.js';

function fakeBundle(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-viewer-'));
  fs.mkdirSync(path.join(dir, 'dist'));
  fs.writeFileSync(path.join(dir, 'ohif-viewer.json'), JSON.stringify({ package: '@ohif/app', version: '0.0.0-test' }));
  fs.writeFileSync(path.join(dir, 'dist', 'index.html'), '<!doctype html><title>OHIF</title>');
  fs.writeFileSync(path.join(dir, 'dist', 'app.bundle.0123456789abcdef0123.js'), 'console.log(1)');
  fs.writeFileSync(path.join(dir, 'dist', 'app.bundle.0123456789abcdef0123.js.gz'), Buffer.from([0x1f, 0x8b]));
  return dir;
}

const isolated = (headers: Record<string, unknown>): void => {
  assert.equal(headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(headers['cross-origin-embedder-policy'], 'require-corp');
  // Framed by our own pages only (clickjacking).
  assert.equal(headers['content-security-policy'], "frame-ancestors 'self'");
  assert.equal(headers['x-frame-options'], 'SAMEORIGIN');
};

test('the viewer: files, app routes as index.html, no HTML for a missing file, COOP/COEP everywhere', async () => {
  const app = Fastify();
  const bundle = await registerViewer(app, { dir: fakeBundle() });
  assert.deepEqual(bundle, { package: '@ohif/app', version: '0.0.0-test' });
  for (const url of ['/viewer', '/viewer/', '/viewer/viewer?StudyInstanceUIDs=1.2.3', '/viewer/segmentation?StudyInstanceUIDs=1.2.3']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 200, url);
    assert.match(res.body, /<title>OHIF<\/title>/, url);
    assert.equal(res.headers['cache-control'], 'no-cache', url);
    isolated(res.headers);
  }
  const js = await app.inject('/viewer/app.bundle.0123456789abcdef0123.js');
  assert.equal(js.body, 'console.log(1)');
  assert.match(String(js.headers['cache-control']), /immutable/);
  isolated(js.headers);
  const gz = await app.inject({ url: '/viewer/app.bundle.0123456789abcdef0123.js', headers: { 'accept-encoding': 'gzip' } });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  const missing = await app.inject('/viewer/9999.bundle.0123456789abcdef0123.js');
  assert.equal(missing.statusCode, 404);
  assert.match(String(missing.headers['content-type']), /problem\+json/);
  isolated(missing.headers);
  const config = await app.inject('/viewer/app-config.js');
  assert.equal(config.statusCode, 200);
  assert.match(String(config.headers['content-type']), /javascript/);
  isolated(config.headers);
  await app.close();
});

test('app-config.js: one data source, our DICOMweb on the page origin, router base /viewer', () => {
  const window = { location: { origin: 'http://pacs.example:8080' } } as { location: { origin: string }; config?: Record<string, unknown> };
  vm.runInNewContext(viewerConfig(), { window });
  const c = JSON.parse(JSON.stringify(window.config)) as { routerBasename: string; showStudyList: boolean; extensions: unknown[]; modes: unknown[]; dataSources: { configuration: Record<string, unknown> }[]; defaultDataSourceName: string };
  assert.equal(c.routerBasename, '/viewer');
  assert.equal(c.showStudyList, true);
  assert.deepEqual([c.extensions, c.modes], [[], []]);
  assert.equal(c.dataSources.length, 1);
  const ds = c.dataSources[0]!.configuration;
  assert.equal(ds.qidoRoot, 'http://pacs.example:8080/dicom-web');
  assert.equal(ds.wadoRoot, 'http://pacs.example:8080/dicom-web');
  assert.equal(ds.wadoUriRoot, 'http://pacs.example:8080/wado');
  assert.equal(ds.imageRendering, 'wadors');
  assert.equal(ds.enableStudyLazyLoad, true);
  assert.equal(ds.supportsFuzzyMatching, true);
  assert.equal(ds.supportsWildcard, true);
  assert.equal(c.defaultDataSourceName, (c.dataSources[0] as unknown as { sourceName: string }).sourceName);
  assert.doesNotMatch(viewerConfig(), /https?:\/\//, 'no absolute URL of any other site');
});

test('without the bundle, /viewer says so and how to get it', async () => {
  const app = Fastify();
  assert.equal(await registerViewer(app, { dir: path.join(os.tmpdir(), 'no-such-viewer') }), null);
  for (const url of ['/viewer', '/viewer/viewer?StudyInstanceUIDs=1']) {
    const res = await app.inject(url);
    assert.equal(res.statusCode, 503, url);
    assert.match(res.body, /not installed/);
    assert.match(res.body, /npm run viewer:fetch/);
  }
  await app.close();
});
