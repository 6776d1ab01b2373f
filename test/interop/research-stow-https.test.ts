// STOW-RS forward over HTTPS: the receiver (a second pacs-server, HTTPS with a certificate of
// a test CA) is trusted through the server's ca_path; without it the job fails at once and
// says the certificate is not trusted.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/dcmtk.js';
import { makeCertificates } from '../helpers/certificates.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { makeStudy, waitFor } from '../helpers/research.js';
import type { Job } from '../../src/index/jobs.js';

let dir: string;
let source: TestPacs;
let receiver: TestPacs;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-stow-https-'));
  await makeCertificates(dir);
  const f = (name: string): string => path.join(dir, name);
  receiver = await startTestPacs({
    tls: { enabled: true, cert_path: f('server.crt'), key_path: f('server.key') },
    http: { enabled: true, port: 0, host: '127.0.0.1' },
  });
  const url = `https://localhost:${(receiver.server.httpServer!.server.address() as { port: number }).port}/dicom-web`;
  source = await startTestPacs({
    jobs: { backoff_seconds: 1, max_attempts: 5 },
    stability: { stable_after: 0.5, check_interval: 0.2 },
    dicomweb_servers: [
      { name: 'TRUSTED', url, ca_path: f('ca.crt') },
      { name: 'UNTRUSTED', url },
    ] as never,
    rules: [
      { name: 'trusted', match: { StudyDescription: 'Trusted' }, actions: [{ type: 'forward', dicomweb: 'TRUSTED' }] },
      { name: 'untrusted', match: { StudyDescription: 'Untrusted' }, actions: [{ type: 'forward', dicomweb: 'UNTRUSTED' }] },
    ] as never,
  });
});
after(async () => {
  await source?.stop();
  await receiver?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function forward(description: string, rule: string): Promise<{ job: Job; studyUID: string }> {
  const study = await makeStudy(path.join(source.dir, 'in', rule), { patientID: `SUBJ-${rule}`, studyDescription: description, series: [{ number: 1, description: 'T1', count: 2 }] });
  assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(source.port), ...study.files])).code, 0);
  const job = await waitFor(`the stow job of ${rule}`, async () => {
    const j = (await source.server.archive.index.jobs.list({ type: 'stow', limit: 10, offset: 0 })).jobs.find((x) => x.payload.rule === rule);
    return j && (j.state === 'succeeded' || j.state === 'failed') ? j : null;
  });
  return { job, studyUID: study.studyUID };
}

test('HTTPS to a server whose certificate chains to ca_path', async () => {
  const { job, studyUID } = await forward('Trusted', 'trusted');
  assert.equal(job.state, 'succeeded', job.lastError ?? '');
  assert.equal((await receiver.server.archive.index.findStudy(studyUID))?.NumberOfStudyRelatedInstances, 2);
});

test('HTTPS without the CA: failed at once, the certificate not trusted', async () => {
  const { job } = await forward('Untrusted', 'untrusted');
  assert.equal(job.state, 'failed');
  assert.equal(job.attempts, 1);
  assert.match(job.lastError!, /UNTRUSTED \(STOW-RS\): localhost:\d+: its TLS certificate is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE.*set ca_path/);
});
