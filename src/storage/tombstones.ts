// Files being deleted. A delete moves the instance's file into `.deleting/` under the storage
// root (same filesystem: a rename) before its index row goes, and unlinks it once the row's
// delete has committed; if the row stays (the delete refused or failed), the file goes back.
// So no moment leaves a file without a row at an instance's path, where `pacs verify --repair`
// or `pacs reindex` would index it again (a deleted patient reappearing), or where a new
// instance with the same templated name would take it for a crash's leftover, be placed over
// it and then lose its file to the delete's pending unlink.
//
// A tombstone's name says whose it is and what it was: host-pid-n-nonce-<SOP Instance UID>.
// At start-up, those of this host's processes that are gone (and of any host a day old) are
// settled: put back where the instance's row says when the row is still there and its file is
// not, unlinked otherwise. Another live server's tombstones on a shared volume are its deletes
// under way: left alone (the rule of the staging directory's clean-up).
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PacsError } from '../core/errors.js';
import { HOST, isAlive } from '../core/process-alive.js';

export const TOMBSTONES = '.deleting';

/** The nonces of this process's live stores: its own pid's tombstones of another nonce are a former process's. */
const liveNonces = new Set<string>();

/** A file set aside to be deleted. */
export interface Tombstone {
  /** Puts the file back at its path (never over a file placed there meanwhile: then it throws). */
  restore(): Promise<void>;
  /** Unlinks it for good. */
  remove(): Promise<void>;
}

/** What start-up's sweep needs of the index: the row of an instance, if any. */
export type RowOf = (sopInstanceUID: string) => Promise<{ path: string; size: number } | null>;

const NAME = /^(.+)-(\d+)-\d+-([0-9a-f]+)-(.+)$/;

export class Tombstones {
  readonly dir: string;
  private seq = 0;
  private readonly nonce = randomBytes(4).toString('hex');

  constructor(
    private readonly root: string,
    private readonly sync: ((dir: string) => Promise<void>) | null,
  ) {
    this.dir = path.join(root, TOMBSTONES);
    fs.mkdirSync(this.dir, { recursive: true });
    liveNonces.add(this.nonce);
  }

  close(): void {
    liveNonces.delete(this.nonce);
  }

  /** Moves the file at `abs` aside; null when there is no file there. */
  async entomb(abs: string, sopInstanceUID: string): Promise<Tombstone | null> {
    const grave = path.join(this.dir, `${HOST}-${process.pid}-${++this.seq}-${this.nonce}-${encodeURIComponent(sopInstanceUID)}`);
    try {
      await fsp.rename(abs, grave);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new PacsError('STORAGE_FAILURE', `setting ${abs} aside to delete it: ${(e as Error).message}`, { cause: e });
    }
    // Durable before the row goes: a power cut must not bring the name back without its row.
    await this.synced(path.dirname(abs));
    return { restore: () => this.putBack(grave, abs), remove: () => fsp.rm(grave, { force: true }) };
  }

  private async synced(from: string): Promise<void> {
    if (this.sync) await Promise.all([this.sync(from), this.sync(this.dir)]);
  }

  private async putBack(grave: string, abs: string): Promise<void> {
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    // link(): fails rather than replace a file another instance placed there meanwhile.
    await fsp.link(grave, abs);
    await fsp.rm(grave, { force: true });
    await this.synced(path.dirname(abs));
  }

  /**
   * Settles the tombstones of processes that are gone (see the top of this file). `everyone`:
   * every tombstone, whatever host or process set it aside — for the maintenance tools (pacs
   * verify --repair, pacs reindex), which run with every server stopped, so no delete is under
   * way anywhere (a server that came back under another host name left its own for a day).
   */
  async sweep(rowOf: RowOf, absolutePath: (rel: string) => string, options: { everyone?: boolean } = {}): Promise<{ restored: number; removed: number }> {
    const out = { restored: 0, removed: 0 };
    const dayAgo = Date.now() - 86_400_000;
    for (const name of await fsp.readdir(this.dir).catch(() => [] as string[])) {
      const m = NAME.exec(name);
      if (!m) continue; // not ours to judge
      const [, host, pid, nonce, uid] = m as unknown as [string, string, string, string, string];
      const grave = path.join(this.dir, name);
      const st = await fsp.stat(grave).catch(() => null);
      if (!st) continue;
      const ownerGone = host === HOST && (Number(pid) === process.pid ? !liveNonces.has(nonce) : !isAlive(Number(pid)));
      // A rename sets the ctime: a day-old one is no delete under way, whoever's it is.
      if (!options.everyone && !ownerGone && st.ctimeMs >= dayAgo) continue;
      const row = await rowOf(decodeURIComponent(uid));
      if (row && st.size === row.size && !(await fsp.access(absolutePath(row.path)).then(() => true, () => false))) {
        await this.putBack(grave, absolutePath(row.path));
        out.restored++;
      } else {
        await fsp.rm(grave, { force: true });
        out.removed++;
      }
    }
    return out;
  }
}
