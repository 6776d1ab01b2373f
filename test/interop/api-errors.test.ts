// Errors through the web server: a stored file missing from disk is a 404 problem that names no
// path; an unexpected failure a 500 with a generic detail; a client that leaves mid-upload is
// recorded as 499 (client closed request), not as a server failure.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('HTTP errors', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  let auditFile = '';
  before(async () => {
    auditFile = path.join(fs.mkdtempSync('/tmp/pacs-audit-'), 'audit.jsonl');
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', viewer: false }, logging: { audit_file: auditFile } });
    web = pacs.server.httpServer!;
  });
  after(async () => {
    await pacs.stop();
    fs.rmSync(path.dirname(auditFile), { recursive: true, force: true });
  });

  test('a DICOM or octet-stream body to a JSON route: 415, nothing changed, the server still up', async () => {
    // Once the upload's raw-stream parser served every /api route: a JSON route's body schema then
    // ran over the request stream itself, and this PUT brought the whole process down.
    const address = web.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    for (const type of ['application/octet-stream', 'application/dicom', 'multipart/related; type="application/dicom"; boundary=b'])
      for (const [method, url] of [
        ['PUT', '/api/nodes/CRASH'],
        ['POST', '/api/worklist'],
        ['PUT', '/api/studies/1.2.3/protected'],
      ] as const) {
        const r = await fetch(`${base}${url}`, { method, headers: { 'content-type': type }, body: 'x' });
        assert.equal(r.status, 415, `${method} ${url} ${type}: ${await r.text()}`);
        assert.equal((await fetch(`${base}/health/live`)).status, 200);
      }
    assert.equal((await fetch(`${base}/api/nodes/CRASH`)).status, 404);
  });

  test('a method a path does not take: 405 with Allow naming those it does; a path nobody serves: 404', async () => {
    const put = await web.inject({ method: 'PUT', url: '/api/jobs' });
    assert.equal(put.statusCode, 405, put.body);
    assert.equal(put.headers.allow, 'GET, HEAD');
    assert.deepEqual(put.json<{ status: number; title: string; code: string }>(), { ...put.json(), status: 405, title: 'Method Not Allowed', code: 'METHOD_NOT_ALLOWED' });
    const post = await web.inject({ method: 'POST', url: '/api/nodes/X?x=1' });
    assert.equal(post.statusCode, 405, post.body);
    assert.deepEqual(post.headers.allow?.toString().split(', ').sort(), ['DELETE', 'GET', 'HEAD', 'PUT']);
    const stow = await web.inject({ method: 'DELETE', url: '/dicom-web/studies' });
    assert.equal(stow.statusCode, 405, stow.body);
    assert.match(String(stow.headers.allow), /POST/);
    // A static file that is not there is a 404 for GET and HEAD (the route exists; the file does not).
    for (const method of ['GET', 'HEAD'] as const) {
      const missing = await web.inject({ method, url: '/ui/js/no-such-file.js' });
      assert.equal(missing.statusCode, 404, `${method} ${missing.body}`);
    }
    assert.equal((await web.inject({ method: 'OPTIONS', url: '/api/jobs' })).statusCode, 404, 'OPTIONS does not probe which paths exist');
    const none = await web.inject({ method: 'PUT', url: '/api/no-such-thing' });
    assert.equal(none.statusCode, 404, none.body);
    assert.equal(none.headers.allow, undefined);
  });

  test('a study delete failing part-way says how many of its instances are gone; sent again it deletes the rest; then 404', async () => {
    const files = ['17106', '17136', '17166', '17196'].map((n) => fs.readFileSync(path.join(SAMPLES, `pydicom-dicomdir__77654033_CT2_${n}.dcm`)));
    let study = '';
    for (const f of files) {
      const up = await web.inject({ method: 'POST', url: '/api/instances', payload: f, headers: { 'content-type': 'application/dicom' } });
      assert.equal(up.statusCode, 201, up.body);
      study = up.json<{ StudyInstanceUID: string }>().StudyInstanceUID;
    }
    const index = pacs.server.archive.index;
    const deleteInstance = index.deleteInstance.bind(index);
    let calls = 0;
    index.deleteInstance = (uid: string) => (++calls === 3 ? Promise.reject(new Error('EIO: i/o error')) : deleteInstance(uid));
    try {
      const r = await web.inject({ method: 'DELETE', url: `/api/studies/${study}` });
      assert.equal(r.statusCode, 500, r.body);
      assert.match(r.json<{ detail: string }>().detail, /^2 of the 4 instances of study .* were deleted before a failure/);
      assert.doesNotMatch(r.body, /EIO/);
    } finally {
      index.deleteInstance = deleteInstance;
    }
    const again = await web.inject({ method: 'DELETE', url: `/api/studies/${study}` });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json<{ deleted: number }>().deleted, 2);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/studies/${study}` })).statusCode, 404);
  });

  test('the file of an instance missing on disk: 404 problem without the path', async () => {
    const up = await web.inject({ method: 'POST', url: '/api/instances', payload: fs.readFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm')), headers: { 'content-type': 'application/dicom' } });
    assert.equal(up.statusCode, 201, up.body);
    const loc = (await pacs.server.archive.index.findInstance(up.json<{ SOPInstanceUID: string }>().SOPInstanceUID))!;
    fs.rmSync(path.join(pacs.storageDir, loc.path));
    const r = await web.inject({ method: 'GET', url: `/api/instances/${loc.SOPInstanceUID}/file` });
    assert.equal(r.statusCode, 404, r.body);
    assert.match(String(r.headers['content-type']), /problem\+json/);
    assert.doesNotMatch(r.body, /ENOENT|\/tmp|archive/);
  });

  test('an unexpected failure: 500 with a generic detail, not the error message', async () => {
    const index = pacs.server.archive.index;
    const statistics = index.statistics.bind(index);
    index.statistics = () => Promise.reject(new Error(`EIO: i/o error, read '${pacs.storageDir}/secret'`));
    try {
      const r = await web.inject({ method: 'GET', url: '/api/statistics' });
      assert.equal(r.statusCode, 500);
      assert.doesNotMatch(r.body, /EIO|secret|\/tmp/);
    } finally {
      index.statistics = statistics;
    }
  });

  test('a client that closes the connection mid-upload: 499 in the audit trail, not 500; an info line, no error with a stack', async () => {
    // The web server's log, caught: its request loggers are children that share its stream.
    const lines: string[] = [];
    const log = web.log as unknown as Record<symbol, unknown> & { level: string };
    log.level = 'info';
    log[pino.symbols.streamSym] = { write: (l: string) => void lines.push(l) };
    const port = (web.server.address() as net.AddressInfo).port;
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.write(`POST /api/instances HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/dicom\r\nContent-Length: 1000000\r\n\r\n`);
        s.write(fs.readFileSync(path.join(SAMPLES, 'pydicom__MR_small.dcm')).subarray(0, 4000), () => setTimeout(() => (s.destroy(), resolve()), 200));
      });
      s.on('error', reject);
    });
    let entry: { what: { url: string; status: number } } | undefined;
    for (let i = 0; i < 50 && !entry; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const lines = fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8').trim().split('\n') : [];
      entry = lines.map((l) => JSON.parse(l) as { what: { method: string; url: string; status: number } }).find((e) => e.what?.method === 'POST' && e.what.url === '/api/instances' && e.what.status !== 201);
    }
    assert.ok(entry, `the aborted upload is in the audit trail: ${fs.existsSync(auditFile) ? fs.readFileSync(auditFile, 'utf8') : 'none'}`);
    assert.equal(entry.what.status, 499);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; url?: string }).filter((l) => l.url === '/api/instances');
    assert.deepEqual(logged.map((l) => [l.level, l.msg]), [[30, 'the client closed the connection before the answer']]);
  });
});
