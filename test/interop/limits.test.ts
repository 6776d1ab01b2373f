// Limits against misbehaving peers: new associations per minute per AE (token bucket), the
// largest C-STORE dataset, the DIMSE timeout within a message, HTTP rate and body limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, RawPeer, associateRQ } from '../helpers/raw-peer.js';
import { CommandField } from '../../src/net/dimse/command.js';
import { PduType } from '../../src/net/pdu/types.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const LARGE = path.join(SAMPLES, 'nibabel__siemens_dwi_0.dcm'); // 1.7 MB

describe('DICOM limits', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ server: { max_new_associations_per_minute_per_ae: 3, max_dataset_mb: 1, dimse_timeout: 0.5, idle_timeout: 30 } });
  });
  after(() => pacs.stop());

  test('the 4th association in a minute from one AE is rejected transient, local limit exceeded; others still get in', async () => {
    const echo = (aet: string) => run('echoscu', ['-aet', aet, '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    for (let i = 0; i < 3; i++) assert.equal((await echo('BURSTY')).code, 0);
    const refused = await echo('BURSTY');
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /Rejected Transient|local limit exceeded/i);
    assert.equal((await echo('CALM')).code, 0, 'another AE is not affected');
  });

  test('a dataset above max_dataset_mb gets 0xA700 with a comment, nothing is written; the association goes on; counted as a failed store', async () => {
    const failed: string[] = [];
    pacs.server.archive.events.on('instance.failed', ({ code }) => failed.push(code));
    const r = await run('storescu', ['-v', '-nh', '-aet', 'BIGSENDER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), LARGE, CT]);
    const out = r.stdout + r.stderr;
    assert.match(out, /0xa700|Out ?of ?Resources/i, out);
    assert.equal((await pacs.server.archive.index.statistics()).instances, 1, 'only the small one');
    assert.deepEqual(pacs.files().filter((f) => f.startsWith('.incoming/')), [], 'no partial file left');
    assert.deepEqual(failed, ['OUT_OF_RESOURCES'], 'pacs_store_failures_total and the audit trail see it');
  });

  test('a peer that stops in the middle of a dataset is aborted after dimse_timeout, not idle_timeout', async () => {
    const peer = await RawPeer.connect(pacs.port);
    const ac = await peer.accepted(associateRQ({ callingAETitle: 'STALLER', contexts: [{ abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] }] }));
    const id = ac.presentationContexts[0]!.id;
    await peer.sendMessage(id, { CommandField: CommandField.C_STORE_RQ, MessageID: 1, AffectedSOPClassUID: CT_IMAGE_STORAGE, AffectedSOPInstanceUID: '1.2.3.99', CommandDataSetType: 0, Priority: 0 });
    await peer.sendPdvs([{ contextId: id, command: false, last: false, data: Buffer.alloc(1024) }]);
    const started = Date.now();
    const answer = await peer.next(5000);
    assert.equal(answer?.type, PduType.Abort);
    assert.ok(Date.now() - started < 3000, `aborted after ${Date.now() - started} ms`);
    peer.destroy(); // PS3.8: after an A-ABORT the peer closes the connection
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(pacs.files().filter((f) => f.startsWith('.incoming/')), [], 'the partial instance is discarded');
  });
});

describe('HTTP limits', () => {
  let pacs: TestPacs;
  before(async () => {
    // anonymous_role said: the clients here are other machines, refused outright without it.
    pacs = await startTestPacs({ http: { enabled: true, port: 0, rate_limit_per_minute: 5, max_json_kb: 1, viewer: false, trust_proxy: ['10.9.0.0/16'], anonymous_role: 'admin' } });
  });
  after(() => pacs.stop());

  test('beyond rate_limit_per_minute: 429 problem+json with Retry-After', async () => {
    const app = pacs.server.httpServer!;
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await app.inject({ method: 'GET', url: '/api/studies' })).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429]);
    const r = await app.inject({ method: 'GET', url: '/api/studies' });
    assert.equal(r.statusCode, 429);
    assert.match(String(r.headers['content-type']), /application\/problem\+json/);
    assert.ok(Number(r.headers['retry-after']) > 0);
    assert.match(r.json<{ detail: string }>().detail, /rate_limit_per_minute/);
    const other = await app.inject({ method: 'GET', url: '/api/studies', remoteAddress: '10.0.0.2' });
    assert.equal(other.statusCode, 200, 'another address has its own allowance');
    // The load balancer's health checks from the address over its limit: never limited.
    for (const url of ['/health', '/health/live', '/health/ready']) assert.notEqual((await app.inject({ method: 'GET', url })).statusCode, 429, url);
  });

  test('behind a trusted proxy each client has its own allowance; an untrusted peer cannot claim one', async () => {
    const app = pacs.server.httpServer!;
    const via = (client: string, peer = '10.9.0.5') => app.inject({ method: 'GET', url: '/api/studies', remoteAddress: peer, headers: { 'x-forwarded-for': client } });
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await via('192.0.2.10')).statusCode);
    assert.deepEqual(codes, [200, 200, 200, 200, 200, 429], 'the client behind the proxy is counted');
    assert.equal((await via('192.0.2.11')).statusCode, 200, 'another client through the same proxy is not refused');
    // Not a trusted proxy: its X-Forwarded-For is ignored, so changing it does not escape the limit.
    const spoof: number[] = [];
    for (let i = 0; i < 6; i++) spoof.push((await via(`198.51.100.${i}`, '10.7.0.1')).statusCode);
    assert.equal(spoof.at(-1), 429);
  });

  test('a JSON body above max_json_kb: 413', async () => {
    const app = pacs.server.httpServer!;
    const r = await app.inject({ method: 'POST', url: '/api/nodes', remoteAddress: '10.0.0.3', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(4096) }) });
    assert.equal(r.statusCode, 413);
    assert.match(String(r.headers['content-type']), /application\/problem\+json/);
  });
});

describe('associations per address (server.max_associations_per_address)', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ server: { max_associations_per_address: 2 } });
  });
  after(() => pacs.stop());

  test('one host holding its share under titles of its choosing: the next is rejected transient, local limit exceeded; free again once one ends', async () => {
    const hold = async (aet: string) => {
      const peer = await RawPeer.connect(pacs.port);
      await peer.accepted(associateRQ({ callingAETitle: aet, contexts: [{ abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: [EXPLICIT_LE] }] }));
      return peer;
    };
    const held = [await hold('WS0000'), await hold('WS0001')];
    const echo = () => run('echoscu', ['-aet', 'MODALITY', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    const refused = await echo();
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /Rejected Transient|local limit exceeded/i);
    held[0]!.destroy();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await echo()).code, 0, 'a slot of the address is free again');
    held[1]!.destroy();
  });
});
