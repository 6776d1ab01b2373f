// The synchronous core of the streaming reader: a push parser over the bytes of one dataset
// (PS3.5 7) in one unencapsulated encoding. It walks every element, sequence, item and
// fragment to prove the dataset is structurally complete, copies only the few top-level values
// asked for, and skips every other value by arithmetic: a 500 MB Pixel Data costs as much as
// its chunks' count, not its size. No per-byte loops, no recursion (nesting is a frame stack).
import { PacsError } from '../core/errors.js';
import { describeTag, formatTag, implicitVR } from './dictionary.js';
import type { ElementValue } from './element.js';
import { firstNonZero } from './padding.js';
import { Tag } from './tags.js';
import { VR_BY_CODE } from './vr.js';

/** What a frame of the stack is: the dataset or an item's content, a sequence, or fragments. */
const DATASET = 0;
const SEQUENCE = 1;
const FRAGMENTS = 2;

const UNDEFINED_LENGTH = 0xffffffff;

/**
 * Sequences nested deeper than this are refused. Far beyond any real dataset (structured reports'
 * content trees go a few dozen levels deep), and well under what the code reading stored
 * instances again can walk: DICOM JSON and de-identification recurse, and the stack ends near
 * 2,000 levels — one such instance would break the metadata of its whole study.
 */
export const MAX_DEPTH = 128;

interface Frame {
  readonly kind: number;
  /** Offset just past the frame for a defined length; -1 when a delimiter ends it. */
  readonly end: number;
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
  /** The sequence (or Pixel Data) tag the frame belongs to, for messages. */
  readonly tag: number;
  /** Offset of the header that opened the frame, for messages. */
  readonly start: number;
}

export interface ParserOptions {
  readonly explicitVR: boolean;
  readonly littleEndian: boolean;
  readonly collect: { has(tag: number): boolean };
  readonly maxCollectLength: number;
  /** A collected value longer than maxCollectLength is an error, not skipped (a query key skipped would match everything). */
  readonly refuseLongerValues?: boolean;
}

/**
 * The streaming parser reads no "US or SS" value for the index and frames Pixel Data the same
 * whatever its VR: the implicit-VR rules apply with the defaults (US, OW).
 */
const IMPLICIT_DEFAULTS = { pixelRepresentation: 0, bitsAllocated: 16 } as const;

export class DatasetParser {
  readonly values = new Map<number, ElementValue>();
  error: PacsError | null = null;
  /** Offset of the next byte, counted from the first byte of the dataset. */
  pos = 0;
  /** Offset where all-zero trailing padding began, or -1. */
  paddingStart = -1;

  private readonly collect: { has(tag: number): boolean };
  private readonly maxCollect: number;
  private readonly refuseLonger: boolean;
  private readonly stack: Frame[];
  private top: Frame;
  /** A header split across chunks is gathered here (12 bytes is the longest header). */
  private readonly hdr = Buffer.alloc(12);
  private hdrLen = 0;
  /** Bytes of the current value not yet seen; while > 0 input is value, not headers. */
  private remaining = 0;
  private valueTag = 0;
  private valueVR = '';
  private valueLength = 0;
  private valueStart = 0;
  private collectBuf: Buffer | null = null;
  private collectOff = 0;

  constructor(opts: ParserOptions) {
    this.collect = opts.collect;
    this.maxCollect = opts.maxCollectLength;
    this.refuseLonger = opts.refuseLongerValues === true;
    this.top = { kind: DATASET, end: -1, explicitVR: opts.explicitVR, littleEndian: opts.littleEndian, tag: 0, start: 0 };
    this.stack = [this.top];
  }

