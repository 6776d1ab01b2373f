// DIMSE edge cases found in review: requests that announce no dataset, peers that never
// answer an A-ASSOCIATE-RQ or an A-RELEASE-RQ.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestPacs } from '../helpers/pacs.js';
import { ScuAssociation } from '../../src/net/client.js';
import { CommandField } from '../../src/net/dimse/command.js';
import { Status } from '../../src/net/dimse/status.js';

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
