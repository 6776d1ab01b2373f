// The numbered migrations of ../sqlite/migrations.ts in PostgreSQL's dialect: same versions,
// table and column names (../columns.ts), so the query layer and the tools read both alike.
// Once released a migration is never edited; the design notes of each version are with the
// SQLite ones, and only what differs is said here:
// - STRICT has no equivalent and needs none: PostgreSQL's types are enforced. Times stay
//   BIGINT ms since the epoch (not timestamptz) so rows compare the same on both backends.
// - Every text column is COLLATE "C": byte order, as SQLite's BINARY. Range matching
//   ('SMI' ≤ x < 'SMJ'), ORDER BY and the B-tree indexes then agree with SQLite and the
//   prefix ranges of the query layer are answered from the index whatever the database's locale.
// - AUTOINCREMENT → GENERATED ALWAYS AS IDENTITY (never reused either); INTEGER PRIMARY KEY →
//   BIGINT identity.
// - archive_totals: triggers in plpgsql. Several servers write at once, and one totals row
//   would make every store transaction of the cluster wait for the previous one's commit, so
//   the totals are striped over 16 rows (a backend always updates the row of its pid) and
//   statistics() adds them up.

import type { PoolClient } from 'pg';
import { PacsError } from '../../core/errors.js';
import { normalizePersonNameSql } from '../../dicom/person-name.js';
import { foldName } from '../fold.js';
import { legacyDateTimeSql } from '../legacy-dates.js';

export interface PgMigration {
  version: number;
  name: string;
  sql: string;
  /** What SQL cannot say (our JavaScript folding), run after `sql` in the same transaction. */
  run?: (client: PoolClient) => Promise<void>;
}

/** TEXT → TEXT COLLATE "C" everywhere (see the top), so the SQL below reads like SQLite's. */
const c = (sql: string): string => sql.replace(/\bTEXT\b/g, 'TEXT COLLATE "C"');
const ID = 'BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY';

const V1 = c(`
CREATE TABLE patients (
  pk ${ID},
  patient_id TEXT NOT NULL,
  issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  patient_name TEXT,
  patient_name_fold TEXT,
  patient_birth_date TEXT,
  patient_sex TEXT,
  num_studies INTEGER NOT NULL DEFAULT 0,
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (patient_id, issuer_of_patient_id)
);
CREATE INDEX patients_name_fold ON patients (patient_name_fold);

CREATE TABLE studies (
  pk ${ID},
  patient_fk BIGINT NOT NULL REFERENCES patients (pk),
  study_instance_uid TEXT NOT NULL UNIQUE,
  study_date TEXT,
  study_time TEXT,
  accession_number TEXT,
  study_id TEXT,
  study_description TEXT,
  referring_physician_name TEXT,
  referring_physician_name_fold TEXT,
  patient_age TEXT,
  patient_size TEXT,
  patient_weight TEXT,
  modalities_in_study TEXT NOT NULL DEFAULT '',
  sop_classes_in_study TEXT NOT NULL DEFAULT '',
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances BIGINT NOT NULL DEFAULT 0,
  size_bytes BIGINT NOT NULL DEFAULT 0,
  last_received_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX studies_patient ON studies (patient_fk);
CREATE INDEX studies_date ON studies (study_date);
CREATE INDEX studies_accession ON studies (accession_number);
CREATE INDEX studies_referring_fold ON studies (referring_physician_name_fold);

CREATE TABLE series (
  pk ${ID},
  study_fk BIGINT NOT NULL REFERENCES studies (pk),
  series_instance_uid TEXT NOT NULL UNIQUE,
  modality TEXT,
  series_number TEXT,
  series_date TEXT,
  series_time TEXT,
  series_description TEXT,
  body_part_examined TEXT,
  protocol_name TEXT,
  station_name TEXT,
  institution_name TEXT,
  manufacturer TEXT,
  manufacturer_model_name TEXT,
  frame_of_reference_uid TEXT,
  performed_procedure_step_start_date TEXT,
  performed_procedure_step_start_time TEXT,
  num_instances BIGINT NOT NULL DEFAULT 0,
  size_bytes BIGINT NOT NULL DEFAULT 0,
  last_received_at BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX series_study ON series (study_fk);
CREATE INDEX series_modality ON series (modality, study_fk);

CREATE TABLE instances (
  pk ${ID},
  series_fk BIGINT NOT NULL REFERENCES series (pk),
  sop_instance_uid TEXT NOT NULL UNIQUE,
  sop_class_uid TEXT NOT NULL,
  instance_number TEXT,
  content_date TEXT,
  content_time TEXT,
  acquisition_date TEXT,
  acquisition_time TEXT,
  acquisition_number TEXT,
  number_of_frames TEXT,
  "rows" INTEGER,
  "columns" INTEGER,
  bits_allocated INTEGER,
  photometric_interpretation TEXT,
  image_type TEXT,
  specific_character_set TEXT,
  path TEXT NOT NULL UNIQUE,
  size BIGINT NOT NULL,
  transfer_syntax_uid TEXT NOT NULL,
  checksum TEXT NOT NULL,
  received_at BIGINT NOT NULL,
  calling_ae TEXT,
  called_ae TEXT,
  remote_address TEXT,
  source TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX instances_series ON instances (series_fk, sop_class_uid);

CREATE TABLE changes (
  seq ${ID},
  kind TEXT NOT NULL,
  level TEXT NOT NULL,
  uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  at BIGINT NOT NULL
);
`);

