// Small datasets exchanged whole in DIMSE messages (C-FIND identifiers, N-* attribute lists):
// decoded to text by keyword, encoded back in a chosen character set.
import { DatasetStreamReader } from './reader.js';
import { parseTree, syntaxOf, type TreeElement } from './dataset-tree.js';
import { elementNumber, elementText } from './charset.js';
import { lookupTag, vrMismatch } from './dictionary.js';
import { Tag } from './tags.js';
import { transferSyntaxInfo } from './transfer-syntax.js';
import { encodeDataset, encodeUS, type DatasetElement } from './writer.js';

export interface IdentifierElement {
  tag: number;
  keyword: string | null;
  /** The VR as received (explicit) or from the dictionary (implicit). */
  vr: string;
  /** Decoded text for string VRs and numbers for binary ones; null when empty or a sequence. */
  value: string | null;
}

export interface DecodedIdentifier {
  elements: IdentifierElement[];
  specificCharacterSet: string | null;
}

const ALL = { has: () => true };

/** A request's identifier that is not one: its message names the element. */
export class IdentifierError extends Error {
  constructor(
    message: string,
    readonly tag: number,
  ) {
    super(message);
  }
}

/** Longest value of a request's identifier: as long as the identifier may be (scp/find.ts). */
const REQUEST_VALUE_MAX = 1024 * 1024;

/**
 * Decodes an identifier. `strict` for one a peer asks us with (C-FIND, C-MOVE, C-GET): a value
 * longer than 1 MB is an error, not dropped (a dropped key matched everything), and so is a
 * standard element sent in explicit VR under a VR PS3.6 does not give it (a Patient ID as US
 * cannot be matched as text, nor answered: the answer would encode it in that VR).
 */
export async function decodeIdentifier(bytes: Buffer, transferSyntaxUID: string, options: { strict?: boolean } = {}): Promise<DecodedIdentifier> {
  const strict = options.strict === true;
  const reader = new DatasetStreamReader({ transferSyntaxUID, collect: ALL, maxCollectLength: strict ? REQUEST_VALUE_MAX : 64 * 1024, refuseLongerValues: strict });
  reader.push(bytes);
  const { values } = await reader.end();
  if (strict)
    for (const el of values.values()) {
      const mismatch = el.vr === 'UN' ? null : vrMismatch(el.tag, el.vr);
      if (mismatch) throw new IdentifierError(mismatch, el.tag);
    }
  const littleEndian = transferSyntaxInfo(transferSyntaxUID)?.littleEndian ?? true;
  const charset = elementText(values.get(Tag.SpecificCharacterSet), null);
  const elements = [...values.values()]
    .sort((a, b) => a.tag - b.tag)
    .map((el): IdentifierElement => {
      const entry = lookupTag(el.tag);
      const vr = el.vr === 'UN' && entry ? entry.vr : el.vr;
      const text = vr === 'SQ' ? null : elementText({ ...el, vr }, charset);
      const num = text === null && vr !== 'SQ' ? elementNumber({ ...el, vr }, littleEndian) : null;
      return { tag: el.tag, keyword: entry?.keyword ?? null, vr, value: text ?? (num === null ? null : String(num)) };
    });
  return { elements, specificCharacterSet: charset };
}

/**
 * The standard top-level sequences of an identifier whose items hold a value somewhere (not
 * only empty return keys or `*`): keys of sequence matching (PS3.4 C.2.2.2.6), which the
 * archive's index does not do — its answers say so with 0xFF01. Empty for an identifier the tree
 * reader cannot read (the stream reader above has read it already, or refused it).
 */
export function sequenceKeysWithValues(bytes: Buffer, transferSyntaxUID: string): number[] {
  let tree: TreeElement[];
  try {
    tree = parseTree(bytes, syntaxOf(transferSyntaxUID));
  } catch {
    return [];
  }
  const valued = (list: readonly TreeElement[]): boolean =>
    list.some((e) => (e.items ? e.items.some(valued) : e.value.toString('latin1').replace(/[\0 *]/g, '') !== ''));
  return tree.filter((e) => e.items && (e.tag >>> 16) % 2 === 0 && e.items.some(valued)).map((e) => e.tag);
}

/** The Specific Character Set that can carry every text: the requester's when possible. */
export function chooseCharacterSet(requested: string | null, texts: Iterable<string>): string | null {
  let nonAscii = false;
  let latin1 = true;
  for (const t of texts) {
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      if (c > 0x7f) nonAscii = true;
      if (c > 0xff) latin1 = false;
    }
  }
  if (!nonAscii) return requested;
  const req = (requested ?? '').trim();
  if (req === 'ISO_IR 192') return 'ISO_IR 192';
  if (req === 'ISO_IR 100' && latin1) return 'ISO_IR 100';
  return 'ISO_IR 192';
}

const BINARY_US = new Set(['US']);
const BINARY_OTHER = new Set(['UL', 'SS', 'SL', 'FL', 'FD', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'SV', 'UV', 'AT', 'UN']);

function textBytes(text: string, vr: string, charset: string | null): Buffer {
  const b = charset === 'ISO_IR 192' ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from([vr === 'UI' ? 0x00 : 0x20])]) : b;
}

export interface OutElement {
  tag: number;
  vr: string;
  value: string | number | null;
}

/** Encodes elements (null = zero length, SQ = empty sequence) in the given syntax and charset. */
export function encodeIdentifier(elements: readonly OutElement[], transferSyntaxUID: string, charset: string | null): Buffer {
  const ts = transferSyntaxInfo(transferSyntaxUID);
  const opts = { explicitVR: ts?.explicitVR ?? true, littleEndian: ts?.littleEndian ?? true };
  const out: DatasetElement[] = [];
  for (const e of elements) {
    if (e.tag === Tag.SpecificCharacterSet) continue;
    let value: Buffer;
    if (e.value === null || e.value === '' || e.vr === 'SQ') value = Buffer.alloc(0);
    else if (BINARY_US.has(e.vr)) value = encodeUS(Number(e.value), opts.littleEndian);
    else if (BINARY_OTHER.has(e.vr)) value = Buffer.alloc(0); // we never answer with binary we do not hold
    else value = textBytes(String(e.value), e.vr, charset);
    out.push({ tag: e.tag, vr: e.vr, value });
  }
  if (charset) out.push({ tag: Tag.SpecificCharacterSet, vr: 'CS', value: textBytes(charset, 'CS', null) });
  return encodeDataset(out, opts);
}
