// Merged-patient links (HL7 ADT^A40, migration 16): every merge records prior → surviving, and
// images of the prior patient arriving afterwards are filed under the surviving one instead of
// making the prior patient anew. Chains resolve to their end; a cycle is refused. Same on both
// backends.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPacsError } from '../../src/core/errors.js';
import type { ArchiveIndex, PatientKey, PatientMerge } from '../../src/index/types.js';
import { BACKENDS, migrationTests } from './backends.js';
import { record } from './fixtures.js';

const key = (PatientID: string, IssuerOfPatientID: string | null = 'HOSP'): PatientKey => ({ PatientID, IssuerOfPatientID });
const pair = (prior: string, surviving: string, controlId = `M-${prior}-${surviving}`): PatientMerge => ({ prior: key(prior), surviving: key(surviving), controlId });
const resolved = async (index: ArchiveIndex, id: string, issuer: string | null = 'HOSP'): Promise<string | null> => {
  const link = await index.patientLink(key(id, issuer));
  return link === null ? null : `${link.resolved.PatientID}^^^${link.resolved.IssuerOfPatientID ?? ''}`;
};
const patientIds = async (index: ArchiveIndex, id: string): Promise<string[]> =>
  (await index.query({ level: 'PATIENT', model: 'PATIENT_ROOT', relational: false, keys: [{ keyword: 'PatientID', value: id }] })).map((r) => String(r.PatientID));
const studiesOf = async (index: ArchiveIndex, id: string): Promise<string[]> =>
  (
    await index.query({ level: 'STUDY', model: 'STUDY_ROOT', relational: false, keys: [{ keyword: 'PatientID', value: id }, { keyword: 'IssuerOfPatientID', value: '' }, { keyword: 'StudyInstanceUID', value: '' }] })
  )
    .map((r) => `${String(r.StudyInstanceUID)}|${String(r.PatientID)}|${String(r.IssuerOfPatientID ?? '')}`)
    .sort();
const conflict = (text: RegExp) => (e: unknown): boolean => isPacsError(e, 'CONFLICT') && text.test(e.message);

