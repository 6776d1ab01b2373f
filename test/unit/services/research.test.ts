// Rule matching value by value, and export placement: safe names, collisions, idempotence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { HOST } from '../../../src/core/process-alive.js';
import { attributesOf } from '../../../src/services/attributes.js';
import { ruleMatches } from '../../../src/services/rule-match.js';
import { exportPath, placeInstance } from '../../../src/services/export.js';
import { encodeFileMetaInformation } from '../../../src/dicom/part10.js';
import { encodeDataset, encodeText } from '../../../src/dicom/writer.js';
import { Tag } from '../../../src/dicom/tags.js';
import type { InstanceLocation } from '../../../src/index/types.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { parseConfigData } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';

const attrs = attributesOf(
  {
    '00080020': { vr: 'DA', Value: ['20260312'] },
    '00080008': { vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'M'] },
    '00081030': { vr: 'LO', Value: ['fMRI rest'] },
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Smith^Ann' }] },
    '00200011': { vr: 'IS', Value: [3] },
  },
  { callingAE: 'SCANNER_A', calledAE: 'PACS', remoteAddress: '10.0.0.7' },
);

test('match: exact, wildcard, regex, date range, number, list, min/max, provenance, absent', () => {
  const yes = (m: Record<string, unknown>) => assert.ok(ruleMatches(m as never, attrs), JSON.stringify(m));
  const no = (m: Record<string, unknown>) => assert.ok(!ruleMatches(m as never, attrs), JSON.stringify(m));
  yes({});
  yes({ StudyDescription: 'fMRI rest' });
  no({ StudyDescription: 'fmri rest' });
  yes({ StudyDescription: 'fMRI*' });
  yes({ StudyDescription: '/^FMRI/i' });
  no({ StudyDescription: '/^FMRI/' });
  yes({ StudyDate: '20260101-20261231' });
  yes({ StudyDate: '20260312-' });
  no({ StudyDate: '-20260311' });
  yes({ SeriesNumber: 3 });
  yes({ SeriesNumber: { min: 2, max: 4 } });
  no({ SeriesNumber: { min: 4 } });
  yes({ ImageType: 'PRIMARY' }); // any of the values
  yes({ ReferringPhysicianName: 'Smith^*' });
  // Person names in their short form (PS3.5 6.2): trailing empty components do not count.
  yes({ ReferringPhysicianName: 'Smith^Ann^^^' });
  yes({ ReferringPhysicianName: 'Smith^Ann^*' });
  no({ ReferringPhysicianName: 'Smith^Ann^?' });
  no({ ReferringPhysicianName: 'Smith' });
  yes({ CallingAE: ['SCANNER_B', 'SCANNER_A'] });
  yes({ RemoteAddress: '10.0.0.*' });
  no({ CalledAE: 'OTHER' });
  no({ InstitutionName: 'X' }); // absent
  yes({ InstitutionName: '*' });
  no({ CallingAE: 'SCANNER_A', StudyDescription: 'other' }); // every key must hold
  const longForm = attributesOf({ '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^^^' }] } }, { callingAE: 'A', calledAE: 'B', remoteAddress: '1' });
  assert.ok(ruleMatches({ PatientName: 'DOE' }, longForm), 'DOE^^^ is DOE');
  assert.ok(ruleMatches({ PatientName: 'DOE^*' }, longForm));
  assert.ok(ruleMatches({ PatientName: ['X', 'DOE^'] }, longForm));
  assert.ok(ruleMatches({ PatientName: '/^DOE\\^\\^\\^$/' }, longForm), 'a regular expression sees the name as sent');
});

test('rules in the configuration: unknown keyword, bad regex, relative folder, duplicate name are named', () => {
  const bad = (rules: unknown, expect: RegExp) =>
    assert.throws(() => parseConfigData({ rules }), (e: unknown) => e instanceof ConfigError && expect.test(e.problems.join('\n')));
  bad([{ name: 'r', match: { NoSuchKeyword: 'x' }, actions: [{ type: 'forward', node: 'A' }] }], /rules\[0\]\.match\.NoSuchKeyword.*not a DICOM keyword/);
  bad([{ name: 'r', match: { StudyDescription: '/(/' }, actions: [{ type: 'forward', node: 'A' }] }], /bad regular expression/);
  bad([{ name: 'r', actions: [{ type: 'export', to: 'relative/dir' }] }], /rules\[0\]\.actions\[0\]\.to.*absolute/);
  bad([{ name: 'r', actions: [{ type: 'forward', node: 'A' }] }, { name: 'r', actions: [{ type: 'forward', node: 'B' }] }], /duplicate rule name/);
  bad([{ name: 'r', actions: [{ type: 'email' }] }], /type: export, forward or command/);
  const ok = parseConfigData({ rules: [{ name: 'r', actions: [{ type: 'export', to: '/nas/x' }] }] });
  assert.equal(ok.rules[0]!.on, 'study.stable');
  assert.equal(ok.rules[0]!.actions[0]!.type === 'export' && ok.rules[0]!.actions[0]!.mode, 'copy');
});

