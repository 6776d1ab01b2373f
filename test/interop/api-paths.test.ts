// The REST API's paths name one patient, study, series or instance exactly: wildcards, UID lists
// and blank values (which C-FIND matching reads as patterns, lists and "everything") are refused
// with a 400 problem before any query or delete runs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { SAMPLES } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';

const CT = path.join(SAMPLES, 'pydicom__CT_small.dcm');
const MR = path.join(SAMPLES, 'pydicom__MR_small.dcm');

describe('REST API paths name one entity', () => {
  let pacs: TestPacs;
  let web: FastifyInstance;
  type Stored = { StudyInstanceUID: string; SeriesInstanceUID: string; SOPInstanceUID: string };
  const stored: Stored[] = [];
  before(async () => {
    pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, known_nodes: [{ ae_title: 'ANY', host: '127.0.0.1', port: 1 }] as never });
    web = pacs.server.httpServer!;
    for (const f of [CT, MR]) {
      const r = await web.inject({ method: 'POST', url: '/api/instances', payload: fs.readFileSync(f), headers: { 'content-type': 'application/dicom' } });
      assert.equal(r.statusCode, 201, r.body);
      stored.push(r.json());
    }
  });
  after(() => pacs.stop());

  test('wildcards, lists and blanks are 400 problems at every level; exact values still work', async () => {
    const [ct, mr] = stored as [Stored, Stored];
    const patient = String((await web.inject({ method: 'GET', url: `/api/studies/${ct.StudyInstanceUID}` })).json().PatientID);
    const list = encodeURIComponent(`${ct.StudyInstanceUID}\\${mr.StudyInstanceUID}`);
    const prefix = `${ct.StudyInstanceUID.slice(0, 6)}*`;
    for (const url of [
      `/api/studies/${encodeURIComponent(prefix)}`,
      '/api/studies/%20',
      `/api/studies/${list}`,
      `/api/series/${encodeURIComponent(`${ct.SeriesInstanceUID.slice(0, 6)}?*`)}`,
      `/api/series/%20`,
      `/api/instances/${encodeURIComponent('*')}`,
      `/api/instances/${encodeURIComponent(`${ct.SOPInstanceUID}\\${mr.SOPInstanceUID}`)}`,
      `/api/patients/${encodeURIComponent('*')}`,
      '/api/patients/%20',
      '/api/patients/%20/studies',
      `/api/patients/${encodeURIComponent(`${patient.slice(0, 2)}*`)}/studies`,
      `/api/patients/${encodeURIComponent(`${patient}\\X`)}`,
      `/api/studies/${list}/protected`,
    ]) {
      const r = await web.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /problem\+json/);
    }
    assert.equal((await web.inject({ method: 'GET', url: `/api/patients/${encodeURIComponent(patient)}` })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: `/api/series/${ct.SeriesInstanceUID}` })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: `/api/instances/${ct.SOPInstanceUID}` })).statusCode, 200);
  });

  test('DICOMweb and WADO-URI: a path or parameter UID of *, a list or a blank is 400, not every series of the archive', async () => {
    const [ct, mr] = stored as [Stored, Stored];
    const list = encodeURIComponent(`${ct.StudyInstanceUID}\\${mr.StudyInstanceUID}`);
    for (const url of [
      '/dicom-web/studies/*/series',
      '/dicom-web/studies/*/instances',
      `/dicom-web/studies/${ct.StudyInstanceUID}/series/*/instances`,
      `/dicom-web/studies/${list}/series`,
      '/dicom-web/studies/%20/series',
      `/dicom-web/studies/${list}/metadata`,
      `/dicom-web/studies/${ct.StudyInstanceUID}/series/${ct.SeriesInstanceUID}/instances/*/metadata`,
      `/wado?requestType=WADO&studyUID=${ct.StudyInstanceUID}&seriesUID=${ct.SeriesInstanceUID}&objectUID=${encodeURIComponent(`${ct.SOPInstanceUID}\\${mr.SOPInstanceUID}`)}&contentType=application/dicom`,
      `/wado?requestType=WADO&studyUID=*&seriesUID=*&objectUID=${ct.SOPInstanceUID}&contentType=application/dicom`,
    ]) {
      const r = await web.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(String(r.headers['content-type']), /problem\+json/);
    }
    const one = await web.inject({ method: 'GET', url: `/dicom-web/studies/${ct.StudyInstanceUID}/series` });
    assert.equal(one.statusCode, 200);
    assert.equal(one.json<unknown[]>().length, 1);
    const wado = await web.inject({ method: 'GET', url: `/wado?requestType=WADO&studyUID=${ct.StudyInstanceUID}&seriesUID=${ct.SeriesInstanceUID}&objectUID=${ct.SOPInstanceUID}&contentType=application/dicom` });
    assert.equal(wado.statusCode, 200);
  });

  test('a list filter misspelt or not offered is a 400 naming it, not every row', async () => {
    for (const [url, name] of [
      ['/api/studies?Modality=MR', 'Modality'],
      ['/api/studies?patientname=DOE*', 'patientname'],
      ['/api/series?PatientName=X', 'PatientName'],
      ['/api/patients?StudyDate=20200101', 'StudyDate'],
      ['/api/studies?IssuerOfPatientID=HOSP', 'IssuerOfPatientID'],
    ] as const) {
      const r = await web.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
      assert.match(r.json<{ detail: string }>().detail, new RegExp(`^unknown filter ${name}: this list takes `));
    }
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies?ModalitiesInStudy=MR&limit=5&offset=0' })).statusCode, 200);
  });

  test('DELETE of a UID list, a wildcard or a blank deletes nothing', async () => {
    const [ct, mr] = stored as [Stored, Stored];
    const patientOf = async (s: Stored) => String((await web.inject({ method: 'GET', url: `/api/studies/${s.StudyInstanceUID}` })).json().PatientID);
    for (const url of [
      // Short enough for any length limit: a list of both patients' IDs.
      `/api/patients/${encodeURIComponent(`${await patientOf(ct)}\\${await patientOf(mr)}`)}`,
      `/api/studies/${encodeURIComponent(`${ct.StudyInstanceUID}\\${mr.StudyInstanceUID}`)}`,
      `/api/studies/${encodeURIComponent('1*')}`,
      `/api/series/${encodeURIComponent(`${ct.SeriesInstanceUID}\\${mr.SeriesInstanceUID}`)}`,
      '/api/patients/%20',
      `/api/patients/${encodeURIComponent('*')}`,
    ]) {
      const r = await web.inject({ method: 'DELETE', url });
      assert.equal(r.statusCode, 400, `${url}: ${r.body}`);
    }
    assert.equal((await pacs.server.archive.index.statistics()).studies, 2, 'both studies kept');
  });

  test('send and pull: uids that are patterns, lists or blanks, or not UIDs below PATIENT level, are a 400 before any job is queued', async () => {
    for (const [url, body] of [
      ['/api/send', { destination: 'ANY', uids: ['*'] }],
      ['/api/send', { destination: 'ANY', level: 'SERIES', uids: ['1.2.3', '1.2.*'] }],
      ['/api/send', { destination: 'ANY', level: 'PATIENT', uids: [' '] }],
      ['/api/pull', { source: 'ANY', uids: ['1.2.3\\1.2.4'] }],
      ['/api/pull', { source: 'ANY', level: 'STUDY', uids: ['not-a-uid'] }],
    ] as const) {
      const r = await web.inject({ method: 'POST', url, payload: body });
      assert.equal(r.statusCode, 400, `${url} ${JSON.stringify(body)}: ${r.body}`);
    }
    assert.equal((await pacs.server.archive.index.jobs.list({ limit: 10, offset: 0 })).total, 0);
  });
});
