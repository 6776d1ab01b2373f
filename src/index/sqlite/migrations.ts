// Numbered schema migrations for the SQLite index. A migration, once released, is never edited:
// change the schema by appending one. schema_migrations records which versions are applied, so
// opening an archive made by an older release brings it forward and reopening is a no-op.
// The PostgreSQL backend keeps the same table and column names (see ../columns.ts) in its dialect.

import type Database from 'better-sqlite3';
import { PacsError } from '../../core/errors.js';
import { normalizePersonName } from '../../dicom/person-name.js';
import { foldName } from '../fold.js';
import { legacyDateTimeSql } from '../legacy-dates.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Design notes for version 1:
// - STRICT tables: a wrong JS type bound to a column is an error, not a silently stored string.
// - Patient identity is (patient_id, issuer_of_patient_id) with '' for a missing issuer, because
//   NULLs are all distinct to UNIQUE and would let the same patient be filed twice.
// - The UNIQUE (patient_id, issuer_of_patient_id) index also serves lookups by patient_id alone.
// - *_fold columns hold foldName() of the person names (../fold.ts) for case- and
//   accent-insensitive matching; upper-case text under BINARY collation lets the query layer use
//   GLOB 'SMITH*' or a range, which SQLite answers from the index (LIKE would not be).
// - Counts, sizes, modalities_in_study and sop_classes_in_study are kept by the writer in the
//   store transaction, so C-FIND never counts rows at query time.
// - series (modality, study_fk) answers ModalitiesInStudy matching (EXISTS on series) and
//   series-level Modality matching; instances (series_fk, sop_class_uid) serves listing a series
//   and the "is this SOP class still in the study" check after a delete.
// - Foreign keys on the child columns are all indexed, so deleting a parent never scans.
// - Times (received_at, last_received_at, created_at, updated_at, at) are ms since the epoch.
// - changes uses AUTOINCREMENT so sequence numbers are never reused, even after clear().
const V1 = `
CREATE TABLE patients (
  pk INTEGER PRIMARY KEY,
  patient_id TEXT NOT NULL,
  issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  patient_name TEXT,
  patient_name_fold TEXT,
  patient_birth_date TEXT,
  patient_sex TEXT,
  num_studies INTEGER NOT NULL DEFAULT 0,
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (patient_id, issuer_of_patient_id)
) STRICT;
CREATE INDEX patients_name_fold ON patients (patient_name_fold);

CREATE TABLE studies (
  pk INTEGER PRIMARY KEY,
  patient_fk INTEGER NOT NULL REFERENCES patients (pk),
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
  num_instances INTEGER NOT NULL DEFAULT 0,
  size_bytes INTEGER NOT NULL DEFAULT 0,
  last_received_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX studies_patient ON studies (patient_fk);
CREATE INDEX studies_date ON studies (study_date);
CREATE INDEX studies_accession ON studies (accession_number);
CREATE INDEX studies_referring_fold ON studies (referring_physician_name_fold);

CREATE TABLE series (
  pk INTEGER PRIMARY KEY,
  study_fk INTEGER NOT NULL REFERENCES studies (pk),
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
  num_instances INTEGER NOT NULL DEFAULT 0,
  size_bytes INTEGER NOT NULL DEFAULT 0,
  last_received_at INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX series_study ON series (study_fk);
CREATE INDEX series_modality ON series (modality, study_fk);

CREATE TABLE instances (
  pk INTEGER PRIMARY KEY,
  series_fk INTEGER NOT NULL REFERENCES series (pk),
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
  size INTEGER NOT NULL,
  transfer_syntax_uid TEXT NOT NULL,
  checksum TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  calling_ae TEXT,
  called_ae TEXT,
  remote_address TEXT,
  source TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX instances_series ON instances (series_fk, sop_class_uid);

CREATE TABLE changes (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  level TEXT NOT NULL,
  uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  at INTEGER NOT NULL
) STRICT;
`;

// Version 2: the rest of what Conquest's default dicom.sql indexes (issue 2), so an archive
// moved from Conquest can be queried on the same attributes. Added as nullable columns: rows
// indexed before stay valid (NULL, as for an instance without the attribute) and are filled by
// a reindex. No SQL indexes on them: they are returned and matched rarely, not searched by.
const V2 = `
ALTER TABLE series ADD COLUMN patient_position TEXT;
ALTER TABLE series ADD COLUMN contrast_bolus_agent TEXT;
ALTER TABLE instances ADD COLUMN echo_numbers TEXT;
ALTER TABLE instances ADD COLUMN receive_coil_name TEXT;
ALTER TABLE instances ADD COLUMN slice_location TEXT;
ALTER TABLE instances ADD COLUMN image_id TEXT;
ALTER TABLE instances ADD COLUMN samples_per_pixel INTEGER;
ALTER TABLE instances ADD COLUMN bits_stored INTEGER;
`;

