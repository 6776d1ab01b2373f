// The filesystem object store: temp file in the same filesystem → fdatasync → link/rename →
// fsync of the directory, so a file is either whole in its final place or absent.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { PacsError } from '../core/errors.js';
import type { ObjectStore, StagedObject, StagedResult } from './object-store.js';

const STAGING = '.incoming';
/** Bytes gathered before one writev: few syscalls for the many small PDV fragments. */
const WRITE_BATCH = 256 * 1024;
/** Bytes queued in memory before write() asks the caller to pause the socket. */
const HIGH_WATER = 2 * 1024 * 1024;

const storageError = (op: string, e: unknown): PacsError => {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT') return new PacsError('OUT_OF_RESOURCES', `disk full while ${op}`, { cause: e });
  return new PacsError('STORAGE_FAILURE', `${op}: ${err.message}`, { cause: e });
};

export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly staging: string;
  private seq = 0;
  private readonly knownDirs = new Set<string>();

  /** `stagingDir` must be on the same filesystem as `root` (rename and link do not cross them). */
  constructor(root: string, private readonly options: { fsync: boolean; stagingDir?: string }) {
    this.root = path.resolve(root);
    this.staging = path.resolve(options.stagingDir ?? path.join(this.root, STAGING));
    fs.mkdirSync(this.staging, { recursive: true });
  }

  absolutePath(rel: string): string {
    const abs = path.resolve(this.root, rel);
    if (!abs.startsWith(this.root + path.sep)) throw new PacsError('STORAGE_FAILURE', `path escapes the storage directory: ${rel}`);
    return abs;
  }

  stage(): StagedObject {
    const name = `${process.pid}-${++this.seq}-${randomBytes(4).toString('hex')}.part`;
    return new FsStagedObject(this, path.join(this.staging, name), this.options.fsync);
  }

  /** Creates the directories of `abs` (and makes their entries durable when fsync is on). */
  async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    const created = await fsp.mkdir(dir, { recursive: true });
    if (created && this.options.fsync) {
      // Every newly created level must be recorded in its parent.
      let d = dir;
      while (d.length >= created.length && d !== this.root) {
        await fsyncDir(path.dirname(d));
        d = path.dirname(d);
      }
    }
    this.knownDirs.add(dir);
  }

  read(rel: string, range?: { start: number; end?: number }): fs.ReadStream {
    return fs.createReadStream(this.absolutePath(rel), range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {});
  }

  async readHead(rel: string, limit: number): Promise<Buffer> {
    const fh = await fsp.open(this.absolutePath(rel), 'r');
    try {
      const buf = Buffer.alloc(limit);
      const { bytesRead } = await fh.read(buf, 0, limit, 0);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  }

  async exists(rel: string): Promise<boolean> {
    return fsp.access(this.absolutePath(rel)).then(
      () => true,
      () => false,
    );
  }

  async remove(rel: string): Promise<void> {
    await fsp.rm(this.absolutePath(rel), { force: true });
  }

  async setAside(rel: string): Promise<string | null> {
    const token = path.join(this.staging, `${process.pid}-${++this.seq}.aside`);
    try {
      await fsp.link(this.absolutePath(rel), token);
      return token;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw storageError('keeping the previous file', e);
    }
  }

  async restore(token: string, rel: string): Promise<void> {
    await fsp.rename(token, this.absolutePath(rel));
  }

  async dropAside(token: string): Promise<void> {
    await fsp.rm(token, { force: true });
  }

  async freeBytes(): Promise<number> {
    const s = await fsp.statfs(this.root);
    return s.bavail * s.bsize;
  }

  async cleanupStaging(): Promise<number> {
    const names = await fsp.readdir(this.staging).catch(() => [] as string[]);
    await Promise.all(names.map((n) => fsp.rm(path.join(this.staging, n), { force: true })));
    return names.length;
  }

  async *list(): AsyncIterable<string> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const walk = async function* (dir: string, rel: string): AsyncIterable<string> {
      const entries = await fsp.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => a.name.localeCompare(b.name));
      for (const e of entries) {
        if (path.join(dir, e.name) === self.staging) continue;
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) yield* walk(path.join(dir, e.name), r);
        else if (e.isFile()) yield r;
      }
    };
    yield* walk(this.root, '');
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

