// Sequential DCT JPEG with Huffman coding at 12 bits per sample (ITU-T T.81 process 4; DICOM
// JPEG Extended, 1.2.840.10008.1.2.4.51), one component: the grey-scale CT, MR and CR images
// old archives hold in it. The WebAssembly libjpeg-turbo we use is built for 8 bits only, and
// no maintained JavaScript library decodes 12-bit DCT JPEG (the pdf.js-derived ones clamp to 8
// bits), so this one is written from T.81: markers (B.2), Huffman tables and decoding (C, F.2.2),
// dequantisation and the inverse DCT (A.3.3), level shift (A.3.1). Restart intervals are
// honoured. Colour, progressive and arithmetic-coded 12-bit frames are refused with a reason.
import { PacsError } from '../core/errors.js';

const fail = (why: string): never => {
  throw new PacsError('DICOM_PARSE', `12-bit JPEG: ${why}`);
};

/** Zig-zag order → natural (row-major) position in the 8×8 block (T.81 Figure A.6). */
const ZIGZAG = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15,
  23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

/** C(u) cos((2x+1)uπ/16) / 2 for the 1-D inverse DCT (A.3.3), by [x * 8 + u]. */
const IDCT_BASIS = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) for (let u = 0; u < 8; u++) t[x * 8 + u] = ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2;
  return t;
})();

/** A Huffman table as T.81 F.2.2.3 decodes it: per code length, the largest code and where its values start. */
interface HuffmanTable {
  maxCode: Int32Array; // by length 1..16; -1 when no code has that length
  valPtr: Int32Array;
  minCode: Int32Array;
  values: Uint8Array;
}

function huffmanTable(counts: Uint8Array, values: Uint8Array): HuffmanTable {
  // Generate the codes in order of length (C.2, Figure C.2), then the decoding limits (F.15).
  const maxCode = new Int32Array(18).fill(-1);
  const minCode = new Int32Array(17);
  const valPtr = new Int32Array(17);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    if (n) {
      valPtr[len] = k;
      minCode[len] = code;
      code += n;
      k += n;
      maxCode[len] = code - 1;
      if (code > 1 << len) fail('a Huffman table has more codes than its lengths allow');
    }
    code <<= 1;
  }
  return { maxCode, valPtr, minCode, values };
}

/** Entropy-coded bits of a scan: 0xFF00 is a data 0xFF, any other marker ends the segment. */
class BitReader {
  private bits = 0;
  private count = 0;
  /** Set once a marker has been met: from there on the reader feeds zeros (T.81 F.2.2.5 allows no more). */
  marker = 0;
  /** Zero bytes fed after the marker: read ahead, harmless; consumed, the data ended early. */
  private fedZeros = 0;

  constructor(
    private readonly b: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.count <= 24) {
      let byte = 0;
      if (!this.marker && this.pos < this.b.length) {
        byte = this.b[this.pos]!;
        if (byte === 0xff) {
          const next = this.b[this.pos + 1] ?? 0;
          if (next === 0x00) this.pos += 2;
          else {
            this.marker = 0xff00 | next; // left at pos for the caller
            byte = 0;
            this.fedZeros++;
          }
        } else this.pos++;
      } else this.fedZeros++;
      this.bits = ((this.bits << 8) | byte) >>> 0;
      this.count += 8;
    }
  }

  bit(): number {
    if (this.count === 0) this.fill();
    this.count--;
    return (this.bits >>> this.count) & 1;
  }

  /** RECEIVE(s), F.2.2.4. */
  receive(s: number): number {
    if (this.count < s) this.fill();
    this.count -= s;
    return (this.bits >>> this.count) & ((1 << s) - 1);
  }

  decode(t: HuffmanTable): number {
    let code = this.bit();
    let len = 1;
    while (code > t.maxCode[len]!) {
      if (++len > 16) fail('a Huffman code that no table defines (corrupt data)');
      code = (code << 1) | this.bit();
    }
    return t.values[t.valPtr[len]! + code - t.minCode[len]!]!;
  }

  /** Whether bits past the end of the entropy-coded segment were used: a truncated or corrupt scan. */
  overrun(): boolean {
    return this.fedZeros * 8 > this.count;
  }

  /** At a restart marker: byte-aligned again, the marker consumed. */
  restart(): void {
    if (this.overrun()) fail('a restart interval ends before its data does (corrupt data)');
    this.fedZeros = 0;
    this.bits = 0;
    this.count = 0;
    if (!this.marker) {
      // The marker was not reached by reading (the last bits of the interval ended on a byte): find it.
      while (this.pos < this.b.length && this.b[this.pos] !== 0xff) this.pos++;
      this.marker = this.pos + 1 < this.b.length ? 0xff00 | this.b[this.pos + 1]! : 0;
    }
    if (this.marker < 0xffd0 || this.marker > 0xffd7) fail(`restart marker expected, found ${this.marker ? this.marker.toString(16) : 'the end of the data'}`);
    this.pos += 2;
    this.marker = 0;
  }
}

