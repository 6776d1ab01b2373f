// Merged-patient links on PostgreSQL: the rules of ../patient-links.ts, run inside a write
// transaction of PostgresIndex. Servers sharing the index may take merges at the same moment:
// each merge transaction first takes one advisory lock, so two merges that would make a cycle
// together (A into B here, B into A there) are checked one after the other, each seeing the
// other's link. A store that files a new study — the only one that may make a patient — holds
// the same lock shared (MERGE_SHARED, sent with its patient upsert): a merge waits for such
// stores under way to commit, and sees the prior patient one of them made (it used to look
// before that commit, answer AA, and leave the patient made again with its study), and a store
// that begins during a merge waits for it, and then follows its link.
import { FOLLOWED_LINK, INSERT_LINK, LINK_OF_PRIOR, type LinkRow, REDIRECT_LINKS, identityParams, linkParams, refusal, toPatientLink } from '../patient-links.js';
import type { MergeOutcome, PatientKey, PatientLink, PatientMerge } from '../types.js';
import { type Db, named } from './db.js';
import { indexedKey, mergePatients } from './patients.js';

/** Any int4: with the schema's hash, the advisory lock that orders merges (see the top). */
const MERGE_LOCK = 0x6d726765; // 'mrge'

/** What a store filing a new study takes before its patient upsert (see the top). */
export const MERGE_SHARED = `SELECT pg_advisory_xact_lock_shared(${MERGE_LOCK}, hashtext(current_schema()))`;

async function row(db: Db, sql: string, key: PatientKey): Promise<PatientLink | null> {
  const r = (await db.query<LinkRow>(...named(sql, identityParams(key)))).rows[0];
  return r === undefined ? null : toPatientLink(r);
}

export const patientLink = (db: Db, identity: PatientKey): Promise<PatientLink | null> => row(db, `SELECT * ${FOLLOWED_LINK}`, identity);

/** The PID/MRG pairs of one message, in order (see ArchiveIndex.mergePatients). */
export async function mergeLinked(db: Db, merges: readonly PatientMerge[], now: number): Promise<MergeOutcome[]> {
  await db.query(`SELECT pg_advisory_xact_lock(${MERGE_LOCK}, hashtext(current_schema()))`);
  const done: MergeOutcome[] = [];
  for (const merge of merges) {
    const to = await indexedKey(db, merge.surviving);
    const via = await patientLink(db, to);
    const into = via?.resolved ?? to;
    const existing = await row(db, LINK_OF_PRIOR, merge.prior);
    const refused = refusal(merge, into, via, existing);
    if (refused) throw refused;
    if (existing === null) {
      const params = linkParams(merge, into, now);
      await db.query(...named(INSERT_LINK, params));
      await db.query(...named(REDIRECT_LINKS, params));
    }
    const studies = await mergePatients(db, await indexedKey(db, merge.prior), into);
    done.push({ studies, into, linked: existing === null });
  }
  return done;
}