for (const backend of BACKENDS) backend.run((fresh) => {
  describe(`merged-patient links (${backend.name})`, () => {
    const it = (title: string, fn: (index: ArchiveIndex) => Promise<void>) =>
      test(title, async () => {
        const index = await (await fresh())();
        try {
          await fn(index);
        } finally {
          await index.close();
        }
      });

    it('an A40 for a prior patient not indexed records the link, which an identity without issuer follows too', async (index) => {
      const before = Date.now();
      assert.deepEqual(await index.mergePatients([pair('A', 'B', 'MSG-1')]), [{ studies: 0, into: key('B'), linked: true }]);
      const link = await index.patientLink(key('A'));
      assert.deepEqual({ ...link, mergedAt: undefined }, { prior: key('A'), surviving: key('B'), resolved: key('B'), controlId: 'MSG-1', mergedAt: undefined });
      assert.ok(link!.mergedAt.getTime() >= before && link!.mergedAt.getTime() <= Date.now());
      assert.deepEqual(await index.patientLink(key('A', null)), link, 'images often carry no issuer');
      assert.equal(await index.patientLink(key('A', 'OTHER')), null, 'another issuer is another patient');
      assert.equal(await index.patientLink(key('B')), null);
      assert.equal((await index.statistics()).patients, 0, 'no patient row made');
      // The same message again (a lost ACK): no error, nothing new.
      assert.deepEqual(await index.mergePatients([pair('A', 'B', 'MSG-1')]), [{ studies: 0, into: key('B'), linked: false }]);
    });

    it('the survivor as the index holds it: indexed without issuer, it is the link target so', async (index) => {
      await index.storeInstance(record({ sop: '1.1.1', study: '1.1', patientId: 'B' }), 'insert');
      assert.deepEqual((await index.mergePatients([pair('A', 'B')]))[0]?.into, key('B', null));
      assert.equal(await resolved(index, 'A'), 'B^^^');
    });

    it('chains resolve to their end, whichever order they are made in', async (index) => {
      await index.mergePatients([pair('A', 'B')]);
      await index.mergePatients([pair('B', 'C')]);
      assert.equal(await resolved(index, 'A'), 'C^^^HOSP');
      assert.equal((await index.patientLink(key('A')))?.surviving.PatientID, 'B', 'the link still says what its message said');
      await index.mergePatients([pair('C', 'D')]);
      assert.deepEqual([await resolved(index, 'A'), await resolved(index, 'B'), await resolved(index, 'C'), await resolved(index, 'D')], ['D^^^HOSP', 'D^^^HOSP', 'D^^^HOSP', null]);
      // Merged into a patient merged on already: filed at the end of that chain, not recreating it.
      assert.deepEqual((await index.mergePatients([pair('E', 'B')]))[0]?.into, key('D'));
      assert.equal(await resolved(index, 'E'), 'D^^^HOSP');
      // Several pairs in one message, the second continuing the first.
      await index.mergePatients([pair('F', 'G'), pair('G', 'H')]);
      assert.deepEqual([await resolved(index, 'F'), await resolved(index, 'G')], ['H^^^HOSP', 'H^^^HOSP']);
    });

    it('the studies of a prior patient merged on follow the chain too', async (index) => {
      await index.storeInstance(record({ sop: '2.1.1', study: '2.1', patientId: 'A', issuer: 'HOSP' }), 'insert');
      await index.mergePatients([pair('B', 'C')]);
      assert.deepEqual(await index.mergePatients([pair('A', 'B')]), [{ studies: 1, into: key('C'), linked: true }]);
      assert.equal((await index.findInstance('2.1.1'))?.PatientID, 'C');
      assert.equal(await index.findPatient('B', 'HOSP'), null, 'B, merged away, is not made again');
    });

    it('a cycle is refused, changing nothing; so is a merge of the same patient into itself', async (index) => {
      await index.storeInstance(record({ sop: '3.1.1', study: '3.1', patientId: 'C', issuer: 'HOSP' }), 'insert');
      await index.mergePatients([pair('A', 'B')]);
      await index.mergePatients([pair('B', 'C')]);
      await assert.rejects(index.mergePatients([pair('C', 'A')]), conflict(/^merging C\^\^\^HOSP into A\^\^\^HOSP would make a cycle: A\^\^\^HOSP was merged into B\^\^\^HOSP \(message M-A-B\), which is now C\^\^\^HOSP$/));
      await assert.rejects(index.mergePatients([pair('C', 'B')]), conflict(/cycle/));
      await assert.rejects(index.mergePatients([pair('C', 'C')]), conflict(/^C\^\^\^HOSP and C\^\^\^HOSP are the same patient/));
      await assert.rejects(index.mergePatients([{ prior: key('C'), surviving: key('C', null), controlId: 'X' }]), conflict(/same patient/), 'C without issuer is C as indexed');
      assert.equal(await index.patientLink(key('C')), null);
      assert.equal((await index.findInstance('3.1.1'))?.PatientID, 'C', 'C keeps its study');
      assert.equal(await resolved(index, 'A'), 'C^^^HOSP');
      // All or none: a message whose second pair closes a cycle leaves its first undone.
      await assert.rejects(index.mergePatients([pair('C', 'X'), pair('X', 'A')]), conflict(/cycle/));
      assert.equal(await index.patientLink(key('C')), null);
      assert.equal((await index.findInstance('3.1.1'))?.PatientID, 'C');
    });

    it('images of a prior patient arriving after the merge are filed under the survivor, and do not make the prior patient again', async (index) => {
      await index.mergePatients([pair('A', 'B')]);
      // The modality fetched its worklist before the merge, and sends no issuer.
      await index.storeInstance(record({ sop: '5.1.1', study: '5.1', patientId: 'A', patientName: 'Prior^Name' }), 'insert');
      assert.equal((await index.findInstance('5.1.1'))?.PatientID, 'B');
      assert.equal(await index.findPatient('A', null), null);
      assert.equal((await index.findPatient('B', 'HOSP'))?.PatientName, 'Prior^Name', 'the survivor, not indexed yet, is made as the merge would have made it');
      assert.deepEqual(await patientIds(index, 'A'), []);
      assert.deepEqual(await patientIds(index, 'B'), ['B']);
      assert.deepEqual(await studiesOf(index, 'B'), ['5.1|B|HOSP']);
      await index.storeInstance(record({ sop: '5.1.2', study: '5.1', patientId: 'A' }), 'insert');
      // The survivor's own images own its demographics; the prior one's leave them as they are.
      await index.storeInstance(record({ sop: '5.2.1', study: '5.2', patientId: 'B', issuer: 'HOSP', patientName: 'Surviving^Name' }), 'insert');
      await index.storeInstance(record({ sop: '5.3.1', study: '5.3', patientId: 'A', issuer: 'HOSP', patientName: 'Prior^Name' }), 'insert');
      assert.deepEqual(await studiesOf(index, 'B'), ['5.1|B|HOSP', '5.2|B|HOSP', '5.3|B|HOSP']);
      const b = await index.findPatient('B', 'HOSP');
      assert.deepEqual([b?.PatientName, b?.NumberOfPatientRelatedStudies, b?.NumberOfPatientRelatedInstances], ['Surviving^Name', 3, 4]);
      assert.equal((await index.statistics()).patients, 1);
      // Another issuer's A is another patient.
      await index.storeInstance(record({ sop: '5.4.1', study: '5.4', patientId: 'A', issuer: 'OTHER' }), 'insert');
      assert.equal((await index.findInstance('5.4.1'))?.PatientID, 'A');
    });

    it('an image follows a chain to its end; a rebuilt index (clear, then the files again) follows the links as before', async (index) => {
      await index.mergePatients([pair('A', 'B'), pair('B', 'C')]);
      await index.storeInstance(record({ sop: '6.1.1', study: '6.1', patientId: 'A', issuer: 'HOSP' }), 'insert');
      await index.storeInstance(record({ sop: '6.2.1', study: '6.2', patientId: 'B' }), 'insert');
      assert.deepEqual(await studiesOf(index, 'C'), ['6.1|C|HOSP', '6.2|C|HOSP']);
      await index.clear();
      await index.storeInstance(record({ sop: '6.2.1', study: '6.2', patientId: 'B' }), 'insert');
      await index.storeInstance(record({ sop: '6.1.1', study: '6.1', patientId: 'A', issuer: 'HOSP' }), 'insert');
      assert.deepEqual(await studiesOf(index, 'C'), ['6.1|C|HOSP', '6.2|C|HOSP']);
      assert.deepEqual([...(await patientIds(index, 'A')), ...(await patientIds(index, 'B'))], []);
    });

    test('a link written through another connection (another server) is followed by the next store, nothing cached', async () => {
      const place = await fresh();
      const [storing, merging] = [await place(), await place()];
      try {
        await storing.storeInstance(record({ sop: '7.1.1', study: '7.1', patientId: 'A' }), 'insert');
        await merging.mergePatients([pair('X', 'Y')]);
        await storing.storeInstance(record({ sop: '7.2.1', study: '7.2', patientId: 'X' }), 'insert');
        assert.equal((await storing.findInstance('7.2.1'))?.PatientID, 'Y');
      } finally {
        await storing.close();
        await merging.close();
      }
    });

    it('a prior patient merged already is not merged into another', async (index) => {
      await index.mergePatients([pair('A', 'B', 'FIRST')]);
      await assert.rejects(index.mergePatients([pair('A', 'X')]), conflict(/^A\^\^\^HOSP was already merged into B\^\^\^HOSP \(message FIRST\): not merged into X\^\^\^HOSP$/));
      assert.equal(await resolved(index, 'A'), 'B^^^HOSP');
    });
  });
});

describe('migration 16 adds the links table, empty, to an index that has rows', () => {
  migrationTests(16, async (old) => {
    // As an older version wrote the row (this version's patient upsert reads the new table).
    await old.exec(`INSERT INTO patients (patient_id, issuer_of_patient_id, patient_name, created_at, updated_at) VALUES ('M16', '', 'Before^Migration', 1, 1)`);
    await old.index.migrate();
    assert.deepEqual(await old.column('SELECT count(*) FROM patient_links'), ['0']);
    await old.index.storeInstance(record({ sop: '16.1.1', study: '16.1', patientId: 'M16' }), 'insert');
    assert.deepEqual(await old.column("SELECT num_studies FROM patients WHERE patient_id = 'M16'"), ['1']);
  });
});
