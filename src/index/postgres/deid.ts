// De-identification mappings on PostgreSQL (migration 7). Inserts use ON CONFLICT DO NOTHING
// and read back, so servers racing for the same patient agree on one row.
import type { DeidPatient, DeidStore } from '../deid.js';
import type { PgTransact } from './db.js';

interface Row {
  patient_key: string;
  pseudonym: string;
  shift_days: number;
  created_at: string | number;
}

const toPatient = (r: Row): DeidPatient => ({ patientKey: r.patient_key, pseudonym: r.pseudonym, shiftDays: r.shift_days, createdAt: new Date(Number(r.created_at)) });

export class PgDeidStore implements DeidStore {
  constructor(private readonly transact: PgTransact) {}

  secret(fresh: string): Promise<string> {
    return this.transact('write', async (db) => {
      await db.query('INSERT INTO deid_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING', [fresh]);
      return (await db.query<{ secret: string }>('SELECT secret FROM deid_secret WHERE id = 1')).rows[0]!.secret;
    });
  }

  patient(p: Omit<DeidPatient, 'createdAt'>): Promise<DeidPatient | null> {
    return this.transact('write', async (db) => {
      await db.query('INSERT INTO deid_patients (patient_key, pseudonym, shift_days, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [p.patientKey, p.pseudonym, p.shiftDays, Date.now()]);
      const row = (await db.query<Row>('SELECT * FROM deid_patients WHERE patient_key = $1', [p.patientKey])).rows[0];
      return row ? toPatient(row) : null; // the pseudonym was taken by another patient
    });
  }

  byPseudonym(pseudonym: string): Promise<DeidPatient | null> {
    return this.transact('read', async (db) => {
      const row = (await db.query<Row>('SELECT * FROM deid_patients WHERE pseudonym = $1', [pseudonym])).rows[0];
      return row ? toPatient(row) : null;
    });
  }

  findSecret(): Promise<string | null> {
    return this.transact('read', async (db) => (await db.query<{ secret: string }>('SELECT secret FROM deid_secret WHERE id = 1')).rows[0]?.secret ?? null);
  }

  byPatientKey(patientKey: string): Promise<DeidPatient | null> {
    return this.transact('read', async (db) => {
      const row = (await db.query<Row>('SELECT * FROM deid_patients WHERE patient_key = $1', [patientKey])).rows[0];
      return row ? toPatient(row) : null;
    });
  }
}
