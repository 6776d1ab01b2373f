// Retention's view of the index on every backend: protected flags, and the oldest studies
// first (by when their last instance arrived), protected ones left out unless asked.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKENDS } from './backends.js';
import { record } from './fixtures.js';

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`retention store (${backend.name})`, () => {
    test('protect, oldest first, received before', async () => {
      const index = await (await fresh())();
      const at = (day: number): Date => new Date(Date.UTC(2026, 0, day));
      await index.storeInstance(record({ sop: '1.1', study: '9.1', size: 100, path: 'a.dcm', receivedAt: at(1) }), 'insert');
      await index.storeInstance(record({ sop: '1.2', study: '9.2', size: 200, path: 'b.dcm', receivedAt: at(2) }), 'insert');
      await index.storeInstance(record({ sop: '1.3', study: '9.3', size: 300, path: 'c.dcm', receivedAt: at(3) }), 'insert');
      assert.equal(await index.retention.isProtected('9.1'), false);
      assert.equal(await index.retention.setProtected('9.1', true), true);
      assert.equal(await index.retention.isProtected('9.1'), true);
      assert.equal(await index.retention.setProtected('0.0', true), false);
      assert.equal(await index.retention.isProtected('0.0'), null);
      const oldest = await index.retention.oldest({ limit: 10 });
      assert.deepEqual(oldest.map((c) => [c.studyInstanceUID, c.sizeBytes, c.protected]), [['9.2', 200, false], ['9.3', 300, false]]);
      assert.equal(oldest[0]!.lastReceivedAt.getTime(), at(2).getTime());
      assert.deepEqual((await index.retention.oldest({ limit: 10, includeProtected: true })).map((c) => c.studyInstanceUID), ['9.1', '9.2', '9.3']);
      assert.deepEqual((await index.retention.oldest({ limit: 10, receivedBefore: at(3) })).map((c) => c.studyInstanceUID), ['9.2']);
      assert.deepEqual((await index.retention.oldest({ limit: 1 })).map((c) => c.studyInstanceUID), ['9.2']);
      await index.close();
    });

    test('eligible: the bytes oldest() would give; a study whose stability is pending is never a candidate', async () => {
      const index = await (await fresh())();
      const at = (day: number): Date => new Date(Date.UTC(2026, 0, day));
      await index.storeInstance(record({ sop: '1.1', study: '9.1', size: 100, path: 'a.dcm', receivedAt: at(1) }), 'insert');
      await index.storeInstance(record({ sop: '1.2', study: '9.2', size: 200, path: 'b.dcm', receivedAt: at(2) }), 'insert');
      await index.storeInstance(record({ sop: '1.3', study: '9.3', size: 400, path: 'c.dcm', receivedAt: at(3) }), 'insert');
      await index.retention.setProtected('9.1', true);
      assert.deepEqual(await index.retention.eligible({}), { studies: 2, bytes: 600 });
      assert.deepEqual(await index.retention.eligible({ includeProtected: true, receivedBefore: at(3) }), { studies: 2, bytes: 300 });
      await index.stability.catchUp(100); // every study is pending now: still arriving as far as the rules know
      assert.deepEqual(await index.retention.oldest({ limit: 10, includeProtected: true }), []);
      assert.deepEqual(await index.retention.eligible({ includeProtected: true }), { studies: 0, bytes: 0 });
      await index.retention.setProtected('9.1', false);
      for (const e of await index.stability.pending(10)) await index.stability.markStable(e.level, e.uid, e.lastChangeSeq, new Date());
      assert.deepEqual((await index.retention.oldest({ limit: 10 })).map((c) => c.studyInstanceUID), ['9.1', '9.2', '9.3']);
      await index.close();
    });

    test('the stability entries of deleted studies and series are pruned once given; pending ones and those still there stay', async () => {
      const index = await (await fresh())();
      await index.storeInstance(record({ sop: '1.1', study: '9.1', size: 100, path: 'a.dcm' }), 'insert');
      await index.storeInstance(record({ sop: '1.2', study: '9.2', size: 100, path: 'b.dcm' }), 'insert');
      await index.storeInstance(record({ sop: '1.3', study: '9.3', size: 100, path: 'c.dcm' }), 'insert');
      await index.stability.catchUp(100);
      for (const e of await index.stability.pending(10)) if (e.studyUID !== '9.3') await index.stability.markStable(e.level, e.uid, e.lastChangeSeq, new Date());
      for (const sop of ['1.1', '1.3']) await index.deleteInstance(sop);
      // 9.1: deleted and given (study and series entries go); 9.2: still there; 9.3: deleted but still owed.
      assert.equal(await index.stability.pruneGone(), 2);
      assert.deepEqual((await index.stability.pending(10)).map((e) => e.studyUID), ['9.3', '9.3']);
      assert.equal(await index.stability.pruneGone(), 0);
      // Received again: a new entry, owed anew.
      await index.storeInstance(record({ sop: '1.1', study: '9.1', size: 100, path: 'a.dcm' }), 'insert');
      await index.stability.catchUp(100);
      assert.deepEqual((await index.stability.pending(10)).map((e) => e.studyUID).sort(), ['9.1', '9.1', '9.3', '9.3']);
      await index.close();
    });

    test('a guarded delete goes only while the study is unprotected and not received since; received() moves the study on', async () => {
      const index = await (await fresh())();
      const at = new Date(Date.UTC(2026, 0, 1));
      for (const sop of ['1.1', '1.2', '1.3']) await index.storeInstance(record({ sop, study: '9.1', size: 100, path: `${sop}.dcm`, receivedAt: at }), 'insert');
      const guard = { studyInstanceUID: '9.1', lastReceivedAt: at, includeProtected: false };
      assert.equal(((await index.deleteInstanceIf('1.1', guard)) as { SOPInstanceUID: string }).SOPInstanceUID, '1.1');
      assert.equal(await index.deleteInstanceIf('0.0', guard), null);
      await index.retention.setProtected('9.1', true);
      assert.equal(await index.deleteInstanceIf('1.2', guard), 'changed', 'protected since');
      assert.notEqual(await index.deleteInstanceIf('1.2', { ...guard, includeProtected: true }), 'changed', 'unless protected ones may go');
      await index.retention.setProtected('9.1', false);
      await index.retention.received('1.3', at); // received again, even within the same millisecond
      assert.equal(await index.deleteInstanceIf('1.3', guard), 'changed', 'received again since');
      const now = (await index.findStudy('9.1'))!.lastReceivedAt;
      assert.ok(now.getTime() > at.getTime());
      assert.notEqual(await index.deleteInstanceIf('1.3', { ...guard, lastReceivedAt: now }), 'changed');
      assert.equal(await index.findStudy('9.1'), null, 'all gone');
      await index.close();
    });

    test('one retention pass at a time on the index, even from two index objects (two servers)', async () => {
      const place = await fresh();
      const [a, b] = [await place(), await place()];
      let release!: () => void;
      const holding = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const first = a.retention.exclusivePass(async () => {
        entered();
        await holding;
        return 'first';
      });
      await inside;
      assert.deepEqual(await b.retention.exclusivePass(async () => 'second'), { ran: false }, 'another index object: refused at once');
      assert.deepEqual(await a.retention.exclusivePass(async () => 'third'), { ran: false }, 'the same index object: refused at once');
      release();
      assert.deepEqual(await first, { ran: true, value: 'first' });
      assert.deepEqual(await b.retention.exclusivePass(async () => 'after'), { ran: true, value: 'after' }, 'free again once the first ended');
      await assert.rejects(a.retention.exclusivePass(async () => Promise.reject(new Error('boom'))), /boom/);
      assert.deepEqual(await b.retention.exclusivePass(async () => 'after a failure'), { ran: true, value: 'after a failure' }, 'a pass that throws lets go too');
      await Promise.all([a.close(), b.close()]);
    });
  });
});
