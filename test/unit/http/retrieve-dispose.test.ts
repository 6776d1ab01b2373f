// A WADO-RS retrieve the client breaks off: the parts read ahead and never sent are closed
// (a file stream left open is a file descriptor lost until the process ends).
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { type SentPart, writeMultipart } from '../../../src/http/dicomweb/multipart-writer.js';
import { readAhead } from '../../../src/http/dicomweb/wado-retrieve.js';

const stream = (): Readable => new Readable({ read() {} });

test('writeMultipart closes the stream of a part it will not send (the response is gone)', async () => {
  const body = stream();
  async function* parts(): AsyncGenerator<SentPart> {
    yield { contentType: 'application/dicom', body };
  }
  await writeMultipart({ destroyed: true } as ServerResponse, 'b', parts());
  assert.equal(body.destroyed, true);
});

test('readAhead stopped early hands what it read ahead to dispose', async () => {
  const bodies = [stream(), stream(), stream(), stream()];
  const disposed: Readable[] = [];
  const gen = readAhead([0, 1, 2, 3], 3, async (i) => bodies[i]!, (r) => void disposed.push(r));
  const first = await gen.next();
  assert.equal((first.value as [number, Readable])[1], bodies[0]);
  await gen.return(undefined); // the consumer stops: items 1–3 were read ahead
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(disposed, [bodies[1], bodies[2], bodies[3]]);
});