/** EXTEND(V, T), F.2.2.1: a received magnitude category value as a signed difference. */
const extend = (v: number, t: number): number => (t === 0 ? 0 : v < 1 << (t - 1) ? v - (1 << t) + 1 : v);

/** A decoded grey-scale 12-bit frame: rows × columns samples, unsigned, 0 … 4095. */
export interface Jpeg12Image {
  rows: number;
  columns: number;
  samples: Uint16Array;
}

export function decodeJpeg12(b: Uint8Array): Jpeg12Image {
  if (b[0] !== 0xff || b[1] !== 0xd8) fail('no SOI marker');
  const quant: (Int32Array | undefined)[] = [];
  const dc: (HuffmanTable | undefined)[] = [];
  const ac: (HuffmanTable | undefined)[] = [];
  let frame: { rows: number; columns: number; id: number; tq: number } | null = null;
  let restartInterval = 0;
  let out: Uint16Array | null = null;
  let scanned = false;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) fail(`a marker expected at byte ${p}`);
    const marker = 0xff00 | b[p + 1]!;
    if (marker === 0xffff) {
      p++;
      continue;
    }
    if (marker === 0xffd9) break; // EOI
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const seg = p + 4;
    const end = p + 2 + len;
    if (end > b.length) fail('a marker segment runs past the end of the data');
    switch (marker) {
      case 0xffdb: {
        // DQT (B.2.4.1): Pq 0 = 8-bit values, 1 = 16-bit values (what 12-bit images need).
        for (let q = seg; q < end; ) {
          const pq = b[q]! >> 4;
          const tq = b[q]! & 15;
          const table = new Int32Array(64);
          for (let i = 0; i < 64; i++) table[ZIGZAG[i]!] = pq ? (b[q + 1 + 2 * i]! << 8) | b[q + 2 + 2 * i]! : b[q + 1 + i]!;
          quant[tq & 3] = table;
          q += 1 + (pq ? 128 : 64);
        }
        break;
      }
      case 0xffc4: {
        // DHT (B.2.4.2)
        for (let q = seg; q < end; ) {
          const tc = b[q]! >> 4;
          const th = b[q]! & 15;
          const counts = b.subarray(q + 1, q + 17);
          const total = counts.reduce((s, n) => s + n, 0);
          const table = huffmanTable(counts, b.slice(q + 17, q + 17 + total));
          (tc === 0 ? dc : ac)[th & 3] = table;
          q += 17 + total;
        }
        break;
      }
      case 0xffdd:
        restartInterval = (b[seg]! << 8) | b[seg + 1]!;
        break;
      case 0xffc0:
      case 0xffc1: {
        const precision = b[seg]!;
        if (precision !== 12) fail(`sample precision ${precision}, this decoder is for 12 bits`);
        const rows = (b[seg + 1]! << 8) | b[seg + 2]!;
        const columns = (b[seg + 3]! << 8) | b[seg + 4]!;
        const components = b[seg + 5]!;
        if (components !== 1) fail(`${components} components: only grey-scale (one component) is supported at 12 bits`);
        if (!rows || !columns) fail('a frame without rows or columns (DNL is not supported)');
        // One component: an MCU is one block whatever its sampling factors (A.2.2), so they are not read.
        frame = { rows, columns, id: b[seg + 6]!, tq: b[seg + 8]! & 3 };
        out = new Uint16Array(rows * columns);
        break;
      }
      case 0xffda: {
        if (!frame || !out) fail('a scan before the frame header');
        const f = frame!;
        if (b[seg] !== 1 || b[seg + 1] !== f.id) fail('a scan of a component the frame does not have');
        const td = b[seg + 2]! >> 4;
        const ta = b[seg + 2]! & 15;
        const reader = new BitReader(b, end);
        decodeScan(reader, f, out!, quant[f.tq] ?? fail(`quantisation table ${f.tq} is not defined`), dc[td & 3] ?? fail(`DC table ${td} is not defined`), ac[ta & 3] ?? fail(`AC table ${ta} is not defined`), restartInterval);
        if (reader.overrun()) fail('the entropy-coded data ends before the last block (truncated or corrupt)');
        scanned = true;
        // Past the entropy-coded data: to the next marker that is not a restart.
        p = reader.pos;
        while (p + 1 < b.length && !(b[p] === 0xff && b[p + 1] !== 0 && !(b[p + 1]! >= 0xd0 && b[p + 1]! <= 0xd7))) p++;
        continue;
      }
      default:
        if (marker >= 0xffc2 && marker <= 0xffcf && marker !== 0xffc4 && marker !== 0xffc8 && marker !== 0xffcc)
          fail(`JPEG process of marker SOF${marker & 15} is not supported at 12 bits (sequential DCT only)`);
      // APPn, COM and the rest: skipped.
    }
    p = end;
  }
  if (!frame || !out || !scanned) fail('no frame or no scan in the codestream');
  return { rows: frame!.rows, columns: frame!.columns, samples: out! };
}

