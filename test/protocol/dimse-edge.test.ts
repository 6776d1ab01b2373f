// DIMSE edge cases found in review: requests that announce no dataset, peers that never
// answer an A-ASSOCIATE-RQ or an A-RELEASE-RQ, an abort right after a request, a release in
// the middle of a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestPacs } from '../helpers/pacs.js';
import { ScuAssociation } from '../../src/net/client.js';
import { CommandField } from '../../src/net/dimse/command.js';
import { Status } from '../../src/net/dimse/status.js';
import { encodeCommand } from '../../src/net/dimse/command.js';
import { encodePdu } from '../../src/net/pdu/codec.js';
import { PduType } from '../../src/net/pdu/types.js';
import { IMPLICIT_LE, RawPeer, VERIFICATION, associateRQ } from '../helpers/raw-peer.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY_FIND = '1.2.840.10008.5.1.4.1.2.2.1';

test('C-STORE-RQ and C-FIND-RQ that announce no dataset are answered with a failure; release is not held up', async () => {
  const pacs = await startTestPacs();
  try {
    const scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'EDGE',
      calledAETitle: 'PACS_SERVER',
      contexts: [
        { abstractSyntax: CT, transferSyntaxes: ['1.2.840.10008.1.2.1'] },
        { abstractSyntax: STUDY_FIND, transferSyntaxes: ['1.2.840.10008.1.2.1'] },
      ],
    });
    const store = await scu.request(scu.contextFor(CT)!.id, { CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: CT, AffectedSOPInstanceUID: '1.2.3.4' });
    assert.equal(store.command.Status, Status.CannotUnderstand);
    assert.match(store.command.ErrorComment ?? '', /no dataset/);
    const find = await scu.request(scu.contextFor(STUDY_FIND)!.id, { CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: STUDY_FIND });
    assert.equal(find.command.Status, Status.IdentifierDoesNotMatchSOPClass);
    await scu.release();
    assert.deepEqual(pacs.files().filter((f) => f.startsWith('.incoming/')), [], 'no temporary file held');
  } finally {
    await pacs.stop();
  }
});

test('a peer that accepts TCP and never answers the A-ASSOCIATE-RQ: connect fails after the ARTIM time', async () => {
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const started = Date.now();
    await assert.rejects(
      ScuAssociation.connect({ host: '127.0.0.1', port, callingAETitle: 'A', calledAETitle: 'B', contexts: [{ abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }], timeouts: { artimMs: 500 } }),
      /no A-ASSOCIATE-AC/,
    );
    assert.ok(Date.now() - started < 5000);
  } finally {
    silent.close();
  }
});

test('a C-ECHO-RQ followed at once by an A-ABORT: the answer has nobody to go to, and the server goes on', async () => {
  const pacs = await startTestPacs();
  try {
    const peer = await RawPeer.connect(pacs.port);
    await peer.accepted(associateRQ({ contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }));
    const echo = encodePdu({ type: PduType.PDataTF, pdvs: [{ contextId: 1, command: true, last: true, data: encodeCommand({ CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: 1, CommandDataSetType: 0x0101 }) }] });
    await peer.write(Buffer.concat([echo, encodePdu({ type: PduType.Abort, source: 0, reason: 0 })]));
    assert.ok(await peer.waitClosed());
    await new Promise((r) => setTimeout(r, 200)); // the answer's failed write, had it crashed us, is past
    const again = await RawPeer.connect(pacs.port);
    await again.accepted(associateRQ({ contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT_LE] }] }));
    await again.sendMessage(1, { CommandField: CommandField.C_ECHO_RQ, AffectedSOPClassUID: VERIFICATION, MessageID: 2, CommandDataSetType: 0x0101 });
    assert.equal((await again.readCommand()).command.Status, Status.Success);
    await again.end();
  } finally {
    await pacs.stop();
  }
});

test('an A-RELEASE-RQ in the middle of a dataset: A-ABORT at once, nothing kept', async () => {
  const pacs = await startTestPacs();
  try {
    const peer = await RawPeer.connect(pacs.port);
    await peer.accepted(associateRQ({ contexts: [{ abstractSyntax: CT, transferSyntaxes: [IMPLICIT_LE] }] }));
    await peer.sendPdvs([{ contextId: 1, command: true, last: true, data: encodeCommand({ CommandField: CommandField.C_STORE_RQ, AffectedSOPClassUID: CT, AffectedSOPInstanceUID: '1.2.3.4', MessageID: 1, CommandDataSetType: 0 }) }]);
    await peer.sendPdvs([{ contextId: 1, command: false, last: false, data: Buffer.alloc(64) }]);
    await peer.send({ type: PduType.ReleaseRQ });
    const abort = await peer.expect(PduType.Abort, 3000);
    assert.equal(abort.source, 2); // the service provider
    await peer.end();
    await new Promise((r) => setTimeout(r, 200));
    const spares = new Set(pacs.server.archive.objects.spareFiles().map((f) => f.split('/').pop()));
    assert.deepEqual(pacs.files().filter((f) => f.startsWith('.incoming/') && !spares.has(f.split('/').pop())), [], 'nothing but the spare temporary files');
    assert.equal((await pacs.server.archive.index.statistics()).instances, 0);
  } finally {
    await pacs.stop();
  }
});