// Version 3: the durable job queue and the known nodes added at run time (issue 4).
// - jobs_ready serves claim(): the oldest due queued job, or a running one whose lease ran out.
// - dedupe_key is UNIQUE (NULLs are distinct), so one key is one job across servers.
// - payload and progress are JSON text: their shape belongs to each job type.
const V3 = `
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  payload TEXT NOT NULL,
  progress TEXT NOT NULL DEFAULT '{}',
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  dedupe_key TEXT UNIQUE,
  run_after INTEGER NOT NULL,
  lease_owner TEXT,
  lease_until INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
) STRICT;
CREATE INDEX jobs_ready ON jobs (state, run_after);
CREATE INDEX jobs_lease ON jobs (state, lease_until);

CREATE TABLE known_nodes (
  ae_title TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  tls INTEGER NOT NULL DEFAULT 0,
  permissions TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;

// Version 4: the archive's totals kept by triggers, so statistics() (the study list's total,
// the status page polled every few seconds) is one row read instead of a sum over every study
// (26 ms at 100,000 studies). Triggers rather than the writer: the bulk loader and any future
// writer keep them right too. SQLite skips its truncate optimisation on tables with triggers,
// so clear() counts down correctly.
const V4 = `
CREATE TABLE archive_totals (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  patients INTEGER NOT NULL,
  studies INTEGER NOT NULL,
  series INTEGER NOT NULL,
  instances INTEGER NOT NULL,
  bytes INTEGER NOT NULL
) STRICT;
INSERT INTO archive_totals SELECT 1, (SELECT count(*) FROM patients), count(*), coalesce(sum(num_series), 0),
  coalesce(sum(num_instances), 0), coalesce(sum(size_bytes), 0) FROM studies;
CREATE TRIGGER patients_totals_insert AFTER INSERT ON patients BEGIN
  UPDATE archive_totals SET patients = patients + 1;
END;
CREATE TRIGGER patients_totals_delete AFTER DELETE ON patients BEGIN
  UPDATE archive_totals SET patients = patients - 1;
END;
CREATE TRIGGER studies_totals_insert AFTER INSERT ON studies BEGIN
  UPDATE archive_totals SET studies = studies + 1, series = series + NEW.num_series,
    instances = instances + NEW.num_instances, bytes = bytes + NEW.size_bytes;
END;
CREATE TRIGGER studies_totals_delete AFTER DELETE ON studies BEGIN
  UPDATE archive_totals SET studies = studies - 1, series = series - OLD.num_series,
    instances = instances - OLD.num_instances, bytes = bytes - OLD.size_bytes;
END;
CREATE TRIGGER studies_totals_update AFTER UPDATE OF num_series, num_instances, size_bytes ON studies BEGIN
  UPDATE archive_totals SET series = series + NEW.num_series - OLD.num_series,
    instances = instances + NEW.num_instances - OLD.num_instances, bytes = bytes + NEW.size_bytes - OLD.size_bytes;
END;
`;

// Version 5, the workflow services (issue 5):
// - worklist_entries holds one Scheduled Procedure Step per row as DICOM JSON (dataset), the
//   truth; status, accession_number, patient_id, sps_id and study_instance_uid are derived
//   from it on every write, for listing and for MPPS to find the step it performs. Matching
//   runs on the datasets (services/dataset-match.ts): a worklist is hundreds of rows.
// - (source, source_key) names the file or HL7 order an entry came from, so a changed file or
//   order replaces its entry; API entries have no key (NULLs are distinct to UNIQUE).
// - mpps_instances: one row per Modality Performed Procedure Step SOP Instance; status is
//   derived from the dataset and lets an N-SET update only a step still IN PROGRESS.
const V5 = `
CREATE TABLE worklist_entries (
  pk INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  source_key TEXT,
  status TEXT NOT NULL,
  accession_number TEXT,
  patient_id TEXT,
  sps_id TEXT,
  study_instance_uid TEXT,
  dataset TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (source, source_key)
) STRICT;
CREATE INDEX worklist_status ON worklist_entries (status);
CREATE INDEX worklist_sps ON worklist_entries (sps_id);

