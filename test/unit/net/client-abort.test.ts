// An association being opened is given up when its signal aborts (a job canceled, the server
// stopping): a peer that accepts TCP and then says nothing held a send job for the whole ARTIM
// time (30 s), past the server's shutdown grace, its attempt used up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { ScuAssociation } from '../../../src/net/client.js';

const VERIFICATION = '1.2.840.10008.1.1';

test('aborted while waiting for A-ASSOCIATE-AC: rejects with the reason, the connection closed', async () => {
  const silent = net.createServer();
  const accepted = once(silent, 'connection') as Promise<[net.Socket]>;
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const port = (silent.address() as net.AddressInfo).port;
  try {
    const abort = new AbortController();
    const connecting = ScuAssociation.connect({ host: '127.0.0.1', port, callingAETitle: 'A', calledAETitle: 'B', contexts: [{ abstractSyntax: VERIFICATION, transferSyntaxes: ['1.2.840.10008.1.2'] }], signal: abort.signal });
    const [peer] = await accepted;
    const closed = once(peer, 'close');
    abort.abort(new Error('the job was canceled'));
    await assert.rejects(connecting, /the job was canceled/);
    await closed;
  } finally {
    silent.close();
  }
});

test('aborted before it starts: nothing is connected', async () => {
  const abort = new AbortController();
  abort.abort(new Error('stopping'));
  await assert.rejects(ScuAssociation.connect({ host: '127.0.0.1', port: 9, callingAETitle: 'A', calledAETitle: 'B', contexts: [], signal: abort.signal }), /stopping/);
});
