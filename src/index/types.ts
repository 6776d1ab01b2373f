// The archive index: what every backend (SQLite now, PostgreSQL later) must do. Operations are
// named for their intent and each is one transaction; callers never see SQL. Attribute fields
// carry DICOM keywords and hold decoded text (UTF-8) exactly as received, or null when absent.

import type { IndexQuery, QueryRow } from './query/types.js';
import type { JobStore } from './jobs.js';
import type { NodeStore } from './nodes.js';
import type { MppsStore, WorklistStore } from './workflow.js';
import type { StabilityStore } from './stability.js';
import type { DeidStore } from './deid.js';
import type { RetentionStore } from './retention.js';
import type { MetadataTextStore } from './metadata.js';
import type { CursorStore } from './cursors.js';

export type Text = string | null;

export interface PatientAttributes {
  PatientID: string; // '' when the instance has none: such instances still file under one patient
  IssuerOfPatientID: Text;
  PatientName: Text;
  PatientBirthDate: Text;
  PatientSex: Text;
}

/** A patient's identity in the index. */
export type PatientKey = Pick<PatientAttributes, 'PatientID' | 'IssuerOfPatientID'>;
/** Demographics an update may change; a key left out stays as it is, null clears it. */
export type PatientChanges = Partial<Pick<PatientAttributes, 'PatientName' | 'PatientBirthDate' | 'PatientSex'>>;

/** One PID/MRG pair of an HL7 ADT^A40, the two patients as the message names them. */
export interface PatientMerge {
  /** MRG-1 (issuer MRG-1.4): merged away; the identity its later images carry. */
  prior: PatientKey;
  /** PID-3 (issuer PID-3.4): the patient that remains. */
  surviving: PatientKey;
  /** MSH-10 of the message, kept with the link. */
  controlId: string;
}

/** What one merge did. */
export interface MergeOutcome {
  /** Studies moved from the prior patient. */
  studies: number;
  /** The patient they, and the prior patient's later images, are filed under (see PatientLink.resolved). */
  into: PatientKey;
  /** False when this very merge was recorded before (the message resent): nothing new recorded. */
  linked: boolean;
}

/** A merged-patient link (HL7 ADT^A40, migration 16). */
export interface PatientLink {
  prior: PatientKey;
  surviving: PatientKey;
  /**
   * The patient the index files the prior one's images under: `surviving` as the index holds
   * it (without issuer when indexed so), or, when that was merged on, the end of the chain.
   */
  resolved: PatientKey;
  mergedAt: Date;
  /** MSH-10 of the message that made it. */
  controlId: string;
}

export interface StudyAttributes {
  StudyInstanceUID: string;
  StudyDate: Text;
  StudyTime: Text;
  AccessionNumber: Text;
  StudyID: Text;
  StudyDescription: Text;
  ReferringPhysicianName: Text;
  PatientAge: Text;
  PatientSize: Text;
  PatientWeight: Text;
}

export interface SeriesAttributes {
  SeriesInstanceUID: string;
  Modality: Text;
  SeriesNumber: Text;
  SeriesDate: Text;
  SeriesTime: Text;
  SeriesDescription: Text;
  BodyPartExamined: Text;
  ProtocolName: Text;
  StationName: Text;
  InstitutionName: Text;
  Manufacturer: Text;
  ManufacturerModelName: Text;
  FrameOfReferenceUID: Text;
  PerformedProcedureStepStartDate: Text;
  PerformedProcedureStepStartTime: Text;
  PatientPosition: Text;
  ContrastBolusAgent: Text;
}