CREATE TABLE mpps_instances (
  sop_instance_uid TEXT PRIMARY KEY,
  status TEXT NOT NULL,
  calling_ae TEXT NOT NULL,
  dataset TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX mpps_status ON mpps_instances (status, updated_at);
`;


// Version 6: the research workflow (issue 6). stability holds, per series and per study, when
// its latest instance arrived and whether a "stable" event is still owed; it is filled from the
// change log (stability_cursor says how far), so an instance committed just before a crash is
// not missed and a study that was arriving when the server stopped becomes stable after restart.
const V6 = `
CREATE TABLE stability (
  level TEXT NOT NULL,
  uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  last_received_at INTEGER NOT NULL,
  last_change_seq INTEGER NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  calling_ae TEXT,
  called_ae TEXT,
  remote_address TEXT,
  pending INTEGER NOT NULL,
  stable_at INTEGER,
  PRIMARY KEY (level, uid)
) STRICT;
CREATE INDEX stability_due ON stability (pending, last_received_at);

CREATE TABLE stability_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL
) STRICT;
`;

// Version 7: de-identification (src/index/deid.ts). The secret is one row; pseudonyms are
// unique so two patients never share one. Plain types, no SQLite-only syntax besides STRICT.
const V7 = `
CREATE TABLE deid_secret (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret TEXT NOT NULL
) STRICT;

CREATE TABLE deid_patients (
  patient_key TEXT PRIMARY KEY,
  pseudonym TEXT NOT NULL UNIQUE,
  shift_days INTEGER NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
`;

// Version 8: retention. A study marked protected is never deleted by retention rules; the
// index serves "unprotected studies, least recently received first".
const V8 = `
ALTER TABLE studies ADD COLUMN protected INTEGER NOT NULL DEFAULT 0;
CREATE INDEX studies_retention ON studies (protected, last_received_at);
`;

// Version 9: the WADO-RS metadata of each instance (index/metadata.ts), keyed by SOP Instance
// UID like the files' cache it replaces. No foreign key to instances: the text says which file
// it was made from (its checksum), a re-stored instance simply gets a new one, and a delete
// removes it through MetadataService.forget.
const V9 = `
CREATE TABLE instance_metadata (
  sop_instance_uid TEXT PRIMARY KEY,
  text TEXT NOT NULL
) STRICT;
`;

// Version 10: named cursors in the change log (../cursors.ts), one row per follower, for the
// rules "on: instance.received" first. Their cursor is made here, at the end of the log as it is
// now (an archive upgraded with history does not replay it), so that it exists before the first
// instance is received: the follower starts after the DICOM listener, and a cursor made by its
// first look would start past the instances received until then.
const V10 = `
CREATE TABLE cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
) STRICT;
INSERT INTO cursors (name, seq) SELECT 'instance.received', coalesce(max(seq), 0) FROM changes;
`;

// Version 11: the patient's attributes copied onto each of its studies (PatientID, issuer,
// name and its folded form, birth date, sex), so study-level queries and those below them — the
// study list's name search, C-FIND and QIDO-RS — read one table instead of joining patients:
// a PatientName key is one range of a studies index instead of the patients' name index and
// then a studies_patient probe per patient, and the answer's patient attributes come from the
// same row (the join was half of the time of a wildcard answering thousands of studies on
// PostgreSQL at 10^7; docs/benchmarks.md). Kept by triggers, as the totals (version 4) are, so
// every writer keeps them right without knowing of them: the store path, the bulk loader, HL7
// and API updates (a patient renamed or given another ID: its studies follow), merges (studies
// move to another patient: they take its attributes) and `pacs migrate-index` (rows copied as
// they are). The columns have the patients' names; every query qualifies its columns.
const STUDY_PATIENT_COPY = 'patient_id, issuer_of_patient_id, patient_name, patient_name_fold, patient_birth_date, patient_sex';
const FROM_PATIENT = (pk: string): string => `(SELECT ${STUDY_PATIENT_COPY} FROM patients WHERE pk = ${pk})`;
const V11 = `
ALTER TABLE studies ADD COLUMN patient_id TEXT;
ALTER TABLE studies ADD COLUMN issuer_of_patient_id TEXT;
ALTER TABLE studies ADD COLUMN patient_name TEXT;
ALTER TABLE studies ADD COLUMN patient_name_fold TEXT;
ALTER TABLE studies ADD COLUMN patient_birth_date TEXT;
ALTER TABLE studies ADD COLUMN patient_sex TEXT;
UPDATE studies SET (${STUDY_PATIENT_COPY}) = ${FROM_PATIENT('studies.patient_fk')};
CREATE INDEX studies_patient_name_fold ON studies (patient_name_fold, study_date, study_time);
CREATE INDEX studies_patient_id ON studies (patient_id, issuer_of_patient_id);
CREATE TRIGGER studies_patient_copy_insert AFTER INSERT ON studies BEGIN
  UPDATE studies SET (${STUDY_PATIENT_COPY}) = ${FROM_PATIENT('NEW.patient_fk')} WHERE pk = NEW.pk;
