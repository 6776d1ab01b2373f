// The option columns of PS3.15 Table E.1-1 as the generated table names them: the action an
// option takes instead of the Basic Profile's ('K' keep, 'C' clean/modify).
export interface ProfileOptions {
  safePrivate?: string;
  uids?: string;
  device?: string;
  institution?: string;
  patient?: string;
  fullDates?: string;
  modifiedDates?: string;
  descriptors?: string;
  structured?: string;
  graphics?: string;
}
