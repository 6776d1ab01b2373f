// Where instance files live. The filesystem store is the only one today; the interface is
// what the services see, so a shared volume or an object store can stand in later.
import type { Readable } from 'node:stream';
import type { RowOf, Tombstone } from './tombstones.js';

export interface StagedResult {
  size: number;
  /** Hex SHA-256 of the whole file, computed while writing (integrity checks, duplicate detection). */
  checksum: string;
}

/** A file being received: written to a temporary place, then committed atomically or discarded. */
export interface StagedObject {
  /** Returns false when the caller should wait for onDrain before writing more. */
  write(chunk: Buffer): boolean;
  onDrain(cb: () => void): void;
  /** Writes out everything, syncs it to disk when configured, and closes it. */
  finish(): Promise<StagedResult>;
  /**
   * Moves the finished file to `path` (relative to the store). 'exclusive' fails with
   * PacsError STORAGE_FAILURE and `exists: true` if something is already there; 'replace'
   * atomically replaces what is there. Resolves once the name is in place; `durable`
   * resolves once the name itself is on disk (its directory synced), so the caller can write
   * the index meanwhile and answer when both are done.
   */
  commit(path: string, mode: 'exclusive' | 'replace'): Promise<{ durable: Promise<void> }>;
  /** Removes the temporary file (idempotent; safe after a failed write). */
  discard(): Promise<void>;
}

/** Bytes kept on disk for a while instead of in memory, read back once (ObjectStore.spool). */
export interface SpooledObject {
  readonly size: number;
  read(): Readable;
  /** Removes the file (idempotent). */
  remove(): Promise<void>;
}

/**
 * A file without its index row, or a temporary file, written this recently may belong to a store
 * or export still under way in another process (placed, its row milliseconds away); older, it is
 * a crash's leftover. One rule for the store's placement, `pacs verify` and exports.
 */
export const IN_FLIGHT_MS = 60_000;

export interface ObjectStore {
  stage(): StagedObject;
  /**
   * Writes `data` to a temporary file of the store (not synced: it is never the archive's copy)
   * so that the caller can let go of it until it is read; a crash's leftovers go at the next
   * start with the other temporary files (cleanupStaging). `data` in parts is written one part
   * after the other.
   */
  spool(data: Buffer | readonly Buffer[]): Promise<SpooledObject>;
  read(path: string, range?: { start: number; end?: number }): Readable;
  /** Reads a whole (small) file, or its first `limit` bytes. */
  readHead(path: string, limit: number): Promise<Buffer>;
  /** Reads up to `length` bytes at `position` (fewer at the end of the file). */
  readRange(path: string, position: number, length: number): Promise<Buffer>;
  /**
   * Reads a whole file in one go (callers use it below a size limit). With `size` (the
   * indexed size) it costs one open, one read and one close; a file of another size is read
   * as it is.
   */
  readAll(path: string, size?: number): Promise<Buffer>;
  /**
   * Reads a file of `size` bytes into `target` (at least size + 1 bytes long, so a longer file
   * shows), for callers that reuse their buffers: the filled part, or null when the file is
   * not `size` bytes long.
   */
  readInto(path: string, size: number, target: Buffer): Promise<Buffer | null>;
  exists(path: string): Promise<boolean>;
  /** The file's size in bytes; rejects (ENOENT) when there is no such file. */
  size(path: string): Promise<number>;
  /** Whether the file exists and was written in the last IN_FLIGHT_MS: it may belong to a write still under way. */
  recentlyWritten(path: string): Promise<boolean>;
  remove(path: string): Promise<void>;
  /**
   * Moves an instance's file aside before its row is deleted (./tombstones.ts): to unlink once
   * the row is gone, or to put back if it stays. Null when there is no file at `path`.
   */
  entomb(path: string, sopInstanceUID: string): Promise<Tombstone | null>;
  /** At start-up: settles the files set aside by deletes of processes that are gone. */
  sweepTombstones(rowOf: RowOf): Promise<{ restored: number; removed: number }>;
  /** Free bytes on the volume (for the free-space guard). */
  freeBytes(): Promise<number>;
  /** The volume's size and free bytes (status page, retention by usage). */
  diskUsage(): Promise<{ totalBytes: number; freeBytes: number }>;
  /**
   * Removes temporary files left by a crash (of this process's pid too: at the start); returns
   * how many. `running`: while this process runs — its own files are stores in progress.
   */
  cleanupStaging(options?: { running?: boolean }): Promise<number>;
  /**
   * Removes the folders of `path` that its deletion left empty, up to the storage root: with
   * hierarchical naming every series has one, and a retention deleting for years would leave
   * millions. A store placing a file meanwhile makes its folder again (FsStagedObject.commit).
   */
  pruneEmptyDirs(path: string): Promise<void>;
  /** Every stored file path, relative, for reindexing and verification. */
  list(): AsyncIterable<string>;
  /** Absolute location, for tools that need one (export by hard link). */
  absolutePath(path: string): string;
  /** Releases what the store holds open (spare temporary files). */
  close(): void;
}

