// The follow-ups of an accepted MPPS (the worklist entry following it, its forward queued) are
// owed in the index until done: an MPPS accepted while the index briefly refused its worklist
// update left the entry SCHEDULED for good (only a log line said so), and one accepted just
// before a crash lost them even when the retries were timers of the process. A retry follows
// the step as it is by then, not as it was.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import { WorklistService } from '../../../src/services/worklist.js';
import { type FollowUpTiming, MppsService } from '../../../src/services/mpps.js';
import type { JsonDataset } from '../../../src/dicom/json.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-mpps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const v = (vr: string, value: string) => ({ vr, Value: [value] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Taken up a second after a change (time for the test's own steps on a busy machine), looked for every 30 ms. */
const QUICK: FollowUpTiming = { firstTryMs: 1000, sweepMs: 30, retryMs: () => 150 };

/** An index with one scheduled step, and an MPPS service whose first worklist update fails. */
async function withFailingUpdate(name: string, study: string, sps: string) {
  const index = SqliteIndex.open({ path: join(dir, `${name}.db`), walMode: true });
  await index.migrate();
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const entry = await worklist.create({ '00100020': v('LO', name), '0020000D': v('UI', study), '00400100': { vr: 'SQ', Value: [{ '00080060': v('CS', 'CT'), '00400009': v('SH', sps), '00400002': v('DA', '20260312') }] } } as JsonDataset);
  const mpps = new MppsService(index.mpps, worklist, pino({ level: 'silent' }), QUICK);
  mpps.start();
  const stepPerformed = worklist.stepPerformed.bind(worklist);
  const updates = { tries: 0 };
  worklist.stepPerformed = async (...a) => {
    if (++updates.tries === 1) throw new Error('SQLITE_BUSY: database is locked');
    return stepPerformed(...a);
  };
  const status = async (): Promise<string> => (await worklist.get(entry.id)).status;
  return { index, worklist, mpps, updates, status };
}

/** An N-CREATE dataset of a step performing `sps` of `study`. */
const inProgress = (study: string, sps: string): JsonDataset => ({
  '00400253': v('SH', `PPS-${sps}`),
  '00400241': v('AE', 'CT1'),
  '00400244': v('DA', '20260312'),
  '00400245': v('TM', '0930'),
  '00400252': v('CS', 'IN PROGRESS'),
  '00080060': v('CS', 'CT'),
  '00400270': { vr: 'SQ', Value: [{ '0020000D': v('UI', study), '00400009': v('SH', sps) }] },
});

test('a worklist update that fails once is done on the next try; a forward that fails is queued on a later try', async () => {
  const { index, mpps, updates, status } = await withFailingUpdate('a', '1.2.826.0.1.3680043.8.498.77', 'SPS77');
  try {
    let forwardTries = 0;
    mpps.onAccepted = async () => {
      if (++forwardTries === 1) throw new Error('SQLITE_BUSY: database is locked');
    };
    const outcome = await mpps.create('1.2.826.0.1.3680043.8.498.78', 'CT1', inProgress('1.2.826.0.1.3680043.8.498.77', 'SPS77'));
    assert.equal(outcome.status, 0, outcome.comment);
    assert.equal(await status(), 'SCHEDULED', 'the first try failed');
    assert.ok((await index.mpps.get('1.2.826.0.1.3680043.8.498.78'))?.followUpAt, 'owed in the index');
    for (let i = 0; i < 100 && ((await status()) !== 'STARTED' || forwardTries < 2); i++) await sleep(100);
    assert.equal(await status(), 'STARTED');
    // Each part tried on its own, each once more.
    assert.equal(updates.tries, 2);
    assert.equal(forwardTries, 2);
    for (let i = 0; i < 20 && (await index.mpps.get('1.2.826.0.1.3680043.8.498.78'))?.followUpAt; i++) await sleep(50);
    assert.equal((await index.mpps.get('1.2.826.0.1.3680043.8.498.78'))?.followUpAt, null, 'done: no longer owed');
    await sleep(400);
    assert.deepEqual([updates.tries, forwardTries], [2, 2], 'not done again');
  } finally {
    await mpps.close();
    await index.close();
  }
});

test('an N-SET DISCONTINUED before the N-CREATE\'s failed update is tried again: not undone', async () => {
  const study = '1.2.826.0.1.3680043.8.498.87';
  const { index, mpps, updates, status } = await withFailingUpdate('b', study, 'SPS87');
  try {
    const uid = '1.2.826.0.1.3680043.8.498.88';
    const created = await mpps.create(uid, 'CT1', inProgress(study, 'SPS87'));
    assert.equal(created.status, 0, created.comment);
    // Before the retry: the step is discontinued, and the worklist follows at once.
    const set = await mpps.set(uid, { '00400252': v('CS', 'DISCONTINUED'), '00400250': v('DA', '20260312'), '00400251': v('TM', '0945') } as JsonDataset);
    assert.equal(set.status, 0, set.comment);
    assert.equal(await status(), 'DISCONTINUED');
    // The N-SET's follow-ups, done, stand for the N-CREATE's too: nothing is owed, nothing done again.
    assert.equal((await index.mpps.get(uid))?.followUpAt, null);
    await sleep(400);
    assert.equal(updates.tries, 2, 'the N-CREATE\'s failed update was not done again on the older state');
    assert.equal(await status(), 'DISCONTINUED');
  } finally {
    await mpps.close();
    await index.close();
  }
});

