// The URLs of DICOMweb answers (RetrieveURL, BulkDataURI) follow Forwarded and X-Forwarded-Proto
// / -Host / -Prefix only from a proxy of http.trust_proxy; from anyone else those headers are
// ignored (they would point the URLs at a host of the client's choosing).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

describe('forwarding headers and DICOMweb URLs', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', viewer: false, trust_proxy: ['10.9.0.0/16', '::1'], allowed_hosts: ['*.example.org'], anonymous_role: 'admin' } });
    web = pacs.server.httpServer!;
    const up = await web.inject({ method: 'POST', url: '/api/instances', headers: { 'content-type': 'application/dicom' }, payload: fs.readFileSync(path.join(SAMPLES, 'pydicom__CT_small.dcm')) });
    assert.equal(up.statusCode, 201, up.body);
  });
  after(() => pacs.stop());

  const retrieveUrl = async (remoteAddress: string, headers: Record<string, string>): Promise<string> => {
    const r = await web.inject({ method: 'GET', url: '/dicom-web/studies', remoteAddress, headers: { host: '127.0.0.1:8080', ...headers } });
    assert.equal(r.statusCode, 200, r.body);
    return String((r.json() as Record<string, { Value?: unknown[] }>[])[0]!['00081190']!.Value![0]);
  };
  const proxied = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'web.example.org', 'x-forwarded-prefix': '/p' };

  test('from a trusted proxy (IPv4 in a CIDR block, IPv6, IPv4-mapped): followed', async () => {
    assert.match(await retrieveUrl('10.9.3.4', proxied), /^https:\/\/web\.example\.org\/p\/dicom-web\/studies\//);
    assert.match(await retrieveUrl('::ffff:10.9.3.4', { forwarded: 'proto=https;host=pacs.example.org' }), /^https:\/\/pacs\.example\.org\/dicom-web\//);
    assert.match(await retrieveUrl('::1', proxied), /^https:\/\/web\.example\.org\/p\//);
  });

  test('from any other client: ignored, the URL is the Host the client asked', async () => {
    assert.match(await retrieveUrl('192.0.2.9', proxied), /^http:\/\/127\.0\.0\.1:8080\/dicom-web\/studies\//);
    assert.match(await retrieveUrl('127.0.0.1', { forwarded: 'proto=https;host=web.example.org' }), /^http:\/\/127\.0\.0\.1:8080\/dicom-web\//);
  });
});