test('export names: no traversal, no illegal characters, bounded length', () => {
  const target = { to: '/nas/lab', template: '{PatientID}/{StudyDescription}/{InstanceNumber:05}.dcm', mode: 'copy' as const };
  const v: Record<string, string> = { PatientID: '../../etc', StudyDescription: 'a/b\\c:d*e?"<>|\u0001 ..', InstanceNumber: '7' };
  const p = exportPath(target, (k) => v[k]);
  assert.equal(p, '/nas/lab/etc/a_b_c_d_e_/00007.dcm'.replace('e_/', 'e/'));
  v.StudyDescription = 'x'.repeat(500);
  const long = exportPath(target, (k) => v[k]);
  assert.ok(path.basename(path.dirname(long)).length <= 120);
  assert.equal(exportPath(target, () => null), '/nas/lab/UNKNOWN/UNKNOWN/UNKNOWN.dcm');
});

function fakeStore(root: string): ObjectStore {
  return { absolutePath: (rel: string) => path.join(root, rel) } as unknown as ObjectStore;
}

function instance(root: string, name: string, bytes: string): InstanceLocation {
  fs.mkdirSync(root, { recursive: true });
  fs.writeFileSync(path.join(root, name), bytes);
  return { SOPInstanceUID: `1.2.${name.length}.${bytes.length}`, SOPClassUID: '1.2', SeriesInstanceUID: '1', StudyInstanceUID: '1', PatientID: 'P', path: name, size: bytes.length, transferSyntaxUID: '1.2.840.10008.1.2.1', checksum: createHash('sha256').update(bytes).digest('hex'), receivedAt: new Date() };
}

