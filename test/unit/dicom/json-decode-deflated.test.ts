// A request's dataset over a Deflated Explicit VR Little Endian context (a C-FIND identifier, an
// N-SET's changes): read as the explicit one it inflates to, and bounded — deflate turns a few
// KB of a peer's bytes into gigabytes, which used to be inflated whole, on the event loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { PacsError } from '../../../src/core/errors.js';
import { decodeJsonDataset, encodeJsonDataset } from '../../../src/dicom/json-encode.js';

const DEFLATED = '1.2.840.10008.1.2.1.99';

test('a deflated identifier is read as the dataset it inflates to', async () => {
  const bytes = deflateRawSync(encodeJsonDataset({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] }, '00100020': { vr: 'LO', Value: ['P1'] } }, '1.2.840.10008.1.2.1', 'ISO_IR 192'));
  const back = await decodeJsonDataset(bytes, DEFLATED);
  assert.deepEqual(back.dataset['00100020'], { vr: 'LO', Value: ['P1'] });
  assert.equal(back.specificCharacterSet, 'ISO_IR 192');
});

test('one that would inflate past 16 MB is refused as malformed, without being inflated whole', async () => {
  const bomb = deflateRawSync(Buffer.alloc(32 * 1024 * 1024)); // ~32 KB on the wire
  assert.ok(bomb.length < 64 * 1024);
  await assert.rejects(decodeJsonDataset(bomb, DEFLATED), (e: unknown) => e instanceof PacsError && e.code === 'DICOM_PARSE' && /more than 16 MB/.test(e.message));
  await assert.rejects(decodeJsonDataset(Buffer.from('not deflate at all'), DEFLATED), (e: unknown) => e instanceof PacsError && e.code === 'DICOM_PARSE');
});
