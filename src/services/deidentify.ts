// De-identified copies of stored instances (for export and forward): the stored Part 10 file
// is parsed with our own reader into a tree whose values are slices of its bytes, the PS3.15
// profile applied (src/dicom/deidentify.ts), and a new file written, keeping every element the
// profile keeps byte for byte (Pixel Data, encapsulated or not, is never decoded). The secret,
// pseudonyms and date shifts live in the index, so the output is the same in every run.
import { createHmac, randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { MAX_CONVERTED_BYTES } from '../codecs/convert.js';
import { inflateDataset } from '../codecs/inflate.js';
import type { DeidentifyProfileConfig } from '../config/rules-schema.js';
import { PacsError } from '../core/errors.js';
import { Semaphore } from '../core/semaphore.js';
import { encodeTree, encodeTreeParts, parseTree, syntaxOf, type TreeElement } from '../dicom/dataset-tree.js';
import { deidentifyElements, elementString, type DeidProfile, type SafePrivate } from '../dicom/deidentify.js';
import { burnedInAnnotation, type BurnedIn } from '../dicom/deid-values.js';
import { clearPixelOverlayBits } from '../dicom/deid-pixels.js';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/implementation.js';
import { encodeFileMetaInformation, parsePart10Prefix } from '../dicom/part10.js';
import type { DeidPatient, DeidStore } from '../index/deid.js';
import type { InstanceLocation } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { AttributeLookup } from '../storage/naming.js';

export interface Deidentified {
  /** The new File Meta Information (preamble and group 0002): the file is this, then `dataset`. */
  meta: Buffer;
  /**
   * The dataset (after the File Meta, what is sent), in parts to be written one after the
   * other: large values (Pixel Data) are slices of the stored file's bytes, not copies.
   */
  dataset: readonly Buffer[];
  /** Bytes in the dataset's parts. */
  datasetSize: number;
  sopInstanceUID: string;
  sopClassUID: string;
  transferSyntaxUID: string;
  /** Attributes of the de-identified dataset, for naming templates (never the originals). */
  attributes: AttributeLookup;
  burnedIn: BurnedIn;
  /**
   * Lets the next large file be de-identified (see LARGE_FILE): call once this copy is written
   * or sent (or given up). Idempotent; a no-op for files below LARGE_FILE.
   */
  release(): void;
}

/** The whole de-identified file: File Meta, then the dataset. */
export const fileParts = (d: Deidentified): Buffer[] => [d.meta, ...d.dataset];

/**
 * Files at least this large are de-identified one at a time in this process: each is held
 * whole in memory (once: the copy's large values are slices of it) until its copy is written
 * or sent, and jobs running side by side each holding a 1 GB image would not fit.
 */
export const LARGE_FILE = 64 * 1024 * 1024;
const largeFiles = new Semaphore(1);

/** A file past MAX_CONVERTED_BYTES: its copy is not made (it would be read whole into memory). */
export class TooLargeToDeidentify extends PacsError {
  constructor(uid: string, size: number) {
    super('UNSUPPORTED', `${uid}: its file is ${Math.ceil(size / 1048576)} MB; de-identified copies are made of files up to ${MAX_CONVERTED_BYTES / 1048576} MB`);
  }
}

/** How many flagged copies a job's progress names (burned_in: flag); the count goes on. */
export const FLAGGED_KEPT = 100;

/** Copies made although their pixels may carry burned-in text (burned_in: flag), for a job's report. */
export class FlaggedCopies {
  count = 0;
  readonly listed: string[] = [];
  add(d: Pick<Deidentified, 'sopInstanceUID' | 'burnedIn'>): void {
    if (d.burnedIn === 'no') return;
    this.count++;
    if (this.listed.length < FLAGGED_KEPT) this.listed.push(`${d.sopInstanceUID} (burned-in annotation ${d.burnedIn})`);
  }
  /** The progress fields, and the words for the job's message. */
  progress(): { flagged?: number; flaggedUids?: string[] } {
    return this.count ? { flagged: this.count, flaggedUids: [...this.listed] } : {};
  }
  get words(): string {
    return this.count ? `, ${this.count} flagged: burned-in annotation possible (pixels not cleaned)` : '';
  }
}

/** Pixels likely to carry burned-in text, refused by the profile (burned_in: refuse). */
export class BurnedInRefused extends PacsError {
  constructor(uid: string, why: BurnedIn) {
    super('UNSUPPORTED', `${uid}: ${why === 'yes' ? 'Burned In Annotation is YES' : 'its modality or SOP class often has burned-in annotation'}; not de-identified (burned_in: refuse)`);
  }
}

/** "0029,SIEMENS CSA HEADER,10": group, private creator, element within the block (hex). */
export function parseSafePrivate(spec: string): SafePrivate | null {
  const m = /^\s*\(?([0-9a-f]{4})\s*,\s*"?([^",]+?)"?\s*,\s*(?:[0-9a-f]{2})?([0-9a-f]{2})\)?\s*$/i.exec(spec);
  if (!m) return null;
  const group = Number.parseInt(m[1]!, 16);
  if (!(group & 1)) return null;
  return { group, creator: m[2]!.trim(), element: Number.parseInt(m[3]!, 16) };
}

