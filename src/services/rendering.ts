// Rendered images of stored instances (DICOMweb rendered and thumbnail resources, WADO-URI
// image/jpeg and image/png). The main thread only reads: the instance's DICOM JSON from the
// metadata cache tells the Image Pixel Module, the windowing, the LUTs and where Pixel Data
// lies; the one frame asked for is cut out of the file (a byte range when native) and handed
// to the worker pool, which decodes, renders and encodes it.
import { PacsError, isPacsError } from '../core/errors.js';
import { abortedBy } from '../core/abort.js';
import { MAX_CONVERTED_BYTES, withinDecodeBudget } from '../codecs/convert.js';
import { inflateDataset } from '../codecs/inflate.js';
import { DECODERS, ENCAPSULATED_UNCOMPRESSED, START_MARKER } from '../codecs/syntaxes.js';
import { type CodecName, type RenderResult, frameBytes } from '../codecs/frame.js';
import type { FrameRenderer } from '../codecs/pool.js';
import { type Lut, type RenderImage, type RenderOptions, VOI_FUNCTIONS, type VoiFunction, type VoiWindow, type Viewport } from '../codecs/render.js';
import type { JsonDataset, JsonElement } from '../dicom/json.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import type { ArchiveIndex, InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { ImageCache } from '../storage/image-cache.js';
import { bitFrame, storedEncapsulatedFrame } from './frames.js';
import type { InstanceMetadata, MetadataService } from './metadata.js';

export type ImageFormat = 'jpeg' | 'png';

export interface RenderRequest {
  /** 1-based. */
  frame: number;
  format: ImageFormat;
  /** JPEG quality 1–100 (default 90). */
  quality?: number;
  window?: VoiWindow;
  viewport?: Viewport;
  /** A region as fractions of the image (WADO-URI `region`: xmin, ymin, xmax, ymax in 0…1); overrides `viewport.region`. */
  fractionRegion?: [number, number, number, number];
}

export interface RenderedImage {
  bytes: Buffer;
  mediaType: 'image/jpeg' | 'image/png';
}

export const DEFAULT_QUALITY = 90;
const PIXEL_DATA = '7FE00010';
const PER_FRAME = '52009230';
const SHARED = '52009229';
const PIXEL_VALUE_TRANSFORMATION = '00289145';
const FRAME_VOI_LUT = '00289132';

const first = (ds: JsonDataset | undefined, tag: string): unknown => ds?.[tag]?.Value?.[0];
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};
const text = (v: unknown): string => (typeof v === 'string' ? v.trim().toUpperCase() : '');
const item = (ds: JsonDataset | undefined, tag: string, i = 0): JsonDataset | undefined => ds?.[tag]?.Value?.[i] as JsonDataset | undefined;

/** An instance ready to render frames of (RenderingService.source). */
export interface RenderSource {
  loc: InstanceLocation;
  meta: InstanceMetadata;
  ds: JsonDataset;
  /** Number of Frames (1 when absent). */
  frames: number;
}

export class RenderingService {
  constructor(
    private readonly index: ArchiveIndex,
    private readonly objects: ObjectStore,
    private readonly metadata: MetadataService,
    private readonly renderer: FrameRenderer,
    /** Keeps default thumbnails (no window, viewport or quality asked for). */
    private readonly thumbnails: ImageCache | null = null,
  ) {}

  /** Drops the thumbnails kept for a deleted instance. */
  async forget(sopInstanceUID: string): Promise<void> {
    await this.thumbnails?.removeInstance(sopInstanceUID);
  }

