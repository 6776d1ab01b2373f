// The watched folder of worklist files, laid out as DCMTK's wlmscpfs reads it: a directory per
// AE title holding *.wl files, each a DICOM dataset (Part 10 or bare) describing one Scheduled
// Procedure Step. Sites moving from wlmscpfs keep the feed that writes these files. We have
// one AE title, so every AE directory feeds the one worklist; the directory stays in the key.
// The folder is polled rather than fs.watch'ed: watching is unreliable on the network shares
// such folders often live on, and a writer's rename-into-place is seen the same way.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { JsonDataset } from '../dicom/json.js';
import { decodeJsonDataset } from '../dicom/json-encode.js';
import { parsePart10Prefix } from '../dicom/part10.js';
import { errorMessage } from '../core/errors.js';
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

export class WorklistFolder {
  /** What each file looked like when last read ("mtime:size"), so unchanged files are not re-read. */
  private readonly seen = new Map<string, string>();
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
      void this.scan().catch((e: unknown) => this.logger.warn({ err: e, folder: this.dir }, 'cannot scan the worklist folder'));
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

  private async files(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const ae of await readdir(this.dir, { withFileTypes: true })) {
      if (!ae.isDirectory()) continue;
      const sub = join(this.dir, ae.name);
      const names = await readdir(sub).catch(() => [] as string[]);
      for (const name of names) if (/\.wl$/i.test(name)) out.set(`${ae.name}/${name}`, join(sub, name));
    }
    return out;
  }

  private async pass(): Promise<FolderScan> {
    const result: FolderScan = { added: 0, changed: 0, removed: 0, failed: [] };
    const files = await this.files();
    for (const [key, path] of files) {
      let signature: string;
      try {
        const s = await stat(path);
        signature = `${s.mtimeMs}:${s.size}`;
      } catch {
        continue; // removed between listing and now: the next pass sees it gone
      }
      if (this.seen.get(key) === signature) continue;
      try {
        const existed = (await this.worklist.bySourceKey('folder', key)) !== null;
        const entry = await this.worklist.upsertFromSource('folder', key, await readWorklistFile(await readFile(path)));
        if (entry) result[existed ? 'changed' : 'added']++;
      } catch (e) {
        result.failed.push(key);
        this.logger.warn({ file: path, error: errorMessage(e) }, 'worklist file not taken');
      }
      this.seen.set(key, signature); // a bad file is tried again only once it changes
    }
    for (const key of this.seen.keys()) if (!files.has(key)) this.seen.delete(key);
    const { entries } = await this.worklist.list({ source: 'folder', limit: -1, offset: 0 });
    for (const e of entries) {
      if (e.sourceKey !== null && files.has(e.sourceKey)) continue;
      await this.worklist.remove(e.id);
      result.removed++;
    }
    if (result.added || result.changed || result.removed) this.logger.info({ folder: this.dir, ...result }, 'worklist folder changed');
    return result;
  }
}
