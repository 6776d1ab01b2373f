// The way back from the DICOM JSON model (PS3.18 F.2) to encoded bytes, for the datasets we
// build ourselves: worklist answers, MPPS and storage commitment payloads. Sequences are
// written with defined lengths; text follows the Specific Character Set chosen by the caller.
import { PacsError } from '../core/errors.js';
import { type JsonDataset, type JsonElement, type JsonValue, type PersonNameJson, datasetToJson } from './json.js';
import { DatasetStreamReader } from './reader.js';
import { inflateBounded } from './inflate.js';
import { elementText } from './charset.js';
import { Tag } from './tags.js';
import { TS, transferSyntaxInfo } from './transfer-syntax.js';
import { CHARSET_VRS } from './vr.js';
import { type EncodeOptions, encodeElement, encodeSequenceItems } from './writer.js';

const SINGLE_VALUE_TEXT = new Set(['LT', 'ST', 'UT', 'UR']);
const BINARY = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);

/** A person name of the JSON model as DICOM text: its groups joined by '=' (trailing ones dropped). */
export function personNameText(v: JsonValue): string {
  if (v === null || typeof v !== 'object') return v === null ? '' : String(v);
  const pn = v as PersonNameJson;
  return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
}

/** An element's value as DICOM text (values joined by backslashes); '' when it has none. */
export function jsonElementText(el: JsonElement | undefined): string {
  if (!el?.Value) return '';
  if (el.vr === 'PN') return el.Value.map(personNameText).join('\\');
  return el.Value.map((v) => (v === null ? '' : typeof v === 'object' ? '' : String(v))).join('\\');
}

/** Every text of a dataset (nested items included), to choose a character set that carries them. */
export function* jsonTexts(ds: JsonDataset): Generator<string> {
  for (const el of Object.values(ds)) {
    if (el.vr === 'SQ') for (const item of (el.Value ?? []) as JsonDataset[]) yield* jsonTexts(item);
    else if (CHARSET_VRS.has(el.vr)) yield jsonElementText(el);
  }
}

const textBytes = (text: string, vr: string, charset: string | null): Buffer =>
  CHARSET_VRS.has(vr) && charset === 'ISO_IR 192' ? Buffer.from(text, 'utf8') : Buffer.from(text, 'latin1');

function numbers(vr: string, values: JsonValue[], le: boolean): Buffer {
  const width = vr === 'US' || vr === 'SS' ? 2 : vr === 'FD' || vr === 'SV' || vr === 'UV' ? 8 : 4;
  const b = Buffer.alloc(values.length * width);
  values.forEach((raw, i) => {
    const o = i * width;
    if (vr === 'AT') {
      const t = Number.parseInt(String(raw), 16) >>> 0;
      if (le) {
        b.writeUInt16LE(t >>> 16, o);
        b.writeUInt16LE(t & 0xffff, o + 2);
      } else b.writeUInt32BE(t, o);
      return;
    }
    const n = Number(raw);
    switch (vr) {
      case 'US': return void (le ? b.writeUInt16LE(n, o) : b.writeUInt16BE(n, o));
      case 'SS': return void (le ? b.writeInt16LE(n, o) : b.writeInt16BE(n, o));
      case 'UL': return void (le ? b.writeUInt32LE(n, o) : b.writeUInt32BE(n, o));
      case 'SL': return void (le ? b.writeInt32LE(n, o) : b.writeInt32BE(n, o));
      case 'FL': return void (le ? b.writeFloatLE(n, o) : b.writeFloatBE(n, o));
      case 'FD': return void (le ? b.writeDoubleLE(n, o) : b.writeDoubleBE(n, o));
      case 'SV': return void (le ? b.writeBigInt64LE(BigInt(String(raw)), o) : b.writeBigInt64BE(BigInt(String(raw)), o));
      case 'UV': return void (le ? b.writeBigUInt64LE(BigInt(String(raw)), o) : b.writeBigUInt64BE(BigInt(String(raw)), o));
    }
  });
  return b;
}

