// Forwarding de-identified copies by C-STORE: an instance the profile refuses (burned_in:
// refuse) is left out as a warning, never a failure that would fail the job and resend it all;
// one sent although burned-in text is possible (burned_in: flag) is named in the job's report.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScuAssociation } from '../../../src/net/client.js';
import { BurnedInRefused, type Deidentifier, FlaggedCopies } from '../../../src/services/deidentify.js';
import { deidentifiedSender } from '../../../src/services/deidentify-send.js';
import { runSubOperations, type Ready } from '../../../src/services/send.js';
import type { InstanceLocation } from '../../../src/index/types.js';

const loc = { SOPInstanceUID: '1.2.3', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxUID: '1.2.840.10008.1.2.1' } as InstanceLocation;
const scu = { contextFor: () => ({ id: 1 }) } as unknown as ScuAssociation;

test('a refused instance is a warning; any other de-identification error stays a failure', async () => {
  const refusing = { deidentify: () => Promise.reject(new BurnedInRefused('1.2.3', 'yes')) } as unknown as Deidentifier;
  assert.deepEqual(await deidentifiedSender(refusing, scu, new FlaggedCopies()).prepare(loc), { kind: 'warning', notSent: true }, 'left out by us, not acknowledged by the destination');
  const broken = { deidentify: () => Promise.reject(new Error('unreadable file')) } as unknown as Deidentifier;
  await assert.rejects(deidentifiedSender(broken, scu, new FlaggedCopies()).prepare(loc), /unreadable file/);
});

test('a copy sent under burned_in: flag is counted and named for the report', async () => {
  const flaggedOne = { deidentify: () => Promise.resolve({ sopInstanceUID: '2.25.9', burnedIn: 'likely', dataset: [Buffer.alloc(0)], release: () => {} }) } as unknown as Deidentifier;
  const flagged = new FlaggedCopies();
  const ready = await deidentifiedSender(flaggedOne, scu, flagged).prepare(loc);
  assert.ok('pcId' in ready);
  assert.deepEqual(flagged.progress(), { flagged: 1, flaggedUids: ['2.25.9 (burned-in annotation likely)'] });
  assert.match(flagged.words, /1 flagged: burned-in annotation possible/);
  const clean = { deidentify: () => Promise.resolve({ sopInstanceUID: '2.25.10', burnedIn: 'no', dataset: [Buffer.alloc(0)], release: () => {} }) } as unknown as Deidentifier;
  const none = new FlaggedCopies();
  await deidentifiedSender(clean, scu, none).prepare(loc);
  assert.deepEqual(none.progress(), {});
  assert.equal(none.words, '');
});

test('a copy gives its file back once sent, or when it is never sent (canceled after it was prepared)', async () => {
  const released: string[] = [];
  const parts = [Buffer.alloc(4), Buffer.alloc(70_000)];
  const deid = {
    deidentify: (l: InstanceLocation) => Promise.resolve({ sopInstanceUID: `2.25.${l.SOPInstanceUID}`, burnedIn: 'no', dataset: parts, release: () => released.push(l.SOPInstanceUID) }),
  } as unknown as Deidentifier;
  const sent: { uid: string; chunks: number }[] = [];
  const storing = {
    contextFor: () => ({ id: 1 }),
    async store(_pc: number, _cls: string, uid: string, dataset: Buffer | AsyncIterable<Buffer>, _extra: unknown, onSent?: () => void) {
      let chunks = 0;
      for await (const c of dataset as AsyncIterable<Buffer>) chunks += c === parts[1] ? 1 : 0;
      sent.push({ uid, chunks });
      onSent?.();
      return { Status: 0 };
    },
  } as unknown as ScuAssociation;
  const instances = ['1', '2', '3'].map((u) => ({ ...loc, SOPInstanceUID: u, size: 100 }));
  let done = 0;
  const r = await runSubOperations(instances, deidentifiedSender(deid, storing, new FlaggedCopies()), { cancelled: () => done >= 1, after: () => void done++ });
  assert.deepEqual(sent, [{ uid: '2.25.1', chunks: 1 }], 'the large part itself went out, not a copy of it');
  assert.equal(r.counts.completed, 1);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(released.sort(), ['1', '2', '3'], 'the one sent at its sending, the two prepared ahead when dropped');
});

test('prepared instances that are dropped give their read buffers back', async () => {
  let released = 0;
  const ready: Ready = { pcId: 1, dataset: Buffer.alloc(2), release: () => void released++ };
  const sub = { prepare: () => Promise.resolve(ready), send: () => Promise.resolve({ kind: 'completed' as const }) };
  let asked = 0;
  await runSubOperations([{ ...loc, size: 10 }, { ...loc, size: 10 }], sub, { cancelled: () => asked++ > 0, after: () => {} });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(released, 2, 'both were prepared, neither sent');
});
