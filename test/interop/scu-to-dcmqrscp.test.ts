// Our Q/R SCU (pacs find / get / move) against DCMTK's dcmqrscp, a PACS that is not ours.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { SAMPLES, freePort, run, startDaemon } from '../helpers/dcmtk.js';

const BIN = new URL('../../../bin/pacs', import.meta.url).pathname;
const pacs = (args: string[]) => run(process.execPath, [BIN, ...args], { timeoutMs: 60_000 });
const CT_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.1';
const CR_STUDY = '1.3.6.1.4.1.5962.1.1.0.0.0.1196527414.5534.0.1';

describe('pacs find / get / move against dcmqrscp', () => {
  let dir: string;
  let qrPort: number;
  let rcvPort: number;
  const daemons: ChildProcess[] = [];
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-qr-'));
    qrPort = await freePort();
    rcvPort = await freePort();
    fs.mkdirSync(path.join(dir, 'db'));
    fs.mkdirSync(path.join(dir, 'rcv'));
    fs.writeFileSync(
      path.join(dir, 'dcmqrscp.cfg'),
      [
        `NetworkTCPPort = ${qrPort}`,
        'MaxPDUSize = 16384',
        'MaxAssociations = 16',
        'HostTable BEGIN',
        `rcv = (RCV, 127.0.0.1, ${rcvPort})`,
        'HostTable END',
        'VendorTable BEGIN',
        'VendorTable END',
        'AETable BEGIN',
        `QRSCP ${path.join(dir, 'db')} RW (200, 1024mb) ANY`,
        'AETable END',
        '',
      ].join('\n'),
    );
    daemons.push(await startDaemon('dcmqrscp', ['-c', path.join(dir, 'dcmqrscp.cfg'), String(qrPort)], qrPort, dir));
    daemons.push(await startDaemon('storescp', ['+xa', '-od', path.join(dir, 'rcv'), '-aet', 'RCV', String(rcvPort)], rcvPort));
    const files = fs.readdirSync(SAMPLES).filter((f) => f.startsWith('pydicom-dicomdir__')).map((f) => path.join(SAMPLES, f));
    const r = await run('storescu', ['-aec', 'QRSCP', '127.0.0.1', String(qrPort), ...files]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => {
    for (const d of daemons) d.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('pacs find: studies of a patient, as JSON', async () => {
    const r = await pacs(['find', '-aec', 'QRSCP', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID', '-k', 'StudyDate', '--json', '127.0.0.1', String(qrPort)]);
    assert.equal(r.code, 0, r.stderr);
    const answers = JSON.parse(r.stdout) as Record<string, string>[];
    assert.deepEqual(answers.map((a) => a.StudyInstanceUID).sort(), [CR_STUDY, CT_STUDY].sort());
    // --max-pdu is taken (and checked) by find as by echo and store.
    const small = await pacs(['find', '-aec', 'QRSCP', '--max-pdu', '4096', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '-k', 'StudyInstanceUID', '--json', '127.0.0.1', String(qrPort)]);
    assert.equal(small.code, 0, small.stderr);
    assert.equal((JSON.parse(small.stdout) as unknown[]).length, 2);
    const bad = await pacs(['find', '-aec', 'QRSCP', '--max-pdu', '12', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '127.0.0.1', String(qrPort)]);
    assert.equal(bad.code, 2, 'an impossible PDU size is a usage error');
    assert.match(bad.stderr, /--max-pdu/);
    // -L PATIENT without -P: Patient Root, the model that has that level (Study Root has none).
    const patients = await pacs(['find', '-aec', 'QRSCP', '-L', 'PATIENT', '-k', 'PatientID=77654033', '-k', 'PatientName', '--json', '127.0.0.1', String(qrPort)]);
    assert.equal(patients.code, 0, patients.stderr);
    assert.deepEqual((JSON.parse(patients.stdout) as Record<string, string>[]).map((a) => a.PatientID), ['77654033']);
  });

  test('pacs get: a study into a folder, each file a readable Part 10 file', async () => {
    const out = path.join(dir, 'get');
    const r = await pacs(['get', '-aec', 'QRSCP', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '-k', `StudyInstanceUID=${CT_STUDY}`, '-o', out, '127.0.0.1', String(qrPort)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /4 completed, 0 failed/);
    const files = fs.readdirSync(out);
    assert.equal(files.length, 4);
    for (const f of files) assert.equal((await run('dcmdump', ['-q', path.join(out, f)])).code, 0, `${f} parses`);
    // An instance that cannot be written (a directory in the way of its part file, as a full
    // disk would): that sub-operation fails, the tool does not crash, the others arrive.
    const again = path.join(dir, 'get-blocked');
    fs.mkdirSync(again);
    const blocked = files[0]!;
    fs.mkdirSync(path.join(again, `${blocked}.part`));
    const r2 = await pacs(['get', '-aec', 'QRSCP', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '-k', `StudyInstanceUID=${CT_STUDY}`, '-o', again, '127.0.0.1', String(qrPort)]);
    assert.equal(r2.code, 1, r2.stdout + r2.stderr);
    assert.match(r2.stdout + r2.stderr, /3 completed, 1 failed/);
    assert.deepEqual(fs.readdirSync(again).sort(), [...files.filter((f) => f !== blocked), `${blocked}.part`].sort());
  });

  test('pacs move: a study to a third node', async () => {
    const r = await pacs(['move', '-aec', 'QRSCP', '--dest', 'RCV', '-P', '-L', 'STUDY', '-k', 'PatientID=77654033', '-k', `StudyInstanceUID=${CR_STUDY}`, '127.0.0.1', String(qrPort)]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 completed/);
    assert.equal(fs.readdirSync(path.join(dir, 'rcv')).length, 3);
  });
});
