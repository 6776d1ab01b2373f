// C-MOVE and C-GET against peers that are slow or stop reading (review findings): a slow but
// healthy sub-operation must not trip the originator's idle timeout or the C-GET's DIMSE
// timeout, and a destination that stops reading must not hold a C-MOVE for ever.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { writeSyntheticCT } from '../../bench/synthetic.js';
import { encodeIdentifier } from '../../src/dicom/identifier.js';
import { ScuAssociation } from '../../src/net/client.js';
import { buildAssociateAC } from '../../src/net/acse.js';
import { decodePdu, encodePdu } from '../../src/net/pdu/codec.js';
import { PduFramer, type RawPdu } from '../../src/net/pdu/framer.js';
import { type AssociateRQ, PduType } from '../../src/net/pdu/types.js';
import { CommandField, NO_DATASET, storeResponse } from '../../src/net/dimse/command.js';
import type { DatasetSink } from '../../src/net/dimse/assembler.js';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const STUDY_GET = '1.2.840.10008.5.1.4.1.2.2.3';
const STUDY_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** The (first) study of a set of synthetic files, as bench/synthetic.ts names it. */
const studyOf = (set: number): string => `2.25.99887766.${process.pid}.${set}.2.1`;

/**
 * A destination that accepts any association and then reads nothing more: a frozen process,
 * a zero TCP window.
 */
