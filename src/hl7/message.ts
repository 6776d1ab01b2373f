// HL7 v2 messages (HL7 v2.5.1 chapter 2): segments ended by CR, fields by MSH-1, and in
// each field repetitions, components and subcomponents by the encoding characters of MSH-2.
// Values are kept escaped as received and unescaped only when read, so a delimiter escaped
// inside a value (\S\ for ^ ...) never splits it. Small on purpose: what orders and patient
// updates need, no message-structure validation beyond the MSH.
import { remoteText } from '../core/remote-text.js';

/** An HL7 Table 0357 message error condition code, for the ACK's ERR-3. */
export const Hl7ErrorCode = {
  SegmentSequence: 100,
  RequiredFieldMissing: 101,
  DataType: 102,
  TableValueNotFound: 103,
  UnsupportedMessageType: 200,
  UnsupportedEventCode: 201,
  UnsupportedProcessingId: 202,
  UnsupportedVersionId: 203,
  UnknownKeyIdentifier: 204,
  DuplicateKeyIdentifier: 205,
  ApplicationRecordLocked: 206,
  ApplicationInternalError: 207,
} as const;

/** A message that cannot be taken, with what the ACK says about it. */
export class Hl7Error extends Error {
  override name = 'Hl7Error';
  constructor(
    message: string,
    readonly code: number,
    /** Where: "PID-3", "OBR-24", "ORC[2]-1" (the second ORC of the message) ... (ERR-2). */
    readonly location: string | null = null,
    /** AR (rejected: the message itself is wrong for us) or AE (error: its content is). */
    readonly ack: 'AE' | 'AR' = 'AE',
  ) {
    super(message);
  }
}

/** The place of a field of the `sequence`th segment named `segment` ("ORC", 2, "-1" → "ORC[2]-1"); the first is written without. */
export const placeIn = (segment: string, sequence: number, field = ''): string => (sequence === 1 ? `${segment}${field}` : `${segment}[${sequence}]${field}`);

/**
 * `e` placed at the `sequence`th segment named `segment` when its location names that segment
 * without saying which ("ORC-2" → "ORC[2]-2"): checks that know only the segment's name are run
 * once per order, and the ACK of a message's second order named its first (ERR-2 "ORC^1^2").
 */
export function relocated(e: unknown, segment: string, sequence: number): unknown {
  if (!(e instanceof Hl7Error) || !e.location) return e;
  const m = /^([A-Z][A-Z0-9]{2})(-.*)?$/.exec(e.location);
  if (!m || m[1] !== segment) return e;
  if (sequence === 1) return e;
  const moved = new Hl7Error(e.message, e.code, placeIn(segment, sequence, m[2]), e.ack);
  moved.stack = e.stack;
  return moved;
}

/** How many characters of a value from the message an error quotes. */
const QUOTED_MAX = 64;

/**
 * A value from the message as an error quotes it (in the ACK and the log): cut short and on one
 * line. A peer's value can be megabytes long, and came back whole in MSA-3, ERR-3, ERR-8 and
 * the log line; its line breaks and escape sequences would forge log lines.
 */
export const quoted = (value: string): string => `"${remoteText(value, QUOTED_MAX)}"`;

export interface Delimiters {
  field: string;
  component: string;
  repetition: string;
  escape: string;
  subcomponent: string;
}

