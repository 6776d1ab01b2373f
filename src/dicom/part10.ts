// The DICOM file format of PS3.10: 128-byte preamble, "DICM", File Meta Information (group
// 0002, always explicit VR LE), then the dataset in its transfer syntax. Also the files found in
// the wild without preamble or without meta, whose encoding must be sniffed.
import { open } from 'node:fs/promises';
import { PacsError } from '../core/errors.js';
import { describeTag, lookupTag } from './dictionary.js';
import type { ElementValue } from './element.js';
import { DatasetStreamReader } from './reader.js';
import { Tag } from './tags.js';
import { TS, transferSyntaxInfo } from './transfer-syntax.js';
import { VR_BY_CODE } from './vr.js';
import { encodeDataset, encodeText, type DatasetElement } from './writer.js';

export interface FileMetaInput {
  mediaStorageSOPClassUID: string;
  mediaStorageSOPInstanceUID: string;
  transferSyntaxUID: string;
  implementationClassUID: string;
  implementationVersionName: string;
  sourceApplicationEntityTitle?: string;
}

export interface Part10Prefix {
  /** Offset of the first dataset byte in the file. */
  datasetOffset: number;
  transferSyntaxUID: string;
  /** Every group 0002 element, raw (empty when there is no meta). */
  meta: Map<number, ElementValue>;
  hasMeta: boolean;
}

export interface Part10Header extends Part10Prefix {
  sopClassUID?: string;
  sopInstanceUID?: string;
}

const PREAMBLE_LENGTH = 128;
const LE = { explicitVR: true, littleEndian: true };

/** Preamble, "DICM" and the File Meta Information group, ready to precede a dataset. */
export const encodeFileMetaInformation = (m: FileMetaInput): Buffer => {
  const elements: DatasetElement[] = [
    { tag: Tag.FileMetaInformationVersion, vr: 'OB', value: Buffer.from([0x00, 0x01]) },
    { tag: Tag.MediaStorageSOPClassUID, vr: 'UI', value: encodeText(m.mediaStorageSOPClassUID, 'UI') },
    { tag: Tag.MediaStorageSOPInstanceUID, vr: 'UI', value: encodeText(m.mediaStorageSOPInstanceUID, 'UI') },
    { tag: Tag.TransferSyntaxUID, vr: 'UI', value: encodeText(m.transferSyntaxUID, 'UI') },
    { tag: Tag.ImplementationClassUID, vr: 'UI', value: encodeText(m.implementationClassUID, 'UI') },
    { tag: Tag.ImplementationVersionName, vr: 'SH', value: encodeText(m.implementationVersionName, 'SH') },
  ];
  if (m.sourceApplicationEntityTitle) {
    elements.push({ tag: Tag.SourceApplicationEntityTitle, vr: 'AE', value: encodeText(m.sourceApplicationEntityTitle, 'AE') });
  }
  const group = encodeDataset(elements, LE);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(group.length);
  const groupLength = encodeDataset([{ tag: Tag.FileMetaInformationGroupLength, vr: 'UL', value: length }], LE);
  const head = Buffer.alloc(PREAMBLE_LENGTH + 4);
  head.write('DICM', PREAMBLE_LENGTH, 'latin1');
  return Buffer.concat([head, groupLength, group]);
};

const notDicom = (why: string): PacsError => new PacsError('DICOM_PARSE', `not a DICOM file: ${why}`);

const uidText = (el: ElementValue | undefined): string | undefined => {
  if (!el) return undefined;
  const s = el.bytes.toString('latin1').replace(/[\0 ]+$/, '').trim();
  return s === '' ? undefined : s;
};

/** One element header of a little endian dataset; null when `buf` ends inside it. */
const readHeaderLE = (
  buf: Buffer,
  o: number,
  explicit: boolean,
): { tag: number; vr: string; length: number; headerLength: number } | null => {
  if (buf.length < o + 8) return null;
  const tag = ((buf.readUInt16LE(o) << 16) | buf.readUInt16LE(o + 2)) >>> 0;
  if (!explicit) return { tag, vr: lookupTag(tag)?.vr || 'UN', length: buf.readUInt32LE(o + 4), headerLength: 8 };
  const info = VR_BY_CODE.get(buf.readUInt16BE(o + 4));
  if (!info) throw notDicom(`invalid VR at offset ${o + 4} in ${describeTag(tag)}`);
  if (!info.long) return { tag, vr: info.vr, length: buf.readUInt16LE(o + 6), headerLength: 8 };
  if (buf.length < o + 12) return null;
  return { tag, vr: info.vr, length: buf.readUInt32LE(o + 8), headerLength: 12 };
};

