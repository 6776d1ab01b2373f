// The filesystem object store: temp file in the same filesystem → fdatasync → link/rename →
// fsync of the directory, so a file is either whole in its final place or absent.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PacsError } from '../core/errors.js';
import { GroupSync } from '../core/group-sync.js';
import { HOST, isAlive } from '../core/process-alive.js';
import { IN_FLIGHT_MS, type ObjectStore, type SpooledObject, type StagedObject, type StagedResult } from './object-store.js';
import { type RowOf, type Tombstone, Tombstones } from './tombstones.js';

const STAGING = '.incoming';
/** This host in temporary file names: letters, digits and dots only, never the name's separator. */
/** Bytes gathered before one writev: few syscalls for the many small PDV fragments. */
const WRITE_BATCH = 256 * 1024;
/** Bytes queued or being written before write() asks the caller to pause the socket. */
const HIGH_WATER = 2 * 1024 * 1024;

/**
 * Temporary files created ahead of need. Creating a file costs this machine's ext4 up to a
 * millisecond while other files are being written (journal work), which was the largest
 * single cost of a small C-STORE; a few spares made in the thread pool take it off the path.
 */
const SPARES = 8;

/** Directories remembered as existing (see FsObjectStore.knownDirs). */
const KNOWN_DIRS = 10_000;