export const DEFAULT_DELIMITERS: Delimiters = { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' };

export interface Segment {
  name: string;
  /** fields[n] is field n as received (escaped); for MSH, fields[1] is the field separator. */
  fields: string[];
}

/** \Xhh..\ bytes: UTF-8 when they are valid UTF-8, else Latin-1 (the single-byte sets' common case). */
function hexText(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

/** Replaces escape sequences (2.7.4): delimiters, \Xhh..\ hex, \.br\ line breaks; highlighting and charset switches dropped. */
export function unescapeHl7(value: string, d: Delimiters): string {
  if (!value.includes(d.escape)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    const end = ch === d.escape ? value.indexOf(d.escape, i + 1) : -1;
    if (end < 0) {
      out += ch;
      continue;
    }
    const seq = value.slice(i + 1, end);
    // A Map, not an object literal: `in` on an object also finds toString, constructor,
    // __proto__ ..., and \toString\ in a name inserted a function's source.
    const simple = new Map([['F', d.field], ['S', d.component], ['T', d.subcomponent], ['R', d.repetition], ['E', d.escape], ['.br', '\n']]);
    const known = simple.get(seq);
    if (known !== undefined) out += known;
    else if (/^X([0-9A-Fa-f]{2})+$/.test(seq)) out += hexText(seq.slice(1));
    else if (seq === 'H' || seq === 'N' || /^[CM][0-9A-Fa-f]+$/.test(seq) || /^\.(sp|in|ti|sk|ce|fi|nf)[+-]?\d*$/.test(seq)) out += '';
    else {
      out += value.slice(i, end + 1); // not an escape we know: kept as it came
    }
    i = end;
  }
  return out;
}

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex -- finding the control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const CONTROLS = new RegExp(`${CONTROL.source}+`, 'g');

/** A C0 or C1 control character, DEL, or a Unicode line or paragraph separator. */
export const isControl = (ch: string): boolean => CONTROL.test(ch);

/**
 * A value as the attributes we fill from it take it: on one line. Names, IDs, codes and
 * descriptions (PN, LO, SH, CS ... in DICOM) allow no control character, and \X0D0A\, \.br\ or
 * a bare LF inside a field put line breaks into a stored Patient's Name, splitting it in every
 * listing, log line and export. Stripped, not refused: each run of control characters becomes
 * one space ("DOE\X0D0A\EVIL" is "DOE EVIL"), as a line break in a name or a description is
 * layout, not content, and an order is not turned away for it.
 */
const singleLine = (value: string): string => value.replace(CONTROLS, ' ').trim();

/** Escapes the delimiters in a value we write (ACK text, echoed identifiers). */
export function escapeHl7(value: string, d: Delimiters = DEFAULT_DELIMITERS): string {
  const map = new Map([
    [d.escape, 'E'],
    [d.field, 'F'],
    [d.component, 'S'],
    [d.subcomponent, 'T'],
    [d.repetition, 'R'],
  ]);
  let out = '';
  for (const ch of value.replace(/\r\n|\r|\n/g, '\n')) out += ch === '\n' ? `${d.escape}.br${d.escape}` : map.has(ch) ? `${d.escape}${map.get(ch)}${d.escape}` : ch;
  return out;
}

/** A CR before the line breaks that end the text (a loop: a pattern anchored at the end is quadratic on a run of breaks). */
function crTerminated(text: string): boolean {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0x0d || text.charCodeAt(end - 1) === 0x0a)) end--;
  const cr = text.indexOf('\r');
  return cr >= 0 && cr < end;
}

/**
 * Where each segment of a message is, as [start, end) of the text (blank lines included).
 * HL7 ends a segment with CR (v2.5.1 chapter 2); CRLF is tolerated, the LF taken as part of the
 * break. A bare LF ends a segment only in a message with no CR at all (hand-made and some
 * interface-engine messages): in a CR-terminated message it is text inside a field (an NTE or
 * OBX comment), and splitting there made the rest of that line a "segment" with a bad name,
 * which rejected the whole message. LFs at the start of a segment are line breaks between
 * segments, never data. CRs only at the very end (an LF-separated message whose sender, or MLLP
 * framing, put a CR after it) do not make it CR-terminated: read so, its segments were one.
 * One pass: each search starts where the last one ended.
 */
export function* segmentBounds(text: string): Generator<[number, number]> {
  const terminator = crTerminated(text) ? '\r' : '\n';
  for (let start = 0; start < text.length; ) {
    while (terminator === '\r' && text[start] === '\n') start++;
    const at = start < text.length ? text.indexOf(terminator, start) : text.length;
    const end = at < 0 ? text.length : at;
    yield [start, end];
    start = end + 1;
  }
}

