// A real PacsServer and a scripted peer on a bare socket that sends hand-built PDUs: each test
// drives the acceptor into one state and sends it one event of PS3.8 Table 9-10 (or hostile
// bytes), then checks the answer on the wire, what is left on disk and in the index, and that
// the server still answers a C-ECHO afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../../src/net/acse.js';
import { ScuAssociation } from '../../src/net/client.js';
import { type Command, CommandField, NO_DATASET, Priority } from '../../src/net/dimse/command.js';
import { encodePdu } from '../../src/net/pdu/codec.js';
import { MAX_CONTROL_PDU } from '../../src/net/pdu/framer.js';
import { type Abort, AbortReason, type AssociateRQ, type Pdu, PduType } from '../../src/net/pdu/types.js';
import { readPart10Header } from '../../src/dicom/part10.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLICIT_LE, MR_IMAGE_STORAGE, RawPeer, VERIFICATION, associateRQ } from '../helpers/raw-peer.js';

const ARTIM_S = 1;
const IDLE_S = 1;
const MAX_PDU = 16384;
const AE = 'PACS_SERVER';

const SAMPLES = process.env.DICOM_SAMPLES ?? path.resolve('../shared/dicom-samples');
const haveSamples = fs.existsSync(path.join(SAMPLES, 'MANIFEST.tsv'));
const noSamples = haveSamples ? false : `no sample corpus at ${SAMPLES}`;

interface Sample {
  dataset: Buffer;
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
}
async function sample(file: string): Promise<Sample> {
  const p = path.join(SAMPLES, file);
  const h = await readPart10Header(p);
  assert.ok(h.sopClassUID && h.sopInstanceUID, `${file} has SOP class and instance UIDs`);
  return { dataset: fs.readFileSync(p).subarray(h.datasetOffset), transferSyntaxUID: h.transferSyntaxUID, sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** The server answers a C-ECHO on a fresh association, with our own SCU. */
async function assertServes(port: number): Promise<void> {
  const scu = await ScuAssociation.connect({
    host: '127.0.0.1',
    port,
    callingAETitle: 'ECHOSCU',
    calledAETitle: AE,
    contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
    dimseTimeoutMs: 5000,
    connectTimeoutMs: 5000,
  });
  assert.equal(await scu.echo(), 0x0000, 'C-ECHO after the hostile peer');
  await scu.release();
}

function expectAbort(pdu: Pdu | null, source?: number, reason?: number): asserts pdu is Abort {
  assert.ok(pdu, 'an A-ABORT, not silence or a bare close');
  assert.equal(pdu.type, PduType.Abort, `an A-ABORT, got ${JSON.stringify(pdu)}`);
  if (source !== undefined) assert.equal(pdu.source, source, 'A-ABORT source');
  if (reason !== undefined) assert.equal(pdu.reason, reason, 'A-ABORT reason');
}

/** After an abort or reject the server (Sta13) closes the connection itself when ARTIM expires. */
async function serverCloses(peer: RawPeer, from = Date.now()): Promise<number> {
  assert.ok(await peer.waitClosed(ARTIM_S * 1000 + 2500), 'the server closes the connection');
  return peer.closedTime! - from;
}

const storeRQ = (messageId: number, s: { sopClassUID: string; sopInstanceUID: string }): Command => ({
  CommandField: CommandField.C_STORE_RQ,
  AffectedSOPClassUID: s.sopClassUID,
  AffectedSOPInstanceUID: s.sopInstanceUID,
  MessageID: messageId,
  Priority: Priority.Medium,
  CommandDataSetType: 0x0000,
});

const echoRQ = (messageId: number): Command => ({ CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: messageId, CommandDataSetType: NO_DATASET });

/** Splits a dataset into P-DATA-TF PDUs of one PDV each, `size` data bytes per PDV. */
function datasetPdus(contextId: number, dataset: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < dataset.length; off += size)
    out.push(encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId, command: false, last: off + size >= dataset.length, data: dataset.subarray(off, off + size) }] }));
  return out;
}