export function profileOf(c: DeidentifyProfileConfig): DeidProfile {
  return {
    retainModifiedDates: c.retain_modified_dates,
    retainPatientCharacteristics: c.retain_patient_characteristics,
    retainDeviceIdentity: c.retain_device_identity,
    cleanDescriptors: c.clean_descriptors,
    safePrivate: c.safe_private.map((s) => parseSafePrivate(s)!).filter(Boolean),
  };
}

/** Between the patient and the prefix in a pseudonym's key (never in a DICOM LO value). */
const PREFIX_SEPARATOR = '\u0001';

/**
 * Whose pseudonym: PatientID and its issuer. Without a PatientID the name and birth date
 * stand for the patient (every patient without an ID shared one pseudonym and one date shift),
 * and without those either, the study alone.
 */
export function patientKeyOf(get: (keyword: string) => string | null): string {
  const id = get('PatientID') ?? '';
  const issuer = get('IssuerOfPatientID') ?? '';
  if (id !== '') return `${id}\\${issuer}`;
  const name = get('PatientName') ?? '';
  const birth = get('PatientBirthDate') ?? '';
  if (name !== '' || birth !== '') return ['', issuer, 'name', name, birth].join('\\');
  return ['', issuer, 'study', get('StudyInstanceUID') ?? ''].join('\\');
}

const BASE32 = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'; // no I, O, 0, 1: read aloud and typed without mistakes

export class Deidentifier {
  private key: Promise<string> | null = null;
  private readonly patients = new Map<string, Promise<DeidPatient>>();
  private readonly uids = new Map<string, string>();
  readonly profile: DeidProfile;

  constructor(
    private readonly store: DeidStore,
    private readonly objects: ObjectStore,
    readonly config: DeidentifyProfileConfig,
  ) {
    this.profile = profileOf(config);
  }

  private secret(): Promise<string> {
    this.key ??= this.store.secret(randomBytes(32).toString('hex'));
    return this.key;
  }

  private static hmac(secret: string, what: string): Buffer {
    return createHmac('sha256', secret).update(what).digest();
  }

  /**
   * 2.25.<128 bits of HMAC(secret, prefix and uid)>: the same original, the same new UID, in any
   * study, job and run under one pseudonym prefix; under two prefixes (two collaborators, two
   * projects) two UIDs, so that their sets cannot be linked by Study, Series, SOP Instance or
   * Frame of Reference UIDs as their pseudonyms cannot. (Before the prefix was in the hash, one
   * original gave one UID under every prefix: exports made then have other UIDs than now.)
   */
  mapUid(secret: string, uid: string): string {
    let mapped = this.uids.get(uid);
    if (!mapped) {
      const key = `uid:${this.config.pseudonym_prefix}${PREFIX_SEPARATOR}${uid}`;
      mapped = `2.25.${BigInt(`0x${Deidentifier.hmac(secret, key).subarray(0, 16).toString('hex')}`).toString()}`;
      if (this.uids.size > 100_000) this.uids.clear();
      this.uids.set(uid, mapped);
    }
    return mapped;
  }

