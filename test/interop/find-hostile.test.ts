// C-FIND and worklist C-FIND identifiers a peer should not send: a list of 1,100 Study Instance
// UIDs in implicit VR (70 KB, one value) from DCMTK's findscu is refused 0xA900 — its value was
// longer than the 64 KB kept, dropped, and the query matched every study; a standard key under
// a VR PS3.6 does not give it (a Patient ID as US, a worklist's start date as LO) is refused
// 0xA900 naming the element, instead of failing mid-answer (US); a worklist's Scheduled Station
// AE Title sent as UN (a relay that did not know it) is read as the AE it is, not as no key at
// all (every station's worklist went to the asker).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLES, run } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { ScuAssociation } from '../../src/net/client.js';
import { encodeDataset } from '../../src/dicom/writer.js';
import { Status } from '../../src/net/dimse/status.js';

const STUDY_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const WORKLIST_FIND = '1.2.840.10008.5.1.4.31';
const EXPLICIT = { explicitVR: true, littleEndian: true };
const text = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');

describe('C-FIND identifiers a peer should not send', () => {
  let pacs: TestPacs;
  before(async () => {
    pacs = await startTestPacs();
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), path.join(SAMPLES, 'pydicom__CT_small.dcm'), path.join(SAMPLES, 'pydicom__MR_small.dcm')]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => pacs.stop());

  test('findscu, implicit VR, 1,100 Study Instance UIDs (70 KB): 0xA900, no answers', async () => {
    const uids = Array.from({ length: 1100 }, (_, i) => `1.2.826.0.1.3680043.8.498.${10_000_000_000 + i}.1.2.3.4.5.6.7.8.9.10.11.12.13`);
    assert.ok(uids.join('\\').length > 65_536);
    const r = await run('findscu', ['-v', '-xi', '-S', '-aec', 'PACS_SERVER', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${uids.join('\\')}`, '-k', 'PatientName', '127.0.0.1', String(pacs.port)]);
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /Find Response: \d+ \(Pending\)/, 'no study answered');
    assert.match(out, /Final Find Response \((?:Error|Failed): (?:Identifier|DataSet)DoesNotMatchSOPClass/i, out.slice(-2000));
  });

  /** One C-FIND of our own SCU with this identifier: the final response's command. */
  async function find(sopClass: string, identifier: Buffer) {
    const scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'HOSTILE',
      calledAETitle: 'PACS_SERVER',
      contexts: [{ abstractSyntax: sopClass, transferSyntaxes: ['1.2.840.10008.1.2.1'] }],
    });
    try {
      const pending: unknown[] = [];
      const rsp = await scu.request(scu.contextFor(sopClass)!.id, { CommandField: 0x0020, AffectedSOPClassUID: sopClass, Priority: 0 }, identifier, (p) => pending.push(p));
      return { ...rsp.command, pending: pending.length };
    } finally {
      await scu.release().catch(() => {});
    }
  }

  test('a Patient ID sent as US: 0xA900 naming (0010,0020), no answers', async () => {
    const id = Buffer.alloc(2);
    id.writeUInt16LE(12345);
    const rsp = await find(
      STUDY_ROOT_FIND,
      encodeDataset(
        [
          { tag: 0x00080052, vr: 'CS', value: text('STUDY') },
          { tag: 0x00100020, vr: 'US', value: id },
          { tag: 0x0020000d, vr: 'UI', value: Buffer.alloc(0) },
        ],
        EXPLICIT,
      ),
    );
    assert.equal(rsp.Status, Status.IdentifierDoesNotMatchSOPClass);
    assert.deepEqual(rsp.OffendingElement, [0x00100020]);
    assert.match(String(rsp.ErrorComment), /PatientID has VR US/);
    assert.equal(rsp.pending, 0);
  });

  /** A Scheduled Procedure Step Sequence of one item holding these elements. */
  const stepSequence = (elements: { tag: number; vr: string; value: Buffer }[]): { tag: number; vr: string; value: Buffer } => {
    const body = encodeDataset(elements, EXPLICIT);
    const header = Buffer.alloc(8);
    header.writeUInt16LE(0xfffe, 0);
    header.writeUInt16LE(0xe000, 2);
    header.writeUInt32LE(body.length, 4);
    return { tag: 0x00400100, vr: 'SQ', value: Buffer.concat([header, body]) };
  };

  test('worklist: a start date as LO is 0xA900 naming it', async () => {
    const rsp = await find(WORKLIST_FIND, encodeDataset([stepSequence([{ tag: 0x00400002, vr: 'LO', value: text('20240101-20240131') }]), { tag: 0x00100010, vr: 'PN', value: Buffer.alloc(0) }], EXPLICIT));
    assert.equal(rsp.Status, Status.IdentifierDoesNotMatchSOPClass);
    assert.deepEqual(rsp.OffendingElement, [0x00400002]);
    assert.match(String(rsp.ErrorComment), /ScheduledProcedureStepStartDate has VR LO/);
  });

  test("worklist: a Scheduled Station AE Title as UN is read as an AE: that station's entry only", async () => {
    const worklist = pacs.server.archive.index.worklist;
    for (const [patient, station] of [['UN-CT', 'CT_1'], ['UN-MR', 'MR_2']])
      await worklist.add('api', null, {
        '00100020': { vr: 'LO', Value: [patient] },
        '00400100': { vr: 'SQ', Value: [{ '00400001': { vr: 'AE', Value: [station] }, '00080060': { vr: 'CS', Value: ['CT'] }, '00400020': { vr: 'CS', Value: ['SCHEDULED'] } }] },
      } as never);
    const rsp = await find(WORKLIST_FIND, encodeDataset([{ tag: 0x00100020, vr: 'LO', value: Buffer.alloc(0) }, stepSequence([{ tag: 0x00400001, vr: 'UN', value: text('CT_1') }])], EXPLICIT));
    assert.equal(rsp.Status, Status.Success, String(rsp.ErrorComment));
    assert.equal(rsp.pending, 1, 'CT_1 only, not MR_2');
  });

  test('worklist: a malformed date is 0xA900 on an empty worklist too (the keys are read before the entries)', async () => {
    const item = encodeDataset([{ tag: 0x00400002, vr: 'DA', value: text('2020') }], EXPLICIT);
    const header = Buffer.alloc(8);
    header.writeUInt16LE(0xfffe, 0);
    header.writeUInt16LE(0xe000, 2);
    header.writeUInt32LE(item.length, 4);
    const rsp = await find(WORKLIST_FIND, encodeDataset([{ tag: 0x00400100, vr: 'SQ', value: Buffer.concat([header, item]) }], EXPLICIT));
    assert.equal(rsp.Status, Status.IdentifierDoesNotMatchSOPClass);
    assert.deepEqual(rsp.OffendingElement, [0x00400002]);
  });

  test('a C-MOVE on a C-GET context is 0x0211; a C-FIND whose Affected SOP Class is not its context\'s is 0x0122', async () => {
    const GET = '1.2.840.10008.5.1.4.1.2.2.3';
    const PATIENT_ROOT_FIND = '1.2.840.10008.5.1.4.1.2.1.1';
    const scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'HOSTILE',
      calledAETitle: 'PACS_SERVER',
      contexts: [
        { abstractSyntax: GET, transferSyntaxes: ['1.2.840.10008.1.2.1'] },
        { abstractSyntax: STUDY_ROOT_FIND, transferSyntaxes: ['1.2.840.10008.1.2.1'] },
      ],
    });
    try {
      const identifier = encodeDataset([{ tag: 0x00080052, vr: 'CS', value: text('STUDY') }, { tag: 0x0020000d, vr: 'UI', value: text('1.2.3') }], EXPLICIT);
      const move = await scu.request(scu.contextFor(GET)!.id, { CommandField: 0x0021, AffectedSOPClassUID: GET, Priority: 0, MoveDestination: 'PACS_SERVER' }, identifier);
      assert.equal(move.command.Status, Status.UnrecognizedOperation);
      const find = await scu.request(scu.contextFor(STUDY_ROOT_FIND)!.id, { CommandField: 0x0020, AffectedSOPClassUID: PATIENT_ROOT_FIND, Priority: 0 }, identifier);
      assert.equal(find.command.Status, Status.SOPClassNotSupported);
      assert.match(String(find.command.ErrorComment), /SOP class not the context's 1.2.840.10008.5.1.4.1.2.2.1/);
      // The association serves on.
      const ok = await scu.request(scu.contextFor(STUDY_ROOT_FIND)!.id, { CommandField: 0x0020, AffectedSOPClassUID: STUDY_ROOT_FIND, Priority: 0 }, identifier);
      assert.equal(ok.command.Status, Status.Success);
    } finally {
      await scu.release().catch(() => {});
    }
  });
});
