// Storage Commitment Push Model SCP through our SCU: instances sent by storescu are committed,
// unknown ones, a class that contradicts the index and a file whose checksum changed are not;
// the report comes on the request's association, or on a new one to the requester as a known
// node (with role selection) once that is released, and after a restart for a request
// accepted before it. Error paths of N-ACTION by hand-built PDUs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { RawPeer, associateRQ, EXPLICIT_LE } from '../helpers/raw-peer.js';
import { CommitmentReportListener, requestAndWait } from '../../src/cli/commitment-scu.js';
import { PacsServer } from '../../src/app.js';
import { createLogger } from '../../src/core/logging.js';
import { CommandField } from '../../src/net/dimse/command.js';
import { SopClass, STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE } from '../../src/dicom/uids.js';
import { encodeJsonDataset } from '../../src/dicom/json-encode.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const CT_SMALL = { sopClassUID: CT, sopInstanceUID: '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322' };
const MR_SMALL = { sopClassUID: MR, sopInstanceUID: '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457' };
const SC = SopClass.StorageCommitmentPushModel;

describe('Storage Commitment SCP', () => {
  let pacs: TestPacs;
  let listener: CommitmentReportListener;
  let restarted: PacsServer | null = null;
  const peer = () => ({ host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'MODALITY1', timeoutMs: 10_000 });

  before(async () => {
    listener = new CommitmentReportListener({ port: 0, host: '127.0.0.1' });
    const listenPort = await listener.start();
    pacs = await startTestPacs({ known_nodes: [{ ae_title: 'MODALITY1', host: '127.0.0.1', port: listenPort }] as never });
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm'), path.join(SAMPLES, 'pydicom__MR_small.dcm')]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await listener.stop();
    await restarted?.stop();
    await pacs.stop();
  });

  test('on the same association: committed and failed lists with reasons', async () => {
    const unknown = { sopClassUID: CT, sopInstanceUID: '1.2.3.4.5.6' };
    const wrongClass = { sopClassUID: CT, sopInstanceUID: MR_SMALL.sopInstanceUID };
    const notStorage = { sopClassUID: '1.2.840.10008.3.1.2.3.3', sopInstanceUID: '1.2.3.4.5.7' }; // an MPPS
    const r = await requestAndWait(peer(), [CT_SMALL, MR_SMALL, unknown, wrongClass, notStorage]);
    assert.equal(r.status, 0, r.comment);
    const report = r.report!;
    assert.equal(report.sameAssociation, true);
    assert.equal(report.eventTypeId, 2, 'some failed');
    assert.deepEqual(report.committed, [CT_SMALL, MR_SMALL]);
    assert.deepEqual(report.failed, [
      { ...unknown, reason: 0x0112 },
      { ...wrongClass, reason: 0x0119 },
      { ...notStorage, reason: 0x0122 },
    ]);
    const all = await requestAndWait(peer(), [CT_SMALL]);
    assert.equal(all.report!.eventTypeId, 1, 'all committed');
    // Our answer to each report went out before the release: the SCP saw it taken, and did not
    // send the report again on a new association (to the listener of MODALITY1).
    const jobs = pacs.server.archive.index.jobs;
    const mine = async () => (await jobs.list({ type: 'commitment', limit: 10, offset: 0 })).jobs;
    while ((await mine()).some((j) => j.state !== 'succeeded')) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(
      (await mine()).map((j) => j.progress.message),
      ['reported to MODALITY1 on its association', 'reported to MODALITY1 on its association'],
    );
    assert.equal(listener.proposedRoles.length, 0, 'no association to MODALITY1 with a report');
  });

  test('asked again with the same Transaction UID after its report: reported again, not swallowed by the first job', async () => {
    const transactionUID = '1.2.826.0.1.3680043.10.999.4242';
    const first = await requestAndWait(peer(), [CT_SMALL], { transactionUID });
    assert.equal(first.report!.eventTypeId, 1);
    const again = await requestAndWait(peer(), [CT_SMALL, { sopClassUID: CT, sopInstanceUID: '1.2.3.4.5.7' }], { transactionUID, waitMs: 10_000 });
    assert.equal(again.status, 0);
    assert.equal(again.report!.sameAssociation, true);
    assert.equal(again.report!.eventTypeId, 2, 'the second request is what is reported');
  });

  test('a file changed on disk is not committed to (checksum)', async () => {
    const loc = await pacs.server.archive.index.findInstance(MR_SMALL.sopInstanceUID);
    const file = path.join(pacs.storageDir, loc!.path);
    const original = fs.readFileSync(file);
    try {
      const changed = Buffer.from(original);
      changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 0xff, changed.length - 1);
      fs.writeFileSync(file, changed);
      const r = await requestAndWait(peer(), [CT_SMALL, MR_SMALL]);
      assert.deepEqual(r.report!.failed, [{ ...MR_SMALL, reason: 0x0110 }]);
    } finally {
      fs.writeFileSync(file, original);
    }
  });

  test('released at once: the report comes on a new association, we proposing the SCP role', async () => {
    const r = await requestAndWait(peer(), [CT_SMALL], { releaseAtOnce: true, listener });
    assert.equal(r.status, 0);
    assert.equal(r.report!.sameAssociation, false);
    assert.equal(r.report!.from, 'PACS_SERVER');
    assert.deepEqual(r.report!.committed, [CT_SMALL]);
    assert.ok(listener.proposedRoles.some((p) => p.sopClass === SC && p.scpRole && !p.scuRole));
  });

  test('a request accepted before a restart is answered after it', async () => {
    // The last test's job may still be releasing its association: a stop now would run it again.
    const jobs = pacs.server.archive.index.jobs;
    while ((await jobs.list({ state: 'running', limit: 1, offset: 0 })).total) await new Promise((r) => setTimeout(r, 50));
    await pacs.server.jobs.stop();
    const pending = requestAndWait(peer(), [CT_SMALL, MR_SMALL], { releaseAtOnce: true, listener, waitMs: 20_000, transactionUID: '1.2.826.0.1.3680043.8.498.77' });
    await new Promise((r) => setTimeout(r, 300));
    const queued = await jobs.list({ type: 'commitment', state: 'queued', limit: 10, offset: 0 });
    assert.equal(queued.total, 1, `queued, not yet answered: ${JSON.stringify(queued.jobs)}`);
    const config = pacs.server.archive.config();
    await pacs.server.stop();
    restarted = await PacsServer.create(config, { logger: createLogger({ level: 'silent' }) });
    pacs.port = (await restarted.start()).dicomPort;
    const r = await pending;
    assert.equal(r.report!.transactionUID, '1.2.826.0.1.3680043.8.498.77');
    assert.equal(r.report!.committed.length, 2);
  });

  test('hand-built N-ACTIONs: wrong instance, wrong action type, no Transaction UID', async () => {
    const p = await RawPeer.connect(pacs.port);
    try {
      await p.accepted(associateRQ({ contexts: [{ abstractSyntax: SC, transferSyntaxes: [EXPLICIT_LE] }] }));
      const ds = encodeJsonDataset({ '00081199': { vr: 'SQ', Value: [{ '00081150': { vr: 'UI', Value: [CT] }, '00081155': { vr: 'UI', Value: ['1.2.3'] } }] } }, EXPLICIT_LE, null);
      const action = (id: number, extra: object) => ({ CommandField: CommandField.N_ACTION_RQ, MessageID: id, RequestedSOPClassUID: SC, RequestedSOPInstanceUID: STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE, ActionTypeID: 1, CommandDataSetType: 0x0000, ...extra });
      await p.sendMessage(1, action(1, { RequestedSOPInstanceUID: '1.2.3' }), ds);
      const wrong = (await p.readCommand()).command;
      assert.equal(wrong.Status, 0x0112);
      assert.equal(wrong.AffectedSOPInstanceUID, '1.2.3', 'the instance asked for, not the well-known one (PS3.7 10.3.4.2)');
      await p.sendMessage(1, action(2, { ActionTypeID: 2 }), ds);
      const type = (await p.readCommand()).command;
      assert.equal(type.Status, 0x0123);
      assert.equal(type.AffectedSOPInstanceUID, STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE);
      await p.sendMessage(1, action(3, {}), ds);
      const noUid = (await p.readCommand()).command;
      assert.equal(noUid.Status, 0x0115);
      assert.match(noUid.ErrorComment ?? '', /Transaction UID/);
      // Its Referenced SOP Sequence as text: once a TypeError inside the handler, and no answer at all.
      const asText = encodeJsonDataset({ '00081195': { vr: 'UI', Value: ['2.25.1'] }, '00081199': { vr: 'LO', Value: [null, 'A'] } } as never, EXPLICIT_LE, null);
      await p.sendMessage(1, action(4, {}), asText);
      const text = (await p.readCommand()).command;
      assert.equal(text.Status, 0x0115);
      assert.match(text.ErrorComment ?? '', /VR LO/);
      // 50,001 references: refused as a resource limitation before they are made objects (16 MB of them were 2 GB).
      const many = encodeJsonDataset({ '00081195': { vr: 'UI', Value: ['2.25.2'] }, '00081199': { vr: 'SQ', Value: Array.from({ length: 50_001 }, () => ({})) } }, EXPLICIT_LE, null);
      await p.sendMessage(1, action(5, {}), many);
      const limited = (await p.readCommand()).command;
      assert.equal(limited.Status, 0x0213);
      assert.match(limited.ErrorComment ?? '', /50000/);
    } finally {
      p.destroy();
    }
  });

  test('an instance named three times is verified and reported once', async () => {
    const r = await requestAndWait(peer(), [CT_SMALL, CT_SMALL, CT_SMALL]);
    assert.equal(r.status, 0, r.comment);
    assert.deepEqual(r.report!.committed, [CT_SMALL]);
  });
});

