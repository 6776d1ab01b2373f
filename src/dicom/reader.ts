// The streaming dataset reader: sees every byte of a dataset as it arrives (network PDVs or
// file chunks, any sizes), collects the few top-level values the caller asked for, and proves
// the dataset complete when the input ends. Deflated syntaxes are inflated on the way.
import { createInflateRaw, type InflateRaw } from 'node:zlib';
import { PacsError, errorMessage } from '../core/errors.js';
import { DatasetParser } from './dataset-parser.js';
import type { ElementValue } from './element.js';
import { transferSyntaxInfo } from './transfer-syntax.js';

export type { ElementValue } from './element.js';

export interface DatasetSummary {
  /** The collected top-level values, by tag. */
  values: Map<number, ElementValue>;
  /** Bytes of the dataset parsed, trailing padding included (after inflation, if deflated). */
  bytesRead: number;
  /** Length of the all-zero bytes after the last element (0 when there are none). */
  trailingPadding: number;
}

export interface DatasetReaderOptions {
  transferSyntaxUID: string;
  /**
   * Top-level tags whose values to keep (anything with `has`: a C-FIND identifier wants them
   * all). Sequences are walked, never collected: one asked for is recorded with no bytes.
   */
  collect: { has(tag: number): boolean };
  /**
   * Most bytes a deflated dataset may inflate to (default 4 GiB, about the most a dataset's
   * element lengths can describe): DEFLATE packs up to 1,032 bytes in one, so a few MB sent
   * are gigabytes to inflate — minutes of CPU for one C-STORE or STOW-RS part, or hours.
   */
  maxInflatedBytes?: number;
  /** Longer values of collected tags are skipped (default 4096), or refused with refuseLongerValues. */
  maxCollectLength?: number;
  refuseLongerValues?: boolean;
}

/** Default of maxInflatedBytes. */
const INFLATED_MAX = 2 ** 32;

export class DatasetStreamReader {
  private readonly parser: DatasetParser;
  private readonly inflater: InflateRaw | null = null;
  private readonly inflated: Promise<void> | null = null;
  private inflatingDone: (() => void) | null = null;
  private result: Promise<DatasetSummary> | null = null;
  private inflatedBytes = 0;
  private readonly maxInflated: number;

  constructor(options: DatasetReaderOptions) {
    // PS3.5 10: a syntax the standard does not list (a private one) is explicit VR LE.
    const ts = transferSyntaxInfo(options.transferSyntaxUID);
    const deflated = ts?.deflated ?? false;
    this.parser = new DatasetParser({
      explicitVR: deflated || (ts?.explicitVR ?? true),
      littleEndian: deflated || (ts?.littleEndian ?? true),
      collect: options.collect,
      maxCollectLength: options.maxCollectLength ?? 4096,
      refuseLongerValues: options.refuseLongerValues === true,
    });
    this.maxInflated = options.maxInflatedBytes ?? INFLATED_MAX;
    if (deflated) {
      const inflater = createInflateRaw();
      this.inflater = inflater;
      inflater.on('data', (chunk: Buffer) => {
        this.inflatedBytes += chunk.length;
        if (this.inflatedBytes > this.maxInflated && !this.parser.error) {
          this.parser.fail(`the deflated dataset inflates to more than ${Math.floor(this.maxInflated / 1048576)} MB`);
          this.stopInflating();
          return;
        }
        this.feed(chunk);
      });
      this.inflated = new Promise<void>((resolve) => {
        this.inflatingDone = resolve;
        inflater.on('end', resolve);
        inflater.on('error', (e) => {
          this.parser.fail(`deflated dataset does not inflate: ${errorMessage(e)} (after ${this.parser.pos} inflated bytes)`);
          resolve();
        });
      });
    }
  }

  /** Feeds the next bytes. Never throws: the first error is kept and later input ignored. */
  push(chunk: Buffer): void {
    if (this.parser.error || this.result) return;
    if (this.inflater) {
      // zlib works on its own schedule and the caller reuses its chunks: give it a copy.
      this.inflater.write(Buffer.from(chunk));
    } else {
      this.feed(chunk);
    }
  }

  /**
   * The dataset failed while inflating: the rest is not inflated, and an end() awaiting the
   * inflater returns (a paused inflater never ends: end() after such a failure hung).
   */
  private stopInflating(): void {
    this.inflater?.destroy();
    this.inflatingDone?.();
  }

  /** Gives up the input: a deflated dataset's inflater is freed (a reader of a head only). */
  close(): void {
    this.inflater?.destroy();
  }

  /** The first error found so far, if any. */
  get error(): PacsError | null {
    return this.parser.error;
  }

  /** Values collected so far (for callers that read only the start of a dataset). */
  get collected(): ReadonlyMap<number, ElementValue> {
    return this.parser.values;
  }

  /** Declares the input complete; rejects with DICOM_PARSE if it was malformed or cut short. */
  end(): Promise<DatasetSummary> {
    this.result ??= this.finish();
    return this.result;
  }

  private async finish(): Promise<DatasetSummary> {
    if (this.inflater && this.inflated) {
      if (this.parser.error) this.inflater.destroy();
      else {
        this.inflater.end();
        await this.inflated;
      }
    }
    const error = this.parser.finish();
    if (error) throw error;
    const p = this.parser;
    return { values: p.values, bytesRead: p.pos, trailingPadding: p.paddingStart >= 0 ? p.pos - p.paddingStart : 0 };
  }

  private feed(chunk: Buffer): void {
    try {
      this.parser.push(chunk);
    } catch (e) {
      // A bug here must not take the association down with it: report it as a parse error.
      this.parser.fail(`dataset reader failed at offset ${this.parser.pos}: ${errorMessage(e)}`);
    }
    if (this.parser.error && this.inflater) this.stopInflating();
  }
}
