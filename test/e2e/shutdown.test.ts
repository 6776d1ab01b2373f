// Shutdown of the real pacs_server process: SIGTERM drains (open associations may finish
// within server.shutdown_grace, then are aborted), a second SIGTERM/SIGINT stops at once.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { baseYaml, startServer, tempDir, type RunningServer } from './spawn.js';
import { RawPeer, associateRQ } from '../helpers/raw-peer.js';
import { PduType } from '../../src/net/pdu/types.js';

const exited = (srv: RunningServer): Promise<{ code: number | null; at: number }> =>
  new Promise((resolve) => {
    if (srv.child.exitCode !== null) return resolve({ code: srv.child.exitCode, at: Date.now() });
    srv.child.once('exit', (code) => resolve({ code, at: Date.now() }));
  });

describe('shutdown', () => {
  const dirs: string[] = [];
  after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const start = async (): Promise<RunningServer> => {
    const dir = tempDir();
    dirs.push(dir);
    // idle_timeout above the grace: only the shutdown may end these associations.
    return startServer(dir, (port) => baseYaml(port).replace('shutdown_grace: 3', 'shutdown_grace: 3, idle_timeout: 60'));
  };

  test('SIGTERM: no new connections, an open association may finish (the server exits when it releases)', async () => {
    const srv = await start();
    const peer = await RawPeer.connect(srv.port);
    await peer.accepted(associateRQ());
    const done = exited(srv);
    const sent = Date.now();
    srv.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await assert.rejects(RawPeer.connect(srv.port), 'the port is closed while draining');
    assert.equal(srv.child.exitCode, null, 'still draining');
    await peer.send({ type: PduType.ReleaseRQ });
    await peer.expect(PduType.ReleaseRP);
    await peer.end(); // the requestor closes the transport after A-RELEASE-RP (PS3.8 AR-3)
    const { code, at } = await done;
    assert.equal(code, 0, srv.log());
    assert.ok(at - sent < 2500, `exited ${at - sent} ms after SIGTERM, not at the end of the grace period`);
  });

  test('SIGTERM: an association still open at the end of shutdown_grace is aborted, then the server exits 0', async () => {
    const srv = await start();
    const peer = await RawPeer.connect(srv.port);
    await peer.accepted(associateRQ());
    const done = exited(srv);
    const sent = Date.now();
    srv.child.kill('SIGTERM');
    assert.equal((await peer.next(8000))?.type, PduType.Abort);
    const { code, at } = await done;
    assert.equal(code, 0);
    assert.ok(at - sent >= 2500 && at - sent < 8000, `exited ${at - sent} ms after SIGTERM (grace 3 s)`);
    peer.destroy();
  });

  test('a second signal while draining stops at once', async () => {
    const srv = await start();
    const peer = await RawPeer.connect(srv.port);
    await peer.accepted(associateRQ());
    const done = exited(srv);
    srv.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    const second = Date.now();
    srv.child.kill('SIGINT');
    const { code, at } = await done;
    assert.equal(code, 130);
    assert.ok(at - second < 1000, `exited ${at - second} ms after the second signal`);
    assert.match(srv.log(), /second signal: stopping now/);
    peer.destroy();
  });
});