test('follow-ups left owed by a server that stopped before doing them are done by the next one to start', async () => {
  const study = '1.2.826.0.1.3680043.8.498.97';
  const path = join(dir, 'c.db');
  const first = await withFailingUpdate('c', study, 'SPS97');
  const uid = '1.2.826.0.1.3680043.8.498.98';
  let forwarded = 0;
  try {
    // The server that accepts the step stops before any later try (its sweep never runs).
    await first.mpps.close();
    const created = await first.mpps.create(uid, 'CT1', inProgress(study, 'SPS97'));
    assert.equal(created.status, 0, created.comment);
    assert.equal(await first.status(), 'SCHEDULED');
  } finally {
    await first.index.close();
  }
  const index = SqliteIndex.open({ path, walMode: true });
  await index.migrate();
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const mpps = new MppsService(index.mpps, worklist, pino({ level: 'silent' }), QUICK);
  mpps.onAccepted = async (u) => {
    assert.equal(u, uid);
    forwarded++;
  };
  try {
    assert.ok((await index.mpps.get(uid))?.followUpAt, 'owed in the index across the stop');
    mpps.start();
    for (let i = 0; i < 100 && (await index.mpps.get(uid))?.followUpAt; i++) await sleep(50);
    assert.equal((await index.mpps.get(uid))?.followUpAt, null);
    const [entry] = (await worklist.list({ limit: -1, offset: 0 })).entries;
    assert.equal(entry?.status, 'STARTED');
    assert.equal(forwarded, 1);
  } finally {
    await mpps.close();
    await index.close();
  }
});

test('another server ending the step while this one follows an older state of it: the worklist ends with the step, not STARTED again', async () => {
  const study = '1.2.826.0.1.3680043.8.498.107';
  const index = SqliteIndex.open({ path: join(dir, 'd.db'), walMode: true });
  await index.migrate();
  const silent = pino({ level: 'silent' });
  const worklistA = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const entry = await worklistA.create({ '00100020': v('LO', 'D'), '0020000D': v('UI', study), '00400100': { vr: 'SQ', Value: [{ '00080060': v('CS', 'CT'), '00400009': v('SH', 'SPS107'), '00400002': v('DA', '20260312') }] } } as JsonDataset);
  // Server A, and server B (its own service and lock, as servers sharing a PostgreSQL index have).
  const a = new MppsService(index.mpps, worklistA, silent, QUICK);
  const worklistB = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const b = new MppsService(index.mpps, worklistB, silent, QUICK);
  const uid = '1.2.826.0.1.3680043.8.498.108';
  // The step as recorded by a server that stopped before following it up: owed now.
  await index.mpps.create(uid, 'CT1', inProgress(study, 'SPS107'), 0);
  const stepPerformed = worklistB.stepPerformed.bind(worklistB);
  let raced = false;
  worklistB.stepPerformed = async (refs, status) => {
    if (!raced) {
      raced = true;
      // A takes an N-SET DISCONTINUED and follows it, before B's update (IN PROGRESS) lands.
      const set = await a.set(uid, { '00400252': v('CS', 'DISCONTINUED'), '00400250': v('DA', '20260312'), '00400251': v('TM', '0945') } as JsonDataset);
      assert.equal(set.status, 0, set.comment);
      assert.equal((await worklistA.get(entry.id)).status, 'DISCONTINUED');
    }
    return stepPerformed(refs, status);
  };
  try {
    b.start();
    for (let i = 0; i < 100 && (!raced || (await index.mpps.get(uid))?.followUpAt); i++) await sleep(50);
    await sleep(200);
    assert.ok(raced);
    assert.equal((await worklistA.get(entry.id)).status, 'DISCONTINUED');
  } finally {
    await b.close();
    await a.close();
    await index.close();
  }
});

test('a forward that keeps failing is tried again alone: the worklist update, done, is not done again at each try', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'e.db'), walMode: true });
  await index.migrate();
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: false }));
  const study = '1.2.826.0.1.3680043.8.498.117';
  await worklist.create({ '00100020': v('LO', 'E'), '0020000D': v('UI', study), '00400100': { vr: 'SQ', Value: [{ '00080060': v('CS', 'CT'), '00400009': v('SH', 'SPS117'), '00400002': v('DA', '20260312') }] } } as JsonDataset);
  const mpps = new MppsService(index.mpps, worklist, pino({ level: 'silent' }), { firstTryMs: 100, sweepMs: 30, retryMs: () => 100 });
  let updates = 0;
  const stepPerformed = worklist.stepPerformed.bind(worklist);
  worklist.stepPerformed = async (...a) => (updates++, stepPerformed(...a));
  let forwards = 0;
  mpps.onAccepted = async () => {
    if (++forwards <= 3) throw new Error('the peer refused the association');
  };
  const uid = '1.2.826.0.1.3680043.8.498.118';
  try {
    mpps.start();
    assert.equal((await mpps.create(uid, 'CT1', inProgress(study, 'SPS117'))).status, 0);
    for (let i = 0; i < 100 && (await index.mpps.get(uid))?.followUpAt; i++) await sleep(50);
    assert.equal((await index.mpps.get(uid))?.followUpAt, null, 'done at last');
    assert.equal(forwards, 4);
    assert.equal(updates, 1, 'the worklist followed once');
  } finally {
    await mpps.close();
    await index.close();
  }
});
