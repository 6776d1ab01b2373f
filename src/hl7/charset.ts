// The character set of a message: MSH-18 (HL7 Table 0211), else hl7.charset. Bytes that are
// not valid in it are the sender's error and answered as such: decoding them leniently would
// store U+FFFD in place of the letters of a name (a Latin-1 system leaving MSH-18 empty).
import { isUtf8 } from 'node:buffer';
import { Hl7Error, Hl7ErrorCode, quoted, segmentBounds } from './message.js';

export interface Charset {
  encoding: 'utf8' | 'latin1';
  /** Its MSH-18 name, for the ACK. */
  name: string;
}

const UTF8: Charset = { encoding: 'utf8', name: 'UNICODE UTF-8' };
const LATIN1: Charset = { encoding: 'latin1', name: '8859/1' };
// ASCII is read as Latin-1: a byte above 0x7F from a system that says ASCII is most likely
// Latin-1, and either way it is never a byte Latin-1 cannot show.
const ASCII: Charset = { encoding: 'latin1', name: 'ASCII' };

/** MSH-18 values we read (Table 0211 and the spellings senders use), upper case. */
const DECLARED = new Map<string, Charset>([
  ['UNICODE UTF-8', UTF8],
  ['UTF-8', UTF8],
  ['UNICODE', UTF8],
  ['8859/1', LATIN1],
  ['ISO-8859-1', LATIN1],
  ['ASCII', ASCII],
]);

/** hl7.charset values (the schema's HL7_CHARSETS). */
const CONFIGURED = new Map<string, Charset>([
  ['UTF-8', UTF8],
  ['ISO-8859-1', LATIN1],
  ['ASCII', ASCII],
]);

/**
 * The bytes without a leading UTF-8 byte order mark (EF BB BF), which some senders and the
 * editors of hand-made messages put first: left there, the message did not start with MSH and
 * was refused, and its MSH-18 was not found.
 */
export const withoutBom = (bytes: Buffer): Buffer => (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes);

/** hl7.charset as a character set (UTF-8 for a value the schema would not let through). */
export const configuredCharset = (setting: string): Charset => CONFIGURED.get(setting.toUpperCase()) ?? UTF8;

/**
 * MSH-18 read from the raw bytes (the MSH is ASCII whatever the message's set), upper case; ''
 * when empty. The MSH is found as the parser finds it: the first segment that is not blank,
 * however long (reading only the first line of the first 2 KB missed MSH-18 after an empty
 * line, and the message was decoded in hl7.charset instead).
 */
export function declaredCharset(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  let head = '';
  for (const [start, end] of segmentBounds(text)) {
    head = text.slice(start, end);
    if (head.trim() !== '') break;
  }
  if (!head.startsWith('MSH') || head.length < 4) return '';
  // The first repetition is the message's set; later ones name sets switched to by escapes.
  const field = head.split(head[3]!, 18)[17] ?? ''; // limited: a 16 MB MSH of '|' was a 16-million-element array
  return field.split(head[5] ?? '~')[0]!.split(head[4] ?? '^')[0]!.trim().toUpperCase();
}

/** The set a message is in: its MSH-18, or `fallback` when MSH-18 is empty; null for a set we cannot read. */
export function messageCharset(declared: string, fallback: Charset): Charset | null {
  if (!declared) return fallback;
  const known = DECLARED.get(declared);
  // The sender's own spelling is echoed in the ACK.
  return known ? { encoding: known.encoding, name: declared } : null;
}

/** The rejection of a message in a set we cannot read (Table 0211 has more than we know). */
export const unsupportedCharset = (declared: string): Hl7Error =>
  new Hl7Error(`MSH-18 character set ${quoted(declared)} is not supported (UNICODE UTF-8, 8859/1, ASCII)`, Hl7ErrorCode.TableValueNotFound, 'MSH-18', 'AR');

/** Throws (AE) when the bytes are not valid in the set, naming the first field holding such bytes. */
export function checkEncoding(bytes: Buffer, charset: Charset): void {
  if (charset.encoding !== 'utf8' || isUtf8(bytes)) return;
  const where = invalidUtf8Field(bytes);
  throw new Hl7Error(
    `${where ?? 'the message'} holds bytes that are not ${charset.name}; a sender in another character set names it in MSH-18 (8859/1 for Latin-1)`,
    Hl7ErrorCode.DataType,
    where,
  );
}

/**
 * "PID-5" for the first field with bytes that are not UTF-8, the segments found as the parser
 * finds them. Delimiters are ASCII, never part of a multi-byte character, so the bytes read as
 * Latin-1 (one character per byte) show them where they are.
 */
function invalidUtf8Field(bytes: Buffer): string | null {
  const separator = bytes[3];
  if (separator === undefined) return null;
  // One pass (segmentBounds): searching for the line end from each segment's start to the end
  // of the message made a CR-only message quadratic (a 16 MB frame held the event loop for minutes).
  for (const [start, end] of segmentBounds(bytes.toString('latin1'))) {
    const segment = bytes.subarray(start, end);
    if (isUtf8(segment)) continue;
    const name = segment.subarray(0, 3).toString('latin1');
    for (let n = 0, from = 0; from <= segment.length; n++) {
      const found = segment.indexOf(separator, from);
      const to = found < 0 ? segment.length : found;
      // MSH-1 is the separator itself: the parts of an MSH are numbered one up.
      if (!isUtf8(segment.subarray(from, to))) return n === 0 ? name : `${name}-${name === 'MSH' ? n + 1 : n}`;
      from = to + 1;
    }
    return name;
  }
  return null;
}
