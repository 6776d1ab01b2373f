// The audit trail (logging.audit_file): storescu's instances summed per study and sender, a
// C-FIND with its keys, a C-GET with the studies it handed out, a rejected association, a job
// sending a study out, and HTTP: a deletion by a named user, a failed login, a refused access,
// DICOMweb reads.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { basic } from '../helpers/http-users.js';

const CT2 = ['pydicom-dicomdir__77654033_CT2_17106.dcm', 'pydicom-dicomdir__77654033_CT2_17136.dcm'].map((f) => path.join(SAMPLES, f));
const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';

describe('audit trail', () => {
  let pacs: TestPacs;
  let file: string;
  const entries = (): Record<string, unknown>[] => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  before(async () => {
    file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-audit-')), 'audit.jsonl');
    pacs = await startTestPacs({
      logging: { level: 'silent', audit_file: file },
      http: { enabled: true, port: 0, host: '127.0.0.1', users: [{ username: 'ann', password: 'ann-secret', role: 'admin' }, { username: 'bob', password: 'bob-secret', role: 'read' }] },
      access_control: { allowed_ae_titles: ['STORESCU', 'FINDSCU', 'GETSCU'] },
    });
  });
  after(() => pacs.stop());

  test('DICOM: stores per study and sender, a query with its keys, a retrieve with its studies, a rejected association', async () => {
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...CT2])).code, 0);
    assert.equal((await run('findscu', ['-S', '-aec', 'PACS_SERVER', '-k', 'QueryRetrieveLevel=STUDY', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID', '127.0.0.1', String(pacs.port)])).code, 0);
    const out = fs.mkdtempSync(path.join(pacs.dir, 'get-'));
    assert.equal((await run('getscu', ['-S', '-aec', 'PACS_SERVER', '-od', out, '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)])).code, 0);
    await run('echoscu', ['-aet', 'INTRUDER', '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    await run('echoscu', ['-aet', 'STORESCU', '-aec', 'NOT_US', '127.0.0.1', String(pacs.port)]);
    await new Promise((r) => setTimeout(r, 300));
    const e = entries();
    const store = e.find((x) => x.action === 'store');
    assert.deepEqual({ ...store, time: undefined }, { time: undefined, action: 'store', outcome: 'success', who: 'STORESCU', from: '127.0.0.1', what: { source: 'dimse', study: CT_STUDY, patient: '77654033', instances: 2, bytes: (store!.what as { bytes: number }).bytes } });
    const query = e.find((x) => x.action === 'query');
    assert.equal(query?.who, 'FINDSCU');
    assert.deepEqual((query?.what as { keys: unknown }).keys, { PatientID: '77654033' });
    const retrieve = e.find((x) => x.action === 'retrieve');
    assert.equal(retrieve?.who, 'GETSCU');
    assert.deepEqual((retrieve?.what as { studies: string[] }).studies, [CT_STUDY]);
    assert.equal((retrieve?.what as { instances: number }).instances, 2);
    assert.ok(e.some((x) => x.action === 'access-denied' && x.who === 'INTRUDER'));
    const wrongCalled = e.find((x) => x.action === 'access-denied' && x.who === 'STORESCU');
    assert.match(String((wrongCalled?.what as { reason?: string }).reason), /called AE title NOT_US is not ours/, 'the reason, as for the other refusals');
  });

  test('DICOM: a C-MOVE refused (a destination not known) is in the trail', async () => {
    await run('movescu', ['-S', '-aet', 'GETSCU', '-aec', 'PACS_SERVER', '-aem', 'NOBODY', '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
    await new Promise((r) => setTimeout(r, 300));
    const refused = entries().find((x) => x.action === 'retrieve' && x.outcome === 'failure');
    assert.deepEqual([refused?.who, (refused?.what as { status: string; destination: string }).status, (refused?.what as { destination: string }).destination], ['GETSCU', '0xa801', 'NOBODY']);
  });

  test('DICOM: a worklist query with its keys, inside the scheduled step too', async () => {
    const r = await run('findscu', ['-W', '-aet', 'FINDSCU', '-aec', 'PACS_SERVER', '-k', 'PatientID=WL42', '-k', '(0040,0100)[0].Modality=CT', '-k', 'PatientName', '127.0.0.1', String(pacs.port)]);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((r) => setTimeout(r, 300));
    const wl = entries().find((x) => x.action === 'query' && (x.what as { model?: string }).model === 'worklist');
    assert.deepEqual([wl?.who, (wl?.what as { keys: unknown }).keys], ['FINDSCU', { PatientID: 'WL42', Modality: 'CT' }]);
  });

  test('a job sending a study out (a send to a node) leaves an export line per attempt: where, what, how it went', async () => {
    const web = pacs.server.httpServer!;
    const put = await web.inject({ method: 'PUT', url: '/api/nodes/NOWHERE', headers: { ...basic('ann', 'ann-secret'), 'content-type': 'application/json' }, payload: { host: '127.0.0.1', port: 1 } });
    assert.ok(put.statusCode < 300, put.body);
    const sent = await web.inject({ method: 'POST', url: '/api/send', headers: { ...basic('ann', 'ann-secret'), 'content-type': 'application/json' }, payload: { destination: 'NOWHERE', uids: [CT_STUDY] } });
    assert.ok(sent.statusCode < 300, sent.body);
    const job = sent.json<{ id: number }>().id;
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 100 && !line; i++) {
      await new Promise((r) => setTimeout(r, 100));
      line = entries().find((x) => x.action === 'export' && (x.what as { job?: number }).job === job);
    }
    assert.ok(line, 'an export line for the job');
    assert.equal(line.outcome, 'failure');
    const { type, to, level, uids, deidentified, state, error } = line.what as Record<string, unknown>;
    assert.deepEqual({ type, to, level, uids, deidentified, state }, { type: 'send', to: 'NOWHERE', level: 'STUDY', uids: [CT_STUDY], deidentified: false, state: 'queued' });
    assert.match(String(error), /NOWHERE|refused|connect/i);
    await web.inject({ method: 'DELETE', url: `/api/jobs/${job}`, headers: basic('ann', 'ann-secret') });
  });

  test('HTTP: a deletion by its user, a failed login, a refused access', async () => {
    const web = pacs.server.httpServer!;
    assert.equal((await web.inject({ method: 'GET', url: '/api/studies', headers: basic('ann', 'wrong') })).statusCode, 401);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/studies/${CT_STUDY}`, headers: basic('bob', 'bob-secret') })).statusCode, 403);
    assert.equal((await web.inject({ method: 'DELETE', url: `/api/studies/${CT_STUDY}`, headers: basic('ann', 'ann-secret') })).statusCode, 200);
    assert.equal((await web.inject({ method: 'GET', url: '/dicom-web/studies', headers: basic('bob', 'bob-secret') })).statusCode, 200);
    await new Promise((r) => setTimeout(r, 300)); // the file is written asynchronously
    const e = entries();
    const failed = e.find((x) => x.action === 'login-failed' && x.outcome === 'failure');
    assert.equal((failed?.what as { triedUser?: string }).triedUser, 'ann', 'the user name tried, not the password');
    assert.ok(!JSON.stringify(e).includes('wrong'), 'no password in the trail');
    assert.ok(e.some((x) => x.action === 'access-denied' && x.who === 'bob'));
    const del = e.find((x) => x.action === 'delete' && x.outcome === 'success');
    assert.equal(del?.who, 'ann');
    assert.equal((del?.what as { url: string }).url, `/api/studies/${CT_STUDY}`);
    assert.ok(e.some((x) => x.action === 'http' && x.who === 'bob' && (x.what as { url: string }).url === '/dicom-web/studies'));
    // The same read polled again within a minute (the status page every 2 s) is one line.
    for (let i = 0; i < 3; i++) assert.equal((await web.inject({ method: 'GET', url: '/api/status', headers: basic('bob', 'bob-secret') })).statusCode, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(entries().filter((x) => x.who === 'bob' && (x.what as { url: string }).url === '/api/status').length, 1);
  });

  test('HTTP: a deletion whose client left before the answer is recorded when it is done', async () => {
    assert.equal((await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...CT2])).code, 0);
    const store = pacs.server.archive.store;
    const exclusive = store.exclusive.bind(store);
    // Each instance's delete held a moment: the client is gone long before the last.
    store.exclusive = async (uid, fn) => {
      await new Promise((r) => setTimeout(r, 150));
      return exclusive(uid, fn);
    };
    try {
      const port = pacs.server.httpServer!.server.address() as AddressInfo;
      const req = http.request({ port: port.port, host: '127.0.0.1', method: 'DELETE', path: `/api/studies/${CT_STUDY}`, headers: basic('ann', 'ann-secret') });
      req.on('error', () => {});
      req.end();
      await new Promise((r) => setTimeout(r, 60));
      req.destroy();
      for (let i = 0; i < 100 && (await pacs.server.archive.index.findStudy(CT_STUDY)); i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await pacs.server.archive.index.findStudy(CT_STUDY), null, 'the delete went on to its end');
    } finally {
      store.exclusive = exclusive;
    }
    await new Promise((r) => setTimeout(r, 300));
    const gone = entries().filter((x) => x.action === 'delete' && (x.what as { clientGone?: boolean }).clientGone);
    assert.equal(gone.length, 1, JSON.stringify(entries().slice(-3)));
    assert.deepEqual([gone[0]!.who, gone[0]!.outcome, (gone[0]!.what as { status: number }).status], ['ann', 'success', 200]);
  });

  test('HTTP: what a change did — the value protected, the node written, the job queued and what it sends; an upload by its user', async () => {
    const web = pacs.server.httpServer!;
    const ann = basic('ann', 'ann-secret');
    const upload = await web.inject({ method: 'POST', url: '/api/instances', headers: { ...ann, 'content-type': 'application/dicom' }, payload: fs.readFileSync(CT2[0]!) });
    assert.equal(upload.statusCode, 201, upload.body);
    for (const value of [true, false]) assert.equal((await web.inject({ method: 'PUT', url: `/api/studies/${CT_STUDY}/protected`, headers: ann, payload: { protected: value } })).statusCode, 200);
    assert.equal((await web.inject({ method: 'PUT', url: '/api/nodes/VIEWER', headers: ann, payload: { host: '127.0.0.1', port: 11112 } })).statusCode, 201);
    const send = await web.inject({ method: 'POST', url: '/api/send', headers: ann, payload: { destination: 'VIEWER', level: 'STUDY', uids: [CT_STUDY] } });
    assert.equal(send.statusCode, 202, send.body);
    await pacs.server.stop(); // the stores' summary is written at the stop
    const e = entries();
    const what = (x: Record<string, unknown>) => x.what as Record<string, unknown>;
    const stored = e.filter((x) => x.action === 'store' && what(x).source === 'upload');
    assert.deepEqual(stored.map((x) => x.who), ['ann']);
    assert.deepEqual(e.filter((x) => String(what(x).url).endsWith('/protected')).map((x) => what(x).protected), [true, false]);
    const node = e.find((x) => what(x).url === '/api/nodes/VIEWER');
    assert.deepEqual((what(node!).node as { host: string; port: number }), { ae_title: 'VIEWER', host: '127.0.0.1', port: 11112, tls: false, permissions: (what(node!).node as { permissions: string[] }).permissions, description: '' });
    const sent = e.filter((x) => what(x).url === '/api/send').at(-1);
    assert.deepEqual([what(sent!).job, what(sent!).destination, what(sent!).uids], [(send.json() as { id: number }).id, 'VIEWER', [CT_STUDY]]);
  });
});