/**
 * Fields of a segment that are read: the standard's segments have fewer than 60 (OBR 50, PID 39),
 * and splitting a 16 MB line of field separators made millions of strings that nothing reads.
 */
export const MAX_FIELDS = 256;

/** Segments of a message that are read: an order of hl7.max_orders_per_message (at most 10,000) takes a few each. */
export const MAX_SEGMENTS = 100_000;

export class Hl7Message {
  /** The first segment of each name, found once: a search per look-up read the whole message each time. */
  private readonly first = new Map<string, Segment>();
  /**
   * Each field's repetitions, and each repetition's components, split once: a look-up split the
   * whole field again, so reading every repetition of a field of 200,000 (a 200 KB IPC-6) was
   * quadratic, minutes of the one thread that also serves DICOM and HTTP.
   */
  private readonly splits = new WeakMap<Segment, Map<number, { repetitions: string[]; components: (string[] | undefined)[] }>>();

  private constructor(
    readonly segments: Segment[],
    readonly delimiters: Delimiters,
    /** The first segment that could not be read (it is left out of `segments`), for the ACK. */
    readonly malformed: Hl7Error | null = null,
  ) {
    for (const s of segments) if (!this.first.has(s.name)) this.first.set(s.name, s);
  }

  /** Parses a message; throws Hl7Error (AR) when it does not start with a usable MSH or a segment is malformed. */
  static parse(text: string): Hl7Message {
    const msg = Hl7Message.read(text);
    if (msg.malformed) throw msg.malformed;
    return msg;
  }

  /**
   * Parses what can be read: throws Hl7Error (AR) only when the message does not start with a
   * usable MSH. A later segment with a bad name is left out and named in `malformed`, so the
   * ACK rejecting the message still quotes its control ID (MSA-2) and type.
   */
  static read(received: string): Hl7Message {
    // A byte order mark first (U+FEFF) is no part of the MSH: a text decoded with it still holds it.
    const text = received.startsWith('\uFEFF') ? received.slice(1) : received;
    const lines: string[] = [];
    for (const [start, end] of segmentBounds(text)) {
      const line = text.slice(start, end);
      if (line.trim() !== '') lines.push(line);
      // One more than taken, to say there were too many: a 16 MB frame of 4-byte segments made
      // four million segment objects (hundreds of MB, on each of hl7.max_connections).
      if (lines.length > MAX_SEGMENTS) break;
    }
    const tooMany = lines.length > MAX_SEGMENTS;
    if (tooMany) lines.length = MAX_SEGMENTS;
    const first = lines[0] ?? '';
    if (!first.startsWith('MSH') || first.length < 8) throw new Hl7Error('the message does not start with an MSH segment', Hl7ErrorCode.SegmentSequence, 'MSH', 'AR');
    const field = first[3]!;
    const enc = first.slice(4, first.indexOf(field, 4) < 0 ? undefined : first.indexOf(field, 4));
    if (enc.length < 3 || new Set([field, ...enc]).size !== enc.length + 1)
      throw new Hl7Error(`MSH-2 encoding characters ${quoted(enc)} are not usable`, Hl7ErrorCode.DataType, 'MSH-2', 'AR');
    // Three characters leave the subcomponent separator at its default, '&': with '&' as the
    // field separator every field would split at it, and the ACK's MSH-2 (four characters) would
    // shift each of its fields by one.
    if (enc.length === 3 && field === '&')
      throw new Hl7Error(`MSH-2 ${quoted(enc)} leaves the subcomponent separator '&', which MSH-1 uses as the field separator`, Hl7ErrorCode.DataType, 'MSH-2', 'AR');
    const d: Delimiters = { field, component: enc[0]!, repetition: enc[1]!, escape: enc[2]!, subcomponent: enc[3] ?? '&' };
    const segments: Segment[] = [];
    let malformed: Hl7Error | null = tooMany ? new Hl7Error(`the message has more than ${MAX_SEGMENTS} segments`, Hl7ErrorCode.SegmentSequence, null, 'AR') : null;
    for (const [n, line] of lines.entries()) {
      const parts = line.split(d.field, MAX_FIELDS + 1);
      const name = parts[0]!;
      if (!/^[A-Z][A-Z0-9]{2}$/.test(name)) {
        malformed ??= new Hl7Error(`segment ${n + 1}: ${quoted(name.slice(0, 10))} is not a segment name`, Hl7ErrorCode.SegmentSequence, null, 'AR');
        continue;
      }
      // MSH-1 is the separator itself: put it back so field numbers are the standard's.
      segments.push({ name, fields: name === 'MSH' ? [name, d.field, ...parts.slice(1)] : parts });
    }
    return new Hl7Message(segments, d, malformed);
  }

