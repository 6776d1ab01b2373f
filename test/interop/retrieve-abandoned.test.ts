// A C-GET or C-MOVE given up while its instances are being decompressed: the peer aborts (or
// dies), sends C-CANCEL, or (C-MOVE) the destination goes away. The frames it queued on the
// codec pool must leave the queue and no new conversion may start for it, or one abandoned
// large retrieve holds the pool (and its bounded queue) against everyone else's. The pool's
// worker holds every frame until the test lets it through (helpers/codec-gate.ts), so what
// is queued and what starts is exact, with no timing in the assertions.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { GATED_STUDY as STUDY, abandonWhileHeld, gatedArchive } from '../helpers/codec-gate.js';
import { encodeIdentifier } from '../../src/dicom/identifier.js';
import { ScuAssociation } from '../../src/net/client.js';
import { CommandField, NO_DATASET, storeResponse } from '../../src/net/dimse/command.js';
import { Status } from '../../src/net/dimse/status.js';

const XA = '1.2.840.10008.5.1.4.1.1.12.1';
const STUDY_GET = '1.2.840.10008.5.1.4.1.2.2.3';
const STUDY_MOVE = '1.2.840.10008.5.1.4.1.2.2.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** Four copies of the 12-frame XA: 48 frames to decode. */
const COPIES = 4;

describe('conversions of an abandoned C-GET or C-MOVE stop', () => {
  const archive = gatedArchive({}, COPIES, (i) => `2.25.4242.${i}`);
  const pacs = (): typeof archive.pacs => archive.pacs;

  const abandon = (giveUp: () => void | Promise<void>, faults?: RegExp): Promise<void> =>
    abandonWhileHeld(archive.pool, archive.gate, { giveUp, settle: echo, lines: archive.log.lines, ...(faults ? { faults } : {}) });

  const echo = async (): Promise<void> => assert.equal((await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs().port)])).code, 0, 'still serving');

  /** Runs a DCMTK retrieve tool on the study and kills it once its frames are held. */
  async function killedMidway(tool: 'getscu' | 'movescu', options: string[]): Promise<void> {
    const child = spawn(tool, [...options, '-aec', 'PACS_SERVER', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${STUDY}`, '127.0.0.1', String(pacs().port)], {
      env: { ...process.env, TCP_NODELAY: '1' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await abandon(async () => {
        child.kill('SIGKILL');
        await exited;
      });
    } finally {
      child.kill('SIGKILL');
    }
  }

  test('getscu killed in the middle of a C-GET asking for uncompressed', () => killedMidway('getscu', ['+xe', '-od', fs.mkdtempSync(path.join(pacs().dir, 'get-'))]));

  /** Our SCU with a retrieve of the study under way; `onStore` answers the C-GET's sub-operations. */
  async function retrieving(kind: 'get' | 'move', dest = ''): Promise<{ scu: ScuAssociation; final: Promise<{ Status?: number }>; cancel: () => Promise<void> }> {
    const sopClass = kind === 'get' ? STUDY_GET : STUDY_MOVE;
    const scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs().port,
      callingAETitle: 'CANCELLER',
      calledAETitle: 'PACS_SERVER',
      contexts: [
        { abstractSyntax: sopClass, transferSyntaxes: [EXPLICIT_LE] },
        { abstractSyntax: XA, transferSyntaxes: [EXPLICIT_LE] },
      ],
      ...(kind === 'get' ? { roleSelections: [{ sopClass: XA, scuRole: false, scpRole: true }] } : {}),
      onRequest: (assoc, contextId, command) => {
        if (command.CommandField !== CommandField.C_STORE_RQ) return null;
        return { write: () => true, onDrain: () => {}, end: () => void assoc.sendMessage(contextId, storeResponse(command, 0)).catch(() => {}), abort: () => {} };
      },
    });
    const ctx = scu.contextFor(sopClass)!;
    const identifier = encodeIdentifier(
      [
        { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
        { tag: 0x0020000d, vr: 'UI', value: STUDY },
      ],
      ctx.transferSyntax,
      null,
    );
    const field = kind === 'get' ? CommandField.C_GET_RQ : CommandField.C_MOVE_RQ;
    // The first request of a new association: Message ID 1.
    const final = scu.request(ctx.id, { CommandField: field, AffectedSOPClassUID: sopClass, Priority: 0, ...(dest ? { MoveDestination: dest } : {}) }, identifier).then((r) => r.command);
    const cancel = (): Promise<void> => scu.assoc.sendMessage(ctx.id, { CommandField: CommandField.C_CANCEL_RQ, MessageIDBeingRespondedTo: 1, CommandDataSetType: NO_DATASET });
    return { scu, final, cancel };
  }

  /** Cancels a retrieve of ours once its frames are held: the final response is Cancel. */
  async function cancelled(kind: 'get' | 'move', dest = ''): Promise<void> {
    const { scu, final, cancel } = await retrieving(kind, dest);
    try {
      let status: number | undefined;
      await abandon(async () => {
        await cancel();
        // The frame held on the worker is not waited for: the answer comes with the gate still shut.
        status = (await final).Status;
      });
      assert.equal(status, Status.Cancel);
      await scu.release();
    } finally {
      scu.abort();
    }
  }

  test('C-CANCEL of a C-GET asking for uncompressed: the final response is Cancel, without waiting for the held frame', () => cancelled('get'));

  describe('C-MOVE to a storescp taking uncompressed syntaxes only', () => {
    let rcvPort: number;
    let storescp: ChildProcess;
    before(async () => {
      rcvPort = await freePort();
      const cfg = pacs().server.archive.config();
      pacs().server.archive.setConfig({ ...cfg, known_nodes: [{ ae_title: 'PLAIN', host: '127.0.0.1', port: rcvPort, tls: false, permissions: ['store'] }] });
    });
    beforeEach(async () => {
      const dir = fs.mkdtempSync(path.join(pacs().dir, 'plain-'));
      storescp = await startDaemon('storescp', ['+xe', '-od', dir, '-aet', 'PLAIN', String(rcvPort)], rcvPort);
    });
    after(() => void storescp.kill('SIGKILL'));

    test('movescu killed in the middle', async () => {
      try {
        await killedMidway('movescu', ['-aem', 'PLAIN']);
      } finally {
        storescp.kill('SIGKILL');
      }
    });

    test('C-CANCEL of the C-MOVE: the final response is Cancel', async () => {
      try {
        await cancelled('move', 'PLAIN');
      } finally {
        storescp.kill('SIGKILL');
      }
    });

    test('the destination dies: the sub-operations fail at once, their conversions stop', async () => {
      const { scu, final } = await retrieving('move', 'PLAIN');
      try {
        let response: { Status?: number; NumberOfFailedSuboperations?: number; NumberOfCompletedSuboperations?: number } = {};
        // Its sub-operations failing is a fault of the destination's, and logged as one; a conversion given up is not.
        await abandon(async () => {
          storescp.kill('SIGKILL');
          response = await final;
        }, /no longer wanted|given up|ABORTED|ended abnormally/);
        assert.equal(response.NumberOfFailedSuboperations, COPIES, JSON.stringify(response));
        assert.equal(response.NumberOfCompletedSuboperations ?? 0, 0);
        await scu.release();
      } finally {
        scu.abort();
      }
    });
  });
});