  /** The instances of a study (or one of its series) that have pixels, series by Series Number, then by Instance Number. */
  async images(study: string, series?: string): Promise<InstanceLocation[][]> {
    const rows = await this.index.query({
      level: 'IMAGE',
      model: 'STUDY_ROOT',
      relational: true,
      keys: [
        { keyword: 'StudyInstanceUID', value: study },
        { keyword: 'SeriesInstanceUID', value: series ?? '' },
        { keyword: 'SeriesNumber', value: '' },
        { keyword: 'InstanceNumber', value: '' },
        { keyword: 'SOPInstanceUID', value: '' },
        { keyword: 'Rows', value: '' },
      ],
    });
    const order = (v: unknown): number => num(v) ?? Number.MAX_SAFE_INTEGER;
    const bySeries = new Map<string, typeof rows>();
    for (const r of rows) {
      if (r.Rows === null || r.Rows === undefined) continue; // no Image Pixel Module: nothing to render
      const key = String(r.SeriesInstanceUID);
      const list = bySeries.get(key);
      if (list) list.push(r);
      else bySeries.set(key, [r]);
    }
    const seriesRows = [...bySeries.values()].sort((a, b) => order(a[0]!.SeriesNumber) - order(b[0]!.SeriesNumber) || String(a[0]!.SeriesInstanceUID).localeCompare(String(b[0]!.SeriesInstanceUID)));
    const out: InstanceLocation[][] = [];
    for (const s of seriesRows) {
      s.sort((a, b) => order(a.InstanceNumber) - order(b.InstanceNumber) || String(a.SOPInstanceUID).localeCompare(String(b.SOPInstanceUID)));
      // One read for the series' files, in the order just sorted.
      const locs = await this.index.findInstances(s.map((r) => String(r.SOPInstanceUID)));
      if (locs.length) out.push(locs);
    }
    return out;
  }

  /** The instance a study's or series' thumbnail shows: the middle image of the first series with images. */
  async representative(study: string, series?: string): Promise<InstanceLocation | null> {
    const [s] = await this.images(study, series);
    return s ? s[Math.floor(s.length / 2)]! : null;
  }

  /**
   * One frame of an instance as an image. `signal` (the client gone): nothing more is read, and
   * the frame leaves the pool's queue (ABORTED).
   */
  async render(instance: InstanceLocation | RenderSource, req: RenderRequest, signal?: AbortSignal): Promise<RenderedImage> {
    const loc = 'loc' in instance ? instance.loc : instance;
    if (signal?.aborted) throw abortedBy(signal, `rendering ${loc.SOPInstanceUID}`);
    const { meta, ds, frames } = 'loc' in instance ? instance : await this.source(loc);
    const pixel = meta.bulk.find((b) => b.path === PIXEL_DATA);
    if (!pixel || num(first(ds, '00280010')) === undefined) throw new PacsError('UNSUPPORTED', `instance ${loc.SOPInstanceUID} has no pixel data: it cannot be rendered as an image`);
    if (!Number.isInteger(req.frame) || req.frame < 1 || req.frame > frames) throw new PacsError('NOT_FOUND', `there is no frame ${req.frame} (the instance has ${frames})`);
    const image = await this.imageOf(loc, meta, ds, req.frame);
    const { frame, codec } = await this.frameOf(loc, meta, ds, image, frames, req.frame, pixel);
    let viewport = req.viewport;
    if (req.fractionRegion) {
      const [x0, y0, x1, y1] = req.fractionRegion;
      const x = Math.round(x0 * image.columns);
      const y = Math.round(y0 * image.rows);
      const region = { x, y, width: Math.max(1, Math.round(x1 * image.columns) - x), height: Math.max(1, Math.round(y1 * image.rows) - y) };
      viewport = { ...viewport, region };
    }
    const options: RenderOptions = { format: req.format, quality: req.quality ?? DEFAULT_QUALITY, ...(req.window ? { window: req.window } : {}), ...(viewport ? { viewport } : {}) };
    let r: RenderResult;
    try {
      // A compressed frame is decoded on the way: under the bounds of a conversion, not as its header claims.
      r = codec ? await withinDecodeBudget(frameBytes(image), `frame ${req.frame} of ${loc.SOPInstanceUID}`, () => this.renderer.render({ frame, codec, image, options }, signal)) : await this.renderer.render({ frame, codec, image, options }, signal);
    } catch (e) {
      // A frame our decoders cannot take (12-bit colour JPEG, a damaged codestream) is beyond us, not the client's fault.
      if (isPacsError(e, 'DICOM_PARSE')) throw new PacsError('UNSUPPORTED', `cannot render frame ${req.frame} of ${loc.SOPInstanceUID}: ${e.message}`);
      throw e;
    }
    return { bytes: Buffer.from(r.bytes), mediaType: req.format === 'png' ? 'image/png' : 'image/jpeg' };
  }