  push(chunk: Buffer): void {
    const n = chunk.length;
    let off = 0;
    while (off < n && !this.error) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - off);
        if (this.collectBuf) {
          chunk.copy(this.collectBuf, this.collectOff, off, off + take);
          this.collectOff += take;
        }
        off += take;
        this.pos += take;
        this.remaining -= take;
        if (this.remaining === 0) this.finishValue();
        continue;
      }
      if (this.paddingStart >= 0) {
        this.checkPadding(chunk, off, n);
        this.pos += n - off;
        return;
      }
      if (this.top.end === this.pos) this.closeFrames();
      if (this.hdrLen === 0) {
        const used = this.header(chunk, off, n - off);
        if (used < 0) {
          if (!this.error) {
            chunk.copy(this.hdr, 0, off, n);
            this.hdrLen = n - off;
          }
          return;
        }
        off += used;
      } else {
        const take = Math.min(this.hdr.length - this.hdrLen, n - off);
        chunk.copy(this.hdr, this.hdrLen, off, off + take);
        const have = this.hdrLen + take;
        const used = this.header(this.hdr, 0, have);
        if (used < 0) {
          this.hdrLen = have;
          off += take;
        } else if (used === 0) {
          // Padding began inside the gathered bytes: they are padding too.
          this.checkPadding(this.hdr, 0, this.hdrLen);
          this.pos += this.hdrLen;
          this.hdrLen = 0;
        } else {
          // A header is only retried with more bytes than before, so used > hdrLen.
          off += used - this.hdrLen;
          this.hdrLen = 0;
        }
      }
    }
  }

  /** Checks the input ended at an element boundary at depth 0; sets and returns the error. */
  finish(): PacsError | null {
    if (this.error) return this.error;
    if (this.remaining > 0) {
      const what = this.valueTag === Tag.Item ? `fragment of ${describeTag(this.top.tag)}` : describeTag(this.valueTag);
      this.fail(
        `truncated: ${what} at offset ${this.valueStart} declares ${this.valueLength} bytes, ` +
          `${this.valueLength - this.remaining} present`,
      );
      return this.error;
    }
    if (this.hdrLen > 0) {
      const zeros = firstNonZero(this.hdr, 0, this.hdrLen) < 0;
      if (this.stack.length === 1 && zeros) {
        // Fewer zero bytes than a header at the very end: padding too short to be an element.
        if (this.paddingStart < 0) this.paddingStart = this.pos;
        this.pos += this.hdrLen;
        this.hdrLen = 0;
      } else {
        this.fail(`truncated: element header at offset ${this.pos} cut short after ${this.hdrLen} bytes`);
        return this.error;
      }
    }
    this.closeFrames();
    if (this.stack.length > 1) {
      const f = this.top;
      const what = f.kind === DATASET ? `an item of ${describeTag(f.tag)}` : describeTag(f.tag);
      const how = f.end >= 0 ? `declares it ends at offset ${f.end}` : 'has no delimiter';
      this.fail(`truncated: ${what} starting at offset ${f.start} ${how}; the dataset ends at offset ${this.pos}`);
      return this.error;
    }
    return null;
  }

  fail(message: string): -1 {
    this.error ??= new PacsError('DICOM_PARSE', message);
    return -1;
  }

  /**
   * Parses the header at buf[o..o+avail): the number of bytes it took, 0 when trailing padding
   * starts here, -1 when more bytes are needed or on error (then `error` is set).
   */
  private header(buf: Buffer, o: number, avail: number): number {
    // Every header (element, item, delimiter) is at least 8 bytes.
    if (avail < 8) return -1;
    const f = this.top;
    const le = f.littleEndian;
    const tag = le ? ((buf.readUInt16LE(o) << 16) | buf.readUInt16LE(o + 2)) >>> 0 : buf.readUInt32BE(o);
    if (f.kind !== DATASET || tag >>> 16 === 0xfffe) {
      // Items and delimiters: tag and a 4-byte length in every syntax, never a VR (PS3.5 7.5).
      const len = le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4);
      return this.itemHeader(tag, len) ? 8 : -1;
    }
    if (tag === 0 && this.stack.length === 1 && buf.readUInt32LE(o + 4) === 0) {
      // Eight zero bytes cannot be a dataset element: what follows is zero padding after the
      // last element, which real files carry (megabytes of it, in one sample). A (0000,0000)
      // with a real VR is an element (DCMTK re-sends such padding as one, first in the dataset).
      this.paddingStart = this.pos;
      return 0;
    }
    let vr: string;
    let len: number;
    let used: number;
    if (f.explicitVR) {
      const info = VR_BY_CODE.get(buf.readUInt16BE(o + 4));
      if (!info) {
        const shown = buf.toString('latin1', o + 4, o + 6).replace(/[^\x20-\x7e]/g, '?');
        return this.fail(`invalid VR "${shown}" for ${describeTag(tag)} at offset ${this.pos}`);
      }
      vr = info.vr;
      if (info.long) {
        if (avail < 12) return -1;
        len = le ? buf.readUInt32LE(o + 8) : buf.readUInt32BE(o + 8);
        used = 12;
      } else {
        len = le ? buf.readUInt16LE(o + 6) : buf.readUInt16BE(o + 6);
        used = 8;
      }
    } else {
      vr = implicitVR(tag, IMPLICIT_DEFAULTS);
      len = le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4);
      used = 8;
    }
    const start = this.pos;
    if (f.end >= 0 && start + used > f.end) {
      return this.fail(`header of ${describeTag(tag)} at offset ${start} crosses the end of its item at offset ${f.end}`);
    }
    this.pos += used;
    this.startValue(tag, vr, len, start);
    return this.error ? -1 : used;
  }

  private startValue(tag: number, vr: string, len: number, start: number): void {
    const f = this.top;
    // A top-level sequence asked for is recorded as present, without its items (a C-FIND
    // identifier names sequences as return keys).
    if (this.stack.length === 1 && (vr === 'SQ' || len === UNDEFINED_LENGTH) && tag !== Tag.PixelData && this.collect.has(tag) && !this.values.has(tag)) {
      this.values.set(tag, { tag, vr: 'SQ', bytes: Buffer.alloc(0) });
    }
    if (len === UNDEFINED_LENGTH) {
      if (vr === 'SQ' || vr === 'UN' || (!f.explicitVR && tag !== Tag.PixelData)) {
        // UN of undefined length holds a sequence in implicit VR LE, whatever the transfer
        // syntax (PS3.5 6.2.2); so does any undefined length in implicit VR.
        const implicit = vr === 'UN' || !f.explicitVR;
        this.pushFrame(SEQUENCE, -1, !implicit, implicit || f.littleEndian, tag, start);
      } else {
        // Encapsulated Pixel Data (PS3.5 A.4): fragment items up to a sequence delimiter.
        this.pushFrame(FRAGMENTS, -1, f.explicitVR, f.littleEndian, tag, start);
      }
      return;
    }
    const end = this.pos + len;
    if (f.end >= 0 && end > f.end) {
      this.fail(
        `${describeTag(tag)} at offset ${start} declares ${len} bytes, past the end of its ` +
          `enclosing item at offset ${f.end}`,
      );
      return;
    }
    if (vr === 'SQ') {
      this.pushFrame(SEQUENCE, end, f.explicitVR, f.littleEndian, tag, start);
      return;
    }
    if (this.refuseLonger && len > this.maxCollect && this.stack.length === 1 && this.collect.has(tag)) {
      this.fail(`${describeTag(tag)} at offset ${start} is ${len} bytes long, more than the ${this.maxCollect} taken`);
      return;
    }
    this.beginValue(tag, vr, len, start);
    if (this.stack.length === 1 && len <= this.maxCollect && this.collect.has(tag)) {
      this.collectBuf = Buffer.allocUnsafe(len);
      this.collectOff = 0;
    }
    if (len === 0) this.finishValue();
  }

  /** An Item or delimiter header (always 8 bytes); false on error. */
  private itemHeader(tag: number, len: number): boolean {
    const f = this.top;
    const start = this.pos;
    this.pos += 8;
    if (f.end >= 0 && this.pos > f.end) {
      this.fail(`header of ${formatTag(tag)} at offset ${start} crosses the end of ${describeTag(f.tag)} at offset ${f.end}`);
      return false;
    }
    if (f.kind === DATASET) {
      if (tag === Tag.ItemDelimitationItem && this.stack.length > 1 && f.end < 0) {
        this.popFrame();
        return true;
      }
      const where = this.stack.length > 1 ? `in an item of ${describeTag(f.tag)}` : 'at the top level of the dataset';
      this.fail(`unexpected ${describeTag(tag)} at offset ${start} ${where}`);
      return false;
    }
    if (tag === Tag.Item) {
      if (len !== UNDEFINED_LENGTH && f.end >= 0 && this.pos + len > f.end) {
        this.fail(`item at offset ${start} declares ${len} bytes, past the end of ${describeTag(f.tag)} at offset ${f.end}`);
        return false;
      }
      if (f.kind === SEQUENCE) {
        const end = len === UNDEFINED_LENGTH ? -1 : this.pos + len;
        this.pushFrame(DATASET, end, f.explicitVR, f.littleEndian, f.tag, start);
        return true;
      }
      if (len === UNDEFINED_LENGTH) {
        this.fail(`fragment of ${describeTag(f.tag)} at offset ${start} has undefined length`);
        return false;
      }
      this.beginValue(Tag.Item, '', len, start);
      if (len === 0) this.finishValue();
      return true;
    }
    if (tag === Tag.SequenceDelimitationItem) {
      if (f.end >= 0) {
        this.fail(`Sequence Delimitation Item at offset ${start} inside ${describeTag(f.tag)} of defined length`);
        return false;
      }
      // Its length should be 0; like DCMTK, a non-zero one is ignored rather than skipped.
      this.popFrame();
      return true;
    }
    this.fail(`expected an Item in ${describeTag(f.tag)} at offset ${start}, found ${describeTag(tag)}`);
    return false;
  }

  private beginValue(tag: number, vr: string, len: number, start: number): void {
    this.valueTag = tag;
    this.valueVR = vr;
    this.valueLength = len;
    this.valueStart = start;
    this.remaining = len;
  }

  private finishValue(): void {
    if (this.collectBuf) {
      if (!this.values.has(this.valueTag)) {
        this.values.set(this.valueTag, { tag: this.valueTag, vr: this.valueVR, bytes: this.collectBuf });
      }
      this.collectBuf = null;
    }
  }

  private pushFrame(kind: number, end: number, explicitVR: boolean, littleEndian: boolean, tag: number, start: number): void {
    // Each sequence level is two entries on the stack: the sequence and its item.
    if (this.stack.length > 2 * MAX_DEPTH) {
      this.fail(`sequences nested more than ${MAX_DEPTH} deep at offset ${start}`);
      return;
    }
    this.top = { kind, end, explicitVR, littleEndian, tag, start };
    this.stack.push(this.top);
  }

  private popFrame(): void {
    this.stack.pop();
    this.top = this.stack[this.stack.length - 1] ?? this.top;
  }

  /** Pops every defined-length item or sequence that ends at the current offset. */
  private closeFrames(): void {
    while (this.stack.length > 1 && this.top.end === this.pos) this.popFrame();
  }

  private checkPadding(buf: Buffer, from: number, to: number): void {
    const k = firstNonZero(buf, from, to);
    if (k < 0) return;
    this.fail(
      `non-zero byte at offset ${this.pos + (k - from)} in what follows the last element; ` +
        `a (0000,0000) header at offset ${this.paddingStart} began trailing padding, which must be all zeros`,
    );
  }
}