class FsStagedObject implements StagedObject {
  private fd: number | null = null;
  private opening: Promise<number> | null = null;
  private queue: Buffer[] = [];
  private queued = 0;
  private writing: Promise<void> | null = null;
  private error: PacsError | null = null;
  private size = 0;
  private readonly hash = createHash('md5');
  private drainWaiters: (() => void)[] = [];
  private finished = false;

  constructor(
    private readonly store: FsObjectStore,
    readonly tempPath: string,
    private readonly fsync: boolean,
  ) {}

  write(chunk: Buffer): boolean {
    if (this.error || this.finished) return true;
    this.hash.update(chunk);
    this.size += chunk.length;
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= WRITE_BATCH && !this.writing) this.flushSome();
    return this.queued < HIGH_WATER;
  }

  onDrain(cb: () => void): void {
    if (this.queued < HIGH_WATER || this.error) cb();
    else this.drainWaiters.push(cb);
  }

  private open(): Promise<number> {
    this.opening ??= new Promise((resolve, reject) =>
      fs.open(this.tempPath, 'wx', 0o644, (err, fd) => (err ? reject(storageError('creating a temporary file', err)) : resolve(fd))),
    );
    return this.opening;
  }

  /** Writes what is queued with one writev, then continues while more is queued. */
  private flushSome(): void {
    const run = async (): Promise<void> => {
      try {
        const fd = this.fd ?? (this.fd = await this.open());
        while (this.queue.length && !this.error) {
          const batch = this.queue;
          const bytes = this.queued;
          this.queue = [];
          this.queued = 0;
          await new Promise<void>((resolve, reject) =>
            fs.writev(fd, batch, (err, written) => {
              if (err) reject(storageError('writing', err));
              else if (written !== bytes) reject(new PacsError('OUT_OF_RESOURCES', `short write (${written} of ${bytes} bytes): disk full?`));
              else resolve();
            }),
          );
          this.wakeDrainWaiters();
        }
      } catch (e) {
        this.error = e instanceof PacsError ? e : storageError('writing', e);
        this.queue = [];
        this.queued = 0;
        this.wakeDrainWaiters();
      }
    };
    this.writing = run().finally(() => (this.writing = null));
  }

  private wakeDrainWaiters(): void {
    if (this.queued >= HIGH_WATER && !this.error) return;
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of w) cb();
  }

  async finish(): Promise<StagedResult> {
    this.finished = true;
    while (this.writing || this.queue.length) {
      if (!this.writing) this.flushSome();
      await this.writing;
    }
    if (this.error) throw this.error;
    const fd = this.fd ?? (this.fd = await this.open());
    try {
      if (this.fsync) await new Promise<void>((res, rej) => fs.fdatasync(fd, (e) => (e ? rej(storageError('syncing', e)) : res())));
    } finally {
      this.fd = null;
      await new Promise<void>((res) => fs.close(fd, () => res()));
    }
    return { size: this.size, checksum: this.hash.digest('hex') };
  }

  async commit(rel: string, mode: 'exclusive' | 'replace'): Promise<void> {
    const dest = this.store.absolutePath(rel);
    const dir = path.dirname(dest);
    try {
      await this.store.ensureDir(dir);
      if (mode === 'exclusive') {
        // link() fails if the name exists: no check-then-act race between two writers.
        await fsp.link(this.tempPath, dest);
        await fsp.unlink(this.tempPath);
      } else await fsp.rename(this.tempPath, dest);
      if (this.fsync) await fsyncDir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        const err = new PacsError('STORAGE_FAILURE', `a file already exists at ${rel}`, { cause: e });
        (err as PacsError & { exists?: boolean }).exists = true;
        throw err;
      }
      throw storageError(`moving the file into place at ${rel}`, e);
    }
  }

  async discard(): Promise<void> {
    this.finished = true;
    if (this.writing) await this.writing.catch(() => {});
    if (this.fd !== null) {
      const fd = this.fd;
      this.fd = null;
      await new Promise<void>((res) => fs.close(fd, () => res()));
    } else if (this.opening) {
      const fd = await this.opening.catch(() => null);
      if (fd !== null) await new Promise<void>((res) => fs.close(fd, () => res()));
    }
    await fsp.rm(this.tempPath, { force: true });
  }
}
