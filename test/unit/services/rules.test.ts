// The rule engine picks the instance whose attributes the rules see: the one named, or, when a
// stable study's latest instance was deleted since, the last one the study still holds — the
// rest of the study is still acted on. A study that grows after a rule acted on it is acted on
// again for what is new only (a cursor per rule, action and study).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ruleSchema } from '../../../src/config/rules-schema.js';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { MetadataService } from '../../../src/services/metadata.js';
import { actionJob, RuleEngine, withdrawnRuleJob, type RuleSubject } from '../../../src/services/rules.js';
import { transferSelection } from '../../../src/services/transfer-jobs.js';
import { record } from '../../contract/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'pacs-rules-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a stable study whose latest instance was deleted: the rules still act on the rest of it", async () => {
  const index = SqliteIndex.open({ path: join(dir, 'i.db'), walMode: true });
  await index.migrate();
  await index.storeInstance(record({ sop: 'a1', study: '1.2.9' }), 'insert');
  await index.storeInstance(record({ sop: 'a2', study: '1.2.9' }), 'insert');
  const seen: string[] = [];
  const metadata = { get: async (loc: { SOPInstanceUID: string }) => (seen.push(loc.SOPInstanceUID), { text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const queued: string[] = [];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'lab', on: 'study.stable', match: { Modality: 'CT' }, actions: [{ type: 'export', to: dir }] })],
    index,
    metadata,
    jobs: { enqueue: async (type, _p, o) => (queued.push(`${type} ${o.dedupeKey ?? ''}`), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.9', studyUID: '1.2.9', seq: 7, sopInstanceUID: 'a2', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  await index.deleteInstance('a2');
  assert.equal(await engine.apply(subject), 1);
  assert.deepEqual(seen, ['a1'], 'the attributes of the instance the study still holds');
  assert.equal(queued.length, 1);
  await index.deleteInstance('a1');
  assert.equal(await engine.apply({ ...subject, seq: 8 }), 0, 'nothing left: nothing to act on');
  await index.close();
});

test('a study that grows after a forward: the next job names only the new instances; the same version twice queues nothing', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'g.db'), walMode: true });
  await index.migrate();
  const a1 = await index.storeInstance(record({ sop: 'g1', study: '1.2.8' }), 'insert');
  const a2 = await index.storeInstance(record({ sop: 'g2', study: '1.2.8' }), 'insert');
  await index.storeInstance(record({ sop: 'other', study: '1.2.77' }), 'insert'); // another study, in between
  const metadata = { get: async () => ({ text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const queued: Array<{ type: string; payload: Record<string, unknown>; key: string }> = [];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'fwd', on: 'study.stable', match: { Modality: 'CT' }, actions: [{ type: 'forward', node: 'LAB' }, { type: 'command', argv: ['true'] }] })],
    index,
    metadata,
    jobs: { enqueue: async (type, payload, o) => (queued.push({ type, payload, key: o.dedupeKey ?? '' }), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const v1: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.8', studyUID: '1.2.8', seq: a2.changeSeq, sopInstanceUID: 'g2', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  assert.equal(await engine.apply(v1), 2);
  assert.equal(queued[0]!.type, 'send');
  assert.equal(queued[0]!.payload.changes, undefined, 'the first time: the whole study');
  assert.equal(await engine.apply(v1), 0, 'this version was acted on: nothing queued again');

  const a3 = await index.storeInstance(record({ sop: 'g3', study: '1.2.8', series: '1.2.8.2' }), 'insert');
  const replaced = await index.storeInstance(record({ sop: 'g1', study: '1.2.8' }), 'replace'); // g1 sent again, changed
  assert.equal(await engine.apply({ ...v1, seq: replaced.changeSeq, sopInstanceUID: 'g1' }), 2);
  const range = { after: a2.changeSeq, upTo: replaced.changeSeq };
  assert.deepEqual(queued[2]!.payload.changes, range);
  assert.deepEqual(queued[3]!.payload.changes, range, 'the command is told what is new too');
  const sent = await transferSelection(index, 'STUDY', ['1.2.8'], range);
  assert.deepEqual(sent.map((l) => l.SOPInstanceUID).sort(), ['g1', 'g3'], 'the new instance and the one sent again, not g2, not the other study');
  assert.deepEqual((await transferSelection(index, 'SERIES', ['1.2.8.2'], range)).map((l) => l.SOPInstanceUID), ['g3'], 'a series: its own only');
  assert.equal((await transferSelection(index, 'STUDY', ['1.2.8'], undefined)).length, 3);
  assert.ok(a1.changeSeq < a2.changeSeq && a3.changeSeq < replaced.changeSeq);
  await index.deleteInstance('g3');
  await index.deleteInstance('g1');
  assert.deepEqual(await transferSelection(index, 'STUDY', ['1.2.8'], range), [], 'the new ones deleted since: nothing to send (not a failure)');
  await index.close();
});

