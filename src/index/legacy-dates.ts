// Migration 14 of both backends: dates and times stored in the ACR-NEMA form (YYYY.MM.DD,
// HH:MM:SS) rewritten in the standard one, as the writers now keep them (services/
// instance-record.ts) and queries are matched — stored as received, they never matched. One
// statement a table, so each is read once; each backend says how it recognises the old forms.

/** The DA and TM columns of each table. */
const LEGACY_COLUMNS: readonly (readonly [string, readonly string[], readonly string[]])[] = [
  ['patients', ['patient_birth_date'], []],
  ['studies', ['study_date'], ['study_time']],
  ['series', ['series_date', 'performed_procedure_step_start_date'], ['series_time', 'performed_procedure_step_start_time']],
  ['instances', ['content_date', 'acquisition_date'], ['content_time', 'acquisition_time']],
];

/** The UPDATEs, given the backend's test for "this column holds a YYYY.MM.DD date" and "an HH:MM time". */
export function legacyDateTimeSql(isLegacyDate: (column: string) => string, isLegacyTime: (column: string) => string): string {
  return LEGACY_COLUMNS.map(([table, dates, times]) => {
    const sets = [
      ...dates.map((c) => `${c} = CASE WHEN ${isLegacyDate(c)} THEN replace(${c}, '.', '') ELSE ${c} END`),
      ...times.map((c) => `${c} = CASE WHEN ${isLegacyTime(c)} THEN replace(${c}, ':', '') ELSE ${c} END`),
    ];
    const where = [...dates.map(isLegacyDate), ...times.map(isLegacyTime)].join(' OR ');
    return `UPDATE ${table} SET ${sets.join(', ')} WHERE ${where};`;
  }).join('\n');
}