const V2 = c(`
ALTER TABLE series ADD COLUMN patient_position TEXT;
ALTER TABLE series ADD COLUMN contrast_bolus_agent TEXT;
ALTER TABLE instances ADD COLUMN echo_numbers TEXT;
ALTER TABLE instances ADD COLUMN receive_coil_name TEXT;
ALTER TABLE instances ADD COLUMN slice_location TEXT;
ALTER TABLE instances ADD COLUMN image_id TEXT;
ALTER TABLE instances ADD COLUMN samples_per_pixel INTEGER;
ALTER TABLE instances ADD COLUMN bits_stored INTEGER;
`);

// payload and progress stay JSON text, as on SQLite: read back with JSON.parse; a payload is searched only as text (activeNaming).
const V3 = c(`
CREATE TABLE jobs (
  id ${ID},
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  progress TEXT NOT NULL DEFAULT '{}',
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  dedupe_key TEXT UNIQUE,
  run_after BIGINT NOT NULL,
  lease_owner TEXT,
  lease_until BIGINT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT
);
CREATE INDEX jobs_ready ON jobs (state, run_after);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE known_nodes (
  ae_title TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  tls INTEGER NOT NULL DEFAULT 0,
  permissions TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
`);

/** One stripe per backend (pid % 16); see the top. */
const stripe = 'pg_backend_pid() % 16';
const V4 = `
CREATE TABLE archive_totals (
  id INTEGER PRIMARY KEY CHECK (id BETWEEN 0 AND 15),
  patients BIGINT NOT NULL DEFAULT 0,
  studies BIGINT NOT NULL DEFAULT 0,
  series BIGINT NOT NULL DEFAULT 0,
  instances BIGINT NOT NULL DEFAULT 0,
  bytes BIGINT NOT NULL DEFAULT 0
);
INSERT INTO archive_totals (id) SELECT generate_series(0, 15);
UPDATE archive_totals SET patients = (SELECT count(*) FROM patients), studies = (SELECT count(*) FROM studies),
  series = (SELECT coalesce(sum(num_series), 0) FROM studies), instances = (SELECT coalesce(sum(num_instances), 0) FROM studies),
  bytes = (SELECT coalesce(sum(size_bytes), 0) FROM studies) WHERE id = 0;

CREATE FUNCTION patients_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE archive_totals SET patients = patients + (CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END) WHERE id = ${stripe};
  RETURN NULL;
END $$;
CREATE TRIGGER patients_totals AFTER INSERT OR DELETE ON patients FOR EACH ROW EXECUTE FUNCTION patients_totals();

CREATE FUNCTION studies_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE archive_totals SET studies = studies + 1, series = series + NEW.num_series,
      instances = instances + NEW.num_instances, bytes = bytes + NEW.size_bytes WHERE id = ${stripe};
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE archive_totals SET studies = studies - 1, series = series - OLD.num_series,
      instances = instances - OLD.num_instances, bytes = bytes - OLD.size_bytes WHERE id = ${stripe};
  ELSIF (NEW.num_series, NEW.num_instances, NEW.size_bytes) IS DISTINCT FROM (OLD.num_series, OLD.num_instances, OLD.size_bytes) THEN
    UPDATE archive_totals SET series = series + NEW.num_series - OLD.num_series,
      instances = instances + NEW.num_instances - OLD.num_instances, bytes = bytes + NEW.size_bytes - OLD.size_bytes WHERE id = ${stripe};
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER studies_totals AFTER INSERT OR DELETE OR UPDATE OF num_series, num_instances, size_bytes ON studies
  FOR EACH ROW EXECUTE FUNCTION studies_totals();
`;

