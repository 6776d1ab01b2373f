// Whose pseudonym (review): patients without a PatientID no longer share one pseudonym and one
// date shift, and each pseudonym prefix gives its own pseudonym, shift and UIDs (the sets sent to two
// collaborators under two prefixes cannot be linked), while an entry made before prefixes were
// kept stays the patient's under the prefix it was made with. The safe_private list refuses an
// even group instead of dropping it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deidentifyProfileSchema } from '../../../src/config/rules-schema.js';
import type { DeidPatient, DeidStore } from '../../../src/index/deid.js';
import type { ObjectStore } from '../../../src/storage/object-store.js';
import { Deidentifier, patientKeyOf } from '../../../src/services/deidentify.js';

class MemoryDeidStore implements DeidStore {
  readonly rows = new Map<string, DeidPatient>();
  private key: string | null = null;
  secret(fresh: string): Promise<string> {
    this.key ??= fresh;
    return Promise.resolve(this.key);
  }
  findSecret(): Promise<string | null> {
    return Promise.resolve(this.key);
  }
  patient(p: Omit<DeidPatient, 'createdAt'>): Promise<DeidPatient | null> {
    const had = this.rows.get(p.patientKey);
    if (had) return Promise.resolve(had);
    if ([...this.rows.values()].some((r) => r.pseudonym === p.pseudonym)) return Promise.resolve(null);
    const row = { ...p, createdAt: new Date() };
    this.rows.set(p.patientKey, row);
    return Promise.resolve(row);
  }
  byPseudonym(pseudonym: string): Promise<DeidPatient | null> {
    return Promise.resolve([...this.rows.values()].find((r) => r.pseudonym === pseudonym) ?? null);
  }
  byPatientKey(patientKey: string): Promise<DeidPatient | null> {
    return Promise.resolve(this.rows.get(patientKey) ?? null);
  }
}

const deidentifier = (store: DeidStore, prefix: string): Deidentifier =>
  new Deidentifier(store, {} as ObjectStore, deidentifyProfileSchema.parse({ pseudonym_prefix: prefix }));

test('the patient key: ID and issuer; without an ID the name and birth date; without those the study', () => {
  const of = (v: Record<string, string>) => patientKeyOf((k) => v[k] ?? null);
  assert.equal(of({ PatientID: 'MRN1', IssuerOfPatientID: 'HOSP', PatientName: 'Doe^A' }), 'MRN1\\HOSP');
  const a = of({ PatientName: 'Patient^A', PatientBirthDate: '19700101', StudyInstanceUID: '1.2.1' });
  const b = of({ PatientName: 'Patient^B', PatientBirthDate: '19800101', StudyInstanceUID: '1.2.1' });
  assert.notEqual(a, b);
  assert.equal(of({ PatientName: 'Patient^A', PatientBirthDate: '19700101', StudyInstanceUID: '1.2.2' }), a, 'the same named patient in another study');
  const anonymous1 = of({ StudyInstanceUID: '1.2.3' });
  const anonymous2 = of({ StudyInstanceUID: '1.2.4' });
  assert.notEqual(anonymous1, anonymous2);
  // None of these can be taken for an ID's key.
  for (const k of [a, b, anonymous1]) assert.ok(k.startsWith('\\'));
});

test('patients without a PatientID get pseudonyms and date shifts of their own', async () => {
  const store = new MemoryDeidStore();
  const d = deidentifier(store, 'ANON');
  const secret = await store.secret('s');
  const a = await d.patient(secret, patientKeyOf((k) => ({ PatientName: 'Patient^A', PatientBirthDate: '19700101' })[k] ?? null));
  const b = await d.patient(secret, patientKeyOf((k) => ({ PatientName: 'Patient^B', PatientBirthDate: '19800101' })[k] ?? null));
  assert.notEqual(a.pseudonym, b.pseudonym);
});

test('each prefix gives its own pseudonym and shift; an entry made before prefixes were kept stays', async () => {
  const store = new MemoryDeidStore();
  const secret = await store.secret('s');
  const a = await deidentifier(store, 'TRIALA').patient(secret, 'MRN1\\');
  const b = await deidentifier(store, 'TRIALB').patient(secret, 'MRN1\\');
  assert.match(a.pseudonym, /^TRIALA[A-Z2-9]{10}$/);
  assert.match(b.pseudonym, /^TRIALB[A-Z2-9]{10}$/);
  assert.notEqual(a.pseudonym.slice(6), b.pseudonym.slice(6), 'the same code under two prefixes would link them');
  assert.equal((await deidentifier(store, 'TRIALA').patient(secret, 'MRN1\\')).pseudonym, a.pseudonym, 'stable in a new run');

  // An entry of an earlier version: keyed by the patient alone, made under ANON.
  store.rows.set('MRN2\\', { patientKey: 'MRN2\\', pseudonym: 'ANONABCDEFGH23', shiftDays: -500, createdAt: new Date() });
  const kept = await deidentifier(store, 'ANON').patient(secret, 'MRN2\\');
  assert.equal(kept.pseudonym, 'ANONABCDEFGH23');
  assert.equal(kept.shiftDays, -500);
  const other = await deidentifier(store, 'TRIALB').patient(secret, 'MRN2\\');
  assert.match(other.pseudonym, /^TRIALB/);
});

test('safe_private refuses an even group (it names no private element) instead of dropping it', () => {
  assert.equal(deidentifyProfileSchema.safeParse({ safe_private: ['0028,FOO,10'] }).success, false);
  assert.equal(deidentifyProfileSchema.safeParse({ safe_private: ['0029,SIEMENS CSA HEADER,10'] }).success, true);
});

test('UIDs are mapped per prefix: the same under one prefix in every run, others under another', async () => {
  const store = new MemoryDeidStore();
  const secret = await store.secret('s3cr3t');
  const study = '1.2.826.0.1.3680043.99.5';
  const a = deidentifier(store, 'LABA').mapUid(secret, study);
  assert.equal(deidentifier(store, 'LABA').mapUid(secret, study), a, 'stable within a prefix (a new Deidentifier: another job, a restart)');
  const b = deidentifier(store, 'LABB').mapUid(secret, study);
  assert.match(b, /^2\.25\.\d+$/);
  assert.notEqual(a, b, 'two collaborators\' sets would be linked by the Study Instance UID');
});
