// De-identification mappings on SQLite (tables of migration 7). Inserts use ON CONFLICT DO
// NOTHING then read back, so two processes racing for the same patient agree on one row.
import type Database from 'better-sqlite3';
import type { DeidPatient, DeidStore } from '../deid.js';
import type { Transact } from './jobs.js';

interface Row {
  patient_key: string;
  pseudonym: string;
  shift_days: number;
  created_at: number;
}

const toPatient = (r: Row): DeidPatient => ({ patientKey: r.patient_key, pseudonym: r.pseudonym, shiftDays: r.shift_days, createdAt: new Date(r.created_at) });

export class SqliteDeidStore implements DeidStore {
  private readonly s;

  constructor(db: Database.Database, private readonly transact: Transact) {
    this.s = {
      insertSecret: db.prepare("INSERT INTO deid_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING"),
      secret: db.prepare<[], { secret: string }>('SELECT secret FROM deid_secret WHERE id = 1'),
      byKey: db.prepare<[string], Row>('SELECT * FROM deid_patients WHERE patient_key = ?'),
      byPseudonym: db.prepare<[string], Row>('SELECT * FROM deid_patients WHERE pseudonym = ?'),
      insert: db.prepare('INSERT INTO deid_patients (patient_key, pseudonym, shift_days, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    };
  }

  secret(fresh: string): Promise<string> {
    return this.transact('write', () => {
      this.s.insertSecret.run(fresh);
      return this.s.secret.get()!.secret;
    });
  }

  patient(p: Omit<DeidPatient, 'createdAt'>): Promise<DeidPatient | null> {
    return this.transact('write', () => {
      const found = this.s.byKey.get(p.patientKey);
      if (found) return toPatient(found);
      this.s.insert.run(p.patientKey, p.pseudonym, p.shiftDays, Date.now());
      const row = this.s.byKey.get(p.patientKey);
      return row ? toPatient(row) : null; // the pseudonym was taken by another patient
    });
  }

  byPseudonym(pseudonym: string): Promise<DeidPatient | null> {
    return this.transact('read', () => {
      const r = this.s.byPseudonym.get(pseudonym);
      return r ? toPatient(r) : null;
    });
  }

  findSecret(): Promise<string | null> {
    return this.transact('read', () => this.s.secret.get()?.secret ?? null);
  }

  byPatientKey(patientKey: string): Promise<DeidPatient | null> {
    return this.transact('read', () => {
      const r = this.s.byKey.get(patientKey);
      return r ? toPatient(r) : null;
    });
  }
}