const V5 = c(`
CREATE TABLE worklist_entries (
  pk ${ID},
  source TEXT NOT NULL,
  source_key TEXT,
  status TEXT NOT NULL,
  accession_number TEXT,
  patient_id TEXT,
  sps_id TEXT,
  study_instance_uid TEXT,
  dataset TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (source, source_key)
);
CREATE INDEX worklist_status ON worklist_entries (status);
CREATE INDEX worklist_sps ON worklist_entries (sps_id);

CREATE TABLE mpps_instances (
  sop_instance_uid TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  calling_ae TEXT NOT NULL,
  dataset TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX mpps_status ON mpps_instances (status, updated_at);
`);

const V6 = c(`
CREATE TABLE stability (
  level TEXT NOT NULL,
  uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  last_received_at BIGINT NOT NULL,
  last_change_seq BIGINT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  calling_ae TEXT,
  called_ae TEXT,
  remote_address TEXT,
  pending INTEGER NOT NULL,
  stable_at BIGINT,
  PRIMARY KEY (level, uid)
);
CREATE INDEX stability_due ON stability (pending, last_received_at);

CREATE TABLE stability_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq BIGINT NOT NULL
);
`);

const V7 = c(`
CREATE TABLE deid_secret (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret TEXT NOT NULL
);

CREATE TABLE deid_patients (
  patient_key TEXT PRIMARY KEY,
  pseudonym TEXT NOT NULL UNIQUE,
  shift_days INTEGER NOT NULL,
  created_at BIGINT NOT NULL
);
`);

const V8 = `
ALTER TABLE studies ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;
CREATE INDEX studies_retention ON studies (protected, last_received_at);
`;

const V9 = c(`
CREATE TABLE instance_metadata (
  sop_instance_uid TEXT PRIMARY KEY,
  text TEXT NOT NULL
);
`);

const V10 = c(`
CREATE TABLE cursors (
  name TEXT PRIMARY KEY,
  seq BIGINT NOT NULL
);
INSERT INTO cursors (name, seq) SELECT 'instance.received', coalesce(max(seq), 0) FROM changes;
`);

