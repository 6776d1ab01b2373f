// What both index writers (SQLite, PostgreSQL) need to turn a record into statement parameters
// and keep the multi-valued study lists: written once, used by each backend's writer.

export type Params = Record<string, unknown>;

/** Where an instance is filed: the keys of its series and of that series' ancestors. */
export interface Chain {
  patientPk: number;
  studyPk: number;
  seriesPk: number;
  studyUID: string;
}

/** Attributes keyed by keyword → parameters keyed by column; undefined is bound as NULL. */
export function byColumn<T extends object>(attrs: T, columns: Record<keyof T, string>): Params {
  const out: Params = {};
  for (const key of Object.keys(columns) as (keyof T)[]) out[columns[key]] = attrs[key] ?? null;
  return out;
}

/** A backslash-separated kept list (ModalitiesInStudy, SOPClassesInStudy) as values. */
export const splitList = (v: string): string[] => (v === '' ? [] : v.split('\\'));
/** Values as a kept list: distinct, sorted, backslash-separated. */
export const joinSorted = (values: Iterable<string>): string => [...new Set(values)].sort().join('\\');
