// The one store pipeline (ARCHITECTURE principle 3): C-STORE, STOW-RS, upload, import and
// reindex all come through here. Bytes stream to a staged file and past the header reader at
// once; then: validate → hooks → fsync → move into place → one index transaction → event.
// Any failure leaves neither a file without its row nor a row without its file.
import { DatasetStreamReader } from '../dicom/reader.js';
import { encodeFileMetaInformation } from '../dicom/part10.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import { PacsError, errorMessage, isPacsError } from '../core/errors.js';
import { KeyedMutex } from '../core/keyed-mutex.js';
import type { EventBus } from '../core/events.js';
import type { HookList } from '../core/hooks.js';
import type { Logger } from '../core/logging.js';
import { UncertainCommit } from '../index/errors.js';
import type { ArchiveIndex, InstanceLocation, InstanceRecord, Provenance } from '../index/types.js';
import type { ObjectStore, StagedObject } from '../storage/object-store.js';
import { alternativePath, instancePath } from '../storage/naming.js';
import { COLLECTED_TAGS, buildInstanceRecord, filedAs, recordLookup } from './instance-record.js';

export type DuplicatePolicy = 'reject' | 'overwrite' | 'ignore';

export interface StoreSettings {
  naming: string;
  duplicatePolicy: DuplicatePolicy;
  minFreeBytes: number;
  implementationClassUID: string;
  implementationVersionName: string;
  /** server.max_dataset_mb in bytes (0: no limit): a deflated dataset may not inflate past it either. */
  maxDatasetBytes?: number;
}

export interface IngestRequest {
  /** From the C-STORE command or the file meta; the dataset must agree. */
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  provenance: Provenance;
  /** STOW-RS to /studies/{study}: the instance must belong to that study (checked on the whole dataset). */
  studyInstanceUID?: string;
}

export type StoreResultKind = 'stored' | 'replaced' | 'identical' | 'ignored';

export interface StoreResult {
  kind: StoreResultKind;
  sopInstanceUID: string;
  /** Where the instance is filed (for a kept duplicate: the copy already there). */
  studyInstanceUID: string;
  seriesInstanceUID: string;
  path: string;
  size: number;
  /** pacs reindex: another file of the same instance, older, left without its row (pacs verify --repair removes it). */
  olderCopy?: string;
}

/** Runs before a file is committed; throw PacsError('REJECTED_BY_HOOK') to refuse it. */
export type BeforeStoreHook = HookList<{ record: InstanceRecord }>;

export interface StoreServiceDeps {
  index: ArchiveIndex;
  store: ObjectStore;
  events: EventBus;
  hooks: BeforeStoreHook;
  logger: Logger;
  /** Read at each store, so a reload of duplicate_policy or min_free_mb applies at once. */
  settings: () => StoreSettings;
}

/** Bytes of one dataset received between two checks of the free space. */
const FREE_CHECK_BYTES = 16 * 1024 * 1024;

/** One instance arriving: write() its dataset bytes, then end() or abort(). */
export class IngestSession {
  private readonly reader: DatasetStreamReader;
  private readonly staged: StagedObject | null;
  private failure: PacsError | null;
  private bytes = 0;
  private readonly startedAt = performance.now();
  /** storage.min_free_mb as the session began (read once, not at each chunk). */
  private readonly minFree: number;
  /** Bytes this session took off the free-space figure, given back if its file is discarded. */
  private spentBytes = 0;