/**
 * Group 0002 from `start`. Explicit VR LE by PS3.10, but some old writers used implicit VR, so
 * the first header decides. Reads while the group is 0002: the group length is often wrong.
 */
const parseMeta = (head: Buffer, start: number, final: boolean): { end: number; meta: Map<number, ElementValue> } | null => {
  if (head.length < start + 6) {
    if (final) throw notDicom('file ends inside the File Meta Information');
    return null;
  }
  const explicit = VR_BY_CODE.has(head.readUInt16BE(start + 4));
  const meta = new Map<number, ElementValue>();
  let o = start;
  let groupEnd = -1;
  while (true) {
    // A deflated dataset starts with arbitrary bytes that could read as group 0002: there
    // the group length, when present, is the only safe end.
    if (o === groupEnd && transferSyntaxInfo(uidText(meta.get(Tag.TransferSyntaxUID)) ?? '')?.deflated) return { end: o, meta };
    if (head.length < o + 4) {
      if (!final) return null;
      if (head.length === o) return { end: o, meta };
      throw notDicom(`file ends inside the File Meta Information at offset ${o}`);
    }
    if (head.readUInt16LE(o) !== 0x0002) return { end: o, meta };
    const h = readHeaderLE(head, o, explicit);
    if (!h) {
      if (final) throw notDicom(`file ends inside the File Meta Information at offset ${o}`);
      return null;
    }
    if (h.length === 0xffffffff) throw new PacsError('DICOM_PARSE', `${describeTag(h.tag)} at offset ${o} has undefined length in the File Meta Information`);
    const valueStart = o + h.headerLength;
    if (head.length < valueStart + h.length) {
      if (final) throw new PacsError('DICOM_PARSE', `truncated: ${describeTag(h.tag)} at offset ${o} declares ${h.length} bytes, ${head.length - valueStart} present`);
      return null;
    }
    meta.set(h.tag, { tag: h.tag, vr: h.vr, bytes: Buffer.from(head.subarray(valueStart, valueStart + h.length)) });
    if (h.tag === Tag.FileMetaInformationGroupLength && h.length === 4) groupEnd = valueStart + 4 + head.readUInt32LE(valueStart);
    o = valueStart + h.length;
  }
};

/**
 * With no File Meta, guess the encoding of a dataset from its first element: explicit VR LE
 * if a VR follows the tag, explicit VR BE if the tag reads as a known one big endian, else
 * implicit VR LE. The guess must look like a dataset start: a known, even-group tag of
 * group 0008 or above and a length that fits, followed by an ascending tag. That is what
 * refuses gzip files and files shifted by a stray byte.
 */
const sniffDataset = (head: Buffer, final: boolean): string | null => {
  if (head.length < 12 && !final) return null;
  if (head.length < 8) throw notDicom(`only ${head.length} bytes`);
  const explicitVR = VR_BY_CODE.get(head.readUInt16BE(4));
  const leGroup = head.readUInt16LE(0);
  const beGroup = head.readUInt16BE(0);
  let ts: string;
  if (explicitVR && beGroup >= 0x0008 && beGroup <= 0x00ff && !(beGroup & 1) && leGroup > 0x00ff) ts = TS.ExplicitVRBigEndian;
  else ts = explicitVR ? TS.ExplicitVRLittleEndian : TS.ImplicitVRLittleEndian;
  const big = ts === TS.ExplicitVRBigEndian;
  const tagAt = (o: number): number =>
    big ? head.readUInt32BE(o) : ((head.readUInt16LE(o) << 16) | head.readUInt16LE(o + 2)) >>> 0;
  const first = tagAt(0);
  const group = first >>> 16;
  if (group < 0x0008 || group & 1 || group === 0xfffe || !lookupTag(first)) {
    throw notDicom(`no File Meta Information, and the first bytes do not start a dataset (tag ${describeTag(first)})`);
  }
  let length: number;
  let headerLength = 8;
  if (!explicitVR) length = head.readUInt32LE(4);
  else if (!explicitVR.long) length = big ? head.readUInt16BE(6) : head.readUInt16LE(6);
  else {
    length = big ? head.readUInt32BE(8) : head.readUInt32LE(8);
    headerLength = 12;
  }
  if (length === 0xffffffff) return ts; // an undefined-length sequence first: plausible enough
  const next = headerLength + length;
  if (head.length < next + 4) {
    if (final && head.length !== next) throw notDicom(`first element ${describeTag(first)} declares ${length} bytes, more than the file holds`);
    if (!final && length > 1 << 20) throw notDicom(`first element ${describeTag(first)} declares an implausible ${length} bytes`);
    return final ? ts : null;
  }
  if (tagAt(next) <= first) throw notDicom(`no File Meta Information, and the first tags are not in ascending order`);
  return ts;
};