test('two copies of one instance into one folder at once: one written, one present, the file whole; a killed export\'s temporary files are removed (at once when its process is gone)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    const big = 'Z'.repeat(4 * 1024 * 1024);
    const a = instance(archive, 'a.dcm', big);
    const dest = path.join(dir, 'lab', 'a.dcm');
    const results = await Promise.all([placeInstance(store, a, dest, 'copy', dir), placeInstance(store, a, dest, 'copy', dir)]);
    assert.deepEqual(results.map((r) => r.placed).sort(), ['present', 'written']);
    assert.ok(results.every((r) => r.path === dest));
    assert.equal(fs.readFileSync(dest, 'utf8'), big);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'lab')), ['a.dcm'], 'no temporary file left');
    // Leftovers of killed exports, in a folder this process has not written to yet: one of a
    // process of this host that is gone and one of an earlier process with our pid (just now:
    // removed at once, the restart does not wait),
    // one of another host untouched for two minutes, one of another host still being written,
    // one with an older version's name long untouched.
    const b = instance(archive, 'b.dcm', 'BBBB');
    const lab2 = path.join(dir, 'lab2');
    fs.mkdirSync(lab2);
    const dead = spawnSync('true').pid;
    const leftovers = {
      deadHere: `.${b.SOPInstanceUID}~${HOST}~${dead}~0badf00d.pacs-export`,
      // Our own pid but not our file: a restarted container's pid 1 had it before.
      earlierSamePid: `.${a.SOPInstanceUID}~${HOST}~${process.pid}~0badf00d.pacs-export`,
      staleThere: `.${a.SOPInstanceUID}~other.host~42~0badf00d.pacs-export`,
      liveThere: `.${a.SOPInstanceUID}~other.host~43~0badf00d.pacs-export`,
      oldName: `.${a.SOPInstanceUID}.pacs-export`,
    };
    for (const n of Object.values(leftovers)) fs.writeFileSync(path.join(lab2, n), 'BB');
    const old = new Date(Date.now() - 120_000);
    for (const n of [leftovers.staleThere, leftovers.oldName]) fs.utimesSync(path.join(lab2, n), old, old);
    assert.deepEqual(await placeInstance(store, b, path.join(lab2, 'b.dcm'), 'copy', dir), { path: path.join(lab2, 'b.dcm'), placed: 'written', madeDirs: [] });
    assert.equal(fs.readFileSync(path.join(lab2, 'b.dcm'), 'utf8'), 'BBBB');
    assert.deepEqual(fs.readdirSync(lab2).sort(), [leftovers.liveThere, 'b.dcm'].sort());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('placement: copy, hard link, symlink; a re-run finds its own file; a collision gets ~2', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    const a = instance(archive, 'a.dcm', 'AAAA');
    const b = instance(archive, 'b.dcm', 'BBBBBB');
    for (const mode of ['copy', 'hardlink', 'symlink'] as const) {
      const dest = path.join(dir, mode, 'x', 'same.dcm');
      // Both folders made: their names are entries of dir and dir/mode, synced with the files.
      const made = [dir, path.join(dir, mode, 'x'), path.join(dir, mode)];
      assert.deepEqual(await placeInstance(store, a, dest, mode, dir), { path: dest, placed: 'written', madeDirs: made });
      assert.deepEqual(await placeInstance(store, a, dest, mode, dir), { path: dest, placed: 'present', madeDirs: [] }, `${mode}: idempotent`);
      const other = await placeInstance(store, b, dest, mode, dir);
      assert.deepEqual(other, { path: path.join(dir, mode, 'x', 'same~2.dcm'), placed: 'written', madeDirs: [] }, `${mode}: collision`);
      assert.deepEqual(await placeInstance(store, b, dest, mode, dir), { path: other.path, placed: 'present', madeDirs: [] }, `${mode}: the collided one found again`);
      assert.equal(fs.readFileSync(other.path, 'utf8'), 'BBBBBB');
      assert.deepEqual(fs.readdirSync(path.join(dir, mode, 'x')).sort(), ['same.dcm', 'same~2.dcm'], 'no temporary file left');
    }
    assert.ok(fs.lstatSync(path.join(dir, 'symlink', 'x', 'same.dcm')).isSymbolicLink());
    assert.equal(fs.statSync(path.join(dir, 'hardlink', 'x', 'same.dcm')).ino, fs.statSync(path.join(archive, 'a.dcm')).ino);
    // A copy cut short (different bytes under the name) is not taken for the instance.
    const dest = path.join(dir, 'copy2', 'c.dcm');
    fs.mkdirSync(path.dirname(dest));
    fs.writeFileSync(dest, 'AA');
    assert.equal((await placeInstance(store, a, dest, 'copy', dir)).path, path.join(dir, 'copy2', 'c~2.dcm'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a copy already in place is found without copying it again (a re-run, a study exported again because it grew)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  // A copy is a temporary file made beside the destination and written: counted as they are made.
  const fsp = fs.promises as { open: typeof fs.promises.open };
  const open = fsp.open;
  let copies = 0;
  fsp.open = (...args: Parameters<typeof open>) => {
    if (String(args[0]).endsWith('.pacs-export')) copies++;
    return open(...args);
  };
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    const a = instance(archive, 'a.dcm', 'AAAA');
    const b = instance(archive, 'b.dcm', 'BBBBBB');
    const dest = path.join(dir, 'lab', 'same.dcm');
    await placeInstance(store, a, dest, 'copy', dir);
    await placeInstance(store, b, dest, 'copy', dir); // same~2.dcm
    assert.equal(copies, 2);
    assert.equal((await placeInstance(store, a, dest, 'copy', dir)).placed, 'present');
    assert.equal((await placeInstance(store, b, dest, 'copy', dir)).placed, 'present');
    assert.equal(copies, 2, 'nothing copied for files already there');
  } finally {
    fsp.open = open;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an instance replaced in the archive since its export takes the place of its earlier version, in every mode (not a second file beside it)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  const part10 = (uid: string, description: string): string => {
    const meta = encodeFileMetaInformation({ mediaStorageSOPClassUID: '1.2.840.10008.5.1.4.1.1.7', mediaStorageSOPInstanceUID: uid, transferSyntaxUID: '1.2.840.10008.1.2.1', implementationClassUID: '1.2.3', implementationVersionName: 'TEST' });
    const ds = encodeDataset(
      [
        { tag: Tag.SOPInstanceUID, vr: 'UI', value: encodeText(uid, 'UI') },
        { tag: Tag.StudyDescription, vr: 'LO', value: encodeText(description, 'LO') },
      ],
      { explicitVR: true, littleEndian: true },
    );
    return Buffer.concat([meta, ds]).toString('latin1');
  };
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    for (const mode of ['copy', 'hardlink', 'symlink'] as const) {
      const v1 = { ...instance(archive, `${mode}-v1.dcm`, part10('1.2.3.4', 'first')), SOPInstanceUID: '1.2.3.4' };
      const v2 = { ...instance(archive, `${mode}-v2.dcm`, part10('1.2.3.4', 'second, edited')), SOPInstanceUID: '1.2.3.4' };
      const other = { ...instance(archive, `${mode}-o.dcm`, part10('1.2.3.5', 'another instance')), SOPInstanceUID: '1.2.3.5' };
      const dest = path.join(dir, mode, 'x.dcm');
      assert.equal((await placeInstance(store, v1, dest, mode, dir)).placed, 'written');
      assert.deepEqual(await placeInstance(store, v2, dest, mode, dir), { path: dest, placed: 'written', madeDirs: [] }, `${mode}: in place of the first`);
      assert.equal(fs.readFileSync(dest, 'latin1'), fs.readFileSync(path.join(archive, `${mode}-v2.dcm`), 'latin1'));
      assert.equal((await placeInstance(store, v2, dest, mode, dir)).placed, 'present', `${mode}: then found as done`);
      assert.equal((await placeInstance(store, other, dest, mode, dir)).path, path.join(dir, mode, 'x~2.dcm'), `${mode}: another instance under the same name is left alone`);
      assert.deepEqual(fs.readdirSync(path.join(dir, mode)).sort(), ['x.dcm', 'x~2.dcm'], 'no temporary file left');
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an export never follows a symbolic link below its folder (a lab user could aim the server elsewhere); its own folder may be one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    const a = instance(archive, 'a.dcm', 'AAAA');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(elsewhere);
    const share = path.join(dir, 'share');
    fs.mkdirSync(share);
    const lab = path.join(dir, 'lab'); // the export folder: a link to the share, as a mount may be
    fs.symlinkSync(share, lab);
    fs.symlinkSync(elsewhere, path.join(share, 'SUBJ042'));
    for (const mode of ['copy', 'hardlink', 'symlink'] as const) {
      await assert.rejects(placeInstance(store, a, path.join(lab, 'SUBJ042', 'new', 'x.dcm'), mode, lab), /SUBJ042 is a symbolic link/);
      await assert.rejects(placeInstance(store, a, path.join(lab, 'SUBJ042', 'x.dcm'), mode, lab), /symbolic link/);
    }
    assert.deepEqual(fs.readdirSync(elsewhere), [], 'nothing written through the link');
    assert.equal((await placeInstance(store, a, path.join(lab, 'SUBJ007', 'x.dcm'), 'copy', lab)).placed, 'written');
    assert.equal(fs.readFileSync(path.join(share, 'SUBJ007', 'x.dcm'), 'utf8'), 'AAAA');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lab share without hard links (link() refused with EPERM): copies are placed by rename, a taken name still gets ~2, a re-run finds its file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-export-'));
  try {
    const archive = path.join(dir, 'archive');
    const store = fakeStore(archive);
    const a = instance(archive, 'a.dcm', 'AAAA');
    const b = instance(archive, 'b.dcm', 'BBBBB');
    const lab = path.join(dir, 'lab');
    fs.mkdirSync(lab);
    t.mock.method(fsp, 'link', async () => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    });
    const dest = path.join(lab, 'x.dcm');
    assert.deepEqual(await placeInstance(store, a, dest, 'copy', dir), { path: dest, placed: 'written', madeDirs: [] });
    assert.equal(fs.readFileSync(dest, 'utf8'), 'AAAA');
    assert.deepEqual(await placeInstance(store, a, dest, 'copy', dir), { path: dest, placed: 'present', madeDirs: [] });
    assert.deepEqual(await placeInstance(store, b, dest, 'copy', dir), { path: path.join(lab, 'x~2.dcm'), placed: 'written', madeDirs: [] });
    assert.equal(fs.readFileSync(dest, 'utf8'), 'AAAA', 'the taken name kept its file');
    assert.deepEqual(fs.readdirSync(lab).sort(), ['x.dcm', 'x~2.dcm'], 'no temporary file left');
    // Two exports choosing one free name at once: one has it, the other takes the next (never both: a rename would overwrite).
    const y = path.join(lab, 'y.dcm');
    const both = await Promise.all([placeInstance(store, a, y, 'copy', dir), placeInstance(store, b, y, 'copy', dir)]);
    assert.deepEqual(both.map((r) => r.path).sort(), [y, path.join(lab, 'y~2.dcm')]);
    assert.deepEqual(both.map((r) => fs.readFileSync(r.path, 'utf8')), ['AAAA', 'BBBBB']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
