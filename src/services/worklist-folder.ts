// The watched folder of worklist files, laid out as DCMTK's wlmscpfs reads it: a directory per
// AE title holding *.wl files, each a DICOM dataset (Part 10 or bare) describing one Scheduled
// Procedure Step. Sites moving from wlmscpfs keep the feed that writes these files. We have
// one AE title, so every AE directory feeds the one worklist; the directory stays in the key.
// The folder is polled rather than fs.watch'ed: watching is unreliable on the network shares
// such folders often live on, and a writer's rename-into-place is seen the same way.
import { constants } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonDataset } from '../dicom/json.js';
import { decodeJsonDataset } from '../dicom/json-encode.js';
import { parsePart10Prefix } from '../dicom/part10.js';
import { PacsError, errorMessage, isPacsError } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import type { WorklistService } from './worklist.js';

export interface FolderScan {
  added: number;
  changed: number;
  removed: number;
  /** Files that could not be read or are not a usable worklist entry (logged, retried when they change). */
  failed: string[];
}

/** A worklist file's dataset, its File Meta Information (if any) left out. */
export async function readWorklistFile(bytes: Buffer): Promise<JsonDataset> {
  const prefix = parsePart10Prefix(bytes, true);
  if (!prefix) throw new Error('not a DICOM dataset');
  const { dataset } = await decodeJsonDataset(bytes.subarray(prefix.datasetOffset), prefix.transferSyntaxUID);
  return dataset;
}

/** Files stat'ed at once in a pass. */
const STATS_AT_ONCE = 16;

/** An entry is removed when its file is missing from this many listings in a row. */
export const REMOVED_AFTER_PASSES = 2;

/** A worklist file is a few KB: one far larger is not one (and is not read into memory). */
export const MAX_WORKLIST_FILE_BYTES = 4 * 1024 * 1024;

/**
 * A `.wl` file's bytes, if it is a regular file of a worklist file's size. Opened without
 * blocking and checked on its descriptor: a FIFO by that name (or a link to one) held a pass —
 * and every pass after it — for ever, a link to /dev/zero read until memory ran out.
 */
async function readEntryFile(path: string): Promise<Buffer> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const s = await handle.stat();
    if (!s.isFile()) throw new PacsError('BAD_ARGUMENT', 'not a regular file');
    if (s.size > MAX_WORKLIST_FILE_BYTES) throw new PacsError('BAD_ARGUMENT', `${s.size} bytes: a worklist file has at most ${MAX_WORKLIST_FILE_BYTES}`);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

export class WorklistFolder {
  /** What each file looked like when last read ("mtime:size"), so unchanged files are not re-read. */
  private readonly seen = new Map<string, string>();
  /** Entries whose file was missing from the last listings, and in how many passes in a row. */
  private readonly absent = new Map<string, number>();
  /**
   * What was last warned of, by subject (`file:<key>`, `folder:<AE>`, `mount`, `scan`): a state
   * that lasts — a bad file, an AE folder not readable, a share not mounted — is said once, not
   * at every pass (17,000 lines a day at the default poll), and again when it changes.
   */
  private readonly warned = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<FolderScan> | null = null;

  constructor(
    private readonly dir: string,
    private readonly worklist: WorklistService,
    private readonly logger: Logger,
  ) {}

  /** Scans now and then every `pollMs`. */
  start(pollMs: number): void {
    const tick = (): void => {
      void this.scan().then(
        () => this.warned.delete('scan'),
        (e: unknown) => this.warnOnce('scan', errorMessage(e), { folder: this.dir }, 'cannot scan the worklist folder'),
      );
    };
    tick();
    this.timer = setInterval(tick, pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }

  /** One pass: files new or changed since the last are (re)read, entries of files gone are removed. */
  scan(): Promise<FolderScan> {
    // One pass at a time: a slow share must not let two passes add the same file twice.
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  /**
   * The .wl files under each AE title's folder, and the folders that could not be read: their
   * entries are kept (a share that hiccups or is not mounted must not empty the worklist).
   */
  private async files(): Promise<{ files: Map<string, string>; unread: Set<string>; folders: number }> {
    const files = new Map<string, string>();
    const unread = new Set<string>();
    let folders = 0;
    for (const ae of await readdir(this.dir, { withFileTypes: true })) {
      // A symbolic link to an AE title's folder (elsewhere on the share) counts as one.
      if (!ae.isDirectory() && !ae.isSymbolicLink()) continue;
      const sub = join(this.dir, ae.name);
      try {
        const names = await readdir(sub);
        folders++;
        this.warned.delete(`folder:${ae.name}`);
        for (const name of names) if (/\.wl$/i.test(name)) files.set(`${ae.name}/${name}`, join(sub, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') continue; // a link to a file: not a folder
        folders++;
        unread.add(ae.name);
        this.warnOnce(`folder:${ae.name}`, errorMessage(e), { folder: sub }, 'worklist folder not readable: its entries are kept');
      }
    }
    return { files, unread, folders };
  }

  private warnOnce(subject: string, error: string, fields: Record<string, unknown>, message: string): void {
    if (this.warned.get(subject) === error) return;
    this.warned.set(subject, error);
    this.logger.warn({ ...fields, error }, message);
  }

  /**
   * Each file's signature (null: gone since the listing), STATS_AT_ONCE at a time: one after the
   * other, a share answering each stat in a few ms made a pass of 5,000 files take seconds.
   */
  private async signatures(files: Map<string, string>): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [key, path] = next;
        try {
          const s = await stat(path);
          // ctime and inode too: a chmod that makes an unreadable file readable, or a file replaced
          // by another of the same size and time, is a change to look at.
          out.set(key, `${s.ino}:${s.mtimeMs}:${s.ctimeMs}:${s.size}`);
        } catch {
          out.set(key, null); // removed between listing and now: the next pass sees it gone
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STATS_AT_ONCE, queue.length) }, worker));
    return out;
  }