function valueBytes(tag: string, el: JsonElement, opts: EncodeOptions, charset: string | null): Buffer {
  if (el.vr === 'SQ') {
    const items = ((el.Value ?? []) as JsonDataset[]).map((item) => encodeItems(item, opts, charset));
    return encodeSequenceItems(items, opts);
  }
  if (BINARY.has(el.vr)) {
    if (!el.InlineBinary) return Buffer.alloc(0); // bulk data is never ours to answer with
    const b = Buffer.from(el.InlineBinary, 'base64');
    // InlineBinary is little endian (PS3.18 F.2.7).
    if (!opts.littleEndian && el.vr === 'OW' && b.length % 2 === 0) b.swap16();
    return b;
  }
  const values = el.Value ?? [];
  if (['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV', 'AT'].includes(el.vr)) return numbers(el.vr, values, opts.littleEndian);
  if (SINGLE_VALUE_TEXT.has(el.vr) && values.length > 1) throw new PacsError('DICOM_PARSE', `${tag}: VR ${el.vr} holds one value`);
  return textBytes(jsonElementText(el), el.vr, charset);
}

function encodeItems(ds: JsonDataset, opts: EncodeOptions, charset: string | null, extra: { tag: number; bytes: Buffer }[] = []): Buffer {
  const parts = [...extra];
  for (const [key, el] of Object.entries(ds)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key)) throw new PacsError('DICOM_PARSE', `"${key}" is not a tag (8 hex digits)`);
    const tag = Number.parseInt(key, 16) >>> 0;
    // The character set is the caller's choice, written once at the top; group lengths are retired.
    if (tag === Tag.SpecificCharacterSet || (tag & 0xffff) === 0) continue;
    parts.push({ tag, bytes: encodeElement(tag, el.vr, valueBytes(key, el, opts, charset), opts) });
  }
  return Buffer.concat(parts.sort((a, b) => a.tag - b.tag).map((p) => p.bytes));
}

/**
 * Encodes a DICOM JSON dataset in a transfer syntax (not deflated: small DIMSE payloads).
 * `charset` is written as (0008,0005) and used for the text of SH, LO, ST, LT, UC, UT, PN:
 * 'ISO_IR 192' as UTF-8, anything else (or null, the default repertoire) as Latin-1.
 */
export function encodeJsonDataset(ds: JsonDataset, transferSyntaxUID: string, charset: string | null): Buffer {
  const ts = transferSyntaxInfo(transferSyntaxUID);
  const opts: EncodeOptions = { explicitVR: ts?.explicitVR ?? true, littleEndian: ts?.littleEndian ?? true };
  const extra = charset ? [{ tag: Tag.SpecificCharacterSet, bytes: encodeElement(Tag.SpecificCharacterSet, 'CS', Buffer.from(charset, 'latin1'), opts) }] : [];
  return encodeItems(ds, opts, charset, extra);
}

/**
 * A request's dataset (a C-FIND identifier, an N-SET's changes, a worklist file) inflates to no
 * more than this: such datasets are a few KB (./inflate.ts says why it is bounded).
 */
const MAX_REQUEST_DATASET = 16 * 1024 * 1024;

/**
 * Sequence items in a request's dataset at most (OUT_OF_RESOURCES past it): a storage
 * commitment of 50,000 instances, an MPPS naming as many images. Each item is a JSON object of
 * its own, about 3 KB of heap; 16 MB of empty items were 2 GB.
 */
export const MAX_REQUEST_ITEMS = 50_000;

/**
 * Decodes a small dataset received in a DIMSE message (an identifier, an N-* payload) into the
 * JSON model, text decoded by its Specific Character Set, which is returned as received.
 * Rejects with DICOM_PARSE when the bytes are not a dataset, OUT_OF_RESOURCES past MAX_REQUEST_ITEMS items.
 */
export async function decodeJsonDataset(bytes: Buffer, transferSyntaxUID: string): Promise<{ dataset: JsonDataset; specificCharacterSet: string | null }> {
  if (transferSyntaxInfo(transferSyntaxUID)?.deflated) {
    const inflated = await inflateBounded(bytes, MAX_REQUEST_DATASET);
    if (inflated === null) throw new PacsError('DICOM_PARSE', `the deflated dataset inflates to more than ${MAX_REQUEST_DATASET / 1048576} MB`);
    bytes = inflated;
    transferSyntaxUID = TS.ExplicitVRLittleEndian;
  }
  const reader = new DatasetStreamReader({ transferSyntaxUID, collect: new Set([Tag.SpecificCharacterSet]) });
  reader.push(bytes);
  const { values } = await reader.end();
  const { json } = datasetToJson(bytes, { transferSyntaxUID, bulkDataURI: () => '', bulkThreshold: 64 * 1024, resolveUN: true, maxItems: MAX_REQUEST_ITEMS });
  delete json['00080005'];
  return { dataset: json, specificCharacterSet: elementText(values.get(Tag.SpecificCharacterSet), null) };
}