export interface InstanceAttributes {
  SOPInstanceUID: string;
  SOPClassUID: string;
  InstanceNumber: Text;
  ContentDate: Text;
  ContentTime: Text;
  AcquisitionDate: Text;
  AcquisitionTime: Text;
  AcquisitionNumber: Text;
  NumberOfFrames: Text;
  Rows: number | null;
  Columns: number | null;
  BitsAllocated: number | null;
  PhotometricInterpretation: Text;
  ImageType: Text; // multi-valued, backslash-separated as in DICOM
  EchoNumbers: Text; // IS, multi-valued like ImageType
  ReceiveCoilName: Text;
  SliceLocation: Text; // DS, kept as the text received
  ImageID: Text;
  SamplesPerPixel: number | null;
  BitsStored: number | null;
}

/** Where and how the instance's file is kept. */
export interface FileRecord {
  path: string; // relative to storage.directory, '/' separated
  size: number;
  transferSyntaxUID: string;
  checksum: string; // hex digest of the whole Part 10 file
}

/** Who sent it, for the log, the research rules and the audit trail. */
export interface Provenance {
  callingAE: Text;
  calledAE: Text;
  remoteAddress: Text;
  source: 'dimse' | 'stow' | 'upload' | 'import' | 'reindex';
  /** The web user who sent it (STOW-RS, upload), for the audit trail; not kept in the index. */
  user?: string | null;
}

export interface InstanceRecord {
  specificCharacterSet: Text; // as received, e.g. 'ISO_IR 100' or '\\ISO 2022 IR 87'
  patient: PatientAttributes;
  study: StudyAttributes;
  series: SeriesAttributes;
  instance: InstanceAttributes;
  file: FileRecord;
  provenance: Provenance;
  receivedAt: Date;
}

/** What the index holds about one stored instance: enough to find its file and check it. */
export interface InstanceLocation {
  SOPInstanceUID: string;
  SOPClassUID: string;
  SeriesInstanceUID: string;
  StudyInstanceUID: string;
  PatientID: string;
  path: string;
  size: number;
  transferSyntaxUID: string;
  checksum: string;
  receivedAt: Date;
}

export interface IndexStatistics {
  patients: number;
  studies: number;
  series: number;
  instances: number;
  bytes: number;
}

export type StoreMode =
  | 'insert' // fail with DUPLICATE_INSTANCE if the SOP Instance UID is already indexed
  | 'replace'; // replace the row (and re-parent it if the study/series changed)

export interface StoreOutcome {
  outcome: 'inserted' | 'replaced';
  /** The row that was replaced, so the caller can remove its file when the path changed. */
  previous: InstanceLocation | null;
  /** Sequence number of the change-log row written in the same transaction. */
  changeSeq: number;
}

export interface ChangeRecord {
  seq: number;
  kind: 'instance.stored' | 'instance.replaced' | 'instance.deleted';
  level: 'instance';
  uid: string;
  studyUID: string;
  at: Date;
}

/** One patient row as the index keeps it: latest attributes received, and kept counts. */
export interface PatientSummary extends PatientAttributes {
  NumberOfPatientRelatedStudies: number;
  NumberOfPatientRelatedSeries: number;
  NumberOfPatientRelatedInstances: number;
}

/** One study row: latest attributes, its patient's key, kept counts and computed attributes. */
/** What a deletion requires of the instance's study still (ArchiveIndex.deleteInstanceIf). */
export interface StudyGuard {
  studyInstanceUID: string;
  /** Its latest instance arrived then, and none since (nor was one received again since). */
  lastReceivedAt: Date;
  /** false: the study must not be protected. */
  includeProtected: boolean;
}

/** Whether a study row (its protected flag and last_received_at) still matches a guard. */
export const guardHolds = (guard: StudyGuard, study: { study_instance_uid: string; protected: number; last_received_at: number | string }): boolean =>
  study.study_instance_uid === guard.studyInstanceUID && Number(study.last_received_at) === guard.lastReceivedAt.getTime() && (guard.includeProtected || study.protected === 0);

/** A delete without a guard is never refused: its result without the 'changed' case. */
export const unguarded = (r: InstanceLocation | 'changed' | null): InstanceLocation | null => (r === 'changed' ? null : r);

