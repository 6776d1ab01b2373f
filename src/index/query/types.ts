// A query against the index, as C-FIND and QIDO-RS both express it (PS3.4 C.2.2, PS3.18
// 8.3.4): a level, matching keys by DICOM keyword, the keys to return. Backends turn it into
// SQL; matching semantics are defined here once so both backends and both doors agree.

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

/** Patient Root answers may not go above PATIENT; Study Root has no PATIENT level. */
export type InformationModel = 'PATIENT_ROOT' | 'STUDY_ROOT';

export interface QueryKey {
  /** DICOM keyword, e.g. 'PatientName', or a computed attribute like 'ModalitiesInStudy'. */
  keyword: string;
  /**
   * The matching value as received, decoded to text: '' = universal matching (return only),
   * '*' / '?' wildcards, 'a-b' ranges (DA, TM, DT), 'a\\b' lists (UID list matching),
   * anything else single-value matching.
   */
  value: string;
}

export interface IndexQuery {
  level: QueryLevel;
  model: InformationModel;
  /** Matching and return keys. Keys of levels above `level` match too; below, ignored. */
  keys: QueryKey[];
  /**
   * Hierarchical (default): every level above `level` must have a unique key, single value
   * (Patient Root: PatientID; STUDY+: StudyInstanceUID; …) and keys of those levels other
   * than the unique key are not matched (PS3.4 C.4.1.3.1). Relational: any key at any level
   * above may match.
   */
  relational: boolean;
  /** Person names: case-insensitive and accent-insensitive (folded columns); default true. */
  fuzzyNames?: boolean;
  /**
   * A date key and its time key (StudyDate + StudyTime, …) that both hold a range of the same
   * form match as one range of instants (PS3.4 C.2.2.2.5.1; C-FIND: extended negotiation,
   * byte 2); default true. False: each matches on its own.
   */
  combinedDateTime?: boolean;
  limit?: number;
  offset?: number;
  /**
   * What the caller reads from each row besides the keys and the unique keys of the levels
   * (PatientID, StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID). Unset: every attribute
   * of the level and those above. A C-FIND or QIDO-RS answer reads a few of the twenty-odd
   * columns: the rest need not be fetched and converted, thousands of rows at a time.
   */
  returnKeys?: readonly string[];
  /** Newest first: the order of the query level's own keys reversed (a study list shows the latest studies first). */
  newestFirst?: boolean;
  /**
   * Rows in the order of the level's own primary key instead of by date and number: for an
   * answer whose order nobody reads (C-FIND), paged, each page is a range of the key's index
   * (PostgreSQL cannot walk its date indexes with NULLs first: each page was a sort of every match).
   * With newestFirst, the key descending.
   */
  keyOrder?: boolean;
  /**
   * Each row also carries its place in the answer's order, as `__k0`, `__k1`… (POSITION_KEY):
   * what `after` takes to read the next page.
   */
  positions?: boolean;
  /**
   * Keyset paging: only the rows after this place in the order (the `__k…` values of the last
   * row of the previous page). Unlike an OFFSET, each page costs the same however far it is.
   */
  after?: readonly (string | number | null)[];
}

/** The name of the i-th value of a row's place in the order (IndexQuery.positions). */
export const POSITION_KEY = (i: number): string => `__k${i}`;

/** One matching entity: attribute values by keyword (text), including computed attributes. */
export type QueryRow = Record<string, string | number | null>;

/** Attributes the index computes per level (PS3.4 C.3.4 "Additional Query/Retrieve Attributes"). */
export const COMPUTED_ATTRIBUTES = {
  PATIENT: ['NumberOfPatientRelatedStudies', 'NumberOfPatientRelatedSeries', 'NumberOfPatientRelatedInstances'],
  STUDY: ['NumberOfStudyRelatedSeries', 'NumberOfStudyRelatedInstances', 'ModalitiesInStudy', 'SOPClassesInStudy'],
  SERIES: ['NumberOfSeriesRelatedInstances'],
  IMAGE: [],
} as const;

export type QueryErrorCode =
  | 'UNKNOWN_LEVEL'
  | 'MISSING_UNIQUE_KEY' // hierarchical query without the unique key of a level above
  | 'BAD_VALUE'; // e.g. a malformed date range

export class QueryError extends Error {
  constructor(
    readonly code: QueryErrorCode,
    message: string,
    /** The DICOM keyword at fault, reported as Offending Element. */
    readonly keyword?: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}
