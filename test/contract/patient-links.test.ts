// Merged-patient links (HL7 ADT^A40, migration 16): every merge records prior → surviving, and
// images of the prior patient arriving afterwards are filed under the surviving one instead of
// making the prior patient anew. Same on both backends.
import assert from 'node:assert/strict';
import { describe } from 'node:test';
import { migrationTests } from './backends.js';
import { record } from './fixtures.js';

describe('migration 16 adds the links table, empty, to an index that has rows', () => {
  migrationTests(16, async (old) => {
    await old.index.storeInstance(record({ sop: '16.1.1', study: '16.1', patientId: 'M16' }), 'insert');
    await old.index.migrate();
    assert.deepEqual(await old.column('SELECT count(*) FROM patient_links'), ['0']);
    await old.index.storeInstance(record({ sop: '16.2.1', study: '16.2', patientId: 'M16' }), 'insert');
    assert.deepEqual(await old.column("SELECT num_studies FROM patients WHERE patient_id = 'M16'"), ['2']);
  });
});
