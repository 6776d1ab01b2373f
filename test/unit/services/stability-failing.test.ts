// Series and studies whose listener keeps failing stay due, oldest first: they must not hold back
// the ones after them (a batch of 500 failing entries used to stop every later study for ever).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventBus } from '../../../src/core/events.js';
import { createLogger } from '../../../src/core/logging.js';
import type { StabilityEntry, StabilityStore } from '../../../src/index/stability.js';
import { StabilityService } from '../../../src/services/stability.js';

test('600 failing studies ahead of a good one: the good one becomes stable at the first look; the failing ones are tried again later', async () => {
  const entry = (i: number): StabilityEntry =>
    ({ level: 'study', uid: `1.2.${i}`, studyUID: `1.2.${i}`, lastChangeSeq: i, sopInstanceUID: `1.2.${i}.1`, callingAE: null, calledAE: null, remoteAddress: null }) as unknown as StabilityEntry;
  let due = Array.from({ length: 601 }, (_, i) => entry(i)); // oldest first; the last one is good
  const marked: string[] = [];
  const store = {
    catchUp: async () => 0,
    due: async (_before: Date, limit: number) => due.slice(0, limit),
    markStable: async (_level: string, uid: string) => {
      marked.push(uid);
      due = due.filter((e) => e.uid !== uid);
      return true;
    },
  } as unknown as StabilityStore;
  const service = new StabilityService(store, new EventBus(), () => ({ stableAfterSeconds: 0, checkIntervalSeconds: 1 }), createLogger({ level: 'silent' }));
  const tried: string[] = [];
  service.onStable(async (e) => {
    tried.push(e.uid);
    if (e.uid !== '1.2.600') throw new Error('its latest file is gone');
  });
  const t0 = new Date('2026-01-01T00:00:00Z');
  await service.tick(t0);
  assert.ok(!marked.includes('1.2.600'), 'the first look reads 500');
  await service.tick(new Date(t0.getTime() + 1000));
  assert.deepEqual(marked, ['1.2.600'], 'the next reads past the 500 failing');
  const before = tried.length;
  await service.tick(new Date(t0.getTime() + 2000));
  assert.equal(tried.length, before, 'failing ones are not tried at every look');
  await service.tick(new Date(t0.getTime() + 40_000));
  assert.equal(tried.length, before + 500, 'but again after a while (500 a look)');
});

test('a study deleted before it became stable is recorded as given without listeners or event; one still there gets both', async () => {
  const entry = (uid: string): StabilityEntry =>
    ({ level: 'study', uid, studyUID: uid, lastChangeSeq: 1, sopInstanceUID: `${uid}.1`, callingAE: null, calledAE: null, remoteAddress: null }) as unknown as StabilityEntry;
  let due = [entry('1.2.gone'), entry('1.2.kept')];
  const marked: string[] = [];
  const store = {
    catchUp: async () => 0,
    due: async () => due,
    markStable: async (_level: string, uid: string) => {
      marked.push(uid);
      due = due.filter((e) => e.uid !== uid);
      return true;
    },
  } as unknown as StabilityStore;
  const events = new EventBus();
  const emitted: string[] = [];
  events.on('study.stable', (e: { entry: StabilityEntry }) => void emitted.push(e.entry.uid));
  const service = new StabilityService(store, events, () => ({ stableAfterSeconds: 0, checkIntervalSeconds: 1 }), createLogger({ level: 'silent' }), async (e) => e.uid !== '1.2.gone');
  const handed: string[] = [];
  service.onStable(async (e) => void handed.push(e.uid));
  await service.tick(new Date('2026-01-01T00:00:00Z'));
  assert.deepEqual(marked, ['1.2.gone', '1.2.kept']);
  assert.deepEqual(handed, ['1.2.kept']);
  assert.deepEqual(emitted, ['1.2.kept']);
});