  /** A thumbnail in the default size and rendering, from the cache when it was made from this very file. */
  async thumbnail(loc: InstanceLocation, frame: number, format: ImageFormat, size: number, signal?: AbortSignal): Promise<RenderedImage> {
    const key = `${loc.SOPInstanceUID}.${frame}.${format}`;
    const mediaType = format === 'png' ? 'image/png' : 'image/jpeg';
    const cached = await this.thumbnails?.get(key, loc.checksum);
    if (cached) return { bytes: cached, mediaType };
    const img = await this.render(loc, { frame, format, viewport: { width: size, height: size } }, signal);
    if (this.thumbnails) {
      await this.thumbnails.put(key, loc.checksum, img.bytes).catch(() => {});
      // Deleted while it was rendered: its delete removed the thumbnails before this one was
      // written, and nothing else would (a thumbnail is kept by instance UID, not looked over).
      if ((await this.index.findInstance(loc.SOPInstanceUID).catch(() => loc)) === null) await this.thumbnails.removeInstance(loc.SOPInstanceUID).catch(() => {});
    }
    return img;
  }

  /** Number of Frames of an instance (1 when absent). */
  /**
   * An instance's metadata, read and parsed once for several of its frames: a list of 1,000
   * frames of an enhanced multi-frame object (metadata of several MB) was 1,000 reads and parses
   * on the thread that serves HTTP.
   */
  async source(loc: InstanceLocation): Promise<RenderSource> {
    const meta = await this.metadata.get(loc);
    const ds = JSON.parse(meta.text) as JsonDataset;
    return { loc, meta, ds, frames: num(first(ds, '00280008')) ?? 1 };
  }

  /** The rendering attributes: top level, or in the shared / this frame's functional groups (enhanced multi-frame objects). */
  private async imageOf(loc: InstanceLocation, meta: InstanceMetadata, ds: JsonDataset, frame: number): Promise<RenderImage> {
    const inGroups = (seq: string, tag: string): unknown => first(item(item(ds, PER_FRAME, frame - 1), seq), tag) ?? first(item(item(ds, SHARED), seq), tag) ?? first(ds, tag);
    const bitsAllocated = num(first(ds, '00280100')) ?? 16;
    const bitsStored = num(first(ds, '00280101')) ?? bitsAllocated;
    const pixelRepresentation = num(first(ds, '00280103')) ?? 0;
    const center = num(inGroups(FRAME_VOI_LUT, '00281050'));
    const width = num(inGroups(FRAME_VOI_LUT, '00281051'));
    const fn = text(inGroups(FRAME_VOI_LUT, '00281056')) as VoiFunction;
    const slope = num(inGroups(PIXEL_VALUE_TRANSFORMATION, '00281053'));
    const lut = (seqItem: JsonDataset | undefined, base: string, descriptorTag: string, dataTag: string) => this.lutOf(loc, meta, seqItem, base, descriptorTag, dataTag, pixelRepresentation === 1);
    const [red, green, blue] = await Promise.all([lut(ds, '', '00281101', '00281201'), lut(ds, '', '00281102', '00281202'), lut(ds, '', '00281103', '00281203')]);
    return {
      rows: num(first(ds, '00280010')) ?? 0,
      columns: num(first(ds, '00280011')) ?? 0,
      samplesPerPixel: num(first(ds, '00280002')) ?? 1,
      bitsAllocated,
      bitsStored,
      highBit: num(first(ds, '00280102')) ?? bitsStored - 1,
      pixelRepresentation,
      photometric: text(first(ds, '00280004')) || 'MONOCHROME2',
      planarConfiguration: num(first(ds, '00280006')) ?? 0,
      rescaleSlope: slope === undefined || slope === 0 ? 1 : slope,
      rescaleIntercept: num(inGroups(PIXEL_VALUE_TRANSFORMATION, '00281052')) ?? 0,
      modalityLut: await lut(item(ds, '00283000'), '00283000/0/', '00283002', '00283006'),
      window: center !== undefined && width !== undefined && width > 0 ? { center, width, function: VOI_FUNCTIONS.includes(fn) ? fn : 'LINEAR' } : null,
      voiLut: await lut(item(ds, '00283010'), '00283010/0/', '00283002', '00283006'),
      inverse: text(first(ds, '20500020')) === 'INVERSE',
      palette: red && green && blue ? { red, green, blue } : null,
    };
  }