  constructor(
    private readonly svc: StoreService,
    readonly request: IngestRequest,
    refuse: PacsError | null,
  ) {
    this.failure = refuse;
    this.minFree = svc.deps.settings().minFreeBytes;
    const ts = transferSyntaxInfo(request.transferSyntaxUID);
    if (!ts && !this.failure) this.failure = new PacsError('DICOM_PARSE', `unknown transfer syntax ${request.transferSyntaxUID}`);
    const maxDataset = svc.deps.settings().maxDatasetBytes ?? 0;
    this.reader = new DatasetStreamReader({
      transferSyntaxUID: ts ? request.transferSyntaxUID : '1.2.840.10008.1.2.1',
      collect: COLLECTED_TAGS,
      ...(maxDataset > 0 ? { maxInflatedBytes: maxDataset } : {}),
    });
    // The File Meta is encoded before a staged file is taken: UIDs too long to encode (a STOW
    // part's File Meta may say anything) are a failure of this instance, not a staged file and
    // its descriptor left open.
    let meta: Buffer | null = null;
    if (!this.failure) {
      const s = svc.deps.settings();
      try {
        meta = encodeFileMetaInformation({
          mediaStorageSOPClassUID: request.sopClassUID,
          mediaStorageSOPInstanceUID: request.sopInstanceUID,
          transferSyntaxUID: request.transferSyntaxUID,
          implementationClassUID: s.implementationClassUID,
          implementationVersionName: s.implementationVersionName,
        });
      } catch (e) {
        this.failure = new PacsError('DICOM_PARSE', `cannot write the File Meta Information: ${errorMessage(e)}`);
      }
    }
    this.staged = meta ? svc.deps.store.stage() : null;
    if (meta) this.staged!.write(meta);
  }

  get bytesReceived(): number {
    return this.bytes;
  }

  write(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    if (this.failure) return true; // keep consuming the message; the answer will be a failure
    // The guard of begin() again, at every chunk, on the free space less what every session has
    // written since it was read: checked only every 16 MB against that figure, one C-STORE of
    // gigabytes, or fifty associations of 30 MB each, went hundreds of MB past the minimum.
    const below = this.svc.spend(chunk.length, this.minFree);
    this.spentBytes += chunk.length;
    if (this.bytes >= this.nextFreeCheck) {
      this.nextFreeCheck = this.bytes + FREE_CHECK_BYTES;
      void this.svc.refreshFreeSpace(true);
    }
    if (below) {
      this.failure = new PacsError('OUT_OF_RESOURCES', `${below} while the dataset was received: not stored`);
      // Its bytes given back at once, not when the rest of the message has been read away.
      void this.staged
        ?.discard()
        .catch(() => {})
        .then(() => this.svc.discarded(this.takeSpent()));
      return true;
    }
    this.reader.push(chunk);
    return this.staged!.write(chunk);
  }

  private nextFreeCheck = FREE_CHECK_BYTES;

  onDrain(cb: () => void): void {
    if (this.staged) this.staged.onDrain(cb);
    else cb();
  }

  /** The whole dataset has arrived: validate, commit, index. Rejects with a PacsError. */
  async end(): Promise<StoreResult> {
    try {
      if (this.failure) throw this.failure;
      const result = await this.svc.commit(this, this.reader, this.staged!);
      this.svc.deps.events.emit('instance.ingested', { durationMs: performance.now() - this.startedAt, bytes: result.size, source: this.request.provenance.source });
      return result;
    } catch (e) {
      await this.staged?.discard().catch(() => {});
      this.svc.discarded(this.takeSpent());
      const failure = isPacsError(e) ? e : new PacsError('STORAGE_FAILURE', String(e instanceof Error ? e.message : e), { cause: e });
      this.svc.deps.events.emit('instance.failed', { sopInstanceUID: this.request.sopInstanceUID, code: failure.code, message: failure.message, provenance: this.request.provenance });
      throw failure;
    }
  }

  /**
   * A refusal decided by the transport, not by end() (a dataset over server.max_dataset_mb, a SOP
   * class the presentation context does not carry): counted and audited as any failed store.
   */
  refused(failure: PacsError): void {
    this.svc.deps.events.emit('instance.failed', { sopInstanceUID: this.request.sopInstanceUID, code: failure.code, message: failure.message, provenance: this.request.provenance });
  }

  /** The sender went away mid-dataset: nothing is kept. */
  async abort(): Promise<void> {
    this.failure ??= new PacsError('ABORTED', 'dataset incomplete: association ended');
    await this.staged?.discard().catch(() => {});
    this.svc.discarded(this.takeSpent());
  }

  /** The bytes taken off the figure, once (a file discarded twice gives them back once). */
  takeSpent(): number {
    const n = this.spentBytes;
    this.spentBytes = 0;
    return n;
  }
}

