// The rules a value from an HL7 message meets before it becomes a DICOM attribute of a worklist
// entry or an indexed patient: the VR's (PS3.5 6.2), as the REST API checks them. A value kept
// as it came is answered to modalities as it is: a decoded \E\ in PID-3 is a DICOM value
// separator (Patient ID "12\34" has two values), 20261399 a date no query range ever finds.
import type { JsonDataset } from '../dicom/json.js';
import { datasetValueProblem, vrValueProblem } from '../dicom/vr-values.js';
import { Hl7Error, Hl7ErrorCode, type Hl7Message, type Segment, quoted } from './message.js';

/** The HL7 v2 null value: a field of two double quotes means "delete the value" (an empty one: "no change"). */
export const HL7_NULL = '""';

/**
 * One subcomponent of a field, as Hl7Message.get reads it, with the HL7 null read as no value.
 * Every field read for an attribute goes through here (or `values`): read as the text "", it
 * made ORC-2 "" a placer order number that every such order shared (each replacing the last),
 * and an Accession Number, Study Instance UID or Patient ID of two quotes.
 */
export const value = (msg: Hl7Message, seg: Segment | undefined, field: number, component = 1): string => {
  const v = msg.get(seg, field, component);
  return v === HL7_NULL ? '' : v;
};

/**
 * An identifier's assigning authority (CX-4, an HD): its namespace ID, else its universal ID (IHE
 * allows `^^^&2.16.840.1.1&ISO`): read as no issuer, two authorities' patients of one number were
 * one patient.
 */
export const assigningAuthority = (msg: Hl7Message, seg: Segment | undefined, field: number): string => {
  const namespace = msg.get(seg, field, 4, 0, 1);
  const universal = msg.get(seg, field, 4, 0, 2);
  const v = namespace && namespace !== HL7_NULL ? namespace : universal;
  return v === HL7_NULL ? '' : v;
};

/** The components of a field (Hl7Message.components), each HL7 null read as no value (DOE^"" deletes the given name). */
export const values = (msg: Hl7Message, seg: Segment | undefined, field: number): string[] =>
  msg.components(seg, field).map((c) => (c === HL7_NULL ? '' : c));

export function limit(value: string, max: number, where: string): string {
  if (value.length > max) throw new Hl7Error(`${where} ${quoted(value)} is longer than the ${max} characters DICOM allows`, Hl7ErrorCode.DataType, where);
  return value;
}

// YYYYMMDD, then HH, HHMM or HHMMSS; a fraction of a second (at most four digits in a DTM) only after the seconds.
const DTM = /^(\d{8})(\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?([+-]\d{4})?$/;

/**
 * An HL7 DTM (YYYYMMDD[HH[MM[SS[.S[S[S[S]]]]]]][+/-ZZZZ]) → DICOM DA and TM; throws (AE 102) on a
 * malformed one, or no real date or time. A time with an offset is the server's local time of
 * that instant, in the precision given (the worklist's times are local, as a modality asking for
 * "today" means it): 23:30+0000 from an engine on UTC was scheduled at 23:30 here, an hour and a
 * day off at +0100. `asWritten`: the value as it is, offset or not (a birth date).
 */
export function dateTime(v: string, where: string, options: { asWritten?: boolean } = {}): { date: string; time: string } {
  const m = DTM.exec(v);
  const date = m?.[1] ?? '';
  const time = m?.[2] ?? '';
  if (!m || vrValueProblem('DA', date) || (time && vrValueProblem('TM', time)))
    throw new Hl7Error(`${where} ${quoted(v)} is not a date/time (YYYYMMDD[HHMM[SS[.SSSS]]], a real date and time)`, Hl7ErrorCode.DataType, where);
  const offset = m[3];
  if (options.asWritten || !offset || !time) return { date, time };
  return localOf(date, time, offset);
}

/** The server's local date and time of `date` `time` at UTC `offset` (+HHMM / -HHMM), in the time's precision. */
function localOf(date: string, time: string, offset: string): { date: string; time: string } {
  const n = (s: string, at: number, len = 2): number => Number(s.slice(at, at + len) || '0');
  const sign = offset.startsWith('-') ? -1 : 1;
  const offsetMinutes = sign * (n(offset, 1) * 60 + n(offset, 3));
  const utc = Date.UTC(n(date, 0, 4), n(date, 4) - 1, n(date, 6), n(time, 0), n(time, 2), n(time, 4)) - offsetMinutes * 60_000;
  const t = new Date(utc);
  const two = (x: number): string => String(x).padStart(2, '0');
  const localDate = `${t.getFullYear()}${two(t.getMonth() + 1)}${two(t.getDate())}`;
  const hhmmss = `${two(t.getHours())}${two(t.getMinutes())}${two(t.getSeconds())}`;
  // As precise as given: HH, HHMM, HHMMSS, and the fraction of a second unchanged.
  const localTime = time.length <= 6 ? hhmmss.slice(0, time.length) : `${hhmmss}${time.slice(6)}`;
  return { date: localDate, time: localTime };
}

/**
 * PID-7 as Patient's Birth Date (DA). HL7 allows a date to the year or the month only (1970,
 * 197005), which a DA cannot hold, and some systems send 00000000 for "unknown": such a date,
 * or digits that are no real date, are left out — the birth date stays empty and the order is taken
 * — rather than the whole order refused for a value no worklist query depends on.
 */
export function birthDate(v: string, where: string): string {
  if (/^\d{4}(0[1-9]|1[0-2])?([+-]\d{4})?$/.test(v)) return '';
  try {
    return dateTime(v, where, { asWritten: true }).date;
  } catch (e) {
    // Digits that are no date (00000000, a 13th month): left out. Text that is no date at all
    // says the field is not what the sender thinks: refused.
    if (e instanceof Hl7Error && /^\d{8}/.test(v)) return '';
    throw e;
  }
}

/**
 * Throws AE 102 when a value of `ds` does not fit its DICOM VR (lengths, characters: no
 * backslash, PN component groups of 64 characters at most, real dates and times, UIDs),
 * naming the HL7 field it came from: `fields` gives it by tag path ("00400100/0/00400002").
 */
export function checkValues(ds: JsonDataset, fields: Readonly<Record<string, string>>): void {
  const p = datasetValueProblem(ds);
  if (!p) return;
  const where = Object.hasOwn(fields, p.path) ? fields[p.path]! : null;
  throw new Hl7Error(`${where ?? p.path} does not fit ${p.keyword}: ${p.problem}`, Hl7ErrorCode.DataType, where);
}