END;
CREATE TRIGGER studies_patient_copy_move AFTER UPDATE OF patient_fk ON studies BEGIN
  UPDATE studies SET (${STUDY_PATIENT_COPY}) = ${FROM_PATIENT('NEW.patient_fk')} WHERE pk = NEW.pk;
END;
CREATE TRIGGER patients_copy_to_studies AFTER UPDATE OF ${STUDY_PATIENT_COPY} ON patients
  WHEN NEW.patient_id IS NOT OLD.patient_id OR NEW.issuer_of_patient_id IS NOT OLD.issuer_of_patient_id
    OR NEW.patient_name IS NOT OLD.patient_name OR NEW.patient_name_fold IS NOT OLD.patient_name_fold
    OR NEW.patient_birth_date IS NOT OLD.patient_birth_date OR NEW.patient_sex IS NOT OLD.patient_sex BEGIN
  UPDATE studies SET (${STUDY_PATIENT_COPY}) = (NEW.patient_id, NEW.issuer_of_patient_id, NEW.patient_name, NEW.patient_name_fold,
    NEW.patient_birth_date, NEW.patient_sex) WHERE patient_fk = NEW.pk;
END;
`;

// Version 12: person names in their short form (PS3.5 6.2: trailing empty components and groups
// may be left out, 'Doe^John^^^' is 'Doe^John'), as the writers now keep them and queries are
// matched (src/dicom/person-name.ts): rows written before are rewritten, their folded twins
// too (folding leaves '^' and '=' alone). The studies' copies of the patient's name follow by
// the version 11 triggers.
// SQLite has no regexp_replace: the migration calls normalizePersonName itself, registered on
// the connection as pacs_normalize_pn (applyMigrations).
const NEEDS_PN = (column: string): string => `${column} LIKE '%^' OR ${column} LIKE '%=' OR ${column} LIKE '%^=%'`;
const V12 = `
UPDATE patients SET patient_name = pacs_normalize_pn(patient_name), patient_name_fold = pacs_normalize_pn(patient_name_fold)
  WHERE ${NEEDS_PN('patient_name')};
UPDATE studies SET referring_physician_name = pacs_normalize_pn(referring_physician_name),
  referring_physician_name_fold = pacs_normalize_pn(referring_physician_name_fold)
  WHERE ${NEEDS_PN('referring_physician_name')};
`;

// Version 13: person names folded one character for one (ß → ẞ, not SS; src/index/fold.ts), so
// that '?' matches on the folded text as on the name. Only names with other than ASCII can have
// changed; pacs_fold_pn is foldName, registered on the connection (applyMigrations). The
// studies' copies of the patient's folded name follow by the version 11 triggers.
const V13 = `
UPDATE patients SET patient_name_fold = pacs_fold_pn(patient_name)
  WHERE patient_name IS NOT NULL AND patient_name_fold IS NOT pacs_fold_pn(patient_name);
UPDATE studies SET referring_physician_name_fold = pacs_fold_pn(referring_physician_name)
  WHERE referring_physician_name IS NOT NULL AND referring_physician_name_fold IS NOT pacs_fold_pn(referring_physician_name);