const storageError = (op: string, e: unknown): PacsError => {
  // Already said (a full disk found by ensureDir's sync): not made a storage failure, which a
  // sender does not retry where it retries "out of resources".
  if (e instanceof PacsError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new PacsError('OUT_OF_RESOURCES', `disk full while ${op}`, { cause: e });
  return new PacsError('STORAGE_FAILURE', `${op}: ${err.message}`, { cause: e });
};

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly staging: string;
  private seq = 0;
  /** Random per store, not per file: with the pid and the sequence number it tells this process's files from a former one's of the same pid. */
  private readonly nonce = randomBytes(4).toString('hex');
  /**
   * Directories known to exist, so a store skips its mkdir. Bounded (there is one per series
   * with hierarchical naming) and forgotten when one turns out gone (emptied and removed by hand).
   */
  private readonly knownDirs = new Set<string>();

  /** `stagingDir` must be on the same filesystem as `root` (rename and link do not cross them). */
  constructor(root: string, private readonly options: { fsync: boolean; stagingDir?: string }) {
    this.root = path.resolve(root);
    this.staging = path.resolve(options.stagingDir ?? path.join(this.root, STAGING));
    fs.mkdirSync(this.staging, { recursive: true });
    if (options.stagingDir !== undefined) this.checkSameFilesystem();
    this.stagingParent = identity(path.dirname(this.staging));
    this.tombstones = new Tombstones(this.root, options.fsync ? (dir) => this.syncDir(dir) : null);
  }

  /**
   * A staging directory elsewhere than the archive (storage.temp_dir) must be on its filesystem:
   * files are linked into place, which no filesystem (nor mount) boundary allows. Found at the
   * start, not by every store failing after its dataset was received and synced.
   */
  private checkSameFilesystem(): void {
    fs.mkdirSync(this.root, { recursive: true });
    const probe = path.join(this.staging, `${HOST}-${process.pid}-link-probe`);
    const target = path.join(this.root, `.link-probe-${HOST}-${process.pid}`);
    try {
      fs.writeFileSync(probe, '');
      fs.linkSync(probe, target);
      fs.rmSync(target, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EXDEV')
        throw new PacsError('CONFIG_INVALID', `storage.temp_dir ${this.staging} is not on the filesystem of storage.directory ${this.root}: files received there cannot be linked into the archive`);
      // Anything else (a read-only archive for a read-only tool) is for the stores to say.
    } finally {
      fs.rmSync(probe, { force: true });
    }
  }

  /** The staging directory's parent as it was at the start (device and inode), to make it again in. */
  private readonly stagingParent: string | null;

  /**
   * Makes the staging directory again when it was removed while we run (by hand, a clean-up
   * script): every store failed until a restart. Only inside the very directory it was made in
   * at the start — a share unmounted since shows an empty mount point there, which must not fill.
   */
  restoreStaging(): boolean {
    if (this.stagingParent === null || identity(path.dirname(this.staging)) !== this.stagingParent) return false;
    try {
      fs.mkdirSync(this.staging);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EEXIST';
    }
  }

  private readonly tombstones: Tombstones;

  entomb(rel: string, sopInstanceUID: string): Promise<Tombstone | null> {
    return this.tombstones.entomb(this.absolutePath(rel), sopInstanceUID);
  }

  sweepTombstones(rowOf: RowOf, options: { everyone?: boolean } = {}): Promise<{ restored: number; removed: number }> {
    return this.tombstones.sweep(rowOf, (rel) => this.absolutePath(rel), options);
  }

  absolutePath(rel: string): string {
    const abs = path.resolve(this.root, rel);
    if (!abs.startsWith(this.root + path.sep)) throw new PacsError('STORAGE_FAILURE', `path escapes the storage directory: ${rel}`);
    return abs;
  }

  private readonly spares: { path: string; fd: number }[] = [];
  /** Spares being created: their names exist on disk before they are ready. */
  private readonly creating = new Set<string>();
  private closed = false;

  /**
   * host-pid-n-random.part: servers sharing a staging directory (several servers on one volume)
   * tell their own files, and those of a process of theirs that is gone, from another's.
   */
  private tempName(): string {
    return path.join(this.staging, `${HOST}-${process.pid}-${++this.seq}-${this.nonce}.part`);
  }

  private refill(): void {
    while (!this.closed && this.spares.length + this.creating.size < SPARES) {
      const p = this.tempName();
      this.creating.add(p);
      fs.open(p, 'wx', 0o644, (err, fd) => {
        this.creating.delete(p);
        if (err) return; // stage() opens its own file and reports the error there
        // Closed meanwhile: drop it. Never a throw here, in a callback nothing awaits (it would
        // crash the process): the staging directory may be gone by now.
        if (this.closed) fs.close(fd, () => fs.rm(p, { force: true }, () => undefined));
        else this.spares.push({ path: p, fd });
      });
    }
  }

  stage(): StagedObject {
    let spare = this.spares.pop();
    // A spare whose name is gone (the staging directory removed meanwhile) would take a whole
    // dataset and fail at its link: dropped, with the others made in the same directory.
    if (spare && linkCount(spare.fd) === 0) {
      for (const s of [spare, ...this.spares.splice(0)]) fs.close(s.fd, () => undefined);
      spare = undefined;
      this.restoreStaging();
    }
    this.refill();
    return new FsStagedObject(this, spare?.path ?? this.tempName(), spare?.fd ?? null, this.options.fsync);
  }

  async spool(data: Buffer | readonly Buffer[]): Promise<SpooledObject> {
    const file = this.tempName();
    const parts = Buffer.isBuffer(data) ? [data] : data;
    const size = parts.reduce((n, p) => n + p.length, 0);
    let fh: fsp.FileHandle | null = null;
    try {
      fh = await fsp.open(file, 'wx', 0o600);
      const { bytesWritten } = await fh.writev(parts as Buffer[]);
      if (bytesWritten !== size) throw new Error(`${bytesWritten} of ${size} bytes written`);
    } catch (e) {
      await fh?.close().catch(() => {});
      fh = null;
      await fsp.rm(file, { force: true });
      throw storageError('writing a temporary copy', e);
    }
    await fh.close();
    return { size, read: () => fs.createReadStream(file), remove: () => fsp.rm(file, { force: true }) };
  }

  /** The spare temporary files (absolute paths): empty, not yet any instance's. */
  spareFiles(): string[] {
    return [...this.spares.map((s) => s.path), ...this.creating];
  }

  /** Closes and removes the spare temporary files. */
  close(): void {
    this.closed = true;
    this.tombstones.close();
    for (const s of this.spares.splice(0)) {
      fs.closeSync(s.fd);
      // One that cannot be removed (the staging directory broken) is left for the next start's clean-up.
      try {
        fs.rmSync(s.path, { force: true });
      } catch {
        /* left behind */
      }
    }
  }

  private readonly dirSyncs = new Map<string, GroupSync>();

  /** Makes the entries of a directory durable; concurrent stores into one directory share syncs. */
  syncDir(dir: string): Promise<void> {
    let group = this.dirSyncs.get(dir);
    if (!group) {
      const g = new GroupSync(
        () => fsyncDir(dir),
        () => {
          if (this.dirSyncs.get(dir) === g) this.dirSyncs.delete(dir);
        },
      );
      this.dirSyncs.set(dir, (group = g));
    }
    return group.sync();
  }

  /**
   * Creates the directories of `abs` (and makes their entries durable when fsync is on). With
   * fsync, a directory not yet known syncs every parent up to the root, whoever created it: a
   * store into a folder another store had just made (mkdir said "exists") otherwise went on
   * before that store's syncs of the parents were done — or after they failed, never retried.
   * Once per directory per process (known afterwards); a sync of a directory already durable is
   * cheap, and concurrent syncs of one directory are one (syncDir).
   */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    if (this.options.fsync) for (let d = dir; d !== this.root && d.startsWith(this.root + path.sep); d = path.dirname(d)) await this.syncDir(path.dirname(d));
    if (this.knownDirs.size >= KNOWN_DIRS) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  async pruneEmptyDirs(rel: string): Promise<void> {
    for (let dir = path.dirname(this.absolutePath(rel)); dir.startsWith(this.root + path.sep); dir = path.dirname(dir)) {
      this.forgetDir(dir);
      try {
        await fsp.rmdir(dir); // only when empty: ENOTEMPTY ends the walk
      } catch {
        return;
      }
    }
  }

  /** A directory taken for existing is not there: the next ensureDir makes it again. */
  forgetDir(dir: string): void {
    this.knownDirs.delete(dir);
  }

  read(rel: string, range?: { start: number; end?: number }): fs.ReadStream {
    return fs.createReadStream(this.absolutePath(rel), range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {});
  }

  readHead(rel: string, limit: number): Promise<Buffer> {
    return this.readRange(rel, 0, limit);
  }

  async readRange(rel: string, position: number, length: number): Promise<Buffer> {
    const fh = await fsp.open(this.absolutePath(rel), 'r');
    try {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, position);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  readAll(rel: string, size?: number): Promise<Buffer> {
    const abs = this.absolutePath(rel);
    if (size === undefined) return fsp.readFile(abs);
    return readSized(abs, size, Buffer.allocUnsafe(size + 1)).then((b) => b ?? fsp.readFile(abs));
  }

  readInto(rel: string, size: number, target: Buffer): Promise<Buffer | null> {
    return readSized(this.absolutePath(rel), size, target);
  }

  async exists(rel: string): Promise<boolean> {
    return fsp.access(this.absolutePath(rel)).then(
      () => true,
      () => false,
    );
  }

  async size(rel: string): Promise<number> {
    return (await fsp.stat(this.absolutePath(rel))).size;
  }

  async recentlyWritten(rel: string): Promise<boolean> {
    const st = await fsp.stat(this.absolutePath(rel)).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs < IN_FLIGHT_MS;
  }

  async remove(rel: string): Promise<void> {
    await fsp.rm(this.absolutePath(rel), { force: true });
  }

  async freeBytes(): Promise<number> {
    return (await this.diskUsage()).freeBytes;
  }

  async diskUsage(): Promise<{ totalBytes: number; freeBytes: number }> {
    const s = await fsp.statfs(this.root);
    return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  }

  /**
   * Removes what crashed stores left in the staging directory: files of this host's processes
   * that are gone (or of an earlier process that had our pid), and anything a day old. Another
   * server's files in a shared staging directory are its stores in progress: left alone.
   */
  async cleanupStaging(options: { running?: boolean } = {}): Promise<number> {
    const spares = new Set(this.spareFiles().map((p) => path.basename(p)));
    const names = (await fsp.readdir(this.staging).catch(() => [] as string[])).filter((n) => !spares.has(n));
    const dayAgo = Date.now() - 86_400_000;
    const leftovers: string[] = [];
    for (const n of names) {
      const owner = /^(.+)-(\d+)-\d+-[0-9a-f]+\.part$/.exec(n);
      // Our own pid's files are leftovers at the start only: while we run they are stores in progress.
      const ours = owner !== null && owner[1] === HOST && Number(owner[2]) === process.pid;
      if (ours && options.running) continue;
      const gone = !owner || ours || (owner[1] === HOST && !isAlive(Number(owner[2])));
      if (gone) leftovers.push(n);
      else {
        const st = await fsp.stat(path.join(this.staging, n)).catch(() => null);
        if (st && st.mtimeMs < dayAgo) leftovers.push(n);
      }
    }
    await Promise.all(leftovers.map((n) => fsp.rm(path.join(this.staging, n), { force: true })));
    return leftovers.length;
  }

  async *list(): AsyncIterable<string> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const walk = async function* (dir: string, rel: string): AsyncIterable<string> {
      const entries = await fsp.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        if (path.join(dir, e.name) === self.staging) continue;
        // Dot-directories at the top are ours (.incoming, .deleting, .metadata, .thumbnails), never instances.
        if (rel === '' && e.isDirectory() && e.name.startsWith('.')) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) yield* walk(path.join(dir, e.name), r);
        else if (e.isFile()) yield r;
      }
    };
    yield* walk(this.root, '');
  }
}

