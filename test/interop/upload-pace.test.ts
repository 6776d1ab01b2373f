// Upload bodies that hold the server's resources (upload-guard.ts), over real sockets: a STOW-RS
// or upload body trickling in slower than http.upload_min_kb_per_s over http.upload_timeout_s is
// answered 408 (or 202 with the parts stored before it) and its connection closed, leaving no
// staged file; past http.max_concurrent_uploads bodies at once, the next is answered 503 with
// Retry-After, and taken again once one has ended. Before, a byte every few minutes kept a
// session and its staged file for ever, and any number of them could be open.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { type Answer, Connection } from '../helpers/http-connection.js';
import { parsePart10Prefix } from '../../src/dicom/part10.js';
import { elementText } from '../../src/dicom/charset.js';

const sample = (f: string): Buffer => fs.readFileSync(path.join(SAMPLES, f));
const CT = sample('pydicom__CT_small.dcm');
const MR = sample('pydicom__MR_small.dcm');
const RTDOSE = sample('pydicom__rtdose_1frame.dcm');
const uidOf = (file: Buffer): string => elementText(parsePart10Prefix(file, true)!.meta.get(0x00020003), null)!;

// A server that never cuts the slow body off fails a test at this.
const HUNG = { timeout: 20_000 };

const portOf = (pacs: TestPacs): number => {
  const address = pacs.server.httpServer!.server.address();
  return typeof address === 'object' && address ? address.port : 0;
};

/** Sends `bytes` a few at a time, every 100 ms, until the server answers or closes (or 10 s). */
async function trickle(c: Connection, bytes: Buffer, stop: () => boolean): Promise<void> {
  for (let at = 0; at < bytes.length && !stop(); at += 8) {
    await c.write(bytes.subarray(at, at + 8)).catch(() => {});
    await sleep(100);
  }
}

