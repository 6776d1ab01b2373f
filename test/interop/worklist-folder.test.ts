// The watched worklist folder against DCMTK's wlmscpfs: the same *.wl files (made with
// dump2dcm) served by both, the same findscu -W queries asked of both, and the answers compared
// attribute by attribute as dcmdump prints them. Then the folder changes: a file added, one
// rewritten and one removed are seen by the next scan.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { freePort, run, startDaemon } from '../helpers/dcmtk.js';
import { MAX_WORKLIST_FILE_BYTES } from '../../src/services/worklist-folder.js';

const AE = 'WLMAE';

interface Entry {
  pid: string;
  name: string;
  accession: string;
  modality: string;
  station: string;
  date: string;
  time: string;
}

const ENTRIES: Entry[] = [
  { pid: 'P1001', name: 'DOE^JANE', accession: 'A1001', modality: 'CT', station: 'CT1', date: '20260312', time: '090000' },
  { pid: 'P1002', name: 'DOE^JOHN', accession: 'A1002', modality: 'MR', station: 'MR1', date: '20260312', time: '140000' },
  { pid: 'P1003', name: 'ROE^RICHARD', accession: 'A1003', modality: 'CT', station: 'CT2', date: '20260313', time: '080000' },
  { pid: 'P1004', name: 'SMITH^ANNA', accession: 'A1004', modality: 'US', station: 'US1', date: '20260315', time: '101500' },
];

/** A worklist file as dcmdump would print it (dump2dcm reads that back). */
const dump = (e: Entry): string => `
(0008,0050) SH [${e.accession}]
(0008,0090) PN [REF^DOCTOR]
(0010,0010) PN [${e.name}]
(0010,0020) LO [${e.pid}]
(0010,0030) DA [19700101]
(0010,0040) CS [F]
(0020,000d) UI [1.2.826.0.1.3680043.2.1143.${e.pid.slice(1)}]
(0032,1032) PN [REQ^DOCTOR]
(0032,1060) LO [Procedure ${e.accession}]
(0040,0100) SQ (Sequence with undefined length)
(fffe,e000) na (Item with undefined length)
(0008,0060) CS [${e.modality}]
(0040,0001) AE [${e.station}]
(0040,0002) DA [${e.date}]
(0040,0003) TM [${e.time}]
(0040,0006) PN [PERF^DOCTOR]
(0040,0007) LO [Step ${e.accession}]
(0040,0009) SH [SPS${e.pid.slice(1)}]
(0040,0020) CS [SCHEDULED]
(fffe,e00d) na (ItemDelimitationItem)
(fffe,e0dd) na (SequenceDelimitationItem)
(0040,1001) SH [RP${e.pid.slice(1)}]
`;

async function writeEntry(dir: string, file: string, e: Entry): Promise<void> {
  const txt = path.join(dir, `${file}.txt`);
  fs.writeFileSync(txt, dump(e));
  const r = await run('dump2dcm', [txt, path.join(dir, AE, file)]);
  fs.rmSync(txt);
  assert.equal(r.code, 0, r.stderr);
}