export class StoreService {
  /** One store at a time per SOP Instance UID: the duplicate decision and its file must agree. */
  private readonly perInstance = new KeyedMutex();
  /** Paths moved into place whose index row is not written yet: taken, though no row says so. */
  private readonly unindexed = new Set<string>();
  private freeCheckedAt = 0;
  private freeBytes = Number.POSITIVE_INFINITY;

  constructor(readonly deps: StoreServiceDeps) {}

  /** Starts receiving one instance. The free-space guard is checked here, before any byte is written (and every FREE_CHECK_BYTES after). */
  begin(request: IngestRequest): IngestSession {
    const below = this.belowFreeMinimum();
    const refuse = below ? new PacsError('OUT_OF_RESOURCES', below) : null;
    this.refreshFreeSpace();
    return new IngestSession(this, request, refuse);
  }

  /** Why the storage is below storage.min_free_mb by the last figure, or null. */
  belowFreeMinimum(min: number = this.deps.settings().minFreeBytes): string | null {
    return min > 0 && this.freeBytes < min ? `storage below its free-space minimum (${Math.round(Math.max(0, this.freeBytes) / 1048576)} MB free)` : null;
  }

  /**
   * `bytes` written by a session, taken off the free-space figure until the next statfs says
   * what is left: sessions running at once see each other's bytes. Why the storage is now below
   * `min`, or null.
   */
  spend(bytes: number, min: number): string | null {
    this.freeBytes -= bytes;
    return this.belowFreeMinimum(min);
  }

  /** Keeps the free-space figure at most a second old without a statfs per instance. */
  refreshFreeSpace(force = false): Promise<void> {
    const now = Date.now();
    if (!force && now - this.freeCheckedAt < 1000) return Promise.resolve();
    this.freeCheckedAt = now;
    return this.deps.store.freeBytes().then(
      (b) => void (this.freeBytes = b),
      // Not measured (statfs failing): the figure goes on counting what is written and discarded.
      () => {},
    );
  }

  /**
   * A staged file was discarded (a failure, a duplicate): its `bytes`, taken off the figure as
   * they were written, are free again — counted so, or a burst of resent duplicates kept the
   * figure low until the next statfs and the next store near the minimum was refused. (If a
   * statfs counted them meanwhile, the figure is that much high until the next.)
   */
  discarded(bytes: number): void {
    this.freeBytes += bytes;
  }

  /** Called by IngestSession.end: everything after the last byte. */
  async commit(session: IngestSession, reader: DatasetStreamReader, staged: StagedObject): Promise<StoreResult> {
    const req = session.request;
    const summary = await reader.end();
    const ts = transferSyntaxInfo(req.transferSyntaxUID)!;
    const { size, checksum } = await staged.finish();
    const record = buildInstanceRecord(
      { values: summary.values, littleEndian: ts.littleEndian },
      { path: '', size, transferSyntaxUID: req.transferSyntaxUID, checksum },
      req.provenance,
      new Date(),
    );
    if (record.instance.SOPInstanceUID !== req.sopInstanceUID)
      throw new PacsError('UID_MISMATCH', `SOP Instance UID ${record.instance.SOPInstanceUID} in the dataset, ${req.sopInstanceUID} in the command`);
    if (record.instance.SOPClassUID !== req.sopClassUID)
      throw new PacsError('UID_MISMATCH', `SOP Class UID ${record.instance.SOPClassUID} in the dataset, ${req.sopClassUID} in the command`);
    if (req.studyInstanceUID !== undefined && record.study.StudyInstanceUID !== req.studyInstanceUID)
      throw new PacsError('UID_MISMATCH', `the instance belongs to study ${record.study.StudyInstanceUID}, not ${req.studyInstanceUID}`);
    await this.deps.hooks.run({ record });

    const settings = this.deps.settings();
    const uid = record.instance.SOPInstanceUID;
    const decide = async (): Promise<StoreResult> => {
      const existing = await this.deps.index.findInstance(uid);
      if (existing) return this.storeDuplicate(record, existing, staged, settings, session);
      return this.storeNew(record, staged, settings);
    };
    return this.exclusive(uid, decide);
  }

