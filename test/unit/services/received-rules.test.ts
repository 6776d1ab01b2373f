// The follower behind the rules "on: instance.received" (src/services/received-rules.ts), on a
// real SQLite index and its change log: batches in order, the cursor advanced only past what was
// applied, a failure logged once and retried from the failed change, no history replayed when
// no rule is on instance.received, and stop() waiting for the batch under way. The rule engine
// is replaced by a function recording what it is asked to apply (the interop and e2e tests
// run the real one).
import { afterEach, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { PacsError } from '../../../src/core/errors.js';
import { createLogger } from '../../../src/core/logging.js';
import { SqliteIndex } from '../../../src/index/sqlite/sqlite-index.js';
import type { InstanceRecord, Provenance } from '../../../src/index/types.js';
import { PermanentJobError } from '../../../src/services/jobs.js';
import { RECEIVED_CURSOR, ReceivedRules, type ReceivedRulesDeps } from '../../../src/services/received-rules.js';
import type { RuleSubject } from '../../../src/services/rules.js';
import { record } from '../../contract/fixtures.js';

let dir: string;
let index: SqliteIndex;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-received-'));
  index = SqliteIndex.open({ path: path.join(dir, 'index.db'), walMode: true });
  await index.migrate();
});
afterEach(async () => {
  await index.close().catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

const from = (callingAE: string, source: Provenance['source'] = 'dimse'): Provenance => ({ callingAE, calledAE: 'PACS_SERVER', remoteAddress: '10.0.0.1', source });
const rec = (sop: string, provenance = from('SCANNER')): InstanceRecord => ({ ...record({ sop, study: '9.1' }), provenance });
const store = async (r: InstanceRecord, mode: 'insert' | 'replace' = 'insert'): Promise<number> => (await index.storeInstance(r, mode)).changeSeq;

interface Harness {
  follower: ReceivedRules;
  applied: RuleSubject[];
  logs: Array<{ level: number; msg: string; seq?: number }>;
  /** Makes apply wait until the returned function is called. */
  hold(): () => void;
  /** Resolves once an apply is waiting (after hold()). */
  held(): Promise<void>;
  set active(v: boolean);
}

function harness(options: Partial<ReceivedRulesDeps> = {}): Harness {
  const applied: RuleSubject[] = [];
  const logs: Harness['logs'] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Harness['logs'][number]);
      done();
    },
  });
  let gate: Promise<void> | null = null;
  let waiting = false;
  let active = true;
  const follower = new ReceivedRules({
    cursors: index.cursors,
    apply: async (s) => {
      if (gate) {
        waiting = true;
        await gate;
        waiting = false;
      }
      applied.push(s);
    },
    active: () => active,
    intervalSeconds: () => 3600, // the tests look by hand (tick) or by wake()
    logger: createLogger({ level: 'info' }, { stdout: out }),
    batch: 2,
    ...options,
  });
  return {
    follower,
    applied,
    logs,
    hold() {
      let release = (): void => undefined;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
    async held() {
      while (!waiting) await new Promise((r) => setTimeout(r, 5));
    },
    set active(v: boolean) {
      active = v;
    },
  };
}

test('every stored or replaced instance, in order, in batches, with its provenance; deleted and reindexed ones passed', async () => {
  const h = harness();
  const s1 = await store(rec('1.1'));
  const s2 = await store(rec('1.2', from('OTHER')));
  await store(rec('1.3', from('X', 'reindex')));
  await store(rec('1.4'));
  await index.deleteInstance('1.4');
  const s6 = await store({ ...rec('1.2', from('AGAIN')), file: { ...rec('1.2').file, path: 'moved.dcm' } }, 'replace');
  const s7 = await store(rec('1.5', from('STOW', 'stow')));
  await h.follower.tick();
  assert.deepEqual(
    h.applied.map((s) => [s.seq, s.uid, s.source.callingAE]),
    [[s1, '1.1', 'SCANNER'], [s2, '1.2', 'AGAIN'], [s6, '1.2', 'AGAIN'], [s7, '1.5', 'STOW']],
    "the row's provenance as it is now; 1.3 reindexed and 1.4 deleted left out",
  );
  assert.deepEqual(h.applied[0], {
    event: 'instance.received', level: 'IMAGE', uid: '1.1', studyUID: '9.1', seq: s1, sopInstanceUID: '1.1',
    source: { callingAE: 'SCANNER', calledAE: 'PACS_SERVER', remoteAddress: '10.0.0.1' },
  });
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), s7);
  await h.follower.tick();
  assert.equal(h.applied.length, 4, 'nothing applied twice');
});

