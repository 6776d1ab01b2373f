// The SQL of the change-log cursors (./cursors.ts), the same on SQLite and PostgreSQL but for
// the placeholders each backend passes in.

/** The changes after a position, with their instance's provenance (LEFT JOIN: deleted ones too, to be passed). */
export const changesAfterSql = (after: string, limit: string): string => `
SELECT c.seq, c.kind, c.uid, c.study_uid, i.source, i.calling_ae, i.called_ae, i.remote_address
FROM (SELECT seq, kind, uid, study_uid FROM changes WHERE seq > ${after} ORDER BY seq LIMIT ${limit}) AS c
LEFT JOIN instances i ON i.sop_instance_uid = c.uid
ORDER BY c.seq`;

// Both upserts only ever move a cursor forward (the WHERE leaves a cursor that is as far or
// further untouched, and no row is rewritten when nothing moved): two servers racing is harmless.
// SQLite needs a WHERE on an INSERT … SELECT with ON CONFLICT (its parser's rule): WHERE true.

/** Moves the cursor to a given position, never back. */
export const advanceSql = (name: string, seq: string): string => `
INSERT INTO cursors (name, seq) VALUES (${name}, ${seq})
ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE cursors.seq < excluded.seq`;

/** Moves the cursor to the end of the log (0 for an empty one), never back. */
export const advanceToEndSql = (name: string): string => `
INSERT INTO cursors (name, seq) SELECT ${name}, coalesce(max(seq), 0) FROM changes WHERE true
ON CONFLICT (name) DO UPDATE SET seq = excluded.seq WHERE cursors.seq < excluded.seq`;

/** Records a new cursor at the end of the log; an existing one is left as it is. */
export const createAtEndSql = (name: string): string => `
INSERT INTO cursors (name, seq) SELECT ${name}, coalesce(max(seq), 0) FROM changes WHERE true
ON CONFLICT (name) DO NOTHING`;

export const positionSql = (name: string): string => `SELECT seq FROM cursors WHERE name = ${name}`;

/**
 * The instances of a study stored or replaced by the changes in (after, upTo]: a range of the
 * log's primary key, read once when a study or series that was acted on grows (no index on
 * study_uid: it would cost every store a second B-tree insert for a rare read), in windows of
 * CHANGE_WINDOW sequence numbers.
 */
export const CHANGE_WINDOW = 20_000;

export const changedInstancesSql = (study: string, after: string, upTo: string): string => `
SELECT DISTINCT uid FROM changes
WHERE study_uid = ${study} AND seq > ${after} AND seq <= ${upTo} AND kind <> 'instance.deleted'`;

/** The cursor saying up to where the log may have been pruned: changes at or before it may be gone. */
export const PRUNED_CURSOR = 'changes.pruned';

/**
 * The last change the log may forget: older than `cutoff` (ms), behind every cursor that follows
 * the log as it goes (not the rules' "acted" ones: a range reaching behind the pruned point is
 * taken as the whole study, changedInstances), behind the stability's, and never the newest
 * (new cursors start at the end). NULL: nothing may go. The first scan for the cutoff starts at
 * the log's oldest row, so after the first prune it reads a few rows, not the whole log.
 */
export const pruneFloorSql = (cutoff: string): string => `
SELECT min(x) AS floor FROM (
  SELECT (SELECT seq FROM changes WHERE at >= ${cutoff} ORDER BY seq LIMIT 1) - 1 AS x
  UNION ALL SELECT (SELECT max(seq) FROM changes) - 1
  UNION ALL SELECT (SELECT min(seq) FROM cursors WHERE name NOT LIKE 'rule:%' AND name <> '${PRUNED_CURSOR}')
  UNION ALL SELECT (SELECT seq FROM stability_cursor)
) AS f`;

/** Forgets the oldest changes up to `floor`, `limit` at most (a statement of bounded work). */
export const pruneChangesSql = (floor: string, limit: string): string =>
  `DELETE FROM changes WHERE seq IN (SELECT seq FROM changes WHERE seq <= ${floor} ORDER BY seq LIMIT ${limit})`;

/**
 * Removes the rules' cursors (`rule:NAME:DIGEST:LEVEL:UID`, services/rules.ts) of the studies or
 * series the index no longer holds. `position` is the backend's substring search: SQLite's instr,
 * PostgreSQL's strpos (same arguments). UIDs hold no ':'; rule names and digests hold no ':LEVEL:'.
 */
export const pruneActedSql = (level: 'STUDY' | 'SERIES', position: 'instr' | 'strpos'): string => {
  const [table, column] = level === 'STUDY' ? ['studies', 'study_instance_uid'] : ['series', 'series_instance_uid'];
  const marker = `:${level}:`;
  return `DELETE FROM cursors WHERE name LIKE 'rule:%${marker}%'
    AND NOT EXISTS (SELECT 1 FROM ${table} WHERE ${table}.${column} = substr(cursors.name, ${position}(cursors.name, '${marker}') + ${marker.length}))`;
};
