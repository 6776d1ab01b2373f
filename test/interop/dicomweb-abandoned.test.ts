// A DICOMweb or WADO-URI request whose client goes away while its frames are being converted
// or rendered on the codec pool: what it queued must leave the queue, and nothing new may
// start for it, or one abandoned large retrieve holds the pool (and its bounded queue) against
// everyone else's. The pool's worker holds every task until the test lets it through
// (helpers/codec-gate.ts): what is queued and what starts is exact, with no timing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { GATED_STUDY as STUDY, abandonWhileHeld, gatedArchive } from '../helpers/codec-gate.js';

const SERIES = '999.999.2.19941016.083000.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const COPIES = 4;
const sop = (i: number): string => `2.25.4243.${i}`;
const instance = (i: number): string => `/dicom-web/studies/${STUDY}/series/${SERIES}/instances/${sop(i)}`;

describe('conversions and renderings of an abandoned HTTP request stop', () => {
  const archive = gatedArchive({ http: { enabled: true, port: 0, host: '127.0.0.1' } }, COPIES, sop, ['-m', `(0020,000e)=${SERIES}`]);
  const port = (): number => (archive.pacs.server.httpServer!.server.address() as { port: number }).port;

  /** A request to answer after the gate opens: the server still answers, and has had its turn. */
  const settle = async (): Promise<void> => {
    const res = await fetch(`http://127.0.0.1:${port()}/dicom-web/studies?StudyInstanceUID=${STUDY}`);
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  };

  /** GETs `url`, and once its tasks are in the pool, closes the connection. */
  async function abandonGet(url: string, accept: string, minQueued = 1): Promise<void> {
    const req = http.get({ host: '127.0.0.1', port: port(), path: url, headers: { accept } });
    req.on('error', () => {}); // the connection we close
    req.on('response', (res) => res.resume());
    try {
      await abandonWhileHeld(archive.pool, archive.gate, { giveUp: () => void req.destroy(), settle, lines: archive.log.lines, minQueued });
    } finally {
      req.destroy();
    }
  }

  const dicom = `multipart/related; type="application/dicom"; transfer-syntax=${EXPLICIT_LE}`;

  test('WADO-RS study retrieve decompressing, multipart (instances read ahead)', () => abandonGet(`/dicom-web/studies/${STUDY}`, dicom));

  test('WADO-RS series retrieve decompressing', () => abandonGet(`/dicom-web/studies/${STUDY}/series/${SERIES}`, dicom));

  test('WADO-RS instance retrieve decompressing, one bare part', () => abandonGet(instance(1), `application/dicom; transfer-syntax=${EXPLICIT_LE}`));

  test('WADO-URI application/dicom decompressing', () =>
    abandonGet(`/wado?requestType=WADO&studyUID=${STUDY}&seriesUID=${SERIES}&objectUID=${sop(2)}&contentType=application/dicom&transferSyntax=${EXPLICIT_LE}`, 'application/dicom'));

  test('WADO-RS rendered study (images rendered ahead)', () => abandonGet(`/dicom-web/studies/${STUDY}/rendered`, 'multipart/related; type="image/jpeg"'));

  test('WADO-RS rendered frames of one instance', () => abandonGet(`${instance(3)}/frames/1,2,3,4,5,6,7,8,9,10,11,12/rendered`, 'multipart/related; type="image/jpeg"', 0));

  test('WADO-RS rendered instance: the one frame on the worker is given up', () => abandonGet(`${instance(4)}/rendered`, 'image/jpeg', 0));

  test('WADO-RS thumbnail', () => abandonGet(`${instance(1)}/thumbnail`, 'image/jpeg', 0));

  test('WADO-URI image/jpeg', () => abandonGet(`/wado?requestType=WADO&studyUID=${STUDY}&seriesUID=${SERIES}&objectUID=${sop(3)}`, 'image/jpeg', 0));
});
