// A DICOMweb client that is not ours: Orthanc with its DICOMweb plugin, configured with
// pacs-server as a remote DICOMweb server, searches us (QIDO-RS), retrieves a study from us
// into itself (WADO-RS) and sends a study of its own to us (STOW-RS).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, freePort, run, waitForPort } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');
const MR_STUDY = '1.3.6.1.4.1.5962.1.2.4.20040826185059.5457';
const available = fs.existsSync(PLUGIN) && fs.existsSync('/usr/sbin/Orthanc');
// .ci/run installs them: in CI a missing Orthanc is a failure, not a reason to skip.
if (!available && process.env.CI === 'true') throw new Error('Orthanc and its DICOMweb plugin must be installed in CI (.ci/run)');

describe('Orthanc (DICOMweb plugin) as a client of our DICOMweb', { skip: available ? false : 'Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb; .ci/run does)' }, () => {
  let pacs: TestPacs;
  let orthanc: ChildProcess;
  let api: string;
  const call = async (method: string, url: string, body?: unknown): Promise<unknown> => {
    const r = await fetch(`${api}${url}`, { method, ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) }) });
    const text = await r.text();
    assert.ok(r.ok, `Orthanc ${method} ${url}: ${r.status} ${text}`);
    return text ? (JSON.parse(text) as unknown) : null;
  };
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), CT])).code, 0);
    const ours = (pacs.server.httpServer!.server.address() as { port: number }).port;
    const dir = fs.mkdtempSync(path.join(pacs.dir, 'orthanc-'));
    const httpPort = await freePort();
    const config = {
      Name: 'client',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'index'),
      DicomPort: await freePort(),
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      Plugins: [PLUGIN],
      DicomWeb: { Enable: true, Root: '/dicom-web/', Servers: { pacs: [`http://127.0.0.1:${ours}/dicom-web/`] } },
    };
    fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config));
    orthanc = spawn('Orthanc', [path.join(dir, 'orthanc.json')], { stdio: 'ignore' });
    await waitForPort(httpPort, 30_000);
    api = `http://127.0.0.1:${httpPort}`;
  });
  after(async () => {
    orthanc?.kill();
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
