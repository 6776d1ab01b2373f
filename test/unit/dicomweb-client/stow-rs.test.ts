// The STOW-RS client against origin servers that misbehave in their answer: one that trickles it
// a byte at a time (each byte resets the idle timeout) fails the request once the answer has had
// its `timeout` in all; one that answers without end is read no further than 8 MB.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { postInstances, StowRequestError, type StowTarget } from '../../../src/dicomweb-client/stow-rs.js';

let server: http.Server;
let base = '';
before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' });
      if (req.url === '/trickle/studies') {
        res.write('{');
        const t = setInterval(() => res.write(' '), 50);
        res.on('close', () => clearInterval(t));
      } else {
        // Without end: chunks of 1 MB for as long as someone reads them.
        const chunk = Buffer.alloc(1024 * 1024, 0x20);
        const more = (): void => {
          while (res.write(chunk));
        };
        res.on('drain', more);
        res.write('{');
        more();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

const part = { sopInstanceUID: '1.2.3', size: 4, open: () => Buffer.from('DICM') };
const target = (path: string): StowTarget => ({ url: `${base}/${path}`, timeoutMs: 1000, rejectUnauthorized: true });

test('an answer trickled a byte at a time fails the request, retryable, once it has had its timeout', async () => {
  await assert.rejects(postInstances(target('trickle'), [part]), (e: unknown) => e instanceof StowRequestError && e.retryable && /did not complete within 1 s/.test(e.message));
});

test('an answer without end is read no further than 8 MB: the request ends, with an answer that is no Store Instances Response', { timeout: 30_000 }, async () => {
  const r: unknown = await postInstances({ ...target('endless'), timeoutMs: 60_000 }, [part]).catch((e: unknown) => e);
  // What came is no dataset: either the request fails as unreadable or it ends without stored
  // instances; it does not run into the minute's deadline (the test's own timeout says so).
  if (r instanceof Error) assert.ok(r instanceof StowRequestError, String(r));
  else assert.equal((r as Awaited<ReturnType<typeof postInstances>>).stored.size, 0);
});
