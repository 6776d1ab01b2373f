// Prometheus metrics on monitoring.metrics_port after real traffic: storescu's instances and
// association counted, a refused C-STORE counted by its code, the store latency histogram
// filled, HTTP requests labelled by route, and the present-state gauges read at scrape time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { RawPeer, VERIFICATION, associateRQ } from '../helpers/raw-peer.js';

const FILES = ['pydicom__CT_small.dcm', 'pydicom__MR_small.dcm'].map((f) => path.join(SAMPLES, f));

/** The value of one sample line, e.g. metric('pacs_instances_stored_total{source="dimse"}'). */
function metric(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

describe('Prometheus metrics', () => {
  let pacs: TestPacs;
  let port: number;
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, monitoring: { enabled: true, metrics_port: 0 } });
    const address = (pacs.server as unknown as { metricsServer: { address(): { port: number } } }).metricsServer.address();
    port = address.port;
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...FILES]);
    assert.equal(r.code, 0, r.stderr);
    const bad = path.join(pacs.dir, 'mismatch.dcm');
    fs.copyFileSync(FILES[0]!, bad);
    assert.equal((await run('dcmodify', ['-nb', '-m', 'SOPClassUID=1.2.840.10008.5.1.4.1.1.4', bad])).code, 0);
    await run('storescu', ['-aec', 'PACS_SERVER', '-R', '127.0.0.1', String(pacs.port), bad]);
    await pacs.server.httpServer!.inject({ method: 'GET', url: '/dicom-web/studies?limit=5' });
    await run('findscu', ['-S', '-aec', 'PACS_SERVER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '127.0.0.1', String(pacs.port)]);
    await run('echoscu', ['-aec', 'SOMEONE_ELSE', '127.0.0.1', String(pacs.port)]); // refused: called AE title not ours
  });
  after(() => pacs.stop());

  test('counts, histograms and gauges after real traffic', async () => {
    // The refused association is counted when the server sees its connection close, just after echoscu exits.
    let r: Response;
    let text = '';
    for (let i = 0; i < 40; i++) {
      r = await fetch(`http://127.0.0.1:${port}/metrics`);
      text = await r.text();
      if (metric(text, 'pacs_associations_rejected_total{reason="called-ae-not-recognized"}') !== null) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(r!.status, 200);
    assert.match(r!.headers.get('content-type') ?? '', /text\/plain/);
    assert.equal(metric(text, 'pacs_instances_stored_total{source="dimse"}'), 2);
    assert.equal(metric(text, 'pacs_store_duration_seconds_count'), 2);
    assert.ok((metric(text, 'pacs_dimse_operations_total{operation="C-STORE"}') ?? 0) >= 3);
    assert.ok((metric(text, 'pacs_associations_total{outcome="released"}') ?? 0) >= 2);
    assert.ok((metric(text, 'pacs_network_bytes_total{direction="in"}') ?? 0) > 40_000);
    // The changed copy reuses the SOP Instance UID with other content: refused as a duplicate.
    assert.equal(metric(text, 'pacs_store_failures_total{code="DUPLICATE_INSTANCE"}'), 1, 'the refused instance is counted by its code');
    assert.equal(metric(text, 'pacs_dimse_responses_total{operation="C-STORE",status="success"}'), 2);
    assert.equal(metric(text, 'pacs_dimse_responses_total{operation="C-STORE",status="failure"}'), 1);
    assert.equal(metric(text, 'pacs_dimse_responses_total{operation="C-FIND",status="success"}'), 1);
    assert.equal(metric(text, 'pacs_dimse_operation_duration_seconds_count{operation="C-FIND"}'), 1);
    assert.equal(metric(text, 'pacs_associations_rejected_total{reason="called-ae-not-recognized"}'), 1);
    assert.equal(metric(text, 'pacs_http_requests_total{method="GET",route="/dicom-web/studies",status="200"}'), 1);
    assert.equal(metric(text, 'pacs_archive_objects{level="instances"}'), 2);
    assert.equal(metric(text, 'pacs_associations_active'), 0);
    assert.ok((metric(text, 'pacs_disk_free_bytes') ?? 0) > 0);
    assert.equal(metric(text, 'pacs_jobs{state="queued"}'), 0);
    assert.ok(metric(text, 'pacs_process_resident_memory_bytes') !== null, 'process metrics');
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  });

  test('made-up Command Field values are one label, "other", not one label each kept for ever', async () => {
    const peer = await RawPeer.connect(pacs.port);
    const ac = await peer.accepted(associateRQ());
    for (const field of [0x0002, 0x0003, 0x0004, 0x0005, 0x0006]) {
      await peer.sendMessage(ac.presentationContexts[0]!.id, { CommandField: field, AffectedSOPClassUID: VERIFICATION, MessageID: field, CommandDataSetType: 0x0101 });
      assert.equal((await peer.readCommand()).command.Status, 0x0211);
    }
    await peer.end();
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.equal(metric(text, 'pacs_dimse_responses_total{operation="other",status="failure"}'), 5);
    assert.doesNotMatch(text, /operation="0x/);
  });
});
