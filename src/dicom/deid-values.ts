// Values the de-identification writes: dummies per VR (action D), shifted dates (option
// "Retain Longitudinal Temporal Information with Modified Dates"), and the judgement whether
// pixels may carry burned-in text. Cleaned descriptors: deid-clean.ts.

/** A dummy value of the VR (PS3.15 E.3: "a non-zero length value that may be a dummy value"). */
export function dummyValue(vr: string): Buffer {
  switch (vr) {
    case 'DA':
      return Buffer.from('19000101');
    case 'TM':
      return Buffer.from('000000');
    case 'DT':
      return Buffer.from('19000101000000');
    case 'AS':
      return Buffer.from('000Y');
    case 'DS':
    case 'IS':
      return Buffer.from('0 ');
    case 'UI':
      return Buffer.from('2.25.0'); // even length: no padding
    case 'PN':
    case 'LO':
    case 'SH':
    case 'ST':
    case 'LT':
    case 'UT':
    case 'UC':
    case 'CS':
    case 'AE':
      return Buffer.from('ANONYMOUS ');
    case 'US':
    case 'SS':
      return Buffer.alloc(2);
    case 'UL':
    case 'SL':
    case 'FL':
    case 'AT':
      return Buffer.alloc(4);
    case 'FD':
    case 'SV':
    case 'UV':
      return Buffer.alloc(8);
    case 'UR':
      return Buffer.from('urn:x-dummy '); // a URI that names nothing
    case 'OF':
    case 'OL':
      return Buffer.alloc(4);
    case 'OD':
    case 'OV':
      return Buffer.alloc(8);
    default:
      // OB, OW, UN: zero bytes, but some (D is "a non-zero length value": an Encapsulated
      // Document, Type 1, may not end empty).
      return Buffer.alloc(2);
  }
}

const DAY_MS = 86_400_000;

/**
 * YYYYMMDD, YYYYMM or YYYY moved by `days`, keeping its precision: a month or a year is moved as
 * its middle day is (the 15th, the 2nd of July), so that it lands where the patient's full dates
 * do; '' when it is no date at all.
 */
export function shiftDate(date: string, days: number): string {
  const m = /^(\d{4})(?:(\d{2})(\d{2})?)?$/.exec(date);
  if (!m) return '';
  const precision = m[3] ? 8 : m[2] ? 6 : 4;
  const t = Date.UTC(Number(m[1]), m[2] ? Number(m[2]) - 1 : 6, m[3] ? Number(m[3]) : m[2] ? 15 : 2);
  if (Number.isNaN(t)) return '';
  const d = new Date(t + days * DAY_MS);
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`.slice(0, precision);
}

/**
 * A DA or DT value (backslash-separated values, DA ranges) shifted by whole days: times of day
 * are left as they are, so intervals between a patient's events stay exact.
 */
export function shiftDateValue(value: Buffer, vr: string, days: number): Buffer {
  const text = value.toString('latin1').replace(/[\0 ]+$/, '');
  const shifted = text
    .split('\\')
    .map((v) => {
      if (vr === 'DA') return v.split('-').map((d) => (d ? shiftDate(d.trim(), days) : '')).join(v.includes('-') ? '-' : '');
      // YYYY[MM[DD]] then the time and offset, which stay as they were.
      const m = /^(\d{8}|\d{6}|\d{4})(.*)$/.exec(v.trim());
      const day = m ? shiftDate(m[1]!, days) : '';
      return day ? day + m![2] : '';
    })
    .join('\\');
  const out = Buffer.from(shifted, 'latin1');
  return out.length % 2 ? Buffer.concat([out, Buffer.from(' ')]) : out;
}

/** SOP classes and modalities whose pixels often carry burned-in identifying text. */
const LIKELY_MODALITIES = new Set(['US', 'SC', 'OT', 'XC', 'ES', 'GM', 'DOC', 'IVUS']);
/** A class and the classes below it (a whole arc: "…1.1.7" is not "…1.1.78", Lensometry). */
const LIKELY_SOP_ROOTS = [
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture (all kinds): screenshots, scanned paper
  '1.2.840.10008.5.1.4.1.1.104', // Encapsulated documents (PDF, CDA)
  '1.2.840.10008.5.1.4.1.1.6', // Ultrasound
  '1.2.840.10008.5.1.4.1.1.3', // Ultrasound multi-frame
  '1.2.840.10008.5.1.4.1.1.77.1', // Visible light (photos, endoscopy)
];

export type BurnedIn = 'yes' | 'likely' | 'no';

/** Burned In Annotation YES → yes; absent on a modality or SOP class that often has it → likely. */
export function burnedInAnnotation(flag: string | null, modality: string | null, sopClassUID: string | null): BurnedIn {
  const f = flag?.trim().toUpperCase();
  if (f === 'YES') return 'yes';
  if (f === 'NO') return 'no';
  if (modality && LIKELY_MODALITIES.has(modality.trim().toUpperCase())) return 'likely';
  const sop = sopClassUID?.trim();
  if (sop && LIKELY_SOP_ROOTS.some((r) => sop === r || sop.startsWith(`${r}.`))) return 'likely';
  return 'no';
}