  /** A LUT from its descriptor and data, the data inline (numbers or base64) or as bulk data. */
  private async lutOf(loc: InstanceLocation, meta: InstanceMetadata, ds: JsonDataset | undefined, base: string, descriptorTag: string, dataTag: string, signed: boolean): Promise<Lut | null> {
    const desc = ds?.[descriptorTag]?.Value?.map(num);
    const el: JsonElement | undefined = ds?.[dataTag];
    if (!desc || desc.length < 3 || desc.some((v) => v === undefined) || !el) return null;
    const [n0, firstMapped, bits] = desc as number[];
    const entries = n0 === 0 ? 65536 : n0!;
    let words: number[];
    if (el.Value) words = el.Value.map((v) => num(v) ?? 0);
    else {
      let bytes: Buffer | null = null;
      if (el.InlineBinary) bytes = Buffer.from(el.InlineBinary, 'base64');
      else if (el.BulkDataURI) {
        const bulk = await this.metadata.bulk(loc, `${base}${dataTag}`);
        bytes = bulk ? Buffer.from(bulk.bytes) : null;
        if (bytes && transferSyntaxInfo(meta.transferSyntaxUID)?.littleEndian === false) bytes.swap16();
      }
      if (!bytes) return null;
      words = [];
      for (let p = 0; p + 1 < bytes.length; p += 2) words.push(bytes.readUInt16LE(p));
    }
    // 8-bit entries may come two to a 16-bit word.
    if (bits! <= 8 && words.length * 2 === entries) words = words.flatMap((w) => [w & 0xff, w >> 8]);
    return { first: signed && firstMapped! > 32767 ? firstMapped! - 65536 : firstMapped!, bits: bits!, data: words.slice(0, entries) };
  }

  /** The bytes of one frame, alone in their buffer: a codestream for the codec, or native little-endian samples. */
  private async frameOf(
    loc: InstanceLocation,
    meta: InstanceMetadata,
    ds: JsonDataset,
    g: RenderImage,
    frames: number,
    n: number,
    pixel: { offset: number; length: number },
  ): Promise<{ frame: ArrayBuffer; codec: CodecName | null }> {
    const ts = meta.transferSyntaxUID;
    const info = transferSyntaxInfo(ts);
    if (pixel.length < 0) {
      const codec = ts === ENCAPSULATED_UNCOMPRESSED ? null : (DECODERS.get(ts) ?? null);
      if (!codec && ts !== ENCAPSULATED_UNCOMPRESSED) throw new PacsError('UNSUPPORTED', `pixel data in transfer syntax ${info?.name ?? ts} cannot be decoded here`);
      const f = await storedEncapsulatedFrame(this.objects, loc, meta.datasetOffset + pixel.offset, frames, n, codec ? START_MARKER[codec] : undefined);
      return { frame: copy(f), codec };
    }
    const packed = g.photometric === 'YBR_FULL_422' || g.photometric === 'YBR_PARTIAL_422';
    const pixelsPerFrame = g.rows * g.columns;
    const bits = pixelsPerFrame * (packed ? 2 : g.samplesPerPixel) * g.bitsAllocated;
    let frame: Buffer;
    if (g.bitsAllocated === 1 || info?.deflated) {
      const stored = (await this.objects.readAll(loc.path)).subarray(meta.datasetOffset);
      const d = info?.deflated ? await inflateDataset(stored, MAX_CONVERTED_BYTES) : stored;
      const all = d.subarray(pixel.offset, pixel.offset + pixel.length);
      frame = g.bitsAllocated === 1 ? bitFrame(all, bits, n) : all.subarray(((n - 1) * bits) / 8, (n * bits) / 8);
    } else {
      const start = meta.datasetOffset + pixel.offset + ((n - 1) * bits) / 8;
      const chunks: Buffer[] = [];
      for await (const c of this.objects.read(loc.path, { start, end: start + bits / 8 - 1 }) as AsyncIterable<Buffer>) chunks.push(c);
      frame = Buffer.concat(chunks);
    }
    if (frame.length < Math.ceil(bits / 8)) throw new PacsError('DICOM_PARSE', `Pixel Data holds fewer than ${n} frames`);
    const out = Buffer.from(copy(frame));
    // Native big-endian words turn little-endian (OW of 8-bit samples included: bytes swap in pairs).
    if (info?.littleEndian === false) {
      if (g.bitsAllocated === 16 || (g.bitsAllocated === 8 && ds[PIXEL_DATA]?.vr === 'OW' && out.length % 2 === 0)) out.swap16();
      else if (g.bitsAllocated === 32) out.swap32();
    }
    return { frame: out.buffer as ArrayBuffer, codec: null };
  }
}

/** A copy of the bytes in an ArrayBuffer of their own (transferable). */
function copy(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