describe('scripted peer against PacsServer', () => {
  let pacs: TestPacs;
  const incoming = (): string[] => pacs.files().filter((f) => f.startsWith('.incoming/'));
  const archived = (): string[] => pacs.files().filter((f) => !f.startsWith('.incoming/'));
  const instances = async (): Promise<number> => (await pacs.server.archive.index.statistics()).instances;
  const peers: RawPeer[] = [];
  const connect = async (): Promise<RawPeer> => {
    const p = await RawPeer.connect(pacs.port);
    peers.push(p);
    return p;
  };
  /** Connects and gets an association accepted with the given contexts. */
  const established = async (contexts = [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }]): Promise<RawPeer> => {
    const p = await connect();
    const ac = await p.accepted(associateRQ({ contexts }));
    assert.ok(ac.presentationContexts.some((pc) => pc.result === 0));
    return p;
  };

  before(async () => {
    pacs = await startTestPacs({
      server: { artim_timeout: ARTIM_S, idle_timeout: IDLE_S, max_pdu_length: MAX_PDU, max_associations: 20, shutdown_grace: 1 },
      access_control: { allowed_ae_titles: ['SCRIPTED*', 'ECHOSCU'] },
      storage: { fsync: false },
    });
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await assertServes(pacs.port);
  });
  after(async () => {
    await pacs?.stop();
  });

  // --- Sta2: transport open, awaiting A-ASSOCIATE-RQ --------------------------------------------

  const beforeAssociation: [string, Pdu][] = [
    ['Evt10 (P-DATA-TF)', { type: PduType.PDataTF, pdvs: [{ contextId: 1, command: true, last: true, data: Buffer.alloc(12) }] }],
    ['Evt12 (A-RELEASE-RQ)', { type: PduType.ReleaseRQ }],
    ['Evt13 (A-RELEASE-RP)', { type: PduType.ReleaseRP }],
    [
      'Evt3 (A-ASSOCIATE-AC)',
      {
        type: PduType.AssociateAC,
        protocolVersion: 1,
        calledAETitle: AE,
        callingAETitle: 'SCRIPTED',
        applicationContext: '1.2.840.10008.3.1.1.1',
        presentationContexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }],
        userInformation: associateRQ().userInformation,
      },
    ],
    ['Evt4 (A-ASSOCIATE-RJ)', { type: PduType.AssociateRJ, result: 1, source: 1, reason: 1 }],
  ];
  beforeAssociation.forEach(([name, pdu], i) => {
    // The first waits for the server to close (AA-1 → Sta13 → ARTIM); the others close first.
    const waitForServer = i === 0;
    test(`Sta2 + ${name}: a PDU before any association → A-ABORT (AA-1)${waitForServer ? ', then closed after ARTIM' : ''}`, async () => {
      const peer = await connect();
      await peer.send(pdu);
      const sentAt = Date.now();
      const answer = await peer.next();
      expectAbort(answer);
      // Refused by the provider as unexpected (source 2, reason 2), as the conformance statement says.
      assert.deepEqual([answer.source, answer.reason], [2, 2], `A-ABORT source ${answer.source}, reason ${answer.reason}`);
      if (!waitForServer) return peer.end();
      const ms = await serverCloses(peer, sentAt);
      assert.ok(ms >= ARTIM_S * 1000 - 250, `closed after ARTIM (${ms} ms), not at once: Sta13 waits for the peer first`);
    });
  });

  test('Sta2 + Evt18: connect and say nothing → closed when ARTIM expires, nothing sent', async () => {
    const peer = await connect();
    const t0 = Date.now();
    const ms = await serverCloses(peer, t0);
    assert.ok(ms >= ARTIM_S * 1000 - 250 && ms < ARTIM_S * 1000 + 2000, `closed after ${ms} ms for artim_timeout ${ARTIM_S} s`);
    assert.equal(peer.pending.length, 0, 'AA-2 sends no PDU');
    assert.equal(peer.garbage, null);
  });

  test('Sta2 + Evt19: random bytes → A-ABORT source 2 reason 1 (unrecognized PDU), then closed', async () => {
    const peer = await connect();
    const junk = randomBytes(200);
    junk[0] = 0x08 + (junk[0]! % 0xf0); // any first byte but a PDU type 1..7
    await peer.write(junk);
    expectAbort(await peer.next(), 2, AbortReason.UnrecognizedPdu);
    await serverCloses(peer);
  });

  test('Sta2 + Evt19: a well-framed PDU of unknown type 0x08 → A-ABORT source 2 reason 1', async () => {
    const peer = await connect();
    await peer.write(Buffer.from([0x08, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
    expectAbort(await peer.next(), 2, AbortReason.UnrecognizedPdu);
    await serverCloses(peer);
  });

  test('Sta2 + Evt19: an A-ASSOCIATE-RQ whose items overrun it → A-ABORT source 2 (invalid parameter)', async () => {
    const peer = await connect();
    const bytes = encodePdu(associateRQ());
    bytes.writeUInt16BE(0x4000, 6 + 68 + 2); // the application context item claims 16 KB
    await peer.write(bytes);
    expectAbort(await peer.next(), 2, AbortReason.InvalidPduParameterValue);
    await peer.end();
  });

  test('Sta2 + Evt19: an A-ASSOCIATE-RQ header announcing more than any control PDU → A-ABORT before its body', async () => {
    const peer = await connect();
    const header = Buffer.alloc(6);
    header[0] = PduType.AssociateRQ;
    header.writeUInt32BE(MAX_CONTROL_PDU * 64, 2);
    await peer.write(header);
    expectAbort(await peer.next(), 2);
    await peer.end();
  });

  // --- Sta2 + Evt6: the A-ASSOCIATE-RQ -------------------------------------------------------------

  test('Sta2 + Evt6: a good A-ASSOCIATE-RQ → A-ASSOCIATE-AC with our identity, 1/1 window, our max PDU', async () => {
    const peer = await connect();
    const rq = associateRQ(
      {
        callingAETitle: 'SCRIPTED_1',
        contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }],
        roleSelections: [{ sopClass: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }],
        userIdentity: { type: 2, positiveResponseRequested: false, primaryField: Buffer.from('user'), secondaryField: Buffer.from('pass') },
      },
      (r) => (r.userInformation.asyncOpsWindow = { invoked: 8, performed: 4 }),
    );
    const ac = await peer.accepted(rq);
    assert.equal(ac.protocolVersion & 1, 1);
    assert.equal(ac.calledAETitle, AE);
    assert.equal(ac.callingAETitle, 'SCRIPTED_1');
    assert.equal(ac.applicationContext, '1.2.840.10008.3.1.1.1');
    assert.equal(ac.userInformation.implementationClassUID, IMPLEMENTATION_CLASS_UID);
    assert.equal(ac.userInformation.implementationVersionName, IMPLEMENTATION_VERSION_NAME);
    assert.equal(ac.userInformation.maxPduLength, MAX_PDU);
    assert.deepEqual(ac.userInformation.asyncOpsWindow, { invoked: 1, performed: 1 });
    // Both roles accepted for a storage class: the requestor may receive C-GET sub-operations.
    assert.deepEqual(ac.userInformation.roleSelections, [{ sopClass: CT_IMAGE_STORAGE, scuRole: true, scpRole: true }]);
    assert.equal(ac.userInformation.userIdentityResponse, null, 'no positive response was requested');
    assert.deepEqual(ac.presentationContexts, [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }]);
    // and the association works: C-ECHO, then an orderly release
    await peer.sendMessage(1, echoRQ(1));
    const { command } = await peer.readCommand();
    assert.equal(command.CommandField, CommandField.C_ECHO_RSP);
    assert.equal(command.Status, 0);
    assert.equal(command.MessageIDBeingRespondedTo, 1);
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end();
  });

  test('Sta2 + Evt6: no asynchronous operations window proposed → none answered', async () => {
    const peer = await connect();
    const ac = await peer.accepted(associateRQ());
    assert.equal(ac.userInformation.asyncOpsWindow, null);
    await peer.end();
  });

  test('A-ASSOCIATE-AC contexts: accepted 0, abstract syntax not supported 3, transfer syntaxes not supported 4', async () => {
    const peer = await connect();
    const ac = await peer.accepted(
      associateRQ({
        contexts: [
          { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
          { abstractSyntax: '1.2.826.0.1.3680043.2.1143.999.1', transferSyntaxes: [IMPLICIT_LE] },
          { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: ['1.2.826.0.1.3680043.2.1143.999.2'] },
          { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: ['1.2.826.0.1.3680043.2.1143.999.2', EXPLICIT_LE, IMPLICIT_LE] },
        ],
      }),
    );
    const byId = new Map(ac.presentationContexts.map((pc) => [pc.id, pc]));
    assert.deepEqual([...byId.keys()], [1, 3, 5, 7], 'one answer per proposed context, same ids');
    assert.equal(byId.get(1)!.result, 0);
    assert.equal(byId.get(3)!.result, 3);
    assert.equal(byId.get(5)!.result, 4);
    assert.equal(byId.get(7)!.result, 0);
    assert.equal(byId.get(7)!.transferSyntax, EXPLICIT_LE, "storage takes the proposer's first acceptable syntax");
    await peer.end();
  });

  const rejectCases: [string, AssociateRQ, [number, number, number]][] = [
    ['called AE title not ours → RJ 1/1/7', associateRQ({ calledAETitle: 'SOMEONE_ELSE' }), [1, 1, 7]],
    ['calling AE title not in allowed_ae_titles → RJ 1/1/3', associateRQ({ callingAETitle: 'INTRUDER' }), [1, 1, 3]],
    ['protocol version 2 (bit 0 clear) → RJ 1/2/2 (AE-6, not acceptable)', associateRQ({}, (r) => (r.protocolVersion = 2)), [1, 2, 2]],
    ['an application context other than DICOM → RJ 1/1/2', associateRQ({}, (r) => (r.applicationContext = '1.2.3.4')), [1, 1, 2]],
  ];
  rejectCases.forEach(([name, rq, [result, source, reason]], i) => {
    const waitForServer = i === 0;
    test(`A-ASSOCIATE-RJ: ${name}${waitForServer ? ', then closed after ARTIM' : ''}`, async () => {
      const peer = await connect();
      const answer = await peer.associate(rq);
      assert.deepEqual(answer, { type: PduType.AssociateRJ, result, source, reason });
      if (waitForServer) await serverCloses(peer);
      else await peer.end();
    });
  });

  test('protocol version 3 (bit 0 set, another bit too) is accepted', async () => {
    const peer = await connect();
    const ac = await peer.accepted(associateRQ({}, (r) => (r.protocolVersion = 3)));
    assert.equal(ac.protocolVersion, 1, 'we answer with the version we speak');
    await peer.end();
  });

  // --- Sta6: association established -----------------------------------------------------------

  test('Sta6 + Evt6: a second A-ASSOCIATE-RQ → A-ABORT (AA-8, provider source, reason unexpected PDU), closed after ARTIM', async () => {
    const peer = await established();
    await peer.send(associateRQ());
    expectAbort(await peer.next(), 2, AbortReason.UnexpectedPdu);
    await serverCloses(peer);
  });

  test('Sta6 + Evt12: A-RELEASE-RQ → A-RELEASE-RP, then the server waits for the peer to close (Sta13)', async () => {
    const peer = await established();
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    const t0 = Date.now();
    await sleep(300);
    assert.equal(peer.closed, false, 'AR-4: the acceptor does not close first, it starts ARTIM');
    const ms = await serverCloses(peer, t0);
    assert.ok(ms >= ARTIM_S * 1000 - 250, `closed by ARTIM after ${ms} ms`);
  });

  test('Sta6 + Evt12 then the peer closes: released cleanly, at once', async () => {
    const peer = await established();
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end();
  });

  test('Sta6 + Evt19: a P-DATA-TF longer than our announced maximum → A-ABORT (source 2, reason 6)', async () => {
    const peer = await established();
    const header = Buffer.alloc(12);
    header[0] = PduType.PDataTF;
    header.writeUInt32BE(MAX_PDU + 1, 2);
    header.writeUInt32BE(MAX_PDU - 3, 6); // PDV length
    header[10] = 1;
    header[11] = 0;
    await peer.write(header);
    expectAbort(await peer.next(), 2, AbortReason.InvalidPduParameterValue);
    await serverCloses(peer);
  });

  test('Sta6: a PDV on a presentation context that was never accepted → A-ABORT', async () => {
    // context 3 proposed and refused (abstract syntax not supported); context 99 never proposed
    for (const contextId of [3, 99]) {
      const peer = await connect();
      const ac = await peer.accepted(
        associateRQ({
          contexts: [
            { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
            { abstractSyntax: '1.2.826.0.1.3680043.2.1143.999.1', transferSyntaxes: [IMPLICIT_LE] },
          ],
        }),
      );
      assert.equal(ac.presentationContexts[1]!.result, 3);
      await peer.sendMessage(contextId, echoRQ(1));
      expectAbort(await peer.next(), 2, AbortReason.UnexpectedPduParameter);
      await peer.end();
    }
  });

  test('Sta6 + idle: nothing sent after association → A-ABORT after idle_timeout, then closed', async () => {
    const peer = await established();
    const t0 = Date.now();
    const answer = await peer.next(IDLE_S * 1000 + 3000);
    const ms = Date.now() - t0;
    expectAbort(answer, 0);
    assert.ok(ms >= IDLE_S * 1000 - 250, `aborted after ${ms} ms for idle_timeout ${IDLE_S} s`);
    await serverCloses(peer);
  });

  test('Sta6 + C-FIND on a storage context → 0x0211 (unrecognized operation), association goes on', async () => {
    const peer = await established([
      { abstractSyntax: CT_IMAGE_STORAGE, transferSyntaxes: [EXPLICIT_LE] },
      { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
    ]);
    // identifier: (0008,0052) CS "STUDY ", explicit VR little endian
    const identifier = Buffer.concat([Buffer.from([0x08, 0x00, 0x52, 0x00]), Buffer.from('CS'), Buffer.from([6, 0]), Buffer.from('STUDY ')]);
    await peer.sendMessage(1, { CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: CT_IMAGE_STORAGE, MessageID: 41, Priority: Priority.Medium, CommandDataSetType: 0 }, identifier);
    const { contextId, command } = await peer.readCommand();
    assert.equal(contextId, 1);
    assert.equal(command.CommandField, CommandField.C_FIND_RSP);
    assert.equal(command.MessageIDBeingRespondedTo, 41);
    assert.equal(command.Status, 0x0211);
    assert.equal(command.CommandDataSetType, NO_DATASET);
    // the association is still usable
    await peer.sendMessage(3, echoRQ(42));
    assert.equal((await peer.readCommand()).command.Status, 0);
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end();
  });

  // --- C-STORE and what is left behind -----------------------------------------------------------

  test('Sta6 + Evt16: the peer aborts in the middle of a C-STORE dataset → no file (.incoming too), no row', { skip: noSamples }, async () => {
    const s = await sample('dicom3tools__0051.dcm');
    assert.ok(s.dataset.length > 300_000, 'big enough to be staged to disk before the end');
    const filesBefore = archived();
    const countBefore = await instances();
    const peer = await established([{ abstractSyntax: s.sopClassUID, transferSyntaxes: [s.transferSyntaxUID] }]);
    await peer.sendMessage(1, storeRQ(1, s));
    // PDVs that fill PDUs of exactly our maximum length: accepted
    const pdus = datasetPdus(1, s.dataset, MAX_PDU - 6);
    assert.equal(pdus[0]!.readUInt32BE(2), MAX_PDU);
    const half = Math.floor(pdus.length * 0.8);
    for (const p of pdus.slice(0, half)) await peer.write(p);
    await until('the dataset is being staged in .incoming', () => incoming().length > 0);
    assert.equal(peer.pending.length, 0, 'no answer before the dataset is complete');
    await peer.send({ type: PduType.Abort, source: 0, reason: 0 });
    assert.ok(await peer.waitClosed(2000), 'AA-3: the server closes the transport at once');
    assert.equal(peer.pending.length, 0, 'nothing is sent back after an A-ABORT');
    await until('the staged file is removed', () => incoming().length === 0);
    assert.deepEqual(archived(), filesBefore);
    assert.equal(await instances(), countBefore);
    assert.equal(await pacs.server.archive.index.findInstance(s.sopInstanceUID), null);
  });

  test('a peer that stops in the middle of a PDU → aborted after idle_timeout, cleaned up, no partial file', { skip: noSamples }, async () => {
    const s = await sample('dicom3tools__0051.dcm');
    const filesBefore = archived();
    const countBefore = await instances();
    const peer = await established([{ abstractSyntax: s.sopClassUID, transferSyntaxes: [s.transferSyntaxUID] }]);
    await peer.sendMessage(1, storeRQ(1, s));
    const pdus = datasetPdus(1, s.dataset, MAX_PDU - 6);
    const n = Math.floor(pdus.length * 0.8);
    for (const p of pdus.slice(0, n)) await peer.write(p);
    const partial = pdus[n]!;
    await peer.write(partial.subarray(0, partial.length >> 1)); // half a P-DATA-TF, then silence
    const t0 = Date.now();
    await until('the dataset is being staged in .incoming', () => incoming().length > 0);
    const answer = await peer.next(IDLE_S * 1000 + 3000);
    expectAbort(answer);
    assert.ok(Date.now() - t0 >= IDLE_S * 1000 - 300, 'aborted by the idle timeout');
    await serverCloses(peer);
    await until('the staged file is removed', () => incoming().length === 0);
    assert.deepEqual(archived(), filesBefore);
    assert.equal(await instances(), countBefore);
    assert.equal(await pacs.server.archive.index.findInstance(s.sopInstanceUID), null);
  });

  test('C-STORE whose dataset contradicts the command → 0xA900 with a comment; then a good C-STORE succeeds', { skip: noSamples }, async () => {
    const s = await sample('pydicom__MR_small.dcm');
    assert.equal(s.sopClassUID, MR_IMAGE_STORAGE);
    const filesBefore = archived();
    const countBefore = await instances();
    const peer = await established([{ abstractSyntax: s.sopClassUID, transferSyntaxes: [s.transferSyntaxUID] }]);
    const wrongUID = '1.2.826.0.1.3680043.2.1143.999.3.4.5';
    await peer.sendMessage(1, storeRQ(1, { sopClassUID: s.sopClassUID, sopInstanceUID: wrongUID }), s.dataset, MAX_PDU - 6);
    const bad = (await peer.readCommand()).command;
    assert.equal(bad.CommandField, CommandField.C_STORE_RSP);
    assert.equal(bad.MessageIDBeingRespondedTo, 1);
    assert.equal(bad.Status, 0xa900);
    assert.ok(bad.ErrorComment && bad.ErrorComment.length > 0 && bad.ErrorComment.length <= 64, `error comment: ${bad.ErrorComment}`);
    assert.equal(bad.AffectedSOPInstanceUID, wrongUID);
    await until('nothing is left in .incoming', () => incoming().length === 0);
    assert.deepEqual(archived(), filesBefore);
    assert.equal(await pacs.server.archive.index.findInstance(wrongUID), null);

    // the same association goes on serving
    await peer.sendMessage(1, storeRQ(2, s), s.dataset, 4000);
    const good = (await peer.readCommand()).command;
    assert.equal(good.MessageIDBeingRespondedTo, 2);
    assert.equal(good.Status, 0x0000, `good C-STORE: ${good.ErrorComment ?? ''}`);
    assert.equal(await instances(), countBefore + 1);
    assert.ok(await pacs.server.archive.index.findInstance(s.sopInstanceUID));
    assert.equal(archived().length, filesBefore.length + 1);
    assert.equal(incoming().length, 0);
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end();
  });

  test('C-STORE of a truncated dataset → 0xC000 with a comment, nothing stored', { skip: noSamples }, async () => {
    const s = await sample('pydicom__MR_truncated.dcm');
    const filesBefore = archived();
    const countBefore = await instances();
    const peer = await established([{ abstractSyntax: s.sopClassUID, transferSyntaxes: [s.transferSyntaxUID] }]);
    await peer.sendMessage(1, storeRQ(7, s), s.dataset, MAX_PDU - 6);
    const rsp = (await peer.readCommand()).command;
    assert.equal(rsp.CommandField, CommandField.C_STORE_RSP);
    assert.equal(rsp.MessageIDBeingRespondedTo, 7);
    assert.equal(rsp.Status, 0xc000, `status 0x${(rsp.Status ?? 0).toString(16)}: ${rsp.ErrorComment ?? ''}`);
    assert.ok(rsp.ErrorComment && rsp.ErrorComment.length > 0, 'an error comment says why');
    await until('nothing is left in .incoming', () => incoming().length === 0);
    assert.deepEqual(archived(), filesBefore);
    assert.equal(await instances(), countBefore);
    // the association is still usable
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end();
  });
});

describe('scripted peer: server.max_associations', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs({ server: { artim_timeout: ARTIM_S, idle_timeout: 5, max_associations: 1, shutdown_grace: 1 }, storage: { fsync: false } });
  });
  after(async () => {
    await pacs?.stop();
  });

  test('one association too many → RJ 2/3/2 (transient, presentation provider, local limit exceeded)', async () => {
    const first = await RawPeer.connect(pacs.port);
    try {
      await first.accepted(associateRQ());
      const second = await RawPeer.connect(pacs.port);
      const answer = await second.associate(associateRQ());
      assert.deepEqual(answer, { type: PduType.AssociateRJ, result: 2, source: 3, reason: 2 });
      await serverCloses(second);
      // once the first is released, there is room again
      await first.send({ type: PduType.ReleaseRQ });
      await first.expect(PduType.ReleaseRP);
      await first.end();
      await until(
        'a new association is accepted',
        async () => {
          const p = await RawPeer.connect(pacs.port);
          const a = await p.associate(associateRQ());
          await p.end();
          return a.type === PduType.AssociateAC;
        },
        3000,
      );
      await assertServes(pacs.port);
    } finally {
      first.destroy();
    }
  });
});
