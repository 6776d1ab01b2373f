// What our SCU takes from an acceptor (review of the network layer): a context accepted in a
// transfer syntax we never offered is not used; a maximum PDU length below the floor ends the
// association before anything is sent in it; a request left unanswered past the DIMSE timeout
// aborts the association, so no second request goes out while the first is outstanding
// (PS3.7 D.3.3.3: one operation at a time without a negotiated window).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ScuAssociation } from '../../../src/net/client.js';
import { decodePdu, encodePdu } from '../../../src/net/pdu/codec.js';
import { PduFramer, type RawPdu } from '../../../src/net/pdu/framer.js';
import { type AssociateRQ, DICOM_APPLICATION_CONTEXT, emptyUserInformation, PduType } from '../../../src/net/pdu/types.js';

const VERIFICATION = '1.2.840.10008.1.1';
const CT = '1.2.840.10008.5.1.4.1.1.2';
const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const JPEG_LS = '1.2.840.10008.1.2.4.80';

interface Peer {
  port: number;
  /** Every PDU type the peer received after the A-ASSOCIATE-RQ. */
  received: number[];
  closed: Promise<unknown>;
  close(): void;
}

/** An acceptor that answers the A-ASSOCIATE-RQ with `answer(rq)` and then only listens. */
async function fakeAcceptor(answer: (rq: AssociateRQ) => { contexts: { id: number; result: number; transferSyntax: string }[]; maxPduLength: number }): Promise<Peer> {
  const received: number[] = [];
  let closed!: Promise<unknown>;
  const server = net.createServer((socket) => {
    closed = once(socket, 'close');
    const framer = new PduFramer(0);
    socket.on('data', (chunk: Buffer) => {
      const out: RawPdu[] = [];
      framer.push(chunk, out);
      for (const raw of out) {
        if (raw.type !== PduType.AssociateRQ) {
          received.push(raw.type);
          continue;
        }
        const rq = decodePdu(raw.type, raw.body) as AssociateRQ;
        const a = answer(rq);
        const ui = emptyUserInformation();
        ui.maxPduLength = a.maxPduLength;
        ui.implementationClassUID = '1.2.3.4';
        socket.write(encodePdu({ type: PduType.AssociateAC, protocolVersion: 1, calledAETitle: rq.calledAETitle, callingAETitle: rq.callingAETitle, applicationContext: DICOM_APPLICATION_CONTEXT, presentationContexts: a.contexts, userInformation: ui }));
      }
    });
    socket.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as net.AddressInfo).port, received, get closed() { return closed; }, close: () => server.close() };
}

const connect = (port: number, dimseTimeoutMs?: number) =>
  ScuAssociation.connect({
    host: '127.0.0.1',
    port,
    callingAETitle: 'SCU',
    calledAETitle: 'PEER',
    contexts: [
      { abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] },
      { abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] },
    ],
    ...(dimseTimeoutMs ? { dimseTimeoutMs } : {}),
  });

test('a context accepted in a transfer syntax never offered (or in none) is not used', async () => {
  const peer = await fakeAcceptor(() => ({
    contexts: [
      { id: 1, result: 0, transferSyntax: '' },
      { id: 3, result: 0, transferSyntax: JPEG_LS },
    ],
    maxPduLength: 16384,
  }));
  try {
    const scu = await connect(peer.port);
    assert.equal(scu.contextFor(VERIFICATION), null, 'no transfer syntax: not agreed');
    assert.equal(scu.contextFor(CT), null, 'JPEG-LS was never offered for it');
    scu.abort();
  } finally {
    peer.close();
  }
  const fair = await fakeAcceptor(() => ({ contexts: [{ id: 3, result: 0, transferSyntax: EXPLICIT_LE }], maxPduLength: 16384 }));
  try {
    const scu = await connect(fair.port);
    assert.deepEqual(scu.contextFor(CT), { id: 3, abstractSyntax: CT, transferSyntax: EXPLICIT_LE });
    scu.abort();
  } finally {
    fair.close();
  }
});

test("a peer's maximum PDU length below 1,024: the association ends before anything is sent in it", async () => {
  const peer = await fakeAcceptor(() => ({ contexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }], maxPduLength: 7 }));
  try {
    await assert.rejects(connect(peer.port), /the peer's maximum PDU length 7 is below 1024/);
    await peer.closed;
    assert.deepEqual(peer.received, [PduType.Abort], 'an A-ABORT, no P-DATA');
  } finally {
    peer.close();
  }
});

test('no answer within the DIMSE timeout: the request fails and the association is aborted, no second request sent', async () => {
  const peer = await fakeAcceptor(() => ({ contexts: [{ id: 1, result: 0, transferSyntax: IMPLICIT_LE }], maxPduLength: 16384 }));
  try {
    const scu = await connect(peer.port, 300);
    await assert.rejects(scu.echo(), /no response to message 1 within 0.3 s/);
    await assert.rejects(scu.echo(), /no longer established|aborted/);
    await peer.closed;
    assert.deepEqual(peer.received, [PduType.PDataTF, PduType.Abort]);
  } finally {
    peer.close();
  }
});