function decodeScan(r: BitReader, f: { rows: number; columns: number }, out: Uint16Array, q: Int32Array, dcTable: HuffmanTable, acTable: HuffmanTable, restartInterval: number): void {
  // One component: each MCU is one 8×8 block (A.2.2), rows of blocks padded to the block edge.
  const blocksPerLine = Math.ceil(f.columns / 8);
  const blockRows = Math.ceil(f.rows / 8);
  const coefficients = new Float64Array(64);
  const tmp = new Float64Array(64);
  let pred = 0;
  let mcu = 0;
  for (let by = 0; by < blockRows; by++) {
    for (let bx = 0; bx < blocksPerLine; bx++) {
      if (restartInterval && mcu > 0 && mcu % restartInterval === 0) {
        r.restart();
        pred = 0;
      }
      mcu++;
      coefficients.fill(0);
      // DC (F.2.2.1), then AC (F.2.2.2), dequantised into natural order.
      const t = r.decode(dcTable);
      if (t > 16) fail('a DC difference category above 16 (corrupt data)');
      pred += extend(r.receive(t), t);
      coefficients[0] = pred * q[0]!;
      for (let k = 1; k < 64; ) {
        const rs = r.decode(acTable);
        const run = rs >> 4;
        const s = rs & 15;
        if (s === 0) {
          if (run !== 15) break; // EOB
          k += 16; // ZRL
          continue;
        }
        k += run;
        if (k > 63) fail('AC coefficients past the end of a block (corrupt data)');
        const z = ZIGZAG[k]!;
        coefficients[z] = extend(r.receive(s), s) * q[z]!;
        k++;
      }
      idctInto(coefficients, tmp, out, f, bx * 8, by * 8);
    }
  }
}

/** The separable 2-D inverse DCT of one block, level-shifted by 2048 and clamped to 12 bits (A.3.1, A.3.3). */
function idctInto(c: Float64Array, tmp: Float64Array, out: Uint16Array, f: { rows: number; columns: number }, x0: number, y0: number): void {
  // Rows first: tmp[v][x] = Σu C(u) cos(...) F[v][u] / 2; then columns.
  for (let v = 0; v < 8; v++) {
    for (let x = 0; x < 8; x++) {
      let s = 0;
      for (let u = 0; u < 8; u++) s += IDCT_BASIS[x * 8 + u]! * c[v * 8 + u]!;
      tmp[v * 8 + x] = s;
    }
  }
  for (let y = 0; y < 8; y++) {
    const row = y0 + y;
    if (row >= f.rows) break;
    for (let x = 0; x < 8; x++) {
      const col = x0 + x;
      if (col >= f.columns) break;
      let s = 0;
      for (let v = 0; v < 8; v++) s += IDCT_BASIS[y * 8 + v]! * tmp[v * 8 + x]!;
      const value = Math.round(s) + 2048;
      out[row * f.columns + col] = value < 0 ? 0 : value > 4095 ? 4095 : value;
    }
  }
}