export interface StudySummary extends StudyAttributes {
  PatientID: string;
  IssuerOfPatientID: Text;
  ModalitiesInStudy: string; // sorted distinct Modality of its series, backslash-separated
  SOPClassesInStudy: string; // sorted distinct SOP Class UIDs of its instances, likewise
  NumberOfStudyRelatedSeries: number;
  NumberOfStudyRelatedInstances: number;
  sizeBytes: number;
  /** When its latest instance was received (the stable-study detector waits on this). */
  lastReceivedAt: Date;
}

/** One series row: latest attributes, its study's UID, kept counts. */
export interface SeriesSummary extends SeriesAttributes {
  StudyInstanceUID: string;
  NumberOfSeriesRelatedInstances: number;
  sizeBytes: number;
  lastReceivedAt: Date;
}

export interface ArchiveIndex {
  /**
   * Entities of `query.level` matching every key (src/index/query/types.ts), each with every
   * attribute the index holds for its level and the levels above, plus the computed ones;
   * ordered by level keys (patient, study date/time, series number, instance number).
   * Throws QueryError for a query the standard does not allow.
   */
  query(query: IndexQuery): Promise<QueryRow[]>;
  /** Applies the numbered migrations not yet applied. Idempotent. */
  migrate(): Promise<void>;
  /** Records a stored instance: patient, study, series upserted, counts kept, change logged. */
  storeInstance(record: InstanceRecord, mode: StoreMode): Promise<StoreOutcome>;
  findInstance(sopInstanceUID: string): Promise<InstanceLocation | null>;
  /** Who sent an instance (calling and called AE title, address: null for a source without them); null when it is not indexed. */
  senderOf(sopInstanceUID: string): Promise<{ callingAE: string | null; calledAE: string | null; remoteAddress: string | null } | null>;
  /**
   * Runs fn holding a lock on one SOP Instance UID across every server sharing this index, so
   * the store's duplicate decision and file placement happen one server at a time. Absent on
   * SQLite, where the server's per-instance mutex orders its own stores; a tool writing beside
   * it (`pacs import`) is kept apart by the store's placement (a file without a row less than a
   * minute old is never taken over) and by the index's unique SOP Instance UID.
   */
  withInstanceLock?<T>(sopInstanceUID: string, fn: () => Promise<T>): Promise<T>;
  /**
   * The instances of a study, of one series of it, or one instance (the resources of a
   * WADO-RS URL), in the order of an instance-level query (series number, instance number):
   * one statement, with none of the attributes a query would also return.
   */
  instancesOf(studyInstanceUID: string, seriesInstanceUID?: string, sopInstanceUID?: string): Promise<InstanceLocation[]>;
  /** The instances of those UIDs that are indexed, in the order of the UIDs, in one read (a retrieve's 300 lookups as one statement). */
  findInstances(sopInstanceUIDs: readonly string[]): Promise<InstanceLocation[]>;
  /** The instance whose file is at this path, if any (naming templates resolve collisions with it). */
  findInstanceByPath(path: string): Promise<InstanceLocation | null>;
  /** The patient with this identity (a null issuer is the same as ''), if any. */
  findPatient(patientID: string, issuerOfPatientID: Text): Promise<PatientSummary | null>;
  /** Changes a patient's demographics (HL7 ADT^A08); false when the patient is not indexed. */
  updatePatient(patient: PatientKey, changes: PatientChanges): Promise<boolean>;
  /**
   * Applies the PID/MRG pairs of an HL7 ADT^A40 in order, in one transaction: all or none.
   * Each records a link prior → surviving, which later images of the prior identity follow
   * (patientLink), and moves every study of the prior patient to the surviving one, removing
   * the prior (when the survivor is not indexed, the prior takes its identity). Each patient is
   * taken as the index holds it: one indexed without issuer is the same as one named with an
   * issuer. A survivor merged on already is followed to the end of its chain. Throws PacsError
   * CONFLICT, changing nothing, when a merge would make a cycle (the survivor was merged, through
   * any chain, into the prior patient, or is the same patient) or the prior identity was
   * already merged into another patient; the same merge again is no error.
   */
  mergePatients(merges: readonly PatientMerge[]): Promise<MergeOutcome[]>;
  /**
   * The link images of this identity follow, if any: the one of the same Patient ID and issuer,
   * or, for an identity without issuer, one of the same ID with any issuer (the hospital names
   * one, images often none).
   */
  patientLink(identity: PatientKey): Promise<PatientLink | null>;
  findStudy(studyInstanceUID: string): Promise<StudySummary | null>;
  findSeries(seriesInstanceUID: string): Promise<SeriesSummary | null>;
  /** Removes one instance row, fixes counts, removes emptied series/study/patient rows. */
  deleteInstance(sopInstanceUID: string): Promise<InstanceLocation | null>;
  /**
   * deleteInstance, but in the same transaction only while the instance's study is still as
   * `guard` says (as a retention pass chose it): 'changed' otherwise, and nothing deleted; null
   * when there is no such instance.
   */
  deleteInstanceIf(sopInstanceUID: string, guard: StudyGuard): Promise<InstanceLocation | 'changed' | null>;
  /** Every indexed file, in pages, for verification and reindexing. */
  listInstances(afterSOPInstanceUID: string | null, limit: number): Promise<InstanceLocation[]>;
  statistics(): Promise<IndexStatistics>;
  changesSince(seq: number, limit: number): Promise<ChangeRecord[]>;
  /** The durable job queue, in the same database (so jobs survive restarts and are shared). */
  readonly jobs: JobStore;
  /** Known nodes added at run time. */
  readonly nodes: NodeStore;
  /** Modality worklist entries (Scheduled Procedure Steps). */
  readonly worklist: WorklistStore;
  /** Modality Performed Procedure Steps received. */
  readonly mpps: MppsStore;
  /** Which series and studies are waiting to become stable (the research workflow). */
  readonly stability: StabilityStore;
  /** De-identification's secret and patient pseudonyms (kept so output is the same across runs). */
  readonly deid: DeidStore;
  /** Protected studies and the oldest ones, for retention rules. */
  readonly retention: RetentionStore;
  /** Prepared WADO-RS metadata texts. */
  readonly metadata: MetadataTextStore;
  /** Named positions in the change log, for services that act on every change (instance.received rules). */
  readonly cursors: CursorStore;
  /**
   * Removes every instance, series, study, patient and change row (reindex starts from nothing);
   * jobs, nodes and merged-patient links stay (the files still carry the prior patients' IDs:
   * the rebuilt patients follow the links as the merges filed them).
   */
  clear(): Promise<void>;
  /**
   * Says this process serves the archive (a server, from its start to its stop) until the
   * returned release: maintenance tools refuse to run meanwhile. Refused (PacsError CONFLICT)
   * while a maintenance tool runs — and on SQLite while another server uses the file.
   * `onLost`: the presence was lost (PostgreSQL: its connection; it is being taken again).
   */
  serve(onLost?: (e: Error) => void): Promise<() => Promise<void>>;
  /**
   * Says this process writes instances beside any servers (pacs import) until the returned
   * release: maintenance tools refuse to run meanwhile, and it is refused (PacsError CONFLICT)
   * while one runs. Servers and other writers may share the index with it.
   */
  writeBeside(onLost?: (e: Error) => void): Promise<() => Promise<void>>;
  /**
   * Runs a maintenance tool's `fn` (pacs reindex, verify --repair) with no server on the index:
   * refused (PacsError CONFLICT) while one serves; servers refuse to start meanwhile.
   * `onLost` (PostgreSQL): the lock's connection was lost and the lock could not be taken again —
   * servers may be starting: the tool must stop.
   */
  maintain<T>(fn: () => Promise<T>, onLost?: (e: Error) => void): Promise<T>;
  close(): Promise<void>;
}