// The patient's attributes copied onto each of its studies (see the SQLite version 11). A BEFORE
// trigger sets them on the row being written (no second write of the row, as SQLite needs); the
// patients' trigger fires only when one of them really changed (an upsert rewrites the same).
// A store that renames a patient locks that patient's other studies too: two stores renaming
// the same patient through two of its studies at once can deadlock, which db.ts retries.
const V11 = c(`
ALTER TABLE studies ADD COLUMN patient_id TEXT, ADD COLUMN issuer_of_patient_id TEXT, ADD COLUMN patient_name TEXT,
  ADD COLUMN patient_name_fold TEXT, ADD COLUMN patient_birth_date TEXT, ADD COLUMN patient_sex TEXT;
UPDATE studies st SET (patient_id, issuer_of_patient_id, patient_name, patient_name_fold, patient_birth_date, patient_sex) =
  (p.patient_id, p.issuer_of_patient_id, p.patient_name, p.patient_name_fold, p.patient_birth_date, p.patient_sex)
  FROM patients p WHERE p.pk = st.patient_fk;
CREATE INDEX studies_patient_name_fold ON studies (patient_name_fold, study_date, study_time);
CREATE INDEX studies_patient_id ON studies (patient_id, issuer_of_patient_id);

CREATE FUNCTION studies_patient_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT patient_id, issuer_of_patient_id, patient_name, patient_name_fold, patient_birth_date, patient_sex
    INTO NEW.patient_id, NEW.issuer_of_patient_id, NEW.patient_name, NEW.patient_name_fold, NEW.patient_birth_date, NEW.patient_sex
    FROM patients WHERE pk = NEW.patient_fk;
  RETURN NEW;
END $$;
CREATE TRIGGER studies_patient_copy BEFORE INSERT OR UPDATE OF patient_fk ON studies
  FOR EACH ROW EXECUTE FUNCTION studies_patient_copy();

CREATE FUNCTION patients_copy_to_studies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE studies SET (patient_id, issuer_of_patient_id, patient_name, patient_name_fold, patient_birth_date, patient_sex) =
    (NEW.patient_id, NEW.issuer_of_patient_id, NEW.patient_name, NEW.patient_name_fold, NEW.patient_birth_date, NEW.patient_sex)
    WHERE patient_fk = NEW.pk;
  RETURN NULL;
END $$;
CREATE TRIGGER patients_copy_to_studies AFTER UPDATE ON patients
  FOR EACH ROW WHEN ((OLD.patient_id, OLD.issuer_of_patient_id, OLD.patient_name, OLD.patient_name_fold, OLD.patient_birth_date, OLD.patient_sex)
    IS DISTINCT FROM (NEW.patient_id, NEW.issuer_of_patient_id, NEW.patient_name, NEW.patient_name_fold, NEW.patient_birth_date, NEW.patient_sex))
  EXECUTE FUNCTION patients_copy_to_studies();
`);

// Version 12: person names in their short form (PS3.5 6.2: trailing empty components and groups
// may be left out, 'Doe^John^^^' is 'Doe^John'), as the writers now keep them and queries are
// matched (src/dicom/person-name.ts): rows written before are rewritten, their folded twins
// too (folding leaves '^' and '=' alone). The studies' copies of the patient's name follow by
// the version 11 triggers.
const NEEDS_PN = (column: string): string => `${column} LIKE '%^' OR ${column} LIKE '%=' OR ${column} LIKE '%^=%'`;
const V12 = `
UPDATE patients SET patient_name = ${normalizePersonNameSql('patient_name')}, patient_name_fold = ${normalizePersonNameSql('patient_name_fold')}
  WHERE ${NEEDS_PN('patient_name')};
UPDATE studies SET referring_physician_name = ${normalizePersonNameSql('referring_physician_name')},
  referring_physician_name_fold = ${normalizePersonNameSql('referring_physician_name_fold')}
  WHERE ${NEEDS_PN('referring_physician_name')};
`;

// Version 13: person names folded one character for one (ß → ẞ, not SS; src/index/fold.ts), so
// that '?' matches on the folded text as on the name. Only names with other than ASCII can have
// changed; PostgreSQL cannot run foldName, so the rows are read and written back a batch at a
// time. The studies' copies of the patient's folded name follow by the version 11 triggers.
const REFOLD_BATCH = 5_000;
async function refold(client: PoolClient, table: string, name: string, fold: string): Promise<void> {
  for (let after = 0; ; ) {
    const { rows } = await client.query<{ pk: number; name: string; fold: string | null }>(
      `SELECT pk, ${name} AS name, ${fold} AS fold FROM ${table}
        WHERE pk > $1 AND ${name} IS NOT NULL AND octet_length(${name}) <> char_length(${name}) ORDER BY pk LIMIT ${REFOLD_BATCH}`,
      [after],
    );
    if (!rows.length) return;
    const changed = rows.filter((r) => foldName(r.name) !== r.fold);
    if (changed.length)
      await client.query(`UPDATE ${table} t SET ${fold} = v.fold FROM unnest($1::bigint[], $2::text[]) AS v(pk, fold) WHERE t.pk = v.pk`, [
        changed.map((r) => r.pk),
        changed.map((r) => foldName(r.name)),
      ]);
    after = Number(rows[rows.length - 1]!.pk);
  }
}

// Version 14: dates and times in the standard form (../legacy-dates.ts).
const V14 = legacyDateTimeSql(
  (c) => `${c} ~ '^[0-9]{4}\\.[0-9]{2}\\.[0-9]{2}$'`,
  (c) => `${c} ~ '^[0-9]{2}:[0-9]{2}'`,
);

