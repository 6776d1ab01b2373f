// A DICOMweb server that is not ours as the receiver of a rule's STOW-RS forward: Orthanc with
// its DICOMweb plugin, behind HTTP Basic authentication, gets the stable study byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from '../helpers/dcmtk.js';
import { orthancSkip, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { makeStudy, waitFor } from '../helpers/research.js';

describe('STOW-RS forward to Orthanc (DICOMweb plugin)', { skip: orthancSkip }, () => {
  let pacs: TestPacs;
  let orthanc: Orthanc;
  let dir: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stow-orthanc-'));
    orthanc = await startOrthanc(dir, { users: { forwarder: 'orthanc-secret' } });
    pacs = await startTestPacs({
      jobs: { backoff_seconds: 1, max_attempts: 5 },
      stability: { stable_after: 0.5, check_interval: 0.2 },
      dicomweb_servers: [{ name: 'ORTHANC', url: orthanc.dicomweb, username: 'forwarder', password: 'orthanc-secret', max_instances_per_request: 3 }] as never,
      rules: [{ name: 'to-orthanc', on: 'study.stable', match: { Modality: 'MR' }, actions: [{ type: 'forward', dicomweb: 'ORTHANC' }] }] as never,
    });
  });
  after(async () => {
    await orthanc?.stop();
    await pacs?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a stable study arrives in Orthanc, every instance, byte for byte', async () => {
    const study = await makeStudy(path.join(pacs.dir, 'in'), { patientID: 'SUBJ200', studyDescription: 'To Orthanc', series: [{ number: 1, description: 'T1', count: 4 }, { number: 2, description: 'T2', count: 3 }] });
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...study.files])).code, 0);
    const job = await waitFor('the stow job', async () => {
      const j = (await pacs.server.archive.index.jobs.list({ type: 'stow', limit: 10, offset: 0 })).jobs[0];
      return j && (j.state === 'succeeded' || j.state === 'failed') ? j : null;
    });
    assert.equal(job.state, 'succeeded', `${job.lastError ?? ''}\n${orthanc.log()}`);
    assert.equal(job.progress.completed, 7);
    const found = (await orthanc.call('POST', '/tools/find', { Level: 'Instance', Query: { StudyInstanceUID: study.studyUID }, Expand: true })) as { ID: string; MainDicomTags: { SOPInstanceUID: string } }[];
    const ours = await pacs.server.archive.index.instancesOf(study.studyUID);
    assert.deepEqual(found.map((i) => i.MainDicomTags.SOPInstanceUID).sort(), ours.map((i) => i.SOPInstanceUID).sort());
    for (const i of found) {
      const loc = ours.find((o) => o.SOPInstanceUID === i.MainDicomTags.SOPInstanceUID)!;
      const r = await fetch(`${orthanc.api}/instances/${i.ID}/file`, { headers: { Authorization: `Basic ${Buffer.from('forwarder:orthanc-secret').toString('base64')}` } });
      assert.ok(Buffer.from(await r.arrayBuffer()).equals(fs.readFileSync(pacs.server.archive.objects.absolutePath(loc.path))), `${loc.SOPInstanceUID} differs in Orthanc`);
    }
  });
});
