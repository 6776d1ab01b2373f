// The STOW-RS client against origin servers that misbehave in their answer: one that trickles it
// a byte at a time (each byte resets the idle timeout) fails the request once the answer has had
// its `timeout` in all; one that answers without end is read no further than 8 MB; an answer
// whose dataset cannot be read fails the request (retryable) rather than saying which instances
// were stored or not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { postInstances, retryAfterMs, StowRequestError, type StowTarget } from '../../../src/dicomweb-client/stow-rs.js';

const dataset = (stored: string[], failed: string[]) =>
  JSON.stringify({
    '00081199': { vr: 'SQ', Value: stored.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] } })) },
    '00081198': { vr: 'SQ', Value: failed.map((uid) => ({ '00081155': { vr: 'UI', Value: [uid] }, '00081197': { vr: 'US', Value: [0x0110] } })) },
  });
const JSON_TYPE = { 'Content-Type': 'application/dicom+json' };
/** Answers by name (/answer/NAME/studies): status, headers, body. */
const ANSWERS: Record<string, [number, http.OutgoingHttpHeaders, string | Buffer]> = {
  'garbage-409': [409, JSON_TYPE, '{"00081198": {"vr": "SQ", "Val'],
  'empty-202': [202, {}, ''],
  'html-409': [409, { 'Content-Type': 'text/html' }, '<html><body>Conflict</body></html>'],
  'gzip-200': [200, { ...JSON_TYPE, 'Content-Encoding': 'gzip' }, gzipSync(dataset(['1.2.3'], []))],
  'not-a-dataset-202': [202, JSON_TYPE, '[1, 2]'],
  'empty-200': [200, {}, ''],
  'xml-200': [200, { 'Content-Type': 'application/dicom+xml' }, '<NativeDicomModel/>'],
  'partial-202': [202, JSON_TYPE, dataset(['1.2.3'], ['1.2.4'])],
  'busy-429': [429, { 'Retry-After': '120' }, 'slow down'],
  'maintenance-503': [503, { 'Retry-After': 'Fri, 31 Dec 2100 23:59:59 GMT' }, 'down for maintenance'],
  'error-500': [500, { 'Retry-After': '120' }, 'broken'],
};

let server: http.Server;
let base = '';
before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const canned = ANSWERS[/^\/answer\/([^/]+)\/studies$/.exec(req.url ?? '')?.[1] ?? ''];
      if (canned) {
        res.writeHead(canned[0], canned[1]);
        res.end(canned[2]);
        return;
      }
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

test('an answer without end is read no further than 8 MB: the request fails as unreadable, retryable', { timeout: 30_000 }, async () => {
  // It does not run into the minute's deadline (the test's own timeout says so).
  await assert.rejects(postInstances({ ...target('endless'), timeoutMs: 60_000 }, [part]), (e: unknown) => e instanceof StowRequestError && e.retryable && /HTTP 200 OK, but its answer could not be read \(it is longer than 8 MB\)/.test(e.message));
});

test('for a request of many instances, the answer may be longer: 8 KB an instance (2,000: 16 MB)', { timeout: 30_000 }, async () => {
  const many = Array.from({ length: 2000 }, (_, k) => ({ ...part, sopInstanceUID: `1.2.3.${k}` }));
  await assert.rejects(postInstances({ ...target('endless'), timeoutMs: 60_000 }, many), (e: unknown) => e instanceof StowRequestError && /it is longer than 16 MB/.test(e.message));
});

const unreadable = (status: number, why: RegExp) => (e: unknown) => e instanceof StowRequestError && e.retryable && e.httpStatus === status && /but its answer could not be read/.test(e.message) && why.test(e.message);

test('an answer whose outcome cannot be read fails the request, retryable: neither failed nor stored instances', async () => {
  await assert.rejects(postInstances(target('answer/garbage-409'), [part]), unreadable(409, /not valid JSON/));
  await assert.rejects(postInstances(target('answer/empty-202'), [part]), unreadable(202, /it has no body/));
  await assert.rejects(postInstances(target('answer/html-409'), [part]), unreadable(409, /no DICOM JSON but text\/html/));
  await assert.rejects(postInstances(target('answer/not-a-dataset-202'), [part]), unreadable(202, /no Store Instances Response/));
  // A 200 may list failures in its dataset: one encoded without being asked cannot say.
  await assert.rejects(postInstances(target('answer/gzip-200'), [part]), unreadable(200, /gzip-encoded, which was not asked for/));
});

test('answers that can be read keep their meaning: 200 without a dataset is all stored, a 202 dataset says which', async () => {
  for (const name of ['empty-200', 'xml-200']) {
    const r = await postInstances(target(`answer/${name}`), [part]);
    assert.deepEqual([r.httpStatus, r.stored.size, r.failed.size], [200, 0, 0], name);
  }
  const r = await postInstances(target('answer/partial-202'), [part]);
  assert.equal(r.httpStatus, 202);
  assert.deepEqual([...r.stored.keys()], ['1.2.3']);
  assert.deepEqual([...r.failed.keys()], ['1.2.4']);
});

test("a 429 or 503 says when to come back (Retry-After in seconds or as a date): the error carries it for the job's retry", async () => {
  const failure = async (name: string): Promise<StowRequestError> => {
    try {
      await postInstances(target(`answer/${name}`), [part]);
    } catch (e) {
      if (e instanceof StowRequestError) return e;
      throw e;
    }
    throw new Error('no failure');
  };
  const busy = await failure('busy-429');
  assert.deepEqual([busy.retryable, busy.retryAfterMs], [true, 120_000]);
  const maintenance = await failure('maintenance-503');
  assert.ok(maintenance.retryable && (maintenance.retryAfterMs ?? 0) > 365 * 86_400_000, String(maintenance.retryAfterMs));
  assert.equal((await failure('error-500')).retryAfterMs, null, 'only 429 and 503 say it');
  assert.equal(retryAfterMs('soon'), null);
  assert.equal(retryAfterMs('Thu, 01 Jan 1970 00:00:00 GMT'), 0, 'a date past: at once');
});