// Version 15: demographics set from outside DICOM kept (see ../sqlite/migrations.ts).
const V15 = 'ALTER TABLE patients ADD COLUMN demographics_updated_at BIGINT;';

// Version 16: merged-patient links (see ../sqlite/migrations.ts).
const V16 = `
CREATE TABLE patient_links (
  prior_patient_id TEXT NOT NULL,
  prior_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  surviving_patient_id TEXT NOT NULL,
  surviving_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  resolved_patient_id TEXT NOT NULL,
  resolved_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  merged_at BIGINT NOT NULL,
  message_control_id TEXT NOT NULL,
  PRIMARY KEY (prior_patient_id, prior_issuer_of_patient_id)
);
CREATE INDEX patient_links_resolved ON patient_links (resolved_patient_id, resolved_issuer_of_patient_id);
`;

// Version 17: MPPS follow-ups kept in the index (see ../sqlite/migrations.ts).
const V17 = `
ALTER TABLE mpps_instances ADD COLUMN follow_up_at BIGINT;
ALTER TABLE mpps_instances ADD COLUMN follow_up_tries INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mpps_follow_up ON mpps_instances (follow_up_at) WHERE follow_up_at IS NOT NULL;
CREATE INDEX worklist_study ON worklist_entries (study_instance_uid);
CREATE INDEX worklist_accession ON worklist_entries (accession_number);
`;

export const PG_MIGRATIONS: readonly PgMigration[] = [
  { version: 1, name: 'initial schema', sql: V1 },
  { version: 2, name: 'Conquest dicom.sql attributes', sql: V2 },
  { version: 3, name: 'jobs and known nodes', sql: V3 },
  { version: 4, name: 'archive totals kept by triggers', sql: V4 },
  { version: 5, name: 'worklist and MPPS', sql: V5 },
  { version: 6, name: 'research workflow: stable series and studies', sql: V6 },
  { version: 7, name: 'de-identification: secret and patient pseudonyms', sql: V7 },
  { version: 8, name: 'retention: protected studies', sql: V8 },
  { version: 9, name: 'prepared WADO-RS metadata', sql: V9 },
  { version: 10, name: 'change-log cursors', sql: V10 },
  { version: 11, name: 'patient attributes copied onto studies', sql: V11 },
  { version: 12, name: 'person names in their short form', sql: V12 },
  {
    version: 13,
    name: 'person names folded one character for one',
    sql: '',
    run: async (client) => {
      await refold(client, 'patients', 'patient_name', 'patient_name_fold');
      await refold(client, 'studies', 'referring_physician_name', 'referring_physician_name_fold');
    },
  },
  { version: 14, name: 'dates and times in the standard form', sql: V14 },
  { version: 15, name: 'demographics set from outside DICOM kept', sql: V15 },
  { version: 16, name: 'merged-patient links', sql: V16 },
  { version: 17, name: 'MPPS follow-ups kept; worklist look-ups by study and accession', sql: V17 },
];

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

/** Any constant: the key of the advisory lock that makes servers starting together migrate once. */
const MIGRATION_LOCK = 0x70616373; // 'pacs'

/**
 * Applies the migrations not yet applied, each in its own transaction under an advisory lock
 * (two servers starting at once do not both run one). A schema newer than this program is
 * refused rather than written to. Returns the versions applied now.
 */
export async function applyPgMigrations(client: PoolClient, migrations: readonly PgMigration[] = PG_MIGRATIONS): Promise<number[]> {
  const known = new Set(migrations.map((m) => m.version));
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(BOOTSTRAP);
      const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
      const unknown = [...done].filter((v) => !known.has(v));
      if (unknown.length > 0) {
        throw new PacsError('INDEX_FAILURE', `the index schema has migration(s) ${unknown.join(', ')} unknown to this version of pacs-server; upgrade it`);
      }
      if (!done.has(m.version)) {
        if (m.sql) await client.query(m.sql);
        if (m.run) await m.run(client);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        applied.push(m.version);
      }
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    }
  }
  return applied;
}
