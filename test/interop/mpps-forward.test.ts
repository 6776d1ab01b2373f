// MPPS forwarding (mpps.forward_to): a step created and completed on one server reaches a
// second in-process server as durable jobs — created there IN PROGRESS, then completed — also
// when the peer was down at first and the job had to be retried.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPacs, type TestPacs } from '../helpers/pacs.js';
import { connectWorkflow, mppsCreate, mppsSet } from '../../src/services/workflow-scu.js';
import type { JsonDataset } from '../../src/dicom/json.js';
import { SopClass } from '../../src/dicom/uids.js';
import { freePort } from '../helpers/dcmtk.js';

const t = (vr: string, v?: string): { vr: string; Value?: unknown[] } => (v === undefined ? { vr } : { vr, Value: [vr === 'PN' ? { Alphabetic: v } : v] });

const created = (study: string): JsonDataset => ({
  '00080060': t('CS', 'CT'), '00100010': t('PN', 'DOE^JANE'), '00100020': t('LO', 'P1'), '00100030': t('DA'), '00100040': t('CS'),
  '00200010': t('SH'), '00380010': t('LO', 'ADM1'), '00400241': t('AE', 'CT1'), '00400244': t('DA', '20260312'), '00400245': t('TM', '091500'), '00400250': t('DA'),
  '00400251': t('TM'), '00400252': t('CS', 'IN PROGRESS'), '00400253': t('SH', 'PPS1'),
  '00400270': { vr: 'SQ', Value: [{ '0020000D': t('UI', study), '00080050': t('SH', 'A1'), '00400009': t('SH', 'SPS1'), '00401001': t('SH', 'RP1') }] },
  '00400340': { vr: 'SQ' },
}) as JsonDataset;

const completed = {
  '00400252': t('CS', 'COMPLETED'), '00400250': t('DA', '20260312'), '00400251': t('TM', '093000'),
  '00400340': { vr: 'SQ', Value: [{ '0020000E': t('UI', '1.2.826.0.1.3680043.8.498.77.1') }] },
} as JsonDataset;