`;

// Version 14: dates and times in the standard form (../legacy-dates.ts).
const V14 = legacyDateTimeSql(
  (c) => `${c} GLOB '[0-9][0-9][0-9][0-9].[0-9][0-9].[0-9][0-9]'`,
  (c) => `${c} GLOB '[0-9][0-9]:[0-9][0-9]*'`,
);

// Version 15: a patient's demographics set from outside DICOM (HL7 ADT^A08, the REST API) are
// no longer rewritten by the next image filed under the patient ("latest wins" is for patients
// only the images describe). NULL: the images own them; else when they were last set.
const V15 = `ALTER TABLE patients ADD COLUMN demographics_updated_at INTEGER;`;

// Version 16: merged-patient links (HL7 ADT^A40; ../patient-links.ts). A merge moves the prior
// patient's studies in the index only; images of the prior patient arriving later (a worklist
// fetched before the merge, a late series) would make it anew. One row per prior identity,
// written by every A40 whether or not the prior patient was indexed: `surviving_*` is PID-3
// as the message named it, `resolved_*` the patient the index files the prior one's images
// under now — the end of the chain of merges, kept so by each later merge, so the store reads
// one row (on the primary key) and never walks a chain. '' for no issuer, as in `patients`.
const V16 = `
CREATE TABLE patient_links (
  prior_patient_id TEXT NOT NULL,
  prior_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  surviving_patient_id TEXT NOT NULL,
  surviving_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  resolved_patient_id TEXT NOT NULL,
  resolved_issuer_of_patient_id TEXT NOT NULL DEFAULT '',
  merged_at INTEGER NOT NULL,
  message_control_id TEXT NOT NULL,
  PRIMARY KEY (prior_patient_id, prior_issuer_of_patient_id)
) STRICT;
CREATE INDEX patient_links_resolved ON patient_links (resolved_patient_id, resolved_issuer_of_patient_id);
`;

// Version 17: MPPS follow-ups kept in the index. A step's worklist update and the forward it
// queues were tried again only by timers of the process: a server stopped or crashed between
// accepting an N-CREATE/N-SET and doing them lost them for good (the entry stayed SCHEDULED, the
// peer never heard). follow_up_at is set with every change of the step and cleared when its
// follow-ups are done: any server of the index takes up a step whose time has come (its own at
// the start, another's that stopped), follow_up_tries spacing the tries. And the worklist look-up
// of a step by Study Instance UID or Accession Number (an MPPS naming no SPS ID) read every entry.
const V17 = `
ALTER TABLE mpps_instances ADD COLUMN follow_up_at INTEGER;
ALTER TABLE mpps_instances ADD COLUMN follow_up_tries INTEGER NOT NULL DEFAULT 0;
CREATE INDEX mpps_follow_up ON mpps_instances (follow_up_at) WHERE follow_up_at IS NOT NULL;
CREATE INDEX worklist_study ON worklist_entries (study_instance_uid);
CREATE INDEX worklist_accession ON worklist_entries (accession_number);
`;

export const MIGRATIONS: readonly Migration[] = [
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
  { version: 13, name: 'person names folded one character for one', sql: V13 },
  { version: 14, name: 'dates and times in the standard form', sql: V14 },
  { version: 15, name: 'demographics set from outside DICOM kept', sql: V15 },
  { version: 16, name: 'merged-patient links', sql: V16 },
  { version: 17, name: 'MPPS follow-ups kept; worklist look-ups by study and accession', sql: V17 },
];

const BOOTSTRAP = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`;

/** Versions already applied, ascending; empty for a new file (or one without the table). */
export function appliedVersions(db: Database.Database): number[] {
  const exists = db
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")
    .get();
  if (exists === undefined) return [];
  return db.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all() as number[];
}

/**
 * Applies the migrations not yet applied, each in its own immediate transaction (so two
 * processes opening the same new file do not both run one). Returns the versions applied now.
 * A file whose schema is newer than this program is refused rather than written to.
 */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number[] {
  const known = new Set(migrations.map((m) => m.version));
  const applied: number[] = [];
  db.function('pacs_normalize_pn', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? normalizePersonName(v) : v));
  db.function('pacs_fold_pn', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? foldName(v) : v));
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    const run = db.transaction(() => {
      db.exec(BOOTSTRAP);
      // Read again inside the lock: another process may have applied it meanwhile.
      const done = new Set(appliedVersions(db));
      const unknown = [...done].filter((v) => !known.has(v));
      if (unknown.length > 0) {
        throw new PacsError(
          'INDEX_FAILURE',
          `the index schema has migration(s) ${unknown.join(', ')} unknown to this version of pacs-server; upgrade it`,
        );
      }
      if (done.has(m.version)) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        Date.now(),
      );
      applied.push(m.version);
    });
    run.immediate();
  }
  return applied;
}