test('a failing apply: the cursor stops before it, the failure is logged once, the next look resumes from it', async () => {
  const seqs = [];
  for (let i = 1; i <= 5; i++) seqs.push(await store(rec(`1.${i}`)));
  let down = true;
  const applied: string[] = [];
  const h = harness({
    apply: async (s) => {
      if (s.uid === '1.3' && down) throw new PacsError('INDEX_FAILURE', 'the index is down');
      applied.push(s.uid);
    },
  });
  for (let i = 0; i < 4; i++) await h.follower.tick();
  assert.deepEqual(applied, ['1.1', '1.2']);
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), seqs[1], 'advanced up to the failed change, not past it');
  const errors = h.logs.filter((l) => l.level === 50);
  assert.equal(errors.length, 1, 'logged once for four looks');
  assert.equal(errors[0]!.seq, seqs[2]);
  assert.match(errors[0]!.msg, /held back: the index is down/);
  assert.deepEqual({ ...h.follower.heldBack(), since: null }, { since: null, seq: seqs[2], sopInstanceUID: '1.3', reason: 'the index is down' }, 'for the status page');
  down = false;
  await h.follower.tick();
  assert.equal(h.follower.heldBack(), null);
  assert.deepEqual(applied, ['1.1', '1.2', '1.3', '1.4', '1.5']);
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), seqs[4]);
  assert.ok(h.logs.some((l) => l.level === 30 && /running again/.test(l.msg)));
});

test('what waiting cannot mend (a file unreadable now, a job type without handler) does not hold back the instances after it', async () => {
  const applied: string[] = [];
  const h = harness({
    apply: async (s) => {
      if (s.uid === '1.2') throw new PacsError('DICOM_PARSE', 'truncated');
      if (s.uid === '1.3') throw new PermanentJobError('no handler for jobs of type x');
      applied.push(s.uid);
    },
  });
  for (let i = 1; i <= 4; i++) await store(rec(`1.${i}`));
  await h.follower.tick();
  assert.deepEqual(applied, ['1.1', '1.4']);
  assert.equal(h.logs.filter((l) => l.level === 50).length, 2, 'each logged');
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), (await index.changesSince(0, 10)).at(-1)!.seq);
});

test('the index unavailable: logged once, not at every look', async () => {
  const h = harness();
  await store(rec('1.1'));
  await index.close();
  for (let i = 0; i < 3; i++) await h.follower.tick();
  assert.equal(h.logs.filter((l) => l.level === 50).length, 1);
  assert.equal(h.applied.length, 0);
});

test('no rule on instance.received: the cursor moves to the end, and a rule added later acts on what arrives from then on', async () => {
  const h = harness();
  h.active = false;
  await store(rec('1.1'));
  const s2 = await store(rec('1.2'));
  h.follower.start();
  h.follower.wake(); // ignored: nothing to do
  await h.follower.tick();
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), s2);
  assert.equal(h.applied.length, 0);
  h.active = true;
  const s3 = await store(rec('1.3'));
  h.follower.wake();
  await h.follower.tick();
  assert.deepEqual(h.applied.map((s) => s.seq), [s3]);
  await h.follower.stop();
});

test('wake-ups during a look are not lost: one more look follows it', async () => {
  const h = harness();
  h.follower.start();
  await store(rec('1.1'));
  const release = h.hold();
  h.follower.wake();
  await h.held(); // the look has read the log and waits in the apply of 1.1
  const s2 = await store(rec('1.2'));
  h.follower.wake();
  h.follower.wake();
  release();
  // No tick by hand (the interval is an hour): the wake-ups made the follower look again.
  for (let i = 0; i < 200 && h.applied.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(h.applied.map((s) => s.uid), ['1.1', '1.2']);
  await h.follower.stop();
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), s2);
});

test('stop() waits for the instance being applied, records it, and applies nothing after it', async () => {
  const h = harness({ batch: 10 });
  h.follower.start();
  const s1 = await store(rec('1.1'));
  await store(rec('1.2'));
  const release = h.hold();
  h.follower.wake();
  await h.held();
  let stopped = false;
  const stopping = h.follower.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(stopped, false, 'waits for the apply under way');
  release();
  await stopping;
  assert.deepEqual(h.applied.map((s) => s.uid), ['1.1']);
  assert.equal(await index.cursors.position(RECEIVED_CURSOR), s1);
  h.follower.wake();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(h.applied.length, 1, 'stopped: a wake-up does nothing');
});
