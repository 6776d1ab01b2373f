// The worklist and MPPS stores on every backend: add, find by source key and by step, list with
// filters and paging (a negative limit lists everything: the worklist SCP asks for all open
// steps), and MPPS updates refused once the step is final.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import type { JsonDataset } from '../../src/dicom/json.js';
import type { MppsStore, WorklistStore } from '../../src/index/workflow.js';
import { MppsService } from '../../src/services/mpps.js';
import { WorklistService } from '../../src/services/worklist.js';
import { BACKENDS } from './backends.js';

const entry = (patientID: string, spsID: string, status: string, study: string): JsonDataset => ({
  '00100020': { vr: 'LO', Value: [patientID] },
  '0020000D': { vr: 'UI', Value: [study] },
  '00080050': { vr: 'SH', Value: [`ACC${spsID}`] },
  '00400100': { vr: 'SQ', Value: [{ '00400009': { vr: 'SH', Value: [spsID] }, '00400020': { vr: 'CS', Value: [status] }, '00080060': { vr: 'CS', Value: ['CT'] }, '00400002': { vr: 'DA', Value: ['20260312'] } }] },
});

const mpps = (status: string): JsonDataset => ({ '00400252': { vr: 'CS', Value: [status] } });

/** Reads of which the first two are held until both are made: two changes read before either writes. */
function bothReadFirst(): { gate<T>(read: Promise<T>): Promise<T>; readonly count: number } {
  let waiting: (() => void)[] = [];
  let count = 0;
  return {
    async gate(read) {
      const r = await read;
      if (++count <= 2) {
        await new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length < 2) return;
          for (const w of waiting) w();
          waiting = [];
        });
      }
      return r;
    },
    get count() {
      return count;
    },
  };
}

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`worklist and MPPS stores (${backend.name})`, () => {
    test('worklist: add, look up, list with filters, all with a negative limit, replace, remove', async () => {
      const index = await (await fresh())();
      try {
        const a = await index.worklist.add('api', null, entry('P1', 'S1', 'SCHEDULED', '1.1'));
        const b = await index.worklist.add('hl7', 'ORD2', entry('P2', 'S2', 'SCHEDULED', '1.2'));
        await index.worklist.add('folder', 'c.wl', entry('P1', 'S3', 'CANCELED', '1.3'));
        assert.equal(a.status, 'SCHEDULED');
        assert.equal(a.patientID, 'P1');
        assert.equal((await index.worklist.bySourceKey('hl7', 'ORD2'))?.id, b.id);
        assert.equal(await index.worklist.bySourceKey('hl7', 'nope'), null);

        const all = await index.worklist.list({ limit: -1, offset: 0 });
        assert.equal(all.total, 3);
        assert.equal(all.entries.length, 3);
        const open = await index.worklist.list({ statuses: ['SCHEDULED', 'STARTED'], limit: -1, offset: 0 });
        assert.deepEqual(open.entries.map((e) => e.scheduledProcedureStepID), ['S1', 'S2']);
        const page = await index.worklist.list({ limit: 1, offset: 1 });
        assert.deepEqual([page.entries.length, page.total], [1, 3]);
        assert.deepEqual(all.entries.map((e) => e.scheduledProcedureStepID), ['S1', 'S2', 'S3'], 'in the order added (the worklist SCP answers so)');
        const newest = await index.worklist.list({ limit: 2, offset: 0, newestFirst: true });
        assert.deepEqual([newest.entries.map((e) => e.scheduledProcedureStepID), newest.total], [['S3', 'S2'], 3]);
        assert.deepEqual((await index.worklist.list({ statuses: ['SCHEDULED'], limit: 1, offset: 1, newestFirst: true })).entries.map((e) => e.scheduledProcedureStepID), ['S1']);
        assert.deepEqual((await index.worklist.list({ patientID: 'P1', limit: -1, offset: 0 })).entries.map((e) => e.scheduledProcedureStepID), ['S1', 'S3']);
        assert.deepEqual((await index.worklist.list({ source: 'folder', limit: -1, offset: 0 })).entries.map((e) => e.sourceKey), ['c.wl']);
        const folderEntry = (await index.worklist.list({ source: 'folder', limit: -1, offset: 0 })).entries[0]!;
        assert.deepEqual(await index.worklist.sourceKeys('folder'), [{ id: folderEntry.id, sourceKey: 'c.wl' }]);
        assert.deepEqual((await index.worklist.sourceKeys('hl7')).map((e) => e.sourceKey), ['ORD2']);
        assert.deepEqual(await index.worklist.sourceKeys('api'), [{ id: a.id, sourceKey: null }]);
        // By key prefix: the steps of one order; % and _ are characters like others, not patterns.
        await index.worklist.add('hl7', 'O_1^S1', entry('P3', 'S4', 'SCHEDULED', '1.4'));
        await index.worklist.add('hl7', 'O_1^S2', entry('P3', 'S5', 'SCHEDULED', '1.4'));
        await index.worklist.add('hl7', 'OX1^S3', entry('P3', 'S6', 'SCHEDULED', '1.4'));
        await index.worklist.add('folder', 'O_1^S7', entry('P3', 'S7', 'SCHEDULED', '1.4'));
        // Read as a range of the key index: characters past ASCII, and past the BMP, after the prefix still in it.
        await index.worklist.add('hl7', 'O_1^Ü8', entry('P3', 'S8', 'SCHEDULED', '1.4'));
        await index.worklist.add('hl7', 'O_1^\u{1F600}9', entry('P3', 'S9', 'SCHEDULED', '1.4'));
        await index.worklist.add('hl7', 'O_1_', entry('P3', 'S10', 'SCHEDULED', '1.4'));
        assert.deepEqual((await index.worklist.bySourceKeyPrefix('hl7', 'O_1^')).map((e) => e.sourceKey), ['O_1^S1', 'O_1^S2', 'O_1^Ü8', 'O_1^\u{1F600}9']);
        assert.deepEqual((await index.worklist.bySourceKeyPrefix('hl7', 'O%')).map((e) => e.sourceKey), []);
        assert.deepEqual((await index.worklist.bySourceKeyPrefix('hl7', 'ÖX')).map((e) => e.sourceKey), []);
        for (const e of (await index.worklist.list({ patientID: 'P3', limit: -1, offset: 0 })).entries) await index.worklist.remove(e.id);

        const byStep = await index.worklist.findByStep({ studyInstanceUID: '1.2', scheduledProcedureStepID: 'S2', accessionNumber: null });
        assert.deepEqual(byStep.map((e) => e.id), [b.id]);
        const started = await index.worklist.replace(b.id, entry('P2', 'S2', 'STARTED', '1.2'));
        assert.ok(started && started !== 'stale');
        assert.equal(started.status, 'STARTED');
        assert.equal(await index.worklist.replace(99_999, entry('P9', 'S9', 'SCHEDULED', '9.9')), null);
        // With a revision: only while the entry is still as read.
        const done = await index.worklist.replace(b.id, entry('P2', 'S2', 'COMPLETED', '1.2'), started.revision);
        assert.ok(done && done !== 'stale');
        assert.equal(done.status, 'COMPLETED');
        assert.equal(await index.worklist.replace(b.id, entry('P2', 'S2', 'CANCELED', '1.2'), started.revision), 'stale');
        assert.equal((await index.worklist.get(b.id))?.status, 'COMPLETED', 'the stale write changed nothing');
        assert.equal(await index.worklist.replace(99_999, entry('P9', 'S9', 'SCHEDULED', '9.9'), started.revision), null);
        assert.equal(await index.worklist.remove(a.id), true);
        assert.equal(await index.worklist.remove(a.id), false);
        assert.equal((await index.worklist.list({ limit: -1, offset: 0 })).total, 2);
      } finally {
        await index.close();
      }
    });

    test('MPPS: create once, update while in progress, list by status and all', async () => {
      const index = await (await fresh())();
      try {
        assert.equal((await index.mpps.create('1.9.1', 'MODALITY', mpps('IN PROGRESS'), 0))?.sopInstanceUID, '1.9.1');
        assert.equal(await index.mpps.create('1.9.1', 'MODALITY', mpps('IN PROGRESS'), 0), null);
        assert.equal((await index.mpps.create('1.9.2', 'MODALITY', mpps('IN PROGRESS'), 0))?.status, 'IN PROGRESS');
        // Changed only as read: a change based on an older read is 'stale' and changes nothing.
        const read = (await index.mpps.get('1.9.1'))!;
        const elsewhere = (await index.mpps.get('1.9.1'))!;
        const first = await index.mpps.update('1.9.1', { ...mpps('IN PROGRESS'), '00400254': { vr: 'LO', Value: ['first'] } }, elsewhere.revision, 0);
        assert.ok(typeof first === 'object' && first.revision !== elsewhere.revision, 'the step as written');
        assert.equal(await index.mpps.update('1.9.1', mpps('COMPLETED'), read.revision, 0), 'stale');
        assert.deepEqual((await index.mpps.get('1.9.1'))!.dataset['00400254']?.Value, ['first']);
        assert.equal((await index.mpps.update('1.9.1', mpps('COMPLETED'), (await index.mpps.get('1.9.1'))!.revision, 0)) instanceof Object, true);
        assert.equal(await index.mpps.update('1.9.1', mpps('IN PROGRESS'), (await index.mpps.get('1.9.1'))!.revision, 0), 'final');
        assert.equal(await index.mpps.update('1.9.9', mpps('COMPLETED'), read.revision, 0), 'missing');
        assert.equal((await index.mpps.get('1.9.1'))?.status, 'COMPLETED');
        assert.equal((await index.mpps.get('1.9.1'))?.callingAE, 'MODALITY');
        const all = await index.mpps.list({ limit: -1, offset: 0 });
        assert.deepEqual([all.items.length, all.total], [2, 2]);
        assert.deepEqual((await index.mpps.list({ status: 'IN PROGRESS', limit: 10, offset: 0 })).items.map((m) => m.sopInstanceUID), ['1.9.2']);
      } finally {
        await index.close();
      }
    });

    test('MPPS follow-ups owed: taken by one claimant at a time, spaced, done only for the step as followed', async () => {
      const index = await (await fresh())();
      try {
        const t0 = 1_000_000;
        for (const uid of ['1.9.21', '1.9.22', '1.9.23']) await index.mpps.create(uid, 'CT1', mpps('IN PROGRESS'), t0);
        assert.deepEqual((await index.mpps.get('1.9.21'))?.followUpAt?.getTime(), t0);
        // Not yet owed before their time.
        assert.deepEqual(await index.mpps.claimFollowUps(t0 - 1, 10, () => 1000), []);
        // Two servers looking at once: each step goes to one of them.
        const [a, b] = await Promise.all([index.mpps.claimFollowUps(t0, 2, () => 1000), index.mpps.claimFollowUps(t0, 2, () => 1000)]);
        const taken = [...a, ...b].map((m) => m.sopInstanceUID).sort();
        assert.deepEqual(taken, ['1.9.21', '1.9.22', '1.9.23']);
        for (const m of [...a, ...b]) {
          assert.equal(m.followUpTries, 1);
          assert.equal(m.followUpAt?.getTime(), t0 + 1000, 'moved on by the delay');
        }
        // Taken again once that time has come, the delay chosen from the tries so far.
        const again = await index.mpps.claimFollowUps(t0 + 1000, 10, (tries) => tries * 7000);
        assert.deepEqual(again.map((m) => [m.followUpTries, m.followUpAt?.getTime()]), [[2, t0 + 8000], [2, t0 + 8000], [2, t0 + 8000]]);
        // Done for the step as read: forgotten. Done for an older revision (the step changed since): still owed.
        const read = (await index.mpps.get('1.9.21'))!;
        await index.mpps.followedUp('1.9.21', read.revision);
        assert.deepEqual([(await index.mpps.get('1.9.21'))?.followUpAt, (await index.mpps.get('1.9.21'))?.followUpTries], [null, 0]);
        const old = (await index.mpps.get('1.9.22'))!;
        const changed = await index.mpps.update('1.9.22', mpps('DISCONTINUED'), old.revision, t0 + 50);
        assert.ok(typeof changed === 'object' && changed.followUpTries === 0 && changed.followUpAt?.getTime() === t0 + 50, 'a change owes its follow-ups anew');
        await index.mpps.followedUp('1.9.22', old.revision);
        assert.equal((await index.mpps.get('1.9.22'))?.followUpAt?.getTime(), t0 + 50);
        assert.deepEqual((await index.mpps.claimFollowUps(t0 + 100, 10, () => 1)).map((m) => m.sopInstanceUID), ['1.9.22']);
      } finally {
        await index.close();
      }
    });

    test('MPPS N-SETs from two servers on one index at once, both having read the step before either wrote: both changes kept', async () => {
      const index = await (await fresh())();
      try {
        const ds = { ...mpps('IN PROGRESS'), '00400253': { vr: 'SH', Value: ['PPS1'] }, '00400270': { vr: 'SQ', Value: [{ '0020000D': { vr: 'UI', Value: ['1.2.3'] } }] } } as JsonDataset;
        assert.ok(await index.mpps.create('1.9.5', 'CT1', ds, 0));
        // Each server has its own service (and its own per-step lock); the first reads of both
        // are held until both have read, so the second write finds the step changed.
        const reads = bothReadFirst();
        let updates = 0;
        const racingStore: MppsStore = {
          ...index.mpps,
          create: (...a) => index.mpps.create(...a),
          list: (f) => index.mpps.list(f),
          update: (...a) => (updates++, index.mpps.update(...a)),
          followedUp: (...a) => index.mpps.followedUp(...a),
          claimFollowUps: (...a) => index.mpps.claimFollowUps(...a),
          get: (uid) => reads.gate(index.mpps.get(uid)),
        };
        const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
        const servers = [1, 2].map(() => new MppsService(racingStore, worklist, pino({ level: 'silent' })));
        const [a, b] = await Promise.all([
          servers[0]!.set('1.9.5', { '00400254': { vr: 'LO', Value: ['described'] } }),
          servers[1]!.set('1.9.5', { '00400280': { vr: 'ST', Value: ['commented'] } }),
        ]);
        assert.deepEqual([a.status, b.status], [0, 0], `${a.comment ?? ''} ${b.comment ?? ''}`);
        // (Reads are more: each follow-up reads the step again after the worklist update.)
        assert.equal(updates, 3, 'one of them found the step changed, read it again and wrote its merge');
        const step = (await index.mpps.get('1.9.5'))!;
        assert.deepEqual(step.dataset['00400254']?.Value, ['described']);
        assert.deepEqual(step.dataset['00400280']?.Value, ['commented']);
      } finally {
        await index.close();
      }
    });

    test('an MPPS moving a worklist entry and an HL7 update of its order, both having read it before either wrote: both changes kept', async () => {
      const index = await (await fresh())();
      try {
        const e = await index.worklist.add('hl7', 'ORD9', { ...entry('P9', 'S9', 'SCHEDULED', '1.9'), '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE' }] } } as JsonDataset);
        const reads = bothReadFirst();
        const racingStore: WorklistStore = {
          ...index.worklist,
          add: (...a) => index.worklist.add(...a),
          replace: (...a) => index.worklist.replace(...a),
          bySourceKey: (...a) => index.worklist.bySourceKey(...a),
          bySourceKeyPrefix: (...a) => index.worklist.bySourceKeyPrefix(...a),
          sourceKeys: (source) => index.worklist.sourceKeys(source),
          list: (f) => index.worklist.list(f),
          findByStep: (r) => index.worklist.findByStep(r),
          remove: (id) => index.worklist.remove(id),
          get: (id) => reads.gate(index.worklist.get(id)),
        };
        const worklist = new WorklistService(racingStore, () => ({ fuzzyNames: false }));
        const renamed = { ...entry('P9', 'S9', 'SCHEDULED', '1.9'), '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE^MARIE' }] } } as JsonDataset;
        await Promise.all([worklist.stepPerformed([{ scheduledProcedureStepID: 'S9', studyInstanceUID: '1.9', accessionNumber: null }], 'IN PROGRESS'), worklist.upsertFromSource('hl7', 'ORD9', renamed)]);
        assert.equal(reads.count, 3, 'one of them read the entry again');
        const now = (await index.worklist.get(e.id))!;
        assert.equal(now.status, 'STARTED', 'the MPPS change kept');
        assert.deepEqual(now.dataset['00100010']?.Value, [{ Alphabetic: 'DOE^JANE^MARIE' }], 'the order update kept');
      } finally {
        await index.close();
      }
    });
  });
});