  /**
   * Runs `fn` while no other store or delete of the instance runs. The mutex orders this
   * process's; the index's lock (PostgreSQL) orders them across servers sharing the storage,
   * where another server's placed but not yet indexed file would otherwise look like a crash
   * leftover to placeExclusive, and a delete could remove a file just placed for a new row.
   */
  exclusive<T>(sopInstanceUID: string, fn: () => Promise<T>): Promise<T> {
    const index = this.deps.index;
    return this.perInstance.run(sopInstanceUID, () => (index.withInstanceLock ? index.withInstanceLock(sopInstanceUID, fn) : fn()));
  }

  private async storeNew(record: InstanceRecord, staged: StagedObject, settings: StoreSettings): Promise<StoreResult> {
    const placed = await this.placeExclusive(record, staged, settings.naming);
    record.file.path = placed.path;
    let outcome;
    try {
      // The file's name is on disk before the row is written: a row made durable first (a
      // PostgreSQL commit, a synced log) could outlive a power cut that took the name with it,
      // and the sender's resend would then be answered "identical" for a file that is not there.
      await placed.durable;
      outcome = await this.deps.index.storeInstance(record, 'insert');
    } catch (e) {
      // The row is in the index, only its durability is in doubt: the file stays with it (a
      // resend of the same bytes is then answered "identical"), the answer is a failure.
      if (e instanceof UncertainCommit) throw e;
      // Only another process sharing the index (a second server on PostgreSQL) can have
      // inserted it since our lookup. When it filed the same bytes, this is the "identical"
      // case after all (a modality sending to two servers); and if its row names the very path
      // we just wrote, that file is now its file: removing it would lose the instance.
      const other = isPacsError(e, 'DUPLICATE_INSTANCE') ? await this.deps.index.findInstance(record.instance.SOPInstanceUID).catch(() => null) : null;
      if (other?.path !== record.file.path) await this.removeOrphan(record.file.path);
      if (other && other.checksum === record.file.checksum) return this.result('identical', other);
      throw e;
    } finally {
      this.unindexed.delete(record.file.path);
    }
    this.deps.events.emit('instance.stored', { record, outcome: outcome.outcome, changeSeq: outcome.changeSeq });
    return { kind: 'stored', ...filedAs(record), path: record.file.path, size: record.file.size };
  }

  private async storeDuplicate(record: InstanceRecord, existing: InstanceLocation, staged: StagedObject, settings: StoreSettings, session: IngestSession): Promise<StoreResult> {
    // The same bytes sent again (a modality retrying) is never an error, whatever the policy.
    if (existing.checksum === record.file.checksum) {
      // Acknowledged as kept: a retention pass deleting this study must see it received again.
      await this.deps.index.retention.received(existing.SOPInstanceUID, new Date());
      if (await this.deps.store.exists(existing.path)) {
        await staged.discard();
        this.discarded(session.takeSpent());
        return this.result('identical', existing);
      }
      // A row without its file (removed by hand, lost with a disk): these bytes are that
      // file, so they go where the row says. The row already describes them.
      this.deps.logger.warn({ sopInstanceUID: existing.SOPInstanceUID, path: existing.path }, 'the file of an indexed instance was missing; restored from the instance sent again');
      const { durable } = await staged.commit(existing.path, 'replace');
      await durable;
      return this.result('identical', existing);
    }
    if (settings.duplicatePolicy === 'ignore') {
      await this.deps.index.retention.received(existing.SOPInstanceUID, new Date());
      await staged.discard();
      this.discarded(session.takeSpent());
      return this.result('ignored', existing);
    }
    if (settings.duplicatePolicy === 'reject')
      throw new PacsError('DUPLICATE_INSTANCE', `SOP Instance ${record.instance.SOPInstanceUID} is already stored with other content`);

    // overwrite: the new file goes beside the old one (never onto it: name~2 when the name is
    // the same), the row moves to it, and only then is the old file removed. A crash at any
    // point leaves the row on a whole file; what it leaves behind is a file without a row.
    const placed = await this.placeExclusive(record, staged, settings.naming, existing.path);
    record.file.path = placed.path;
    try {
      await placed.durable;
      const outcome = await this.deps.index.storeInstance(record, 'replace');
      await this.removeOrphan(existing.path); // already missing: nothing to remove
      this.deps.events.emit('instance.stored', { record, outcome: outcome.outcome, changeSeq: outcome.changeSeq });
    } catch (e) {
      // Whether the row moved is in doubt: both files stay (the one without a row is an orphan
      // that `pacs verify --repair` removes).
      if (!(e instanceof UncertainCommit)) await this.removeOrphan(record.file.path);
      throw e;
    } finally {
      this.unindexed.delete(record.file.path);
    }
    return { kind: 'replaced', ...filedAs(record), path: record.file.path, size: record.file.size };
  }

