// C-MOVE and C-GET SCP against DCMTK's movescu (into storescp) and getscu: instances arrive
// byte for byte, pending counts, failed sub-operations with their UIDs, unknown destinations.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLES, freePort, run, startDaemon, storescuProfile } from '../helpers/dcmtk.js';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { parsePart10Prefix } from '../../src/dicom/part10.js';
import { encodeIdentifier } from '../../src/dicom/identifier.js';
import { ScuAssociation } from '../../src/net/client.js';
import { record } from '../contract/fixtures.js';

const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const CT_SERIES = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2';
const CR_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1';
const ct = ['17106', '17136', '17166', '17196'].map((n) => path.join(SAMPLES, `pydicom-dicomdir__77654033_CT2_${n}.dcm`));
const cr = ['CR1_6154', 'CR2_6247', 'CR3_6278'].map((n) => path.join(SAMPLES, `pydicom-dicomdir__77654033_${n}.dcm`));
const jpeg = path.join(SAMPLES, 'pydicom__JPEG2000.dcm');

const datasetOf = (buf: Buffer): Buffer => buf.subarray(parsePart10Prefix(buf, true)!.datasetOffset);

describe('C-MOVE and C-GET', () => {
  let pacs: TestPacs;
  let rcvPort: number;
  let rcvDir: string;
  let storescp: ChildProcess;
  before(async () => {
    rcvPort = await freePort();
    const deadPort = await freePort();
    pacs = await startTestPacs({});
    // known_nodes is read live: swap in a configuration naming the destinations.
    const cfg = pacs.server.archive.config();
    pacs.server.archive.setConfig({
      ...cfg,
      known_nodes: [
        { ae_title: 'RCV', host: '127.0.0.1', port: rcvPort, tls: false, permissions: ['store'] },
        { ae_title: 'DEAD', host: '127.0.0.1', port: deadPort, tls: false, permissions: ['store'] },
      ],
    });
    rcvDir = path.join(pacs.dir, 'received');
    fs.mkdirSync(rcvDir);
    storescp = await startDaemon('storescp', ['+B', '+xa', '-od', rcvDir, '-aet', 'RCV', String(rcvPort)], rcvPort);
    const r = await run('storescu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), ...ct, ...cr]);
    assert.equal(r.code, 0, r.stderr);
    const j = await run('storescu', [...(await storescuProfile([jpeg], pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), jpeg]);
    assert.equal(j.code, 0, j.stderr);
  });
  after(async () => {
    storescp.kill();
    await pacs.stop();
  });

  test('movescu a study to a known node: every instance arrives as stored, with pending counts', async () => {
    const r = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'RCV', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /Received Final Move Response \(Success\)/, r.stderr);
    assert.equal((r.stderr.match(/Received Move Response \d+ \(Pending\)/g) ?? []).length, 3, 'a pending response after each sub-operation but the last');
    const index = pacs.server.archive.index;
    for (const f of fs.readdirSync(rcvDir)) {
      const got = fs.readFileSync(path.join(rcvDir, f));
      const uid = f.slice(f.indexOf('.') + 1);
      const loc = (await index.findInstance(uid))!;
      const stored = fs.readFileSync(path.join(pacs.storageDir, loc.path));
      assert.ok(datasetOf(got).equals(datasetOf(stored)), `${uid} byte for byte`);
    }
    assert.equal(fs.readdirSync(rcvDir).length, 4);
  });

  test('an unknown destination gets 0xA801; an unreachable one 0xA702', async () => {
    const unknown = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'NOBODY', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(unknown.stderr, /MoveDestinationUnknown|Move Destination Unknown|a801/i, unknown.stderr);
    const dead = await run('movescu', ['-d', '-aec', 'PACS_SERVER', '-aem', 'DEAD', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(dead.stderr, /OutOfResourcesSubOperations|Unable to perform sub-operations|a702/i, dead.stderr);
    // Every sub-operation failed: counted, and each instance listed (PS3.4 C.4.2.1.x; as dcmqrscp answers).
    const out = dead.stdout + dead.stderr;
    const final = out.slice(out.lastIndexOf('C-MOVE RSP'));
    const instances = (await pacs.server.archive.index.instancesOf(CT_STUDY)).length;
    assert.ok(instances > 0);
    assert.match(final, new RegExp(`Failed Suboperations\\s*:\\s*${instances}\\b`), final);
    assert.match(out, /\(0008,0058\)/, 'the Failed SOP Instance UID List');
  });

  test('a key below the retrieve level selects nothing: a Patient Root STUDY retrieve naming one SOP Instance UID sends the study, as Study Root does', async () => {
    const all = await pacs.server.archive.index.instancesOf(CT_STUDY);
    assert.ok(all.length > 1);
    for (const [model, keys] of [['-P', ['-k', `PatientID=${all[0]!.PatientID}`]], ['-S', []]] as const) {
      const dir = path.join(pacs.dir, `get-below${model}`);
      fs.mkdirSync(dir);
      const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', model, '-od', dir, '-k', '0008,0052=STUDY', ...keys, '-k', `StudyInstanceUID=${CT_STUDY}`, '-k', `SOPInstanceUID=${all[0]!.SOPInstanceUID}`, '127.0.0.1', String(pacs.port)]);
      assert.match(r.stderr, new RegExp(`Completed Suboperations\\s*:\\s*${all.length}\\b`), `${model}: ${r.stderr}`);
      assert.equal(fs.readdirSync(dir).length, all.length);
    }
  });

  test('getscu a study on the same association; a JPEG 2000 instance goes decompressed to an SCU taking uncompressed syntaxes only', async () => {
    const dir = path.join(pacs.dir, 'get');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CR_STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /Completed Suboperations\s*:\s*3/, r.stderr);
    assert.equal(fs.readdirSync(dir).length, 3);
    // getscu proposes uncompressed transfer syntaxes only: the JPEG 2000 instance goes decoded
    // (undecodable ones fail: see retrieve-decompress.test.ts).
    const jdir = path.join(pacs.dir, 'get-jpeg');
    fs.mkdirSync(jdir);
    const jpegStudy = datasetOf(fs.readFileSync(jpeg)); // any bytes; the UID comes from the index
    assert.ok(jpegStudy.length > 0);
    const loc = (await pacs.server.archive.index.query({ level: 'STUDY', model: 'STUDY_ROOT', keys: [{ keyword: 'PatientID', value: '' }, { keyword: 'StudyInstanceUID', value: '' }, { keyword: 'SOPClassesInStudy', value: '1.2.840.10008.5.1.4.1.1.7' }], relational: false }))[0]!;
    const j = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-od', jdir, '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${String(loc.StudyInstanceUID)}`, '127.0.0.1', String(pacs.port)]);
    assert.match(j.stderr, /Completed Suboperations\s*:\s*1/, j.stderr);
    assert.match(j.stderr, /Failed Suboperations\s*:\s*0/, j.stderr);
    const [got] = fs.readdirSync(jdir);
    assert.notEqual(parsePart10Prefix(fs.readFileSync(path.join(jdir, got!)), true)!.transferSyntaxUID, '1.2.840.10008.1.2.4.91', 'arrived uncompressed');
  });

  test('receivers that take implicit VR only get explicit VR instances re-encoded (C-GET and C-MOVE)', async () => {
    const dir = path.join(pacs.dir, 'get-implicit');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '+xi', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=SERIES', '-k', `StudyInstanceUID=${CT_STUDY}`, '-k', `SeriesInstanceUID=${CT_SERIES}`, '127.0.0.1', String(pacs.port)]);
    // Accepting implicit VR only, getscu can have received them only re-encoded.
    assert.match(r.stderr, /Completed Suboperations\s*:\s*4/, r.stderr);
    assert.match(r.stderr, /Failed Suboperations\s*:\s*0/);
    for (const f of fs.readdirSync(dir)) assert.equal((await run('dcmdump', ['-q', path.join(dir, f)])).code, 0, `${f} is readable`);
    const port = await freePort();
    const idir = path.join(pacs.dir, 'move-implicit');
    fs.mkdirSync(idir);
    const cfg = pacs.server.archive.config();
    pacs.server.archive.setConfig({ ...cfg, known_nodes: [...cfg.known_nodes, { ae_title: 'IMPLICIT', host: '127.0.0.1', port, tls: false, permissions: ['store'] }] });
    const scp = await startDaemon('storescp', ['+xi', '-od', idir, '-aet', 'IMPLICIT', String(port)], port);
    try {
      const m = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'IMPLICIT', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
      assert.match(m.stderr, /Received Final Move Response \(Success\)/, m.stderr);
      assert.equal(fs.readdirSync(idir).length, 4);
    } finally {
      scp.kill();
    }
  });

  test('an RLE instance goes decompressed to a getscu that proposes uncompressed syntaxes only', async () => {
    const rle = path.join(SAMPLES, 'pydicom__SC_rgb_rle_2frame.dcm');
    const stored = await run('storescu', [...(await storescuProfile([rle], pacs.dir)), '-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port), rle]);
    assert.equal(stored.code, 0, stored.stderr);
    // The one instance stored RLE-compressed.
    const all = await pacs.server.archive.index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'SOPInstanceUID', value: '' }], relational: true });
    const locations = await Promise.all(all.map((r) => pacs.server.archive.index.findInstance(String(r.SOPInstanceUID))));
    const loc = locations.find((l) => l?.transferSyntaxUID === '1.2.840.10008.1.2.5')!;
    const dir = path.join(pacs.dir, 'get-rle');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=IMAGE', '-k', `StudyInstanceUID=${loc.StudyInstanceUID}`, '-k', `SeriesInstanceUID=${loc.SeriesInstanceUID}`, '-k', `SOPInstanceUID=${loc.SOPInstanceUID}`, '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /Completed Suboperations\s*:\s*1/, r.stderr);
    const [got] = fs.readdirSync(dir);
    const b = fs.readFileSync(path.join(dir, got!));
    assert.notEqual(parsePart10Prefix(b, true)!.transferSyntaxUID, '1.2.840.10008.1.2.5', 'arrived uncompressed');
    assert.equal((await run('dcmdump', ['-q', path.join(dir, got!)])).code, 0);
  });

  test('a file that vanished since it was indexed fails its sub-operation; the others go on', async () => {
    const index = pacs.server.archive.index;
    const victim = (await index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [{ keyword: 'StudyInstanceUID', value: CT_STUDY }, { keyword: 'SeriesInstanceUID', value: CT_SERIES }, { keyword: 'SOPInstanceUID', value: '' }], relational: false }))[0]!;
    const loc = (await index.findInstance(String(victim.SOPInstanceUID)))!;
    fs.renameSync(path.join(pacs.storageDir, loc.path), path.join(pacs.dir, 'hidden.dcm'));
    try {
      const dir = path.join(pacs.dir, 'get-missing');
      fs.mkdirSync(dir);
      const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=SERIES', '-k', `StudyInstanceUID=${CT_STUDY}`, '-k', `SeriesInstanceUID=${CT_SERIES}`, '127.0.0.1', String(pacs.port)]);
      assert.match(r.stderr, /Completed Suboperations\s*:\s*3/, r.stderr);
      assert.match(r.stderr, /Failed Suboperations\s*:\s*1/);
      assert.equal(fs.readdirSync(dir).length, 3);
    } finally {
      fs.renameSync(path.join(pacs.dir, 'hidden.dcm'), path.join(pacs.storageDir, loc.path));
    }
  });

  test('more failed sub-operations than one Failed SOP Instance UID List can hold: the final response still comes, with the first ones', async () => {
    // 1,100 rows of 64-character UIDs whose files do not exist: every sub-operation fails, and
    // their UIDs (71 KB) do not fit an explicit VR UI element (64 KB).
    const index = pacs.server.archive.index;
    const study = `1.2.826.0.1.3680043.10.999.${'7'.repeat(20)}`;
    for (let i = 0; i < 1100; i++) {
      const sop = `${study}.${String(i).padStart(64 - study.length - 1, '0')}`;
      await index.storeInstance(record({ sop, study, series: `${study}.1`, patientId: 'MANYFAIL', path: `nowhere/${i}.dcm` }), 'insert');
    }
    const dir = path.join(pacs.dir, 'get-many-failed');
    fs.mkdirSync(dir);
    const r = await run('getscu', ['-d', '-td', '60', '-aec', 'PACS_SERVER', '-S', '-od', dir, '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${study}`, '127.0.0.1', String(pacs.port)], { timeoutMs: 120_000 });
    assert.match(r.stderr, /Final status report from last C-GET message/, r.stderr.slice(-2000));
    assert.match(r.stderr, /Number of Failed Suboperations\s*:\s*1100/);
    assert.match(r.stderr, /first 1008 of 1100 failed UIDs listed/);
    assert.equal((await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)])).code, 0, 'still serving');
  });

  test('a destination that disappears mid-transfer: the rest fail with their UIDs, the server goes on', async () => {
    const port = await freePort();
    const dir = path.join(pacs.dir, 'vanishing');
    fs.mkdirSync(dir);
    const cfg = pacs.server.archive.config();
    pacs.server.archive.setConfig({ ...cfg, known_nodes: [...cfg.known_nodes, { ae_title: 'GONE', host: '127.0.0.1', port, tls: false, permissions: ['store'] }] });
    // It sleeps a second after each instance: on a busy machine the whole study could otherwise
    // arrive between two looks of the watcher, and the transfer end in success.
    const victim = await startDaemon('storescp', ['+xa', '--sleep-after', '1', '-od', dir, '-aet', 'GONE', String(port)], port);
    // Kill the receiver as soon as the first instance has arrived.
    const watcher = setInterval(() => {
      if (fs.readdirSync(dir).length > 0) victim.kill('SIGKILL');
    }, 2);
    try {
      const r = await run('movescu', ['-v', '-aec', 'PACS_SERVER', '-aem', 'GONE', '-S', '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
      assert.match(r.stderr, /Received Final Move Response/, r.stderr);
      assert.doesNotMatch(r.stderr, /Received Final Move Response \(Success\)/, 'not every instance can have arrived');
    } finally {
      clearInterval(watcher);
      victim.kill('SIGKILL');
    }
    const echo = await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    assert.equal(echo.code, 0, 'still serving');
  });

  test('a client that aborts in the middle of a C-GET leaves the server serving', async () => {
    // Our own SCU, which aborts the association when the first C-STORE sub-operation arrives.
    let scu: ScuAssociation | null = null;
    let aborted = false;
    scu = await ScuAssociation.connect({
      host: '127.0.0.1',
      port: pacs.port,
      callingAETitle: 'ABORTER',
      calledAETitle: 'PACS_SERVER',
      contexts: [
        { abstractSyntax: '1.2.840.10008.5.1.4.1.2.2.3', transferSyntaxes: ['1.2.840.10008.1.2.1'] },
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: ['1.2.840.10008.1.2.1'] },
        { abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
      roleSelections: [{ sopClass: '1.2.840.10008.5.1.4.1.1.2', scuRole: false, scpRole: true }],
      onRequest: () => {
        aborted = true;
        scu!.abort();
        return null;
      },
    });
    const ctx = scu.contextFor('1.2.840.10008.5.1.4.1.2.2.3')!;
    const identifier = encodeIdentifier(
      [
        { tag: 0x00080052, vr: 'CS', value: 'STUDY' },
        { tag: 0x0020000d, vr: 'UI', value: CT_STUDY },
      ],
      ctx.transferSyntax,
      null,
    );
    await scu.request(ctx.id, { CommandField: 0x0010, AffectedSOPClassUID: '1.2.840.10008.5.1.4.1.2.2.3', Priority: 0 }, identifier).catch(() => {});
    assert.ok(aborted, 'a sub-operation reached the client');
    const echo = await run('echoscu', ['-aec', 'PACS_SERVER', '127.0.0.1', String(pacs.port)]);
    assert.equal(echo.code, 0, 'still serving');
    const again = await run('getscu', ['-aec', 'PACS_SERVER', '-S', '-od', fs.mkdtempSync(path.join(pacs.dir, 'after-')), '-k', '0008,0052=STUDY', '-k', `StudyInstanceUID=${CT_STUDY}`, '127.0.0.1', String(pacs.port)]);
    assert.equal(again.code, 0, 'and retrieving');
  });

  test('a retrieve without the unique key of its level: 0xA900', async () => {
    const r = await run('getscu', ['-v', '-aec', 'PACS_SERVER', '-S', '-k', '0008,0052=STUDY', '-k', 'PatientID=77654033', '127.0.0.1', String(pacs.port)]);
    assert.match(r.stderr, /DataSetDoesNotMatchSOPClass|Identifier does not match|a900/i, r.stderr);
  });
});
