// Forwarding de-identified copies by C-STORE: an instance the profile refuses (burned_in:
// refuse) is left out as a warning, never a failure that would fail the job and resend it all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScuAssociation } from '../../../src/net/client.js';
import { BurnedInRefused, type Deidentifier } from '../../../src/services/deidentify.js';
import { deidentifiedSender } from '../../../src/services/deidentify-send.js';
import type { InstanceLocation } from '../../../src/index/types.js';

const loc = { SOPInstanceUID: '1.2.3', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', transferSyntaxUID: '1.2.840.10008.1.2.1' } as InstanceLocation;
const scu = { contextFor: () => ({ id: 1 }) } as unknown as ScuAssociation;

test('a refused instance is a warning; any other de-identification error stays a failure', async () => {
  const refusing = { deidentify: () => Promise.reject(new BurnedInRefused('1.2.3', 'yes')) } as unknown as Deidentifier;
  assert.deepEqual(await deidentifiedSender(refusing, scu).prepare(loc), { kind: 'warning' });
  const broken = { deidentify: () => Promise.reject(new Error('unreadable file')) } as unknown as Deidentifier;
  await assert.rejects(deidentifiedSender(broken, scu).prepare(loc), /unreadable file/);
});