test("a rule's actions reordered or one added before: each keeps its own progress", async () => {
  const index = SqliteIndex.open({ path: join(dir, 'r.db'), walMode: true });
  await index.migrate();
  await index.storeInstance(record({ sop: 'r1', study: '1.2.6' }), 'insert');
  const v1seq = (await index.storeInstance(record({ sop: 'r2', study: '1.2.6' }), 'insert')).changeSeq;
  const metadata = { get: async () => ({ text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const queued: Array<{ payload: Record<string, unknown> }> = [];
  let actions: unknown[] = [{ type: 'forward', node: 'A' }];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'fwd', on: 'study.stable', match: { Modality: 'CT' }, actions })],
    index,
    metadata,
    jobs: { enqueue: async (_t, payload) => (queued.push({ payload }), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const v1: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.6', studyUID: '1.2.6', seq: v1seq, sopInstanceUID: 'r2', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  assert.equal(await engine.apply(v1), 1);
  const v2seq = (await index.storeInstance(record({ sop: 'r3', study: '1.2.6' }), 'insert')).changeSeq;
  actions = [{ type: 'forward', node: 'B' }, { type: 'forward', node: 'A' }];
  assert.equal(await engine.apply({ ...v1, seq: v2seq, sopInstanceUID: 'r3' }), 2);
  const [toB, toA] = queued.slice(1);
  assert.equal(toB!.payload.destination, 'B');
  assert.equal(toB!.payload.changes, undefined, 'B, new: the whole study');
  assert.equal(toA!.payload.destination, 'A');
  assert.deepEqual(toA!.payload.changes, { after: v1seq, upTo: v2seq }, 'A, moved to second place: only what is new');
  await index.close();
});

test("actions inserted before others keep their own jobs' dedupe keys: a new action is never taken for an old one's job", async () => {
  const index = SqliteIndex.open({ path: join(dir, 'k.db'), walMode: true });
  await index.migrate();
  const stored = await index.storeInstance(record({ sop: 'k1', study: '1.2.6' }), 'insert');
  const metadata = { get: async () => ({ text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const forwardA = { type: 'forward', node: 'LAB_A' };
  const forwardB = { type: 'forward', node: 'LAB_B' };
  let actions: object[] = [forwardA];
  // A job store's dedupe: the same key gives back the job queued first.
  const byKey = new Map<string, { type: string; payload: Record<string, unknown> }>();
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'fwd', on: 'study.stable', match: { Modality: 'CT' }, actions })],
    index,
    metadata,
    jobs: { enqueue: async (type, payload, o) => (byKey.has(o.dedupeKey ?? '') || byKey.set(o.dedupeKey ?? '', { type, payload }), { id: byKey.size }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.6', studyUID: '1.2.6', seq: stored.changeSeq, sopInstanceUID: 'k1', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  await engine.apply(subject);
  actions = [forwardB, forwardA]; // reloaded with an action before the first; the same event given again
  await engine.apply(subject);
  assert.deepEqual([...byKey.values()].map((j) => j.payload.destination).sort(), ['LAB_A', 'LAB_B'], 'a job for each destination');
  await index.close();
});

test("a new version's job takes over what the previous version's job left undone (failed after its tries, canceled, or not run yet)", async () => {
  const index = SqliteIndex.open({ path: join(dir, 't.db'), walMode: true });
  await index.migrate();
  const metadata = { get: async () => ({ text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['CT'] } }) }) } as unknown as MetadataService;
  const store = index.jobs;
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'fwd', on: 'study.stable', match: { Modality: 'CT' }, actions: [{ type: 'forward', node: 'LAB' }] })],
    index,
    metadata,
    jobs: {
      enqueue: async (type, payload, o) => (await store.enqueue({ type, payload, maxAttempts: 1, dedupeKey: o.dedupeKey ?? null })).job,
      find: (key) => store.byDedupeKey(key),
      cancel: (id) => store.cancel(id),
    },
    logger: createLogger({ level: 'silent' }),
  });
  const version = async (sop: string) => {
    const stored = await index.storeInstance(record({ sop, study: '1.2.5' }), 'insert');
    const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.5', studyUID: '1.2.5', seq: stored.changeSeq, sopInstanceUID: sop, source: { callingAE: null, calledAE: null, remoteAddress: null } };
    assert.equal(await engine.apply(subject), 1);
    const { jobs } = await store.list({ limit: 1, offset: 0 });
    return { seq: stored.changeSeq, job: jobs[0]! };
  };
  const end = async (id: number, state: 'succeeded' | 'failed') => {
    const claimed = await store.claim('test', new Date(), new Date(Date.now() + 60_000), ['send']);
    assert.equal(claimed?.id, id);
    assert.ok(await store.finish(id, 'test', { state }));
  };
  const v1 = await version('t1');
  assert.equal(v1.job.payload.changes, undefined, 'the first: the whole study');
  await end(v1.job.id, 'succeeded');
  const v2 = await version('t2');
  assert.deepEqual(v2.job.payload.changes, { after: v1.seq, upTo: v2.seq }, 'after a success: only what is new');
  await end(v2.job.id, 'failed'); // the destination stayed down past its tries
  const v3 = await version('t3');
  assert.deepEqual(v3.job.payload.changes, { after: v1.seq, upTo: v3.seq }, 'the failed part too');
  // v3's job still queued (its destination down) when v4 comes: it is canceled, v4's covers it.
  const v4 = await version('t4');
  assert.deepEqual(v4.job.payload.changes, { after: v1.seq, upTo: v4.seq });
  assert.equal((await store.get(v3.job.id))?.state, 'canceled', 'one job, not two, for that part');
  await index.close();
});