async function until<T>(what: string, fn: () => Promise<T | null | undefined | false>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('MPPS forwarding to a known node', () => {
  let a: TestPacs;
  let b: TestPacs | null = null;
  let bPort: number;

  before(async () => {
    bPort = await freePort();
    a = await startTestPacs({
      server: { ae_title: 'PACS_A' },
      mpps: { forward_to: ['PACS_B'] },
      jobs: { backoff_seconds: 1 },
      known_nodes: [{ ae_title: 'PACS_B', host: '127.0.0.1', port: bPort }] as never,
    });
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
  });

  const send = async (fn: (scu: Awaited<ReturnType<typeof connectWorkflow>>) => Promise<{ Status?: number }>) => {
    const scu = await connectWorkflow({ host: '127.0.0.1', port: a.port, calledAETitle: 'PACS_A', callingAETitle: 'CT1' }, [SopClass.ModalityPerformedProcedureStep]);
    try {
      assert.equal((await fn(scu)).Status, 0);
    } finally {
      await scu.release();
    }
  };

  test('create and complete while the peer is down: retried, then the peer has the final step', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.77.1';
    await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.77')));
    await send((scu) => mppsSet(scu, uid, completed));
    const jobs = await a.server.archive.index.jobs.list({ limit: 10, offset: 0 });
    assert.equal(jobs.jobs.filter((j) => j.type === 'mpps-forward').length, 2, 'one job per accepted message');
    await until('a failed attempt', async () => (await a.server.archive.index.jobs.list({ limit: 10, offset: 0 })).jobs.some((j) => j.attempts > 0));
    b = await startTestPacs({ server: { ae_title: 'PACS_B', port: bPort } });
    const there = await until('the step on the peer, completed', async () => {
      const r = await b!.server.archive.mpps.get(uid);
      return r?.status === 'COMPLETED' ? r : null;
    });
    assert.equal(there.callingAE, 'PACS_A');
    assert.deepEqual(there.dataset['00400251']?.Value, ['093000']);
    assert.deepEqual(there.dataset['00400253']?.Value, ['PPS1']);
    await until('both jobs succeeded', async () => (await a.server.archive.index.jobs.list({ limit: 10, offset: 0 })).jobs.every((j) => j.state === 'succeeded'));
  });

  test('a step in progress is forwarded in progress', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.78.1';
    await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.78')));
    const there = await until('the step on the peer', () => b!.server.archive.mpps.get(uid));
    assert.equal(there.status, 'IN PROGRESS');
  });

  test('an N-SET that changes nothing (one per series) is answered and forwards nothing; the forwarded N-SET names no attribute an N-SET may not', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.80.1';
    await send((scu) => mppsCreate(scu, uid, { ...created('1.2.826.0.1.3680043.8.498.80'), '00081120': { vr: 'SQ' } } as JsonDataset));
    const forwards = async (): Promise<number> => (await a.server.archive.index.jobs.list({ limit: 100, offset: 0 })).jobs.filter((j) => j.type === 'mpps-forward' && JSON.stringify(j.payload).includes(uid)).length;
    const note = { '00400254': t('LO', 'chest') } as JsonDataset;
    await send((scu) => mppsSet(scu, uid, note));
    assert.equal(await forwards(), 2);
    await send((scu) => mppsSet(scu, uid, note));
    await send((scu) => mppsSet(scu, uid, note));
    assert.equal(await forwards(), 2, 'no job for an N-SET that changed nothing');
    // What the peer is sent: none of table F.7.2-1's "Not allowed" attributes (a peer refuses one named at all).
    const { setDataset } = await import('../../src/services/mpps-forward.js');
    const step = (await a.server.archive.mpps.get(uid))!;
    assert.ok('00081120' in step.dataset && '00380010' in step.dataset, 'kept from the N-CREATE');
    // Admission ID too (Type 2 in N-CREATE, not allowed in N-SET: dcm4che refuses it even empty).
    assert.deepEqual(['00081120', '00100020', '00100021', '00380010', '00400270'].filter((k) => k in setDataset(step.dataset)), []);
  });

  test('the peer answers an N-SET 0x0110 without Error ID A710 (its index failed): retried, not taken as final there', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.79.1';
    await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.79')));
    await until('the step on the peer', () => b!.server.archive.mpps.get(uid));
    // The peer's index fails the first write of this step: its SCP answers a plain processing failure.
    const store = b!.server.archive.index.mpps;
    const update = store.update.bind(store);
    let refused = 0;
    store.update = async (...args) => {
      if (args[0] === uid && refused === 0) {
        refused++;
        throw new Error('disk I/O error (the test\'s)');
      }
      return update(...args);
    };
    try {
      await send((scu) => mppsSet(scu, uid, completed));
      const there = await until('the step completed on the peer', async () => {
        const r = await b!.server.archive.mpps.get(uid);
        return r?.status === 'COMPLETED' ? r : null;
      });
      assert.deepEqual(there.dataset['00400251']?.Value, ['093000']);
      assert.equal(refused, 1);
      const job = await until('the N-SET job succeeded', async () =>
        (await a.server.archive.index.jobs.list({ limit: 20, offset: 0 })).jobs.find((j) => j.type === 'mpps-forward' && j.state === 'succeeded' && j.attempts > 1 && JSON.stringify(j.payload).includes(uid)),
      );
      assert.ok(job.attempts >= 2, 'a second attempt after the plain 0x0110');
    } finally {
      store.update = update;
    }
  });

  test('the peer answers the N-CREATE with a resource limitation (0x0213): retried, then created there', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.83.1';
    const mpps = b!.server.archive.mpps;
    const create = mpps.create.bind(mpps);
    let limited = 0;
    mpps.create = async (u, ae, ds) => (u === uid && limited++ === 0 ? { status: 0x0213, sopInstanceUID: u, comment: 'busy (the test\'s)' } : create(u, ae, ds));
    try {
      await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.83')));
      await until('the step on the peer', () => b!.server.archive.mpps.get(uid));
      assert.equal(limited, 2, 'asked again after the refusal');
    } finally {
      mpps.create = create;
    }
  });

  test('the peer answers with a warning (0x0107 to the N-CREATE, 0x0116 to the N-SET): done there, the jobs succeed', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.84.1';
    const mpps = b!.server.archive.mpps;
    const create = mpps.create.bind(mpps);
    const set = mpps.set.bind(mpps);
    mpps.create = async (u, ae, ds) => (u === uid ? { ...(await create(u, ae, ds)), status: 0x0107, comment: 'an attribute it ignored (the test)' } : create(u, ae, ds));
    mpps.set = async (u, changes) => (u === uid ? { ...(await set(u, changes)), status: 0x0116, comment: 'a value it coerced (the test)' } : set(u, changes));
    try {
      const jobsOf = async () => (await a.server.archive.index.jobs.list({ limit: 50, offset: 0 })).jobs.filter((j) => j.type === 'mpps-forward' && JSON.stringify(j.payload).includes(uid));
      await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.84')));
      const first = await until('the N-CREATE forwarded', async () => (await jobsOf()).find((j) => j.state !== 'queued' && j.state !== 'running'));
      assert.equal(first.state, 'succeeded', first.lastError ?? '');
      await send((scu) => mppsSet(scu, uid, completed));
      await until('the step completed on the peer', async () => ((await b!.server.archive.mpps.get(uid))?.status === 'COMPLETED' ? true : null));
      const all = await until('both forwards ended', async () => {
        const js = await jobsOf();
        return js.length >= 2 && js.every((j) => j.state !== 'queued' && j.state !== 'running') ? js : null;
      });
      for (const j of all) {
        assert.equal(j.state, 'succeeded', j.lastError ?? '');
        assert.equal(j.attempts, 1, 'a warning is not retried');
      }
    } finally {
      mpps.create = create;
      mpps.set = set;
    }
  });

  test('the peer refuses the N-SET as malformed (0x0106): the job fails at once, not after a day of retries', async () => {
    const uid = '1.2.826.0.1.3680043.8.498.81.1';
    await send((scu) => mppsCreate(scu, uid, created('1.2.826.0.1.3680043.8.498.81')));
    await until('the step on the peer', () => b!.server.archive.mpps.get(uid));
    const mpps = b!.server.archive.mpps;
    const set = mpps.set.bind(mpps);
    mpps.set = async (u, changes) => (u === uid ? { status: 0x0106, sopInstanceUID: u, comment: 'the peer takes no such attribute (the test\'s)' } : set(u, changes));
    try {
      await send((scu) => mppsSet(scu, uid, completed));
      const job = await until('the N-SET job failed', async () =>
        (await a.server.archive.index.jobs.list({ limit: 30, offset: 0 })).jobs.find((j) => j.type === 'mpps-forward' && j.state === 'failed' && JSON.stringify(j.payload).includes(uid)),
      );
      assert.equal(job.attempts, 1, 'refused for good: not tried again');
      assert.match(job.lastError ?? '', /0x0106/);
    } finally {
      mpps.set = set;
    }
  });
});
