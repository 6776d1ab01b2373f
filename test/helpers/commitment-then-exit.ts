// Run as a child process by test/interop/commitment-exit.test.ts: a storage commitment request
// accepted, its requester gone (released at once) and the server stopped before the report's job
// ran (it runs after the next start). The process must then end by itself; what still holds it
// is printed a second after the stop.
import { startTestPacs } from './pacs.js';
import { CommitmentReportListener, requestAndWait } from '../../src/cli/commitment-scu.js';
import { dropTestSchemas } from '../contract/backends.js';

const listener = new CommitmentReportListener({ port: 0, host: '127.0.0.1' });
const listenPort = await listener.start();
const pacs = await startTestPacs({ known_nodes: [{ ae_title: 'MODALITY1', host: '127.0.0.1', port: listenPort }] as never });
const peer = { host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'MODALITY1', timeoutMs: 10_000 };
await pacs.server.jobs.stop(0);
const closed = new Promise<void>((r) => {
  const off = pacs.server.archive.events.on('association.closed', () => (off(), r()));
});
const asked = requestAndWait(peer, [{ sopClassUID: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUID: '1.2.3.4.5.6' }], { releaseAtOnce: true, listener, waitMs: 1000 }).then(
  (r) => ({ status: r.status, reported: r.report !== null }),
  (e: Error) => ({ error: e.message }),
);
await closed;
const queued = (await pacs.server.archive.index.jobs.list({ type: 'commitment', state: 'queued', limit: 1, offset: 0 })).total;
await pacs.stop();
console.log(`RESULT ${JSON.stringify({ queued, ...(await asked) })}`);
await listener.stop();
await dropTestSchemas(); // the test's own pool on PostgreSQL (PACS_TEST_INDEX=postgres), not the server's
setTimeout(() => console.error(`still running a second after the stop: ${process.getActiveResourcesInfo().join(', ')}`), 1000).unref();