  private async pass(): Promise<FolderScan> {
    const result: FolderScan = { added: 0, changed: 0, removed: 0, failed: [] };
    const { files, unread, folders } = await this.files();
    const signatures = await this.signatures(files);
    for (const [key, path] of files) {
      const signature = signatures.get(key);
      if (!signature || this.seen.get(key) === signature) continue;
      let parsed;
      try {
        parsed = await readWorklistFile(await readEntryFile(path));
      } catch (e) {
        result.failed.push(key);
        // A file that could not be read (locked by its writer, a passing I/O error) is read again
        // on the next pass; one that is no worklist file only once it changes.
        if (typeof (e as NodeJS.ErrnoException).syscall !== 'string') this.seen.set(key, signature);
        this.warnOnce(`file:${key}`, errorMessage(e), { file: path }, 'worklist file not taken');
        continue;
      }
      try {
        const existed = (await this.worklist.bySourceKey('folder', key)) !== null;
        const entry = await this.worklist.upsertFromSource('folder', key, parsed);
        if (entry) result[existed ? 'changed' : 'added']++;
        this.seen.set(key, signature);
        this.warned.delete(`file:${key}`);
      } catch (e) {
        result.failed.push(key);
        // The file's content cannot make an entry (no Modality, two steps...): as for a bad file.
        // Else the index failed, not the file: tried again on the next pass.
        if (isPacsError(e, 'BAD_ARGUMENT')) this.seen.set(key, signature);
        this.warnOnce(`file:${key}`, errorMessage(e), { file: path }, 'worklist file not taken');
      }
    }
    for (const subject of this.warned.keys()) if (subject.startsWith('file:') && !files.has(subject.slice(5))) this.warned.delete(subject);
    for (const key of this.seen.keys()) if (!files.has(key)) this.seen.delete(key);
    // Ids and keys only: every entry's dataset read and parsed at each pass was most of its time.
    const entries = await this.worklist.sourceKeys('folder');
    // A folder without a single AE title folder is a share not mounted (an empty mount point)
    // far more often than a site that removed every modality's folder: nothing is removed then.
    if (folders === 0 && entries.length) {
      this.warnOnce('mount', 'no AE title folders', { folder: this.dir, entries: entries.length }, 'worklist folder holds no AE title folders: is the share mounted? its entries are kept');
      return result;
    }
    this.warned.delete('mount');
    const listed = new Set<string>();
    for (const e of entries) {
      if (e.sourceKey !== null && files.has(e.sourceKey)) continue;
      if (e.sourceKey !== null && unread.has(e.sourceKey.slice(0, e.sourceKey.indexOf('/')))) continue;
      // Gone from one listing only is a writer that deletes and writes a file again (or renames
      // it away and back): removed then, the step came back SCHEDULED, whatever it had reached.
      const key = e.sourceKey ?? `#${e.id}`;
      listed.add(key);
      const passes = (this.absent.get(key) ?? 0) + 1;
      if (passes < REMOVED_AFTER_PASSES) {
        this.absent.set(key, passes);
        continue;
      }
      this.absent.delete(key);
      await this.worklist.remove(e.id);
      result.removed++;
    }
    for (const key of this.absent.keys()) if (!listed.has(key)) this.absent.delete(key);
    if (result.added || result.changed || result.removed) this.logger.info({ folder: this.dir, ...result }, 'worklist folder changed');
    return result;
  }
}