test("a study is matched on each of its series: its last object (a dose report) does not hide its MR series from 'Modality: MR'", async () => {
  const index = SqliteIndex.open({ path: join(dir, 'm.db'), walMode: true });
  await index.migrate();
  await index.storeInstance(record({ sop: 'm1', study: '1.2.4', series: '1.2.4.1', modality: 'MR' }), 'insert');
  const sr = await index.storeInstance(record({ sop: 'm2', study: '1.2.4', series: '1.2.4.9', modality: 'SR' }), 'insert');
  const modality: Record<string, string> = { m1: 'MR', m2: 'SR' };
  const read: string[] = [];
  const metadata = {
    get: async (loc: { SOPInstanceUID: string }) => (read.push(loc.SOPInstanceUID), { text: JSON.stringify({ '00080060': { vr: 'CS', Value: [modality[loc.SOPInstanceUID]] } }) }),
  } as unknown as MetadataService;
  const queued: string[] = [];
  const engine = new RuleEngine({
    rules: () => [
      ruleSchema.parse({ name: 'mr', on: 'study.stable', match: { Modality: 'MR' }, actions: [{ type: 'forward', node: 'LAB' }] }),
      ruleSchema.parse({ name: 'ct', on: 'study.stable', match: { Modality: 'CT' }, actions: [{ type: 'forward', node: 'OTHER' }] }),
    ],
    index,
    metadata,
    jobs: { enqueue: async (_t, payload) => (queued.push(String(payload.rule)), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.4', studyUID: '1.2.4', seq: sr.changeSeq, sopInstanceUID: 'm2', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  assert.equal(await engine.apply(subject), 1);
  assert.deepEqual(queued, ['mr'], 'the MR series matched; no series is CT');
  assert.deepEqual(read.sort(), ['m1', 'm2'], 'each series read once, for both rules');
  await index.close();
});

test('a rule with an empty match takes every instance without reading its file (one whose file is gone included)', async () => {
  const index = SqliteIndex.open({ path: join(dir, 'empty-match.db'), walMode: true });
  await index.migrate();
  await index.storeInstance(record({ sop: 'e1', study: '1.2.77' }), 'insert');
  let reads = 0;
  const metadata = { get: async () => (reads++, Promise.reject(new Error('NOT_FOUND: the file is gone'))) } as unknown as MetadataService;
  const queued: string[] = [];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'all', on: 'instance.received', actions: [{ type: 'export', to: dir }] })],
    index,
    metadata,
    jobs: { enqueue: async (type, _p, o) => (queued.push(`${type} ${o.dedupeKey ?? ''}`), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  const subject: RuleSubject = { event: 'instance.received', level: 'IMAGE', uid: 'e1', studyUID: '1.2.77', seq: 1, sopInstanceUID: 'e1', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  assert.equal(await engine.apply(subject), 1);
  assert.equal(reads, 0);
  await index.close();
});

test("each series of a study is matched with its own sender: a late series sent to another AE title neither hides the study from its lab's rule nor hands the lab's series to another", async () => {
  const index = SqliteIndex.open({ path: join(dir, 's.db'), walMode: true });
  await index.migrate();
  const sentTo = (sop: string, series: string, calledAE: string) => {
    const r = record({ sop, study: '1.2.6', series });
    r.provenance = { ...r.provenance, calledAE };
    return r;
  };
  await index.storeInstance(sentTo('s1', '1.2.6.1', 'LAB_A'), 'insert');
  const late = await index.storeInstance(sentTo('s2', '1.2.6.9', 'PACS_SERVER'), 'insert'); // a key object from a workstation
  const metadata = { get: async () => ({ text: JSON.stringify({ '00080060': { vr: 'CS', Value: ['MR'] } }) }) } as unknown as MetadataService;
  const queued: string[] = [];
  const engine = new RuleEngine({
    rules: () => [ruleSchema.parse({ name: 'lab-a', on: 'study.stable', match: { CalledAE: 'LAB_A' }, actions: [{ type: 'forward', node: 'LAB' }] })],
    index,
    metadata,
    jobs: { enqueue: async (_t, payload) => (queued.push(String(payload.rule)), { id: queued.length }), find: async () => null, cancel: async () => null },
    logger: createLogger({ level: 'silent' }),
  });
  // The study's latest instance (the named one) came through PACS_SERVER.
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.6', studyUID: '1.2.6', seq: late.changeSeq, sopInstanceUID: 's2', source: { callingAE: 'WS1', calledAE: 'PACS_SERVER', remoteAddress: '127.0.0.1' } };
  assert.equal(await engine.apply(subject), 1);
  assert.deepEqual(queued, ['lab-a'], "the series sent to LAB_A still matches the lab's rule");
  assert.deepEqual(await index.senderOf('s1'), { callingAE: 'STORESCU', calledAE: 'LAB_A', remoteAddress: '127.0.0.1' });
  assert.equal(await index.senderOf('nope'), null);
  await index.close();
});

test('a job a rule queued is withdrawn when the rule is removed, disabled, or no longer has that action; other option changes leave it', () => {
  const subject: RuleSubject = { event: 'study.stable', level: 'STUDY', uid: '1.2.5', studyUID: '1.2.5', seq: 3, sopInstanceUID: 'x', source: { callingAE: null, calledAE: null, remoteAddress: null } };
  const rule = (actions: unknown[], more: Record<string, unknown> = {}) => ruleSchema.parse({ name: 'lab', on: 'study.stable', actions, ...more });
  const forward = { type: 'forward', node: 'LAB_A', deidentify: { pseudonym_prefix: 'LABA' } };
  const exportTo = { type: 'export', to: dir, template: '{PatientID}/{SOPInstanceUID}.dcm' };
  const command = { type: 'command', argv: ['/bin/true', '{StudyInstanceUID}'] };
  const stow = { type: 'forward', dicomweb: 'COLLAB' };
  const asQueued = rule([forward, exportTo, command, stow]);
  const jobs = asQueued.actions.map((a) => actionJob('lab', a, subject));
  assert.deepEqual(jobs.map((j) => j.type), ['send', 'export', 'command', 'stow']);
  for (const j of jobs) assert.equal(withdrawnRuleJob([asQueued], j), null, `${j.type}: the rule as it was`);
  for (const j of jobs) assert.match(withdrawnRuleJob([], j) ?? '', /the rule "lab" was removed since the job was queued; not carried out/);
  for (const j of jobs) assert.match(withdrawnRuleJob([rule([forward, exportTo, command, stow], { enabled: false })], j) ?? '', /was disabled/);
  const [send, exp, cmd, stowJob] = jobs as [ReturnType<typeof actionJob>, ReturnType<typeof actionJob>, ReturnType<typeof actionJob>, ReturnType<typeof actionJob>];
  const changed = (j: ReturnType<typeof actionJob>, actions: unknown[]) => withdrawnRuleJob([rule(actions)], j);
  assert.match(changed(send, [{ ...forward, node: 'LAB_B' }]) ?? '', /no longer has this action/, 'another destination');
  assert.match(changed(send, [{ type: 'forward', node: 'LAB_A' }]) ?? '', /no longer has this action/, 'no longer de-identified');
  assert.match(changed(send, [{ ...forward, deidentify: { pseudonym_prefix: 'OTHER' } }]) ?? '', /no longer has this action/, 'another pseudonym prefix');
  assert.equal(changed(send, [{ ...forward, deidentify: { pseudonym_prefix: 'LABA', retain_modified_dates: true } }]), null, 'other profile options: as queued');
  assert.match(changed(exp, [{ ...exportTo, to: join(dir, 'elsewhere') }]) ?? '', /no longer has this action/);
  assert.match(changed(exp, [{ ...exportTo, deidentify: true }]) ?? '', /no longer has this action/, 'now de-identified');
  assert.equal(changed(exp, [{ ...exportTo, template: '{SOPInstanceUID}.dcm' }]), null, 'another template: as queued');
  assert.match(changed(cmd, [{ ...command, argv: ['/bin/false'] }]) ?? '', /no longer has this action/);
  assert.match(changed(stowJob, [{ ...stow, dicomweb: 'OTHER' }]) ?? '', /no longer has this action/);
  assert.match(changed(stowJob, [{ type: 'forward', node: 'COLLAB' }]) ?? '', /no longer has this action/, 'a C-STORE forward is not the STOW-RS one');
  assert.equal(withdrawnRuleJob([], { type: 'send', payload: { destination: 'LAB_A', level: 'STUDY', uids: ['1.2.5'] } }), null, 'a send by hand: no rule');
});
