// WADO-RS metadata and bulk data: each instance's DICOM JSON is made once from its file (only
// the head is read when Pixel Data ends it) and kept in the metadata cache with the places of
// its bulk values; later requests join prepared texts. BulkDataURIs are stored relative to a
// placeholder and made absolute per request, so the cache does not depend on the host name.
import { parsePart10Prefix } from '../dicom/part10.js';
import { MAX_CONVERTED_BYTES } from '../codecs/convert.js';
import { inflateDataset } from '../codecs/inflate.js';
import { type BulkRef, NeedMoreData, datasetToJson, littleEndianCopy } from '../dicom/json.js';
import { TS, transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import type { Readable } from 'node:stream';
import { PacsError } from '../core/errors.js';
import type { InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { MetadataCache } from '../storage/metadata-cache.js';

/** Stands for the instance's WADO-RS URL inside cached texts (a private-use character cannot occur in a URL). */
export const INSTANCE_URL = '\uE000instance\uE000';
const HEAD_BYTES = 256 * 1024;
/** The most read for an instance's metadata (a header this long is very rare; the pixels are never needed). */
const HEADER_READ_MAX = 64 * 1024 * 1024;

/**
 * The version of what `make` writes: an entry of an older one is made again. 2: the header parse
 * no longer stops at a binary element other than the pixels (entries of version 1 may lack
 * everything after a large private element).
 */
const METADATA_FORMAT = 2;

interface CacheHeader {
  format?: number;
  checksum: string;
  transferSyntaxUID: string;
  /** Where the dataset starts in the file (after the File Meta Information). */
  datasetOffset: number;
  bulk: BulkRef[];
}

export interface InstanceMetadata extends CacheHeader {
  /** The DICOM JSON object, with INSTANCE_URL where the instance's URL goes. */
  text: string;
}

/** A cache entry ("header JSON", newline, DICOM JSON) if it is whole and made from the file with this checksum. */
function parseEntry(cached: string | undefined, checksum: string): InstanceMetadata | null {
  if (cached === undefined) return null;
  const nl = cached.indexOf('\n');
  try {
    const header = JSON.parse(cached.slice(0, nl)) as CacheHeader;
    return header.checksum === checksum && header.format === METADATA_FORMAT ? { ...header, text: cached.slice(nl + 1) } : null;
  } catch {
    return null; // a damaged entry is made again
  }
}

export class MetadataService {
  /** The entries used last, in use order, up to `memoryBytes` of text: a viewer asks for a series' metadata, then for each instance's frames. */
  private readonly recent = new Map<string, InstanceMetadata>();
  private recentBytes = 0;
  private readonly making = new Map<string, Promise<InstanceMetadata>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly cache: MetadataCache,
    private readonly memoryBytes = 32 * 1024 * 1024,
  ) {}

  /** Drops what is cached for a deleted instance. */
  forget(sopInstanceUID: string): Promise<void> {
    return this.cache.remove(sopInstanceUID);
  }

  /** Makes and caches the entry of a newly stored instance before anyone asks (a viewer's first look at a series is then as fast as its second). */
  async prepare(loc: InstanceLocation): Promise<void> {
    if (parseEntry((await this.cache.get(loc.SOPInstanceUID)) ?? undefined, loc.checksum)) return;
    const { text, ...header } = await this.make(loc);
    await this.cache.put(loc.SOPInstanceUID, `${JSON.stringify(header)}\n${text}`);
  }

  async get(loc: InstanceLocation): Promise<InstanceMetadata> {
    return (await this.getAll([loc]))[0]!;
  }

  /**
   * The entries of many instances (a series, a study), in their order: those in memory, then
   * the rest of the prepared ones in one cache read, then any still missing made from their
   * files (8 at a time) and cached.
   */
  async getAll(locs: readonly InstanceLocation[]): Promise<InstanceMetadata[]> {
    const out: (InstanceMetadata | undefined)[] = locs.map((loc) => {
      const hit = this.recent.get(loc.SOPInstanceUID);
      return hit?.checksum === loc.checksum ? this.remember(loc.SOPInstanceUID, hit) : undefined;
    });
    const absent = locs.filter((_, i) => !out[i]);
    const cached = absent.length ? await this.cache.getMany(absent.map((l) => l.SOPInstanceUID)) : new Map<string, string>();
    const toMake: number[] = [];
    locs.forEach((loc, i) => {
      if (out[i]) return;
      const entry = parseEntry(cached.get(loc.SOPInstanceUID), loc.checksum);
      if (entry) out[i] = this.remember(loc.SOPInstanceUID, entry);
      else toMake.push(i);
    });
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < toMake.length) {
        const i = toMake[next++]!;
        const loc = locs[i]!;
        out[i] = this.remember(loc.SOPInstanceUID, await this.makeOnce(loc));
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, toMake.length) }, worker));
    return out as InstanceMetadata[];
  }

  /**
   * Makes and caches an entry; requests for the same file meanwhile (a viewer's frames, asked
   * at once right after the study arrived) share the one being made instead of each reading it.
   */
  private makeOnce(loc: InstanceLocation): Promise<InstanceMetadata> {
    const key = `${loc.SOPInstanceUID}|${loc.checksum}`;
    let p = this.making.get(key);
    if (!p) {
      p = (async () => {
        const made = await this.make(loc);
        const { text, ...header } = made;
        await this.cache.put(loc.SOPInstanceUID, `${JSON.stringify(header)}\n${text}`).catch(() => {});
        return made;
      })().finally(() => this.making.delete(key));
      this.making.set(key, p);
    }
    return p;
  }

  private remember(uid: string, meta: InstanceMetadata): InstanceMetadata {
    const old = this.recent.get(uid);
    if (old) {
      this.recent.delete(uid);
      this.recentBytes -= old.text.length;
    }
    this.recent.set(uid, meta);
    this.recentBytes += meta.text.length;
    for (const [key, m] of this.recent) {
      if (this.recentBytes <= this.memoryBytes) break;
      this.recent.delete(key);
      this.recentBytes -= m.text.length;
    }
    return meta;
  }

  /** The JSON text of one instance with its BulkDataURIs made absolute. */
  static resolve(meta: InstanceMetadata, instanceUrl: string): string {
    return meta.text.replaceAll(INSTANCE_URL, instanceUrl);
  }

  private async make(loc: InstanceLocation): Promise<InstanceMetadata> {
    const missing = (e: unknown): PacsError => new PacsError('NOT_FOUND', `the file of ${loc.SOPInstanceUID} is missing (${loc.path})`, { cause: e });
    const deflated = transferSyntaxInfo(loc.transferSyntaxUID)?.deflated ?? false;
    let data = await (loc.size <= HEAD_BYTES || deflated ? this.store.readAll(loc.path, loc.size) : this.store.readHead(loc.path, HEAD_BYTES)).catch((e: unknown) => {
      throw missing(e);
    });
    const prefix = parsePart10Prefix(data, data.length === loc.size);
    if (!prefix) throw new PacsError('DICOM_PARSE', `the file of ${loc.SOPInstanceUID} has an unreadable File Meta Information`);
    const options = { transferSyntaxUID: prefix.transferSyntaxUID, bulkDataURI: (p: string) => `${INSTANCE_URL}/bulkdata/${p}` };
    const made = (r: ReturnType<typeof datasetToJson>): InstanceMetadata => ({ format: METADATA_FORMAT, checksum: loc.checksum, transferSyntaxUID: prefix.transferSyntaxUID, datasetOffset: prefix.datasetOffset, bulk: r.bulk, text: JSON.stringify(r.json) });
    // Deflated: inflated first, off the event loop and under the conversion cap (a few MB can
    // inflate to gigabytes), then parsed as the Explicit VR LE it is; offsets are in those bytes.
    if (deflated) return made(datasetToJson(await inflateDataset(data.subarray(prefix.datasetOffset), MAX_CONVERTED_BYTES), { ...options, transferSyntaxUID: TS.ExplicitVRLittleEndian }));
    // A header longer than what was read (an enhanced multi-frame object's functional groups)
    // is read again four times larger, up to 64 MB or the whole file: the pixels after it are not read.
    let result;
    for (;;) {
      try {
        result = datasetToJson(data.subarray(prefix.datasetOffset), { ...options, partial: data.length < loc.size });
        break;
      } catch (e) {
        if (!(e instanceof NeedMoreData) || data.length >= loc.size) throw e;
        if (data.length >= HEADER_READ_MAX) {
          // A binary element of many megabytes before the pixels (an encapsulated PDF or mesh, a
          // long waveform): it becomes bulk data and what follows it is left out, rather than the
          // whole file read for the metadata.
          try {
            result = datasetToJson(data.subarray(prefix.datasetOffset), { ...options, partial: true, stopAtAnyBinary: true });
          } catch (again) {
            if (again instanceof NeedMoreData) throw new PacsError('UNSUPPORTED', `the header of ${loc.SOPInstanceUID} is longer than ${HEADER_READ_MAX / 1048576} MB`);
            throw again;
          }
          break;
        }
        const more = Math.min(data.length * 4, HEADER_READ_MAX);
        const read = await (more >= loc.size ? this.store.readAll(loc.path, loc.size) : this.store.readHead(loc.path, more)).catch((err: unknown) => {
          throw missing(err);
        });
        if (read.length <= data.length) throw new PacsError('DICOM_PARSE', `the file of ${loc.SOPInstanceUID} is shorter than the ${loc.size} bytes indexed`);
        data = read;
      }
    }
    return made(result);
  }

  /** The bytes of one bulk value (defined length), or null when the instance has none at that path. */
  async bulk(loc: InstanceLocation, tagPath: string, range?: { start: number; end: number }): Promise<{ bytes: Buffer; total: number } | null> {
    const value = await this.bulkBody(loc, tagPath, range);
    if (!value || Buffer.isBuffer(value.body)) return value && { bytes: value.body as Buffer, total: value.total };
    const chunks: Buffer[] = [];
    for await (const c of value.body) chunks.push(c as Buffer);
    return { bytes: Buffer.concat(chunks), total: value.total };
  }

  /**
   * A bulk data value (or the part `range` names) to send: a stream of the file's bytes, so a
   * 1 GB Pixel Data costs no more memory than a small one; held whole only for a deflated file
   * (its offsets are in the inflated dataset).
   */
  async bulkBody(loc: InstanceLocation, tagPath: string, range?: { start: number; end: number }): Promise<{ body: Buffer | Readable; total: number } | null> {
    const meta = await this.get(loc);
    const ref = meta.bulk.find((b) => b.path === tagPath);
    if (!ref) return null;
    if (ref.length < 0) throw new PacsError('NOT_FOUND', `${tagPath} is encapsulated pixel data: retrieve it as frames`);
    const start = ref.offset + (range?.start ?? 0);
    const end = ref.offset + Math.min(ref.length, range ? range.end + 1 : ref.length);
    if (transferSyntaxInfo(meta.transferSyntaxUID)?.deflated) {
      const all = await inflateDataset((await this.store.readAll(loc.path)).subarray(meta.datasetOffset), MAX_CONVERTED_BYTES);
      return { body: all.subarray(start, end), total: ref.length };
    }
    if (end <= start) return { body: Buffer.alloc(0), total: ref.length };
    if (transferSyntaxInfo(meta.transferSyntaxUID)?.littleEndian === false && ref.vr !== 'OB' && ref.vr !== 'UN') {
      // Sent little endian, as the frames of the same instance and its InlineBinary values are:
      // the whole value is read to swap its words (a retired syntax; its values are small).
      const value = await this.store.readRange(loc.path, meta.datasetOffset + ref.offset, ref.length);
      return { body: littleEndianCopy(ref.vr, value).subarray(start - ref.offset, end - ref.offset), total: ref.length };
    }
    return { body: this.store.read(loc.path, { start: meta.datasetOffset + start, end: meta.datasetOffset + end - 1 }), total: ref.length };
  }
}
