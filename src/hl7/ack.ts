// The general acknowledgment (HL7 v2.5.1 2.9.2, 2.14.1): MSH addressed back to the sender,
// MSA with the code and the original control ID, and for an error an ERR segment with the
// Table 0357 code, where it was found and the reason in words. The same message is the accept
// acknowledgment of enhanced mode (CA, CE, CR); which one is sent is ack-mode.ts's choice.
import { DEFAULT_DELIMITERS, type Delimiters, type Hl7Message, encodeSegments, escapeHl7, isControl } from './message.js';

/** MSA-1 of an application acknowledgment (original mode, and enhanced mode's second one). */
export type ApplicationAckCode = 'AA' | 'AE' | 'AR';
/** MSA-1 of an accept (commit) acknowledgment, enhanced mode only (see ack-mode.ts). */
export type AcceptAckCode = 'CA' | 'CE' | 'CR';
export type AckCode = ApplicationAckCode | AcceptAckCode;

export interface AckProblem {
  code: number;
  text: string;
  location: string | null;
}

/** YYYYMMDDHHMMSS in local time, as HL7 DTM. */
const timestamp = (d = new Date()): string =>
  `${d.getFullYear()}${[d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join('')}`;

let counter = 0;
/** 36^4: the counter's four base-36 digits. */
const COUNTER_WRAP = 1_679_616;

/**
 * Our MSH-10: "ACK", the time in base 36 (nine digits: good to the year 5188) and a counter of
 * four wrapping at 36^4, 16 characters in all, always: MSH-10 is 20 at most in v2.5.1, and
 * ACK<milliseconds><counter> grew past it once the counter reached 10,000. Unique unless more
 * than 1.6 million ACKs are written within one millisecond.
 */
export function ackControlId(now = Date.now()): string {
  counter = (counter + 1) % COUNTER_WRAP;
  return `ACK${now.toString(36).padStart(9, '0')}${counter.toString(36).padStart(4, '0')}`.toUpperCase();
}

/**
 * A field's place ("PID-3", "PID-3.4", "ORC[2]-1", "OBR") as HL7 writes it: segment ID, sequence
 * (which segment of that name, 1 unless said), field, and (a component named) field repetition
 * and component — "PID^1^3^1^4" for ERR-2 (ERL, v2.5), the component dropped before. Null for a
 * place that is no segment (a setting such as hl7.station_ae, which the text names): ERR-2 holds
 * segments only.
 */
function errorLocation(loc: string, d: Delimiters): string[] | null {
  const m = /^([A-Z][A-Z0-9]{2})(?:\[(\d+)\])?(?:-(\d+)(?:\.(\d+))?)?$/.exec(loc);
  if (!m) return null;
  const [, segment, sequence, field, component] = m;
  return [segment!, sequence ?? '1', ...(field ? [field] : []), ...(component ? ['1', component] : [])].map((x) => escapeHl7(x, d));
}

/** Versions before 2.5 report an error in ERR-1 (ELD: segment^sequence^field^code&text&table), which 2.5 retired for ERR-2/3. */
const usesEld = (version: string): boolean => /^2\.[1-4](\.|$)/.test(version);

/** MSA-3 (text message, ST) is 80 characters long at most in HL7 v2.5.1. */
const MSA_TEXT_MAX = 80;
/** MSA-2 (and MSH-10, ST): 20 characters in v2.5.1, 199 from v2.7 on; the longer, so a long one still matches. */
export const CONTROL_ID_MAX = 199;
/** ERR-3.2, the text of a CWE: 199 characters. */
const ERR_TEXT_MAX = 199;
/** ERR-8 (user message, TX): 250 characters in v2.5.1. */
const ERR_MESSAGE_MAX = 250;
/** MSH-3 to MSH-6 (HD): 227 characters. */
const HD_MAX = 227;
/** Anything else echoed from the message's MSH (MSH-9.2, MSH-11, MSH-12). */
const ECHO_MAX = 20;

/**
 * `text` escaped and cut to `max` characters between characters of the text: cutting the
 * escaped text could split an escape sequence (\F\ left as "\F"), which the receiver then
 * shows as is or reads as the start of one.
 */
function escapedWithin(text: string, max: number, d: Delimiters): string {
  let out = '';
  // Every character of the text writes one at least (a CRLF writes one for two): what lies
  // past 2 × max + 2 is never reached, and a megabyte of text is not copied to find that.
  for (const ch of text.slice(0, 2 * max + 2).replace(/\r\n|\r/g, '\n')) {
    const escaped = escapeHl7(ch, d);
    if (out.length + escaped.length > max) break;
    out += escaped;
  }
  return out;
}