describe('upload bodies too slow: 408 and the connection closed', () => {
  let pacs: TestPacs;
  let port: number;
  before(async () => {
    // Windows of half a second; at least 64 KB/s over each: 8 bytes every 100 ms is far under.
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', upload_timeout_s: 0.5, upload_min_kb_per_s: 64 } });
    port = portOf(pacs);
  });
  after(() => pacs.stop());
  const staged = (): string[] => pacs.files().filter((f) => f.includes('.incoming'));
  const stored = async (uid: string): Promise<boolean> => (await pacs.server.archive.index.findInstance(uid)) !== null;

  /** Sends the head and `fast` at once, then the rest of `body` slowly; the answer, and the connection's close. */
  async function slowRequest(head: string, body: Buffer, fast: number): Promise<Answer> {
    const c = await Connection.open(port);
    let answered = false;
    try {
      await c.write(head);
      await c.write(body.subarray(0, fast));
      const answer = c.answer().finally(() => (answered = true));
      await trickle(c, body.subarray(fast), () => answered);
      const a = await answer;
      // The server closes the connection after the answer: reading the rest away would wait on the same slow client.
      await c.closed();
      return a;
    } finally {
      c.close();
    }
  }

  test('POST /api/instances trickling after its first kilobyte: 408 with the reason, nothing staged or stored', HUNG, async () => {
    const head = `POST /api/instances HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/dicom\r\nContent-Length: ${MR.length}\r\n\r\n`;
    const a = await slowRequest(head, MR, 1024);
    assert.equal(a.status, 408, a.body);
    assert.match(a.headers['content-type'] ?? '', /^application\/problem\+json/);
    assert.equal(a.headers.connection, 'close');
    assert.match(JSON.parse(a.body).detail, /came too slowly: \d+ bytes in \d+ s of waiting, at least 65536 bytes\/s needed \(http\.upload_min_kb_per_s/);
    assert.deepEqual(staged(), []);
    assert.equal(await stored(uidOf(MR)), false);
  });

  test('STOW-RS whose second part trickles: 202 with the first stored and the rest as one failure (0xA700)', HUNG, async () => {
    const body = Buffer.concat([
      Buffer.from('--b\r\nContent-Type: application/dicom\r\n\r\n'),
      CT,
      Buffer.from('\r\n--b\r\nContent-Type: application/dicom\r\n\r\n'),
      MR,
      Buffer.from('\r\n--b--\r\n'),
    ]);
    const head =
      `POST /dicom-web/studies HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/dicom+json\r\n` +
      `Content-Type: multipart/related; type="application/dicom"; boundary=b\r\nContent-Length: ${body.length}\r\n\r\n`;
    // The first part whole and 1 KB of the second at once, then a trickle.
    const a = await slowRequest(head, body, CT.length + 100 + 1024);
    assert.equal(a.status, 202, a.body);
    const answer = JSON.parse(a.body) as Record<string, { Value: Record<string, { Value?: unknown[] }>[] }>;
    assert.deepEqual(
      answer['00081199']!.Value.map((i) => i['00081155']!.Value![0]),
      [uidOf(CT)],
    );
    const failures = answer['00081198']!.Value;
    assert.equal(failures.length, 1);
    assert.equal(failures[0]!['00081197']!.Value![0], 0xa700);
    assert.equal(failures[0]!['00000902']!.Value![0], 'rest not read: came too slowly');
    assert.equal(await stored(uidOf(CT)), true);
    assert.equal(await stored(uidOf(MR)), false);
    assert.deepEqual(staged(), []);
  });

  test('STOW-RS that sends its head and then nothing: 408 once a window passes without a byte', HUNG, async () => {
    const c = await Connection.open(port);
    try {
      await c.write(
        `POST /dicom-web/studies HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/dicom+json\r\n` +
          `Content-Type: multipart/related; type="application/dicom"; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n`,
      );
      const a = await c.answer();
      assert.equal(a.status, 408, a.body);
      assert.match(JSON.parse(a.body).detail, /came too slowly: 0 bytes/);
      await c.closed();
    } finally {
      c.close();
    }
  });

  test('a body sent at once is not affected (the server\'s own time is left out: see the unit test of BodyPace)', HUNG, async () => {
    const r = await fetch(`http://127.0.0.1:${port}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: MR });
    assert.equal(r.status, 201, await r.text());
  });
});

describe('http.max_concurrent_uploads', () => {
  let pacs: TestPacs;
  let port: number;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1', max_concurrent_uploads: 2 } });
    port = portOf(pacs);
  });
  after(() => pacs.stop());

  const upload = (file: Buffer) => `POST /api/instances HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/dicom\r\nContent-Length: ${file.length}\r\n\r\n`;

  test('two bodies in flight take both slots: a third upload or STOW-RS is 503 with Retry-After; one ended, the next is taken', HUNG, async () => {
    const held = [await Connection.open(port), await Connection.open(port)];
    try {
      // Each sends its head and half its body, and waits: both are being received.
      for (const c of held) {
        await c.write(upload(CT));
        await c.write(CT.subarray(0, CT.length >> 1));
      }
      // The server has begun both (their first bytes are staged) before the third comes.
      for (let i = 0; i < 100 && pacs.files().filter((f) => f.includes('.incoming')).length < 2; i++) await sleep(20);
      const third = await fetch(`http://127.0.0.1:${port}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: MR });
      assert.equal(third.status, 503);
      assert.equal(third.headers.get('retry-after'), '5');
      assert.match(((await third.json()) as { detail: string }).detail, /2 uploads are being received \(http\.max_concurrent_uploads\)/);
      const stow = await fetch(`http://127.0.0.1:${port}/dicom-web/studies`, {
        method: 'POST',
        headers: { 'content-type': 'multipart/related; type="application/dicom"; boundary=b', accept: 'application/dicom+json' },
        body: Buffer.concat([Buffer.from('--b\r\n\r\n'), MR, Buffer.from('\r\n--b--\r\n')]),
      });
      assert.equal(stow.status, 503);
      // Reads are not uploads.
      assert.equal((await fetch(`http://127.0.0.1:${port}/dicom-web/studies`)).status, 200);
      // The first finishes: its slot is free for the next.
      await held[0]!.write(CT.subarray(CT.length >> 1));
      assert.equal((await held[0]!.answer()).status, 201);
      const next = await fetch(`http://127.0.0.1:${port}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: MR });
      assert.equal(next.status, 201, await next.text());
    } finally {
      for (const c of held) c.close();
    }
  });

  test('a client that leaves mid-body gives its slot back', HUNG, async () => {
    for (let round = 0; round < 3; round++) {
      const gone = [await Connection.open(port), await Connection.open(port)];
      for (const c of gone) {
        await c.write(upload(CT));
        await c.write(CT.subarray(0, 1000));
      }
      await sleep(100);
      for (const c of gone) c.close();
    }
    let status = 0;
    // The slots are given back as the server sees the connections close.
    for (let i = 0; i < 50 && status !== 201; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/api/instances`, { method: 'POST', headers: { 'content-type': 'application/dicom' }, body: RTDOSE });
      status = r.status;
      await r.text();
      if (status === 503) await sleep(50);
    }
    assert.equal(status, 201);
  });
});
