// Lookups every backend answers the same: the instances of a WADO-RS URL and of a list of
// UIDs in one read, and the prepared WADO-RS metadata texts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKENDS } from './backends.js';
import { record } from './fixtures.js';

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`instance lookups and metadata texts (${backend.name})`, () => {
    test('prepared metadata texts: put, replace, get one or many in one read, remove, cleared with the instances; kept only for instances the index holds', async () => {
      const index = await (await fresh())();
      const m = index.metadata;
      for (const sop of ['1.2.1', '1.2.2', '1.2.3']) await index.storeInstance(record({ sop }), 'insert');
      await m.put('1.2.1', 'a');
      await m.put('1.2.2', 'b');
      await m.put('1.2.1', 'a2');
      assert.equal(await m.get('1.2.1'), 'a2');
      assert.equal(await m.get('1.2.9'), null);
      assert.deepEqual([...(await m.getMany(['1.2.2', '1.2.9', '1.2.1']))].sort(), [['1.2.1', 'a2'], ['1.2.2', 'b']]);
      assert.equal((await m.getMany([])).size, 0);
      await m.remove('1.2.2');
      assert.equal(await m.get('1.2.2'), null);
      await m.put('1.2.9', 'never stored');
      assert.equal(await m.get('1.2.9'), null, 'not kept for an instance the index does not hold');
      // A delete removes the row, then the text: a text made from the file read before the
      // delete and put after it (a request racing the delete) keeps nothing.
      await index.deleteInstance('1.2.3');
      await m.remove('1.2.3');
      await m.put('1.2.3', 'made from the file read before the delete');
      assert.equal(await m.get('1.2.3'), null);
      await index.clear();
      assert.equal(await m.get('1.2.1'), null);
      await index.close();
    });

    test('findInstances: the indexed ones of a list of UIDs, in the order asked, in one read', async () => {
      const index = await (await fresh())();
      for (const [sop, study] of [['f1', 'S1'], ['f2', 'S2'], ['f3', 'S1']] as const) await index.storeInstance(record({ sop, study, patientId: `P${study}`, path: `${sop}.dcm` }), 'insert');
      const got = await index.findInstances(['f3', 'nope', 'f1', 'f2']);
      assert.deepEqual(got.map((l) => [l.SOPInstanceUID, l.StudyInstanceUID]), [['f3', 'S1'], ['f1', 'S1'], ['f2', 'S2']]);
      assert.deepEqual(got[0], await index.findInstance('f3'));
      assert.deepEqual(await index.findInstances([]), []);
      // The resources of a WADO-RS URL: the same instances, in the same order, as an instance-level query.
      const queried = async (keys: { keyword: string; value: string }[]) =>
        (await index.query({ level: 'IMAGE', model: 'STUDY_ROOT', keys: [...keys, { keyword: 'SOPInstanceUID', value: '' }], relational: true })).map((r) => String(r.SOPInstanceUID));
      const uids = (locs: { SOPInstanceUID: string }[]) => locs.map((l) => l.SOPInstanceUID);
      assert.deepEqual(uids(await index.instancesOf('S1')), await queried([{ keyword: 'StudyInstanceUID', value: 'S1' }]));
      assert.deepEqual(uids(await index.instancesOf('S1', 'S1.1')), ['f1', 'f3']);
      assert.deepEqual(uids(await index.instancesOf('S1', 'S1.1', 'f3')), ['f3']);
      assert.deepEqual(await index.instancesOf('S1', 'S2.1'), [], 'a series of another study');
      assert.deepEqual(await index.instancesOf('S9'), []);
      await index.close();
    });
  });
});