  /**
   * Moves the staged file to its name; if a file is already there: a leftover from a crash (no
   * row names it, and it is over a minute old) is replaced, any other file keeps its name and we
   * take ~2, ~3…
   */
  private async placeExclusive(
    record: InstanceRecord,
    staged: StagedObject,
    naming: string,
    avoid?: string,
  ): Promise<{ path: string; durable: Promise<void> }> {
    const base = instancePath(naming, recordLookup(record));
    for (let n = 1; n < 1000; n++) {
      const candidate = n === 1 ? base : alternativePath(base, n);
      if (candidate === avoid) continue; // the file this one replaces
      if (this.unindexed.has(candidate)) continue; // another store's file, row on its way
      // A template can give two instances one name. Another instance's row naming it, its file
      // not there (set aside by a delete that may yet be undone, or lost), keeps the name: taken,
      // that row would point at this instance's bytes. Hierarchical names are the UIDs'.
      if (naming !== 'hierarchical') {
        const holder = await this.deps.index.findInstanceByPath(candidate);
        if (holder && holder.SOPInstanceUID !== record.instance.SOPInstanceUID) continue;
      }
      try {
        this.unindexed.add(candidate);
        return { path: candidate, ...(await staged.commit(candidate, 'exclusive')) };
      } catch (e) {
        if (!(e as { exists?: boolean }).exists) {
          this.unindexed.delete(candidate);
          throw e;
        }
        let orphan: boolean;
        try {
          const owner = await this.deps.index.findInstanceByPath(candidate);
          // No row, but written moments ago: another process's store (`pacs import` beside the
          // server, another server) whose row is on its way, not a crash's leftover.
          const inFlight = !owner && (await this.deps.store.recentlyWritten(candidate));
          // A row naming it is never an orphan, even this very instance's: that row was written
          // since this store found none (`pacs import` beside the server on SQLite shares no
          // instance lock), and its acknowledged file was replaced by these bytes.
          orphan = !inFlight && !owner;
        } catch (err) {
          // The name given back: kept, every later store of it went to ~2 until a restart.
          this.unindexed.delete(candidate);
          throw err;
        }
        if (orphan) {
          // An orphan (left by a crash): no row points at it.
          const placed = await staged.commit(candidate, 'replace').catch((err: unknown) => {
            this.unindexed.delete(candidate);
            throw err;
          });
          return { path: candidate, ...placed };
        }
        this.unindexed.delete(candidate);
      }
    }
    throw new PacsError('STORAGE_FAILURE', `no free file name for ${base}`);
  }

  /**
   * Removes a file no row names (or will). A failure is logged, not thrown — the store's own
   * outcome stands — so the orphan left is known: `pacs verify --repair` removes it.
   */
  private async removeOrphan(path: string): Promise<void> {
    try {
      await this.deps.store.remove(path);
    } catch (err) {
      this.deps.logger.warn({ err, path }, 'a file no index row names could not be removed: an orphan until pacs verify --repair');
    }
  }

  private result(kind: StoreResultKind, loc: InstanceLocation): StoreResult {
    return { kind, sopInstanceUID: loc.SOPInstanceUID, studyInstanceUID: loc.StudyInstanceUID, seriesInstanceUID: loc.SeriesInstanceUID, path: loc.path, size: loc.size };
  }
}
