// The general acknowledgment (HL7 v2.5.1 2.9.2, 2.14.1): MSH addressed back to the sender,
// MSA with the code and the original control ID, and for an error an ERR segment with the
// Table 0357 code, where it was found and the reason in words.
import { DEFAULT_DELIMITERS, type Delimiters, type Hl7Message, encodeSegments, escapeHl7 } from './message.js';

export type AckCode = 'AA' | 'AE' | 'AR';

export interface AckProblem {
  code: number;
  text: string;
  location: string | null;
}

/** YYYYMMDDHHMMSS in local time, as HL7 DTM. */
const timestamp = (d = new Date()): string =>
  `${d.getFullYear()}${[d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join('')}`;

let counter = 0;

/** "PID-3" → "PID^1^3" (ERR-2 is an ERL: segment ID, sequence, field). */
const errorLocation = (loc: string): string => {
  const m = /^([A-Z][A-Z0-9]{2})-(\d+)/.exec(loc);
  return m ? `${m[1]}^1^${m[2]}` : escapeHl7(loc);
};

/** MSA-3 (text message, ST) is 80 characters long at most in HL7 v2.5.1. */
const MSA_TEXT_MAX = 80;

/**
 * `text` escaped and cut to `max` characters between characters of the text: cutting the
 * escaped text could split an escape sequence (\F\ left as "\F"), which the receiver then
 * shows as is or reads as the start of one.
 */
function escapedWithin(text: string, max: number, d: Delimiters): string {
  let out = '';
  for (const ch of text.replace(/\r\n|\r/g, '\n')) {
    const escaped = escapeHl7(ch, d);
    if (out.length + escaped.length > max) break;
    out += escaped;
  }
  return out;
}

/**
 * The ACK for a message; `msg` is null when it could not be parsed at all (the ACK then
 * has no control ID to quote). `charset` is echoed in MSH-18.
 */
// MSH-1 is the field separator itself: joining the fields writes it, so the MSH list starts at MSH-2.
export function buildAck(msg: Hl7Message | null, code: AckCode, text: string, problem: AckProblem | null, charset: string): string {
  const d = msg?.delimiters ?? DEFAULT_DELIMITERS;
  const msh = msg?.segment('MSH');
  const f = (n: number): string => (msg ? msg.raw(msh, n) : '');
  const trigger = msg?.get(msh, 9, 2) ?? '';
  const seg = (...fields: string[]): string[] => fields;
  const segments = [
    // Addressed back: our application and facility where the sender's MSH-5/6 named them.
    seg('MSH', `${d.component}${d.repetition}${d.escape}${d.subcomponent}`, f(5) || 'PACS_SERVER', f(6), f(3), f(4), timestamp(), '',
      `ACK${d.component}${escapeHl7(trigger, d)}${d.component}ACK`, `ACK${Date.now()}${++counter}`, f(11) || 'P', f(12) || '2.5.1', '', '', '', '', '', charset),
    seg('MSA', code, f(10), escapedWithin(text, MSA_TEXT_MAX, d)),
  ];
  if (problem) {
    const err = `${problem.code}${d.component}${escapeHl7(text, d)}${d.component}HL70357`;
    segments.push(seg('ERR', '', problem.location ? errorLocation(problem.location) : '', err, 'E', '', '', '', escapeHl7(problem.text, d)));
  }
  return encodeSegments(segments, d);
}
