// A cache of each instance's DICOM JSON (WADO-RS metadata), so that a series' metadata is
// served by reading small prepared texts instead of parsing every file on every request.
// Entries are keyed by SOP Instance UID and carry the checksum of the file they were made
// from: a stale entry (the instance was replaced) is simply made again.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';

export interface MetadataCache {
  get(sopInstanceUID: string): Promise<string | null>;
  /** The entries of those of the instances that have one (a series at once). */
  getMany(sopInstanceUIDs: readonly string[]): Promise<Map<string, string>>;
  put(sopInstanceUID: string, text: string): Promise<void>;
  remove(sopInstanceUID: string): Promise<void>;
}

/**
 * One small file per instance under `<storage>/.metadata`, written atomically; no fsync: it is
 * a cache. The server keeps the texts in the index now (index/metadata.ts: a series is one
 * query instead of a file per instance); this one serves tools and tests without an index.
 */
export class FsMetadataCache implements MetadataCache {
  /** Folders known to exist (there are at most 100: the last two characters of the UID). */
  private readonly folders = new Set<string>();

  constructor(private readonly root: string) {}

  private file(uid: string): string {
    // UIDs are digits and dots; anything else (a malformed UID) is hashed into a safe name.
    const name = /^[0-9.]{1,64}$/.test(uid) ? uid : createHash('sha256').update(uid).digest('hex');
    return path.join(this.root, name.slice(-2).replace('.', '_'), `${name}.json`);
  }

  async get(uid: string): Promise<string | null> {
    try {
      return await fs.readFile(this.file(uid), 'utf8');
    } catch {
      return null;
    }
  }

  async getMany(uids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const uid of uids) {
      const text = await this.get(uid);
      if (text !== null) out.set(uid, text);
    }
    return out;
  }

  async put(uid: string, text: string): Promise<void> {
    const file = this.file(uid);
    const folder = path.dirname(file);
    if (!this.folders.has(folder)) {
      await fs.mkdir(folder, { recursive: true });
      this.folders.add(folder);
    }
    const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await fs.writeFile(temp, text);
    } catch (e) {
      // The folder went away under us (the cache was cleared): make it again next time.
      this.folders.delete(folder);
      throw e;
    }
    await fs.rename(temp, file);
  }

  async remove(uid: string): Promise<void> {
    await fs.rm(this.file(uid), { force: true });
  }
}