/** The answers of findscu -W -X, each as dcmdump prints it (meta header left out), sorted. */
async function answers(port: number, calledAE: string, keys: string[]): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-cmp-'));
  try {
    const r = await run('findscu', ['-W', '-X', '-od', dir, '-aec', calledAE, ...keys.flatMap((k) => ['-k', k]), '127.0.0.1', String(port)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const out: string[] = [];
    for (const f of fs.readdirSync(dir).sort()) {
      const d = await run('dcmdump', ['-q', '+L', path.join(dir, f)]);
      out.push(d.stdout.split('\n').filter((l) => /^\s*\(/.test(l) && !/^\(0002,/.test(l)).map((l) => l.replace(/\s+#.*$/, '').trimEnd()).join('\n'));
    }
    return out.sort();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const RETURN = ['PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex', 'AccessionNumber', 'StudyInstanceUID', 'ReferringPhysicianName', 'RequestedProcedureID', 'RequestedProcedureDescription'];
const step = (k: string): string => `ScheduledProcedureStepSequence[0].${k}`;
const STEP_RETURN = ['Modality', 'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate', 'ScheduledProcedureStepStartTime', 'ScheduledPerformingPhysicianName', 'ScheduledProcedureStepDescription', 'ScheduledProcedureStepID'];

describe('worklist folder: the same files served by wlmscpfs and by us', () => {
  let dir: string;
  let pacs: TestPacs;
  let dcmtk: ChildProcess;
  let dcmtkPort: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-folder-'));
    fs.mkdirSync(path.join(dir, AE));
    fs.writeFileSync(path.join(dir, AE, 'lockfile'), ''); // wlmscpfs serves a directory only with it
    for (const e of ENTRIES) await writeEntry(dir, `${e.accession}.wl`, e);
    dcmtkPort = await freePort();
    dcmtk = await startDaemon('wlmscpfs', ['-dfp', dir, String(dcmtkPort)], dcmtkPort);
    pacs = await startTestPacs({ worklist: { folder: dir, poll_seconds: 3600 } });
    await pacs.server.feeds.worklistFolder!.scan();
  });
  after(async () => {
    dcmtk?.kill();
    await pacs?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const both = async (matching: string[]): Promise<string[]> => {
    const keys = [...RETURN, ...STEP_RETURN.map(step)];
    const asked = [...keys.filter((k) => !matching.some((m) => m.startsWith(`${k}=`))), ...matching];
    const theirs = await answers(dcmtkPort, AE, asked);
    const ours = await answers(pacs.port, 'PACS_SERVER', asked);
    assert.deepEqual(ours, theirs);
    return ours;
  };

  test('by modality', async () => {
    assert.equal((await both([`${step('Modality')}=CT`])).length, 2);
  });

  test('by scheduled station AE title', async () => {
    assert.equal((await both([`${step('ScheduledStationAETitle')}=MR1`])).length, 1);
  });

  test('by a date range, and an open-ended one', async () => {
    assert.equal((await both([`${step('ScheduledProcedureStepStartDate')}=20260312-20260313`])).length, 3);
    assert.equal((await both([`${step('ScheduledProcedureStepStartDate')}=20260313-`])).length, 2);
  });

  test('by a patient name wildcard, and everything', async () => {
    assert.equal((await both(['PatientName=DOE*'])).length, 2);
    assert.equal((await both([])).length, 4);
  });

  test('a file added, one changed and one removed: the next scan follows', async () => {
    const folder = pacs.server.feeds.worklistFolder!;
    await writeEntry(dir, 'NEW.wl', { pid: 'P1005', name: 'NEW^PATIENT', accession: 'A1005', modality: 'MR', station: 'MR2', date: '20260316', time: '120000' });
    await writeEntry(dir, 'A1001.wl', { ...ENTRIES[0]!, station: 'CT9' });
    fs.rmSync(path.join(dir, AE, 'A1004.wl'));
    fs.writeFileSync(path.join(dir, AE, 'broken.wl'), 'not DICOM at all');
    const scan = await folder.scan();
    assert.deepEqual({ ...scan, failed: scan.failed.length }, { added: 1, changed: 1, removed: 0, failed: 1 });
    // A file missing from one listing may be a writer's delete and write again: removed the next time.
    assert.deepEqual(await folder.scan(), { added: 0, changed: 0, removed: 1, failed: [] }, 'missing twice in a row: removed');
    assert.deepEqual(await folder.scan(), { added: 0, changed: 0, removed: 0, failed: [] }, 'nothing changed since');
    assert.equal((await both([`${step('ScheduledStationAETitle')}=CT9`])).length, 1);
    assert.equal((await both([])).length, 4);
  });

  test('a folder that cannot be read, or a share not mounted: the entries are kept, not removed', async () => {
    const folder = pacs.server.feeds.worklistFolder!;
    const count = async () => (await pacs.server.archive.index.worklist.list({ source: 'folder', limit: -1, offset: 0 })).entries.length;
    const before = await count();
    assert.ok(before > 0);
    // The AE title's folder unreadable (a share that hiccups): as root a mode does not stop us, so a file takes its place.
    const ae = path.join(dir, AE);
    const away = `${dir}.away`; // outside the watched folder
    fs.renameSync(ae, away);
    fs.writeFileSync(path.join(dir, 'OTHER'), '');
    fs.mkdirSync(path.join(dir, 'EMPTYAE'));
    fs.symlinkSync(path.join(dir, 'no-such-target'), ae); // a dangling link: listed, then unreadable
    try {
      assert.equal((await folder.scan()).removed, 0);
      assert.equal(await count(), before, 'an unreadable folder keeps its entries');
      fs.rmSync(ae);
      fs.rmSync(path.join(dir, 'EMPTYAE'), { recursive: true });
      // Nothing but a stray file at the top: the share is not mounted.
      assert.equal((await folder.scan()).removed, 0);
      assert.equal(await count(), before, 'an empty mount point keeps every entry');
    } finally {
      fs.rmSync(ae, { force: true });
      fs.rmSync(path.join(dir, 'OTHER'), { force: true });
      fs.renameSync(away, ae);
    }
    assert.equal((await folder.scan()).removed, 0);
    assert.equal((await both([])).length, 4, 'all back once the folder is back');
  });

  test('a FIFO, a file too large and one that makes no entry: none holds the scan, each is tried once until it changes', { timeout: 60_000 }, async () => {
    const folder = pacs.server.feeds.worklistFolder!;
    const fifo = path.join(dir, AE, 'pipe.wl'); // held the pass, and every pass after it, for ever
    const large = path.join(dir, AE, 'large.wl');
    const noModality = 'NOMOD.wl';
    execFileSync('mkfifo', [fifo]);
    fs.writeFileSync(large, '');
    fs.truncateSync(large, MAX_WORKLIST_FILE_BYTES + 1);
    await writeEntry(dir, noModality, { pid: 'P1006', name: 'NO^MODALITY', accession: 'A1006', modality: '', station: 'CT1', date: '20260316', time: '120000' });
    try {
      const first = await folder.scan();
      assert.deepEqual(first.failed.sort(), [`${AE}/${noModality}`, `${AE}/large.wl`, `${AE}/pipe.wl`]);
      assert.deepEqual(await folder.scan(), { added: 0, changed: 0, removed: 0, failed: [] }, 'not read again (nor warned of) while unchanged');
      await writeEntry(dir, noModality, { pid: 'P1006', name: 'NO^MODALITY', accession: 'A1006', modality: 'CT', station: 'CT1', date: '20260316', time: '120000' });
      assert.equal((await folder.scan()).added, 1, 'mended, it is taken');
    } finally {
      for (const f of [fifo, large, path.join(dir, AE, noModality)]) fs.rmSync(f, { force: true });
    }
    assert.equal((await folder.scan()).removed, 0, 'missing once');
    assert.equal((await folder.scan()).removed, 1);
  });

  test('a file deleted and written again between two passes keeps its entry and the status it reached', async () => {
    const folder = pacs.server.feeds.worklistFolder!;
    const file = path.join(dir, AE, 'A1002.wl');
    const worklist = pacs.server.archive.worklist;
    const entry = (await worklist.bySourceKey('folder', `${AE}/A1002.wl`))!;
    const bytes = fs.readFileSync(file);
    const started = structuredClone(entry.dataset) as Record<string, { Value?: Record<string, unknown>[] }>;
    started['00400100']!.Value![0]!['00400020'] = { vr: 'CS', Value: ['STARTED'] }; // as an MPPS N-CREATE makes it
    await worklist.update(entry.id, started as never);
    fs.rmSync(file);
    assert.equal((await folder.scan()).removed, 0);
    fs.writeFileSync(file, bytes);
    await folder.scan();
    const after = (await worklist.bySourceKey('folder', `${AE}/A1002.wl`))!;
    assert.equal(after.id, entry.id, 'the same entry');
    assert.equal(after.status, 'STARTED', 'not SCHEDULED again');
  });
});