  /**
   * The patient's pseudonym and date shift under this profile's prefix: from the index, or made
   * (keyed hash) and recorded. Each prefix gives its own pseudonym and shift, so that the sets
   * two collaborators receive under two prefixes cannot be linked by them.
   */
  patient(secret: string, patientKey: string): Promise<DeidPatient> {
    const prefix = this.config.pseudonym_prefix;
    const key = `${patientKey}${PREFIX_SEPARATOR}${prefix}`;
    let p = this.patients.get(key);
    if (!p) {
      p = (async () => {
        // Entries made before pseudonyms were kept per prefix are keyed by the patient alone:
        // still the patient's under the prefix they were made with.
        const earlier = await this.store.byPatientKey(patientKey);
        if (earlier && earlier.pseudonym.length === prefix.length + 10 && earlier.pseudonym.startsWith(prefix)) return earlier;
        const h = Deidentifier.hmac(secret, `patient:${key}`);
        // A shift of 1 to 3 years back, whole days: intervals between the patient's events stay exact.
        const shiftDays = -(365 + (h.readUInt32BE(12) % 730));
        for (let n = 0; n < 100; n++) {
          const code = [...h.subarray(0, 10)].map((b, i) => BASE32[(b + n * (i + 1)) % 32]).join('');
          const got = await this.store.patient({ patientKey: key, pseudonym: `${prefix}${code}`, shiftDays });
          if (got) return got;
        }
        throw new PacsError('CONFLICT', `no free pseudonym for a patient after 100 tries`);
      })();
      this.patients.set(key, p);
      p.catch(() => this.patients.delete(key));
    }
    return p;
  }

  async deidentify(loc: InstanceLocation): Promise<Deidentified> {
    if (loc.size > MAX_CONVERTED_BYTES) throw new TooLargeToDeidentify(loc.SOPInstanceUID, loc.size);
    const release = loc.size >= LARGE_FILE ? await largeFiles.acquire() : () => {};
    try {
      return await this.copyOf(loc, release);
    } catch (e) {
      release();
      throw e;
    }
  }

  private async copyOf(loc: InstanceLocation, release: () => void): Promise<Deidentified> {
    const whole = await this.objects.readAll(loc.path, loc.size);
    const prefix = parsePart10Prefix(whole, true);
    if (!prefix) throw new PacsError('DICOM_PARSE', `the file of ${loc.SOPInstanceUID} has an unreadable File Meta Information`);
    const syntax = syntaxOf(prefix.transferSyntaxUID);
    let data = whole.subarray(prefix.datasetOffset);
    // Bounded and off the event loop: a few MB of deflated zeros can inflate to gigabytes.
    if (syntax.deflated) data = await inflateDataset(data, MAX_CONVERTED_BYTES);
    const tree = parseTree(data, syntax);
    const get = (list: readonly TreeElement[], k: string): string | null => elementString(list, tagOfKeyword(k)!);
    const burnedIn = burnedInAnnotation(get(tree, 'BurnedInAnnotation'), get(tree, 'Modality'), loc.SOPClassUID);
    if (burnedIn !== 'no' && this.config.burned_in === 'refuse') throw new BurnedInRefused(loc.SOPInstanceUID, burnedIn);
    const secret = await this.secret();
    const patient = await this.patient(secret, patientKeyOf((k) => get(tree, k)));
    // burned_in: flag passes pixels that may show text: the copy itself says so (0012,0063).
    const methodNotes = burnedIn === 'no' ? [] : [burnedIn === 'yes' ? 'Burned-in annotation left in pixels' : 'Pixels not cleaned: burned-in text possible'];
    const { elements } = deidentifyElements(tree, { profile: this.profile, pseudonym: patient.pseudonym, shiftDays: patient.shiftDays, mapUid: (u) => this.mapUid(secret, u), methodNotes });
    // Overlays drawn in the unused bits of the pixels would outlive their removed module.
    clearPixelOverlayBits(elements, syntax.littleEndian);
    // A deflated dataset is deflated whole; any other keeps its large values as slices of the file.
    const dataset = syntax.deflated ? [deflateRawSync(encodeTree(elements, syntax))] : encodeTreeParts(elements, syntax);
    const sopInstanceUID = this.mapUid(secret, loc.SOPInstanceUID);
    const meta = encodeFileMetaInformation({
      mediaStorageSOPClassUID: loc.SOPClassUID,
      mediaStorageSOPInstanceUID: sopInstanceUID,
      transferSyntaxUID: prefix.transferSyntaxUID,
      implementationClassUID: IMPLEMENTATION_CLASS_UID,
      implementationVersionName: IMPLEMENTATION_VERSION_NAME,
    });
    return {
      meta,
      dataset,
      datasetSize: dataset.reduce((n, b) => n + b.length, 0),
      sopInstanceUID,
      sopClassUID: loc.SOPClassUID,
      transferSyntaxUID: prefix.transferSyntaxUID,
      attributes: (keyword) => {
        const tag = tagOfKeyword(keyword);
        return tag === undefined ? null : elementString(elements, tag);
      },
      burnedIn,
      release,
    };
  }
}
