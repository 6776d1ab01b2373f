// DICOM TLS and HTTPS with certificates made by openssl in the test: DCMTK's echoscu and
// storescu over TLS to our TLS port (plain DICOM beside it), mutual TLS refusing a peer
// without a certificate, a send job to a DCMTK storescp that speaks only TLS, and HTTPS.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { makeCertificates } from '../helpers/certificates.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';

describe('DICOM TLS and HTTPS', () => {
  let dir: string;
  let pacs: TestPacs;
  let tlsPort: number;
  const daemons: ChildProcess[] = [];
  const f = (name: string): string => path.join(dir, name);
  const withCert = (): string[] => ['+tls', f('client.key'), f('client.crt'), '-pw', '+cf', f('ca.crt')];

  before(async () => {
    dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'pacs-tls-'));
    await makeCertificates(dir);
    tlsPort = await freePort();
    pacs = await startTestPacs({
      tls: { enabled: true, cert_path: f('server.crt'), key_path: f('server.key'), ca_path: f('ca.crt'), port: tlsPort },
      http: { enabled: true, port: 0, host: '127.0.0.1' },
    });
  });
  after(async () => {
    for (const d of daemons) d.kill();
    await pacs?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('echoscu and storescu over TLS on tls.port; plain DICOM still on server.port; plain to the TLS port fails', async () => {
    const echo = await run('echoscu', [...withCert(), '-aec', 'PACS_SERVER', '127.0.0.1', String(tlsPort)]);
    assert.equal(echo.code, 0, echo.stderr);
    const store = await run('storescu', [...withCert(), '-aec', 'PACS_SERVER', '127.0.0.1', String(tlsPort), CT]);
    assert.equal(store.code, 0, store.stderr);
    assert.ok(await pacs.server.archive.index.findStudy(CT_STUDY), 'stored over TLS');
    assert.equal((await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)])).code, 0, 'plain DICOM on server.port');
    assert.notEqual((await run('echoscu', ['-to', '5', '-aec', 'PACS_SERVER', '127.0.0.1', String(tlsPort)])).code, 0, 'plain DICOM to the TLS port is refused');
  });

  test('HTTPS on the web port with the same certificate', async () => {
    const port = (pacs.server.httpServer!.server.address() as { port: number }).port;
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: '127.0.0.1', port, path: '/health', ca: fs.readFileSync(f('ca.crt')), servername: 'localhost' }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    assert.deepEqual(JSON.parse(body), { status: 'ok' });
  });

  test('a send job to a known node with tls: true reaches a DCMTK storescp that speaks only TLS (and checks our certificate)', async () => {
    const port = await freePort();
    const out = fs.mkdtempSync(path.join(dir, 'rcv-'));
    daemons.push(await startDaemon('storescp', ['+tls', f('server.key'), f('server.crt'), '-pw', '+cf', f('ca.crt'), '-aet', 'TLSRCV', '-od', out, String(port)], port));
    await pacs.server.archive.nodes.put({ ae_title: 'TLSRCV', host: '127.0.0.1', port, tls: true, permissions: [], description: '' });
    const echo = await pacs.server.httpServer!.inject({ method: 'POST', url: '/api/nodes/TLSRCV/echo' });
    assert.equal(echo.json().ok, true, String(echo.json().error));
    const job = await pacs.server.jobs.enqueue('send', { destination: 'TLSRCV', level: 'STUDY', uids: [CT_STUDY] });
    for (let i = 0; i < 200; i++) {
      const j = await pacs.server.archive.index.jobs.get(job.id);
      if (j?.state === 'succeeded' || j?.state === 'failed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const done = await pacs.server.archive.index.jobs.get(job.id);
    assert.equal(done?.state, 'succeeded', done?.lastError ?? '');
    assert.equal(fs.readdirSync(out).length, 1);
  });

  test('mutual TLS: with require_client_cert a peer without a certificate is refused, one with it is served', async () => {
    const port = await freePort();
    const strict = await startTestPacs({ server: { port }, tls: { enabled: true, cert_path: f('server.crt'), key_path: f('server.key'), ca_path: f('ca.crt'), require_client_cert: true } });
    try {
      assert.equal(strict.port, port, 'TLS replaces plain DICOM on server.port when tls.port is unset');
      const ok = await run('echoscu', [...withCert(), '-aec', 'PACS_SERVER', '127.0.0.1', String(port)]);
      assert.equal(ok.code, 0, ok.stderr);
      const anonymous = await run('echoscu', ['+tla', '-pw', '+cf', f('ca.crt'), '-to', '5', '-aec', 'PACS_SERVER', '127.0.0.1', String(port)]);
      assert.notEqual(anonymous.code, 0, 'no client certificate: refused');
    } finally {
      await strict.stop();
    }
  });
});
