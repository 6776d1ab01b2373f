// The PostgreSQL bulk loader (bench:scale): the rows it writes are the index's own — counts,
// totals and queries agree with them — and ordinary stores afterwards get keys of their own
// (the identity sequences were moved past the loaded keys).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openPostgres, withPostgres } from './backends.js';
import { record } from './fixtures.js';

withPostgres('PostgreSQL bulk loader', (url) => {
  describe('PostgreSQL bulk loader', () => {
    test('loads the synthetic rows, keeps totals, and leaves the sequences ready for stores', async () => {
      const index = await openPostgres(url);
      try {
        const shape = { studiesPerPatient: 2, seriesPerStudy: 2, instancesPerSeries: 3 };
        const first = await index.bulkLoadSynthetic({ ...shape, patients: 30, seed: 1, batchInstances: 100 });
        const second = await index.bulkLoadSynthetic({ ...shape, patients: 10, seed: 2 });
        assert.equal(first.instances + second.instances, 40 * 12);
        const stats = await index.statistics();
        assert.deepEqual([stats.patients, stats.studies, stats.series, stats.instances], [40, 80, 160, 480]);
        const studies = await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'PatientID', value: 'SYN2-0000003' }, { keyword: 'NumberOfStudyRelatedInstances', value: '' }] });
        assert.deepEqual(studies.map((s) => String(s.NumberOfStudyRelatedInstances)), ['6', '6']);
        // Study-level name keys (on the studies' copy of the name) agree with the patients' names.
        const name = (level: 'PATIENT' | 'STUDY') =>
          index.query({ level, model: 'PATIENT_ROOT', relational: true, keys: [{ keyword: 'PatientName', value: 's*' }, { keyword: 'PatientID', value: '' }] });
        const patients = (await name('PATIENT')).map((r) => String(r.PatientID)).sort();
        assert.ok(patients.length > 0);
        assert.deepEqual([...new Set((await name('STUDY')).map((r) => String(r.PatientID)))].sort(), patients);
        const stored = await index.storeInstance(record({ sop: '1.2.3.4.5.6' }), 'insert');
        assert.equal(stored.outcome, 'inserted');
        assert.equal((await index.statistics()).instances, 481);
      } finally {
        await index.close();
      }
    });
  });
});