/**
 * A field of the message's MSH echoed into the ACK (MSH-3 to MSH-6 addressed back, MSH-10 in
 * MSA-2, MSH-11, MSH-12), as received but made safe and cut to `max` characters:
 * - control characters are dropped: no echoed type (ST, ID, HD, PT, VID) allows one, and a bare
 *   LF or VT in a field (a CR-terminated message may carry them) came back inside the ACK, where
 *   a receiver ending segments at LF read a forged segment and a VT restarts an MLLP frame;
 * - a delimiter the field's type does not have is escaped: the repetition separator everywhere
 *   (no echoed field repeats), the component and subcomponent separators too in an ST
 *   (`composite` false: MSH-10 into MSA-2), so the value stays the one value it was;
 * - the sender's escape sequences are kept as written; an escape character opening none is
 *   written \E\, so it cannot pair with an escape character after it;
 * - the cut falls between characters or sequences, never inside one (a peer's megabyte of
 *   MSH-10 came back whole, and a cut sequence reads as an open one).
 * Only the first 4 × max characters are looked at: every one kept writes one at least.
 */
function echoedWithin(raw: string, max: number, d: Delimiters, composite: boolean): string {
  const foreign = new Map([[d.repetition, 'R'], ...(composite ? [] : ([[d.component, 'S'], [d.subcomponent, 'T']] as const))]);
  const delimiters = new Set([d.field, d.component, d.repetition, d.subcomponent]);
  const end = Math.min(raw.length, 4 * max + 4);
  let out = '';
  for (let i = 0; i < end; i++) {
    const ch = raw[i]!;
    if (isControl(ch)) continue;
    let piece = foreign.has(ch) ? `${d.escape}${foreign.get(ch)}${d.escape}` : ch;
    if (ch === d.escape) {
      // A sequence longer than what is left of `max` cannot be written whole: looked for no further.
      const window = raw.slice(i + 1, i + 1 + (max - out.length));
      const close = window.indexOf(d.escape);
      const body = close < 0 ? '' : window.slice(0, close);
      if (close < 0 && i + 1 + window.length < raw.length) break;
      if (body !== '' && ![...body].some((c) => delimiters.has(c) || isControl(c))) {
        piece = `${d.escape}${body}${d.escape}`;
        i += close + 1;
      } else piece = `${d.escape}E${d.escape}`;
    }
    if (out.length + piece.length > max) break;
    out += piece;
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
  // MSH-10 is an ST; the others (HD, PT, VID) have components.
  const f = (n: number, max = ECHO_MAX): string => (msg ? echoedWithin(msg.raw(msh, n), max, d, n !== 10) : '');
  const trigger = msg?.get(msh, 9, 2) ?? '';
  const seg = (...fields: string[]): string[] => fields;
  const segments = [
    // Addressed back: our application and facility where the sender's MSH-5/6 named them.
    seg('MSH', `${d.component}${d.repetition}${d.escape}${d.subcomponent}`, f(5, HD_MAX) || 'PACS_SERVER', f(6, HD_MAX), f(3, HD_MAX), f(4, HD_MAX), timestamp(), '',
      `ACK${d.component}${escapedWithin(trigger, ECHO_MAX, d)}${d.component}ACK`, ackControlId(), f(11) || 'P', f(12) || '2.5.1', '', '', '', '', '', charset),
    seg('MSA', code, f(10, CONTROL_ID_MAX), escapedWithin(text, MSA_TEXT_MAX, d)),
  ];
  if (problem) {
    const err = `${problem.code}${d.component}${escapedWithin(text, ERR_TEXT_MAX, d)}${d.component}HL70357`;
    const place = problem.location ? errorLocation(problem.location, d) : null;
    const erl = place ? place.join(d.component) : '';
    // Before 2.5: ERR-1 as well, which engines of those versions read (the code as its 4th component).
    const version = msg?.get(msh, 12).trim() ?? '';
    const where = [place?.[0] ?? '', place?.[1] ?? '', place?.[2] ?? ''];
    const eld = usesEld(version) ? [...where, [String(problem.code), escapedWithin(text, ERR_TEXT_MAX, d), 'HL70357'].join(d.subcomponent)].join(d.component) : '';
    segments.push(seg('ERR', eld, erl, err, 'E', '', '', '', escapedWithin(problem.text, ERR_MESSAGE_MAX, d)));
  }
  return encodeSegments(segments, d);
}