/** `dev:ino` of a directory, or null when it cannot be read. */
function identity(dir: string): string | null {
  try {
    const st = fs.statSync(dir);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

/** How many names an open file has (0: removed while open); -1 when it cannot be told. */
function linkCount(fd: number): number {
  try {
    return fs.fstatSync(fd).nlink;
  } catch {
    return -1;
  }
}

/**
 * The file's bytes, read into `buf` (size + 1 bytes at least), when it holds exactly `size`, else null. One thread-pool round trip, for
 * the read, instead of readFile's five through FileHandle promises (open, fstat, a read per
 * 512 KB and one for the end, close): on a WADO-RS study retrieve those round trips (queueing,
 * waking a pool thread, the callback) were about half of the server's CPU. Opening a file and
 * closing it are direct calls of microseconds (as for the store path above); the read is the
 * part that may wait for the disk. Asking for one byte more than expected tells a file that
 * grew from one that did not, in the same read.
 */
function readSized(abs: string, size: number, buf: Buffer): Promise<Buffer | null> {
  if (buf.length < size + 1) return Promise.reject(new RangeError(`a buffer of ${buf.length} bytes cannot hold ${size + 1}`));
  let fd: number;
  try {
    fd = fs.openSync(abs, 'r');
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise((resolve, reject) =>
    fs.read(fd, buf, 0, size + 1, 0, (e, n) => {
      fs.close(fd, () => {}); // not closeSync: a throw here, in an fs callback, would end the process
      if (e) reject(e);
      else resolve(n === size ? buf.subarray(0, size) : null);
    }),
  );
}

/** One thread-pool round trip: open and close are fast system calls, only the sync waits. */
function fsyncDir(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = fs.openSync(dir, 'r');
  } catch (e) {
    return Promise.reject(storageError(`opening directory ${dir} to sync it`, e));
  }
  return new Promise<void>((resolve, reject) =>
    fs.fsync(fd, (e) => {
      fs.close(fd, () => {}); // as above
      if (e) reject(storageError(`syncing directory ${dir}`, e));
      else resolve();
    }),
  );
}

/**
 * A file being received. The cost of a store is mostly round trips to the thread pool, so
 * only the waits that must be waits go there: writes of large batches while data streams in
 * (that is where a slow disk pauses the socket) and the two syncs at the end. The small tail
 * write, close, link and unlink are direct system calls that take microseconds.
 */
class FsStagedObject implements StagedObject {
  private queue: Buffer[] = [];
  private queued = 0;
  /** File offset of the first queued byte. */
  private position = 0;
  private inFlight = 0;
  private lastWrite: Promise<void> = Promise.resolve();
  private error: PacsError | null = null;
  private size = 0;
  private readonly hash = createHash('sha256');
  private drainWaiters: (() => void)[] = [];
  private finished = false;

  constructor(
    private readonly store: FsObjectStore,
    readonly tempPath: string,
    private fd: number | null,
    private readonly fsync: boolean,
  ) {}

  write(chunk: Buffer): boolean {
    if (this.error || this.finished) return true;
    this.hash.update(chunk);
    this.size += chunk.length;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= WRITE_BATCH) this.flushInBackground();
    return this.queued + this.inFlight < HIGH_WATER;
  }

  onDrain(cb: () => void): void {
    if (this.queued + this.inFlight < HIGH_WATER || this.error) cb();
    else this.drainWaiters.push(cb);
  }

  private open(): number {
    if (this.fd === null) {
      try {
        this.fd = fs.openSync(this.tempPath, 'wx', 0o644);
      } catch (e) {
        // The staging directory removed while we run: made again (where it was), and opened there.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && this.store.restoreStaging()) {
          try {
            this.fd = fs.openSync(this.tempPath, 'wx', 0o644);
            return this.fd;
          } catch (again) {
            throw storageError('creating a temporary file', again);
          }
        }
        throw storageError('creating a temporary file', e);
      }
    }
    return this.fd;
  }

  private take(): { batch: Buffer[]; bytes: number; position: number } {
    const r = { batch: this.queue, bytes: this.queued, position: this.position };
    this.position += this.queued;
    this.queue = [];
    this.queued = 0;
    return r;
  }

  /**
   * Writes the queued batch in the thread pool, after the batches before it (one file's
   * writes in parallel only contend for its inode lock), while the network goes on.
   */
  private flushInBackground(): void {
    let fd: number;
    try {
      fd = this.open();
    } catch (e) {
      this.fail(e);
      return;
    }
    const { batch, bytes, position } = this.take();
    this.inFlight += bytes;
    const previous = this.lastWrite;
    const done: Promise<void> = previous.then(
      () =>
        new Promise<void>((resolve) =>
          fs.writev(fd, batch, position, (err, written) => {
            this.inFlight -= bytes;
            if (err) this.fail(err);
            else if (written !== bytes) this.fail(new PacsError('OUT_OF_RESOURCES', `short write (${written} of ${bytes} bytes): disk full?`));
            this.wakeDrainWaiters();
            resolve();
          }),
        ),
    );
    this.lastWrite = done;
  }

  private fail(e: unknown): void {
    this.error ??= e instanceof PacsError ? e : storageError('writing', e);
    this.take();
  }

  private wakeDrainWaiters(): void {
    if (this.queued + this.inFlight >= HIGH_WATER && !this.error) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of w) cb();
  }

  private async settle(): Promise<void> {
    let last;
    do {
      last = this.lastWrite;
      await last;
    } while (last !== this.lastWrite);
  }

  async finish(): Promise<StagedResult> {
    this.finished = true;
    await this.settle();
    if (this.error) throw this.error;
    const fd = this.open();
    try {
      const { batch, bytes, position } = this.take();
      if (bytes) {
        let written: number;
        try {
          written = fs.writevSync(fd, batch, position);
        } catch (e) {
          throw storageError('writing', e);
        }
        if (written !== bytes) throw new PacsError('OUT_OF_RESOURCES', `short write (${written} of ${bytes} bytes): disk full?`);
      }
      if (this.fsync) await new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(storageError('syncing', e)) : res())));
    } finally {
      this.fd = null;
      fs.closeSync(fd);
    }
    return { size: this.size, checksum: this.hash.digest('hex') };
  }

  async commit(rel: string, mode: 'exclusive' | 'replace'): Promise<{ durable: Promise<void> }> {
    const dest = this.store.absolutePath(rel);
    const dir = path.dirname(dest);
    const place = (): void => {
      if (mode === 'exclusive') {
        // link() fails if the name exists: no check-then-act race between two writers.
        fs.linkSync(this.tempPath, dest);
        try {
          fs.unlinkSync(this.tempPath);
        } catch {
          // The file is in place: the temporary name left beside it is swept at the next start.
          // Failing here answered a failure for an instance kept, its file an orphan.
        }
      } else fs.renameSync(this.tempPath, dest);
    };
    try {
      await this.store.ensureDir(dir);
      try {
        place();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !fs.existsSync(this.tempPath)) throw e;
        // The directory was there once and has been removed since (by hand, or by a
        // clean-up of empty folders): made again, and the file placed.
        this.store.forgetDir(dir);
        await this.store.ensureDir(dir);
        place();
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        const err = new PacsError('STORAGE_FAILURE', `a file already exists at ${rel}`, { cause: e });
        (err as PacsError & { exists?: boolean }).exists = true;
        throw err;
      }
      throw storageError(`moving the file into place at ${rel}`, e);
    }
    const durable = this.fsync ? this.store.syncDir(dir) : Promise.resolve();
    durable.catch(() => {}); // awaited by the caller; never unhandled meanwhile
    return { durable };
  }

  async discard(): Promise<void> {
    this.finished = true;
    await this.settle();
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    fs.rmSync(this.tempPath, { force: true });
  }
}
