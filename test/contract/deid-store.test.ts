// The de-identification store on every backend: one secret per archive, one pseudonym and date
// shift per patient whoever asks first, a pseudonym never given to two patients.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BACKENDS } from './backends.js';

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`de-identification store (${backend.name})`, () => {
    test('secret, pseudonyms, re-identification', async () => {
      const index = await (await fresh())();
      const secret = await index.deid.secret('first');
      assert.equal(secret, 'first');
      assert.equal(await index.deid.secret('second'), 'first', 'the first secret stays');
      const a = await index.deid.patient({ patientKey: 'P1\\', pseudonym: 'SUBJ-A', shiftDays: -400 });
      assert.equal(a?.pseudonym, 'SUBJ-A');
      const again = await index.deid.patient({ patientKey: 'P1\\', pseudonym: 'SUBJ-X', shiftDays: -10 });
      assert.deepEqual([again?.pseudonym, again?.shiftDays], ['SUBJ-A', -400], 'the first entry stays');
      assert.equal(await index.deid.patient({ patientKey: 'P2\\', pseudonym: 'SUBJ-A', shiftDays: -5 }), null, 'a pseudonym is never given twice');
      assert.equal((await index.deid.byPseudonym('SUBJ-A'))?.patientKey, 'P1\\');
      assert.equal(await index.deid.byPseudonym('nobody'), null);
      await index.close();
    });
  });
});