/**
 * Locates the dataset in the head of a file: null when more bytes are needed (pass
 * `final` = true when `head` is the whole file). Throws DICOM_PARSE when it is not DICOM.
 */
export const parsePart10Prefix = (head: Buffer, final = false): Part10Prefix | null => {
  // Until "DICM" could be seen, the first bytes may be a preamble of any content.
  if (head.length < PREAMBLE_LENGTH + 4 && !final) return null;
  let metaStart = -1;
  if (head.length >= PREAMBLE_LENGTH + 4 && head.toString('latin1', PREAMBLE_LENGTH, PREAMBLE_LENGTH + 4) === 'DICM') {
    metaStart = PREAMBLE_LENGTH + 4;
  } else if (head.length >= 2 && head.readUInt16LE(0) === 0x0002) {
    metaStart = 0; // File Meta without the preamble, as some old writers did
  }
  if (metaStart < 0) {
    const ts = sniffDataset(head, final);
    return ts === null ? null : { datasetOffset: 0, transferSyntaxUID: ts, meta: new Map(), hasMeta: false };
  }
  const parsed = parseMeta(head, metaStart, final);
  if (!parsed) return null;
  const transferSyntaxUID = uidText(parsed.meta.get(Tag.TransferSyntaxUID));
  if (!transferSyntaxUID) {
    throw new PacsError('DICOM_PARSE', 'the File Meta Information has no Transfer Syntax UID (0002,0010)');
  }
  return { datasetOffset: parsed.end, transferSyntaxUID, meta: parsed.meta, hasMeta: true };
};

const FIRST_READ = 16 * 1024;
const MAX_HEAD = 16 * 1024 * 1024;

/**
 * The File Meta of a stored file and its SOP Class / Instance UIDs (from the meta, else from
 * the start of the dataset), reading only the head of the file.
 */
export const readPart10Header = async (path: string): Promise<Part10Header> => {
  const fh = await open(path, 'r');
  try {
    let head = Buffer.alloc(0);
    let eof = false;
    let prefix: Part10Prefix | null = null;
    const readMore = async (): Promise<void> => {
      const want = Math.max(FIRST_READ, head.length * 2);
      const buf = Buffer.alloc(want - head.length);
      const { bytesRead } = await fh.read(buf, 0, buf.length, head.length);
      eof = bytesRead < buf.length;
      head = Buffer.concat([head, buf.subarray(0, bytesRead)]);
    };
    while (!prefix) {
      await readMore();
      prefix = parsePart10Prefix(head, eof);
      if (!prefix && (eof || head.length >= MAX_HEAD)) {
        throw new PacsError('DICOM_PARSE', `${path}: File Meta Information larger than ${MAX_HEAD} bytes`);
      }
    }
    // The dataset's own UIDs win over the File Meta's: files exist whose meta says 1.2.3.4
    // while the dataset (what C-STORE sends and what the index files) says otherwise.
    let sopClassUID: string | undefined;
    let sopInstanceUID: string | undefined;
    if (prefix.datasetOffset < head.length) {
      const reader = new DatasetStreamReader({
        transferSyntaxUID: prefix.transferSyntaxUID,
        collect: new Set([Tag.SOPClassUID, Tag.SOPInstanceUID]),
      });
      reader.push(head.subarray(prefix.datasetOffset));
      sopClassUID = uidText(reader.collected.get(Tag.SOPClassUID));
      sopInstanceUID = uidText(reader.collected.get(Tag.SOPInstanceUID));
    }
    sopClassUID ??= uidText(prefix.meta.get(Tag.MediaStorageSOPClassUID));
    sopInstanceUID ??= uidText(prefix.meta.get(Tag.MediaStorageSOPInstanceUID));
    return { ...prefix, ...(sopClassUID ? { sopClassUID } : {}), ...(sopInstanceUID ? { sopInstanceUID } : {}) };
  } finally {
    await fh.close();
  }
};