async function stalledDestination(): Promise<{ port: number; sockets: net.Socket[]; close: () => void }> {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    const framer = new PduFramer(0);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      const pdus: RawPdu[] = [];
      framer.push(chunk, pdus);
      const rq = pdus.find((p) => p.type === PduType.AssociateRQ);
      if (!rq) return;
      const ac = buildAssociateAC(decodePdu(rq.type, rq.body) as AssociateRQ, { transferSyntaxesFor: () => [EXPLICIT_LE, '1.2.840.10008.1.2'], preference: () => 'proposer' }, { maxPduLength: 16384 });
      socket.write(encodePdu(ac));
      socket.pause(); // and never again
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** A destination that accepts TCP and never answers the A-ASSOCIATE-RQ; `reached` resolves at its first connection. */
async function muteDestination(): Promise<{ port: number; reached: Promise<net.Socket>; close: () => void }> {
  const sockets: net.Socket[] = [];
  let reach!: (s: net.Socket) => void;
  const reached = new Promise<net.Socket>((r) => (reach = r));
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    reach(socket);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    reached,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('retrieves to slow and stalled peers', () => {
  let pacs: TestPacs;
  let slowPort: number;
  let slowDir: string;
  let slowScp: ChildProcess;
  let stalled: Awaited<ReturnType<typeof stalledDestination>>;
  let mute: Awaited<ReturnType<typeof muteDestination>>;
  let smallStudy: string;
  let bigStudy: string;

  before(async () => {
    slowPort = await freePort();
    stalled = await stalledDestination();
    mute = await muteDestination();
    pacs = await startTestPacs({ server: { idle_timeout: 1, dimse_timeout: 1 } });
    const cfg = pacs.server.archive.config();
    pacs.server.archive.setConfig({
      ...cfg,
      known_nodes: [
        { ae_title: 'SLOW', host: '127.0.0.1', port: slowPort, tls: false, permissions: ['store'] },
        { ae_title: 'STALLED', host: '127.0.0.1', port: stalled.port, tls: false, permissions: ['store'] },
        { ae_title: 'MUTE', host: '127.0.0.1', port: mute.port, tls: false, permissions: ['store'] },
      ],
    });
    slowDir = path.join(pacs.dir, 'slow');
    fs.mkdirSync(slowDir);
    // DCMTK's storescp answering each C-STORE three seconds late (the command runs before the
    // response): a destination that is slow, not dead.
    slowScp = await startDaemon('storescp', ['-od', slowDir, '--exec-on-reception', 'sleep 3', '--exec-sync', '-aet', 'SLOW', String(slowPort)], slowPort);
    const small = writeSyntheticCT({ dir: path.join(pacs.dir, 'small'), count: 1, rows: 16, columns: 16, set: 71 });
    const big = writeSyntheticCT({ dir: path.join(pacs.dir, 'big'), count: 1, rows: 2800, columns: 2800, set: 72 });
    smallStudy = studyOf(71);
    bigStudy = studyOf(72);
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), small[0]!, big[0]!]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    slowScp.kill();
    stalled.close();
    mute.close();
    await pacs.stop();
  });

  test('a C-MOVE whose sub-operation takes longer than idle_timeout ends with its final response, not an abort', async () => {
    const r = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'SLOW', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${smallStudy}`, '127.0.0.1', String(pacs.port)]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /abort/i, r.stderr);
    assert.match(r.stderr, /Received Final Move Response \(Success\)/, r.stderr);
    assert.equal(fs.readdirSync(slowDir).length, 1);
  });

  test('a C-MOVE to a destination that stops reading: the sub-association is cut after dimse_timeout and the C-MOVE answers the failure', async () => {
    const r = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'STALLED', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${bigStudy}`, '127.0.0.1', String(pacs.port)], { timeoutMs: 30_000 });
    assert.match(r.stderr, /Received Final Move Response/, r.stderr);
    assert.doesNotMatch(r.stderr, /Final Move Response \(Success\)/, r.stderr);
    assert.ok(stalled.sockets.length >= 1, 'the destination was reached');
    // The server has closed its end: reading again, the destination sees it gone.
    for (const s of stalled.sockets)
      await new Promise<void>((resolve) => {
        if (s.destroyed) return resolve();
        s.once('close', () => resolve());
        s.resume();
      });
    const echo = await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    assert.equal(echo.code, 0, 'still serving');
  });

  test('a C-CANCEL while the C-MOVE destination is being called: the final response is Cancel (it was 0xA702, "cannot open an association")', async () => {
    const scu = await ScuAssociation.connect({ host: '127.0.0.1', port: pacs.port, callingAETitle: 'CANCELLER', calledAETitle: 'PACS_SERVER', contexts: [{ abstractSyntax: STUDY_MOVE, transferSyntaxes: [EXPLICIT_LE] }] });
    try {
      const ctx = scu.contextFor(STUDY_MOVE)!;
      const identifier = encodeIdentifier([{ tag: 0x00080052, vr: 'CS', value: 'STUDY' }, { tag: 0x0020000d, vr: 'UI', value: smallStudy }], ctx.transferSyntax, null);
      const final = scu.request(ctx.id, { CommandField: CommandField.C_MOVE_RQ, AffectedSOPClassUID: STUDY_MOVE, Priority: 0, MoveDestination: 'MUTE' }, identifier);
      await mute.reached;
      await scu.assoc.sendMessage(ctx.id, { CommandField: CommandField.C_CANCEL_RQ, MessageIDBeingRespondedTo: 1, CommandDataSetType: NO_DATASET });
      const r = await final;
      assert.equal(r.command.Status, 0xfe00, String(r.command.ErrorComment));
      // Nothing attempted: every sub-operation remains (Remaining is a field of a Cancel, PS3.4 table C.4-2).
      const n = (await pacs.server.archive.index.instancesOf(smallStudy)).length;
      assert.deepEqual([r.command.NumberOfRemainingSuboperations, r.command.NumberOfCompletedSuboperations, r.command.NumberOfFailedSuboperations], [n, 0, 0]);
      await scu.release();
    } finally {
      scu.abort();
    }
  });

  test('a C-GET to an SCU that reads slowly but steadily: the instance takes longer than dimse_timeout to send and arrives whole', async () => {
    let received = 0;
    let stored = 0;
    const scu: ScuAssociation = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'SLOWGET',
      calledAETitle: 'PACS_SERVER',
      contexts: [
        { abstractSyntax: STUDY_GET, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: CT, transferSyntaxes: [EXPLICIT_LE] },
      ],
      roleSelections: [{ sopClass: CT, scuRole: false, scpRole: true }],
      // A sink that takes ~2.5 MB/s for its first 10 MB (4 s, well past dimse_timeout): it asks the
      // association to stop reading every 256 KB for 100 ms; then it reads at full speed, for the
      // DIMSE timeout rightly runs once our last write is taken, and what the loopback's buffers
      // still held then (MBs) read slowly took longer than it on a busy machine.
      onRequest: (assoc, contextId, command): DatasetSink | null => {
        if (command.CommandField !== CommandField.C_STORE_RQ) return null;
        let since = 0;
        return {
          write: (chunk) => {
            received += chunk.length;
            since += chunk.length;
            if (since < 256 * 1024 || received > 10_000_000) return true;
            since = 0;
            return false;
          },
          onDrain: (cb) => void setTimeout(cb, 100),
          end: () => {
            stored++;
            void assoc.sendMessage(contextId, storeResponse(command, 0)).catch(() => {});
          },
          abort: () => {},
        };
      },
    });
    try {
      const ctx = scu.contextFor(STUDY_GET)!;
      const identifier = encodeIdentifier(
        [
          { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
          { tag: 0x0020000d, vr: 'UI', value: bigStudy },
        ],
        ctx.transferSyntax,
        null,
      );
      const started = Date.now();
      const r = await scu.request(ctx.id, { CommandField: CommandField.C_GET_RQ, AffectedSOPClassUID: STUDY_GET, Priority: 0 }, identifier);
      assert.equal(r.command.Status, 0, r.command.ErrorComment);
      assert.equal(r.command.NumberOfCompletedSuboperations, 1);
      assert.equal(stored, 1);
      assert.ok(received > 15_000_000, `${received} bytes`);
      assert.ok(Date.now() - started > 1000, 'the send did outlast dimse_timeout (else the test proves nothing)');
      await scu.release();
    } finally {
      scu.abort();
    }
  });
});
