// The stow job's batches and request settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batches, stowTargetOf } from '../../../src/services/stow-job.js';
import { PermanentJobError } from '../../../src/services/jobs.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import type { DicomwebServer } from '../../../src/config/schema.js';

const loc = (uid: string, size: number) => ({ SOPInstanceUID: uid, size }) as InstanceLocation;
const uids = (b: InstanceLocation[][]) => b.map((x) => x.map((i) => i.SOPInstanceUID));

test('batches: at most N instances and about M bytes; a larger instance goes alone', () => {
  const list = [loc('a', 10), loc('b', 10), loc('c', 10), loc('d', 10), loc('e', 10)];
  assert.deepEqual(uids(batches(list, 2, 1000)), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(uids(batches(list, 100, 25)), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(uids(batches([loc('a', 5), loc('big', 500), loc('c', 5)], 100, 100)), [['a'], ['big'], ['c']]);
  assert.deepEqual(batches([], 10, 10), []);
});

const server: DicomwebServer = { name: 'LAB', url: 'https://lab/dicom-web', timeout: 30, reject_unauthorized: true, max_instances_per_request: 100, max_request_mb: 64 };

test('request settings: Basic or Bearer, the timeout, an unreadable CA file fails the job for good', () => {
  assert.deepEqual(stowTargetOf(server), { url: 'https://lab/dicom-web', timeoutMs: 30_000, rejectUnauthorized: true });
  assert.equal(stowTargetOf({ ...server, username: 'u', password: 'p:w' }).authorization, `Basic ${Buffer.from('u:p:w').toString('base64')}`);
  assert.equal(stowTargetOf({ ...server, token: 'abc' }).authorization, 'Bearer abc');
  assert.throws(() => stowTargetOf({ ...server, ca_path: '/nonexistent/ca.pem' }), (e: unknown) => e instanceof PermanentJobError && /dicomweb_servers LAB: ca_path \/nonexistent\/ca.pem/.test(e.message));
});