  segment(name: string): Segment | undefined {
    return this.first.get(name);
  }

  all(name: string): Segment[] {
    return this.segments.filter((s) => s.name === name);
  }

  /** Which segment of its name `seg` is, from 1 (ERL-2, segment sequence); 1 for one not in the message. */
  sequenceOf(seg: Segment): number {
    let n = 0;
    for (const s of this.segments) {
      if (s === seg) return n + 1;
      if (s.name === seg.name) n++;
    }
    return 1;
  }

  /** Field as received (escaped), '' when absent. */
  raw(seg: Segment | undefined, field: number): string {
    return seg?.fields[field] ?? '';
  }

  private split(seg: Segment, field: number): { repetitions: string[]; components: (string[] | undefined)[] } {
    let fields = this.splits.get(seg);
    if (!fields) this.splits.set(seg, (fields = new Map()));
    let split = fields.get(field);
    if (!split) {
      const f = this.raw(seg, field);
      const repetitions = seg.name === 'MSH' && field <= 2 ? [f] : f === '' ? [] : f.split(this.delimiters.repetition);
      fields.set(field, (split = { repetitions, components: [] }));
    }
    return split;
  }

  /** The raw components of one repetition (split once). */
  private rawComponents(seg: Segment, field: number, repetition: number): string[] {
    const split = this.split(seg, field);
    return (split.components[repetition] ??= (split.repetitions[repetition] ?? '').split(this.delimiters.component));
  }

  /** The repetitions of a field (MSH-2 is never split). A copy: the split is kept for the next look-up. */
  repetitions(seg: Segment | undefined, field: number): string[] {
    return seg ? [...this.split(seg, field).repetitions] : [];
  }

  /** How many repetitions a field has. */
  repetitionCount(seg: Segment | undefined, field: number): number {
    return seg ? this.split(seg, field).repetitions.length : 0;
  }

  /** One subcomponent (1-based; the first by default) of a component of one repetition, unescaped, on one line. */
  get(seg: Segment | undefined, field: number, component = 1, repetition = 0, sub = 1): string {
    if (!seg) return '';
    if (seg.name === 'MSH' && field <= 2) return this.split(seg, field).repetitions[0] ?? '';
    const c = this.rawComponents(seg, field, repetition)[component - 1] ?? '';
    const s = c.split(this.delimiters.subcomponent)[sub - 1] ?? '';
    return singleLine(unescapeHl7(s, this.delimiters));
  }

  /** The components of one repetition (the first subcomponent of each), unescaped, on one line. */
  components(seg: Segment | undefined, field: number, repetition = 0): string[] {
    if (!seg) return [''];
    return this.rawComponents(seg, field, repetition).map((c) => singleLine(unescapeHl7(c.split(this.delimiters.subcomponent)[0] ?? '', this.delimiters)));
  }
}

/** Writes segments (already split into fields, values unescaped) as a message with CR terminators. */
export function encodeSegments(segments: string[][], d: Delimiters = DEFAULT_DELIMITERS): string {
  return segments.map((fields) => fields.join(d.field)).join('\r') + '\r';
}
