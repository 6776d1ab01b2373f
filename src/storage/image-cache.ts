// A cache of rendered thumbnails, in the scheme of the metadata cache: one small file per
// instance, frame and format under `<storage>/.thumbnails`, written atomically, no fsync. Each
// entry starts with the checksum of the file it was made from: an entry of a replaced instance
// is stale and simply made again.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';

export interface ImageCache {
  /** The bytes kept for `key`, if they were made from the file of this checksum. */
  get(key: string, checksum: string): Promise<Buffer | null>;
  put(key: string, checksum: string, bytes: Buffer): Promise<void>;
  /** Drops every entry made from this instance (it was deleted). */
  removeInstance(sopInstanceUID: string): Promise<void>;
}

export class FsImageCache implements ImageCache {
  constructor(private readonly root: string) {}

  private file(key: string): string {
    // Keys are UIDs with a frame number and a format; anything else is hashed into a safe name.
    const name = /^[0-9a-z.]{1,96}$/.test(key) ? key : createHash('sha256').update(key).digest('hex');
    const uid = name.split('.').slice(0, -2).join('.') || name;
    return path.join(this.root, uid.slice(-2).replace('.', '_'), name);
  }

  async get(key: string, checksum: string): Promise<Buffer | null> {
    let data: Buffer;
    try {
      data = await fs.readFile(this.file(key));
    } catch {
      return null;
    }
    const nl = data.indexOf(0x0a);
    return nl > 0 && data.toString('latin1', 0, nl) === checksum ? data.subarray(nl + 1) : null;
  }

  async put(key: string, checksum: string, bytes: Buffer): Promise<void> {
    const file = this.file(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await fs.writeFile(temp, Buffer.concat([Buffer.from(`${checksum}\n`, 'latin1'), bytes]));
    await fs.rename(temp, file);
  }

  async removeInstance(uid: string): Promise<void> {
    const dir = path.dirname(this.file(`${uid}.1.jpeg`));
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    await Promise.all(names.filter((n) => n.startsWith(`${uid}.`) && n.split('.').length === uid.split('.').length + 2).map((n) => fs.rm(path.join(dir, n), { force: true })));
  }
}
