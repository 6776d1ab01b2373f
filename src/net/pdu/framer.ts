// Cuts a TCP byte stream into PDUs. Incoming PDUs are bounded: a P-DATA-TF longer than the
// maximum we announced, or any other PDU longer than a sane limit, is a protocol error before
// a single byte of it is buffered (PS3.8 D.1), so a hostile peer cannot make us allocate.
import { PduType } from './types.js';

export interface RawPdu {
  type: number;
  body: Buffer;
}

export type FrameError =
  | { kind: 'unrecognized'; type: number }
  | { kind: 'too-long'; type: number; length: number; limit: number };

/**
 * Largest non-P-DATA PDU we accept: an A-ASSOCIATE-RQ with 128 contexts is ~20 KB, a user
 * identity (a Kerberos ticket, a SAML assertion) a few more. What a connection may make us
 * buffer before it is an association, so kept small.
 */
export const MAX_CONTROL_PDU = 256 * 1024;

export class PduFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Header of the PDU being gathered, once read: the rest is only counted, not re-parsed. */
  private pending: { type: number; length: number } | null = null;
  /** Maximum variable-field length of an incoming P-DATA-TF; 0 = unlimited. */
  maxPDataLength: number;

  constructor(maxPDataLength: number) {
    this.maxPDataLength = maxPDataLength;
  }

  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Adds bytes and returns every complete PDU they finish, or stops at the first framing
   * error (the caller aborts the association; nothing after it is meaningful).
   */
  push(chunk: Buffer, out: RawPdu[]): FrameError | null {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= 6) {
      if (!this.pending) {
        const head = this.peek(6);
        const type = head[0]!;
        const length = head.readUInt32BE(2);
        if (type < PduType.AssociateRQ || type > PduType.Abort) return { kind: 'unrecognized', type };
        const limit = type === PduType.PDataTF ? this.maxPDataLength || 0xffffffff : MAX_CONTROL_PDU;
        if (length > limit) return { kind: 'too-long', type, length, limit };
        this.pending = { type, length };
      }
      const { type, length } = this.pending;
      if (this.buffered < 6 + length) break;
      this.pending = null;
      const whole = this.take(6 + length);
      out.push({ type, body: whole.subarray(6) });
    }
    return null;
  }

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    // Only the chunks that hold the first n bytes: Buffer.concat walks its whole list, which
    // made a peer trickling a PDU in tiny segments cost O(chunks²).
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of this.chunks) {
      parts.push(c);
      got += c.length;
      if (got >= n) break;
    }
    return Buffer.concat(parts, Math.min(got, n));
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // The common case for small PDUs: no copy.
      this.buffered -= n;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    let used = 0; // whole chunks consumed, removed at once: shift() per chunk is O(chunks²)
    while (off < n) {
      const c = this.chunks[used]!;
      const need = n - off;
      if (c.length <= need) {
        c.copy(out, off);
        off += c.length;
        used++;
      } else {
        c.copy(out, off, 0, need);
        this.chunks[used] = c.subarray(need);
        off += need;
      }
    }
    this.chunks.splice(0, used);
    this.buffered -= n;
    return out;
  }
}
