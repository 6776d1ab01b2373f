// A scrape while a source fails (the storage volume gone, the index down or hung) still serves
// every other metric: the failing source's gauges are NaN or left out. It was a 500 with nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../../src/core/events.js';
import { Metrics } from '../../../src/core/metrics.js';

test('a failing or hanging source leaves its gauges out; the rest is served', async () => {
  let broken = true;
  let archiveCalls = 0;
  const metrics = new Metrics(new EventBus(), {
    activeAssociations: () => 3,
    diskFreeBytes: async () => {
      if (broken) throw new Error('statfs ENOENT');
      return 1e9;
    },
    archive: () => (archiveCalls++, new Promise(() => undefined)), // hangs
    jobs: async () => {
      if (broken) throw new Error('connection refused');
      return { queued: 7 };
    },
    minFreeBytes: () => 0,
  });
  const { body } = await metrics.text();
  assert.match(body, /^pacs_associations_active 3$/m);
  for (const unknown of ['pacs_disk_free_bytes', 'pacs_disk_below_minimum', 'pacs_archive_bytes']) assert.match(body, new RegExp(`^${unknown} NaN$`, 'mi'), `${unknown} unknown, not 0 nor stale`);
  for (const gone of ['pacs_archive_objects{', 'pacs_jobs{']) assert.ok(!body.includes(gone), `${gone} left out`);
  broken = false;
  await new Promise((r) => setTimeout(r, 1100)); // the next scrape asks the sources again
  const again = (await metrics.text()).body;
  assert.match(again, /^pacs_disk_free_bytes 1000000000$/m);
  assert.match(again, /^pacs_jobs\{state="queued"\} 7$/m);
  assert.equal(archiveCalls, 1, 'the hung call is waited for again, not joined by another');
});

test('DIMSE operations and failures are counted as each operation ends, not when its association closes', async () => {
  const events = new EventBus();
  const metrics = new Metrics(events, { activeAssociations: () => 1, diskFreeBytes: async () => 1, archive: async () => ({ patients: 0, studies: 0, series: 0, instances: 0, bytes: 0 }), jobs: async () => ({}), minFreeBytes: () => 0 });
  events.emit('dimse.operation', { operation: 'C-ECHO', status: 'success', ms: 1 });
  events.emit('dimse.operation', { operation: 'C-STORE', status: 'failure', ms: 2 });
  const { body } = await metrics.text();
  assert.match(body, /^pacs_dimse_operations_total\{operation="C-ECHO"\} 1$/m);
  assert.match(body, /^pacs_dimse_operations_total\{operation="C-STORE"\} 1$/m);
  assert.match(body, /^pacs_dimse_failures_total 1$/m);
});
