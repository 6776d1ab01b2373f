// A DICOMweb client that is not ours: Orthanc with its DICOMweb plugin, configured with
// pacs-server as a remote DICOMweb server, searches us (QIDO-RS), retrieves a study from us
// into itself (WADO-RS) and sends a study of its own to us (STOW-RS).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { orthancSkip, startOrthanc, type Orthanc } from '../helpers/orthanc.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');
const MR_STUDY = '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457';

describe('Orthanc (DICOMweb plugin) as a client of our DICOMweb', { skip: orthancSkip }, () => {
  let pacs: TestPacs;
  let orthanc: Orthanc;
  const call = (method: string, url: string, body?: unknown): Promise<unknown> => orthanc.call(method, url, body);
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT])).code, 0);
    const ours = (pacs.server.httpServer!.server.address() as { port: number }).port;
    orthanc = await startOrthanc(pacs.dir, { dicomwebServers: { pacs: `http://127.0.0.1:${ours}/dicom-web/` } });
  });
  after(async () => {
    await orthanc?.stop();
    await pacs?.stop();
  });

  test('QIDO-RS: Orthanc finds our study by patient ID', async () => {
    const answers = (await call('POST', '/dicom-web/servers/pacs/qido', { Uri: '/studies', Arguments: { '00100020': '1CT1' } })) as Record<string, { Value?: unknown[] }>[];
    assert.equal(answers.length, 1);
    // Orthanc hands the answer on in its own simplified form (a single value unwrapped).
    assert.deepEqual([answers[0]!['0020000D']!.Value].flat(), [CT_STUDY]);
  });

  test('WADO-RS: Orthanc retrieves our study into itself, the same instance', async () => {
    await call('POST', '/dicom-web/servers/pacs/retrieve', { Resources: [{ Study: CT_STUDY }] });
    const found = (await call('POST', '/tools/find', { Level: 'Instance', Query: { StudyInstanceUID: CT_STUDY }, Expand: true })) as { MainDicomTags: { SOPInstanceUID: string } }[];
    assert.equal(found.length, 1);
    const [ours] = await pacs.server.archive.index.listInstances(null, 1);
    assert.equal(found[0]!.MainDicomTags.SOPInstanceUID, ours!.SOPInstanceUID);
  });

  test('STOW-RS: Orthanc sends one of its studies to us', async () => {
    const uploaded = (await call('POST', '/instances', fs.readFileSync(MR))) as { ParentStudy: string };
    await call('POST', '/dicom-web/servers/pacs/stow', { Resources: [uploaded.ParentStudy] });
    const study = await pacs.server.archive.index.findStudy(MR_STUDY);
    assert.equal(study?.NumberOfStudyRelatedInstances, 1);
  });
});
