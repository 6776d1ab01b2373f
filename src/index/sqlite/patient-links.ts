// Merged-patient links on SQLite: the rules of ../patient-links.ts, run inside a write
// transaction of SqliteIndex (one writer at a time, so no two merges interleave).
import type Database from 'better-sqlite3';
import { FOLLOWED_LINK, INSERT_LINK, LINK_OF_PRIOR, type LinkRow, REDIRECT_LINKS, identityParams, linkParams, refusal, toPatientLink } from '../patient-links.js';
import type { MergeOutcome, PatientKey, PatientLink, PatientMerge } from '../types.js';
import { indexedKey, mergePatients } from './patients.js';

const row = (db: Database.Database, sql: string, key: PatientKey): PatientLink | null => {
  const r = db.prepare<[Record<string, string>], LinkRow>(sql).get(identityParams(key));
  return r === undefined ? null : toPatientLink(r);
};

export const patientLink = (db: Database.Database, identity: PatientKey): PatientLink | null => row(db, `SELECT * ${FOLLOWED_LINK}`, identity);

/** One PID/MRG pair: checked, linked, then the studies moved (see ArchiveIndex.mergePatients). */
export function mergeLinked(db: Database.Database, merge: PatientMerge, now: number): MergeOutcome {
  const to = indexedKey(db, merge.surviving);
  const via = patientLink(db, to);
  const into = via?.resolved ?? to;
  const existing = row(db, LINK_OF_PRIOR, merge.prior);
  const refused = refusal(merge, into, via, existing);
  if (refused) throw refused;
  if (existing === null) {
    const params = linkParams(merge, into, now);
    db.prepare(INSERT_LINK).run(params);
    db.prepare(REDIRECT_LINKS).run(params);
  }
  const studies = mergePatients(db, indexedKey(db, merge.prior), into);
  return { studies, into, linked: existing === null };
}