describe('Storage Commitment SCP, a requester waiting on its association', () => {
  test('is not closed as idle while its report is still to come', async () => {
    const pacs = await startTestPacs({ server: { idle_timeout: 1 } } as never);
    try {
      const stored = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm')]);
      assert.equal(stored.code, 0, stored.stderr);
      await pacs.server.jobs.stop(0); // the report's job waits
      const asked = requestAndWait({ host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'STRANGER', timeoutMs: 10_000 }, [CT_SMALL], { waitMs: 20_000 });
      await new Promise((r) => setTimeout(r, 2500)); // past idle_timeout: aborted here before, and the report lost
      pacs.server.jobs.start();
      const r = await asked;
      assert.equal(r.status, 0, r.comment);
      assert.equal(r.report!.sameAssociation, true);
      assert.deepEqual(r.report!.committed, [CT_SMALL]);
    } finally {
      await pacs.stop();
    }
  });
});

describe('Storage Commitment SCP, a requester that is not a known node', () => {
  test('reported on its association, and the log says a release before the report would lose it', async () => {
    const lines: string[] = [];
    const pacs = await startTestPacs({ logging: { level: 'info' } }, { logStream: { write: (l: string) => void lines.push(l) } });
    try {
      const r = await requestAndWait({ host: '127.0.0.1', port: pacs.port, calledAETitle: 'PACS_SERVER', callingAETitle: 'STRANGER', timeoutMs: 10_000 }, [CT_SMALL]);
      assert.equal(r.status, 0, r.comment);
      assert.equal(r.report!.sameAssociation, true);
      const warning = lines.map((l) => JSON.parse(l) as { msg: string; requester?: string }).find((l) => /not a known node/.test(l.msg));
      assert.equal(warning?.requester, 'STRANGER', 'a warning naming the requester');
    } finally {
      await pacs.stop();
    }
  });
});
