// Export: stored instances into a folder under readable names from a naming template, as
// copies, hard links or symbolic links. Every file appears whole or not at all (a copy is
// written beside its name, synced, then linked into place) and creating a name never replaces
// anything: a name already taken by the same instance (same bytes, same inode, same link
// target) counts as done, so a re-run or a run resumed after a crash writes only what is
// missing and never a second copy; a name taken by something else gets "~2", "~3"...
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsConstants, createReadStream } from 'node:fs';
import type { ExportMode } from '../config/schema.js';
import type { InstanceLocation } from '../index/types.js';
import { IN_FLIGHT_MS, type ObjectStore } from '../storage/object-store.js';
import { alternativePath, fillTemplate, type AttributeLookup } from '../storage/naming.js';
import { PacsError } from '../core/errors.js';
import { readPart10Header } from '../dicom/part10.js';
import { HOST, isAlive } from '../core/process-alive.js';
import { TooLargeToDeidentify } from './deidentify.js';

export type Placed = 'written' | 'present';

export interface ExportTarget {
  /** The folder everything goes under (absolute). */
  to: string;
  template: string;
  mode: ExportMode;
}

/** Longest path we create (bytes); well under PATH_MAX (4096) and Windows shares' long-path limits. */
const MAX_PATH_BYTES = 1024;
const MAX_ALTERNATIVES = 1000;

/**
 * What no retry can change: a name the template makes too long or out of the folder, a name
 * taken a thousand times over. (Failures of the filesystem itself may pass: a share remounted,
 * a permission fixed, space freed.)
 */
export class ExportRefused extends PacsError {
  constructor(message: string) {
    super('STORAGE_FAILURE', message);
  }
}

/** Whether retrying an export that failed with `e` is pointless: ExportRefused, a hard link across filesystems, a name the filesystem refuses as too long. */
export const isPermanentExportFailure = (e: unknown): boolean =>
  e instanceof ExportRefused ||
  e instanceof TooLargeToDeidentify || ['EXDEV', 'ENAMETOOLONG'].includes((e as NodeJS.ErrnoException | null)?.code ?? '');

/** Where an instance goes: the filled template under `to`, checked not to leave it. */
export function exportPath(target: ExportTarget, lookup: AttributeLookup): string {
  const root = path.resolve(target.to);
  let rel = fillTemplate(target.template, lookup);
  if (!rel) rel = 'UNKNOWN.dcm';
  const abs = path.resolve(root, rel);
  // fillTemplate already drops separators and leading dots from values; this is the last guard.
  if (!abs.startsWith(root + path.sep)) throw new ExportRefused(`export path escapes ${root}: ${rel}`);
  if (Buffer.byteLength(abs) > MAX_PATH_BYTES) throw new ExportRefused(`export path longer than ${MAX_PATH_BYTES} bytes: ${abs.slice(0, 80)}…`);
  return abs;
}

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Whether `dest` (which exists) already is this instance, as this mode would have made it. */
async function isSame(dest: string, source: string, loc: InstanceLocation, mode: ExportMode): Promise<boolean> {
  const st = await fs.lstat(dest);
  if (mode === 'symlink') return st.isSymbolicLink() && (await fs.readlink(dest)) === source;
  if (!st.isFile()) return false;
  if (mode === 'hardlink') {
    const src = await fs.stat(source);
    if (src.ino === st.ino && src.dev === st.dev) return true;
  }
  return st.size === loc.size && (await sha256(dest)) === loc.checksum;
}

const TEMP_SUFFIX = '.pacs-export';
/** `.NAME~HOST~PID~RANDOM.pacs-export`: whose temporary file it is, so a crash's leftover is known at once. */
const TEMP_OWNER = /^\..*~([A-Za-z0-9._]+)~(\d+)~[0-9a-f]+\.pacs-export$/;
/** Folders swept for leftovers lately (by this process), and when: once per folder per SWEEP_EVERY_MS. */
const swept = new Map<string, number>();
const SWEEP_EVERY_MS = 10 * 60_000;
const SWEPT_FOLDERS = 10_000;
/** The temporary files this process has open now: one of our name not among them is an earlier process's (a container restarted with our pid). */
const ownTemps = new Set<string>();

/**
 * Creates a temporary file of its own for one instance in `dir`, named after this process. Two
 * exports of the same instance into one folder at once (a study stable again while its first
 * export runs, two rules, `pacs export` beside a rule) each write their own copy; linking it into
 * place is what decides, and the second finds the first's file there, the same bytes: "present".
 */
async function takeTemp(dir: string, name: string): Promise<{ temp: string; fh: fs.FileHandle }> {
  await sweepLeftovers(dir);
  const temp = path.join(dir, `.${name}~${HOST}~${process.pid}~${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
  ownTemps.add(temp);
  try {
    // Written through this handle only: opened again by its name, the file could have been
    // swapped meanwhile for a link by anyone who writes in the lab's folder, and the instance
    // written wherever that pointed (~/.ssh/authorized_keys, the index).
    return { temp, fh: await fs.open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o666) };
  } catch (e) {
    ownTemps.delete(temp);
    throw e;
  }
}

async function dropTemp(temp: string): Promise<void> {
  await fs.rm(temp, { force: true });
  ownTemps.delete(temp);
}

/**
 * Removes the temporary files that killed exports left in `dir`: at once when named after a
 * process of this host that is gone (a server killed mid-export and restarted resumes without
 * waiting) or after this process but not open in it (an earlier process that had our pid, as a
 * restarted container's pid 1 does), otherwise when untouched for IN_FLIGHT_MS (another host's,
 * a name from an older version), and a day old when its pid now belongs to another program.
 */
async function sweepLeftovers(dir: string): Promise<void> {
  const last = swept.get(dir);
  if (last !== undefined && Date.now() - last < SWEEP_EVERY_MS) return;
  swept.delete(dir);
  swept.set(dir, Date.now());
  if (swept.size > SWEPT_FOLDERS) swept.delete(swept.keys().next().value as string);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  for (const n of names) {
    if (!n.startsWith('.') || !n.endsWith(TEMP_SUFFIX)) continue;
    const owner = TEMP_OWNER.exec(n);
    const pid = Number(owner?.[2]);
    const file = path.join(dir, n);
    if (owner?.[1] !== HOST) await removeIfUntouched(file, IN_FLIGHT_MS);
    else if (pid === process.pid) {
      if (!ownTemps.has(file)) await fs.rm(file, { force: true });
    } else if (!isAlive(pid)) await fs.rm(file, { force: true });
    else await removeIfUntouched(file, 86_400_000); // a pid reused by another program
  }
}

async function removeIfUntouched(file: string, ms: number): Promise<void> {
  const st = await fs.stat(file).catch(() => null);
  if (st && Date.now() - st.mtimeMs >= ms) await fs.rm(file, { force: true });
}

/**
 * Whether `dest` holds another version of the instance (other bytes, the same SOP Instance UID):
 * an export of the instance before it was replaced in the archive (sent again with other
 * content under the overwrite policy, or edited). It is replaced in place rather than left
 * beside the new version as a second file of one instance.
 */
async function holdsEarlierVersion(dest: string, sopInstanceUID: string): Promise<boolean> {
  const header = await readPart10Header(dest).catch(() => null);
  return header?.sopInstanceUID === sopInstanceUID;
}

/** Copies `source` into the temporary file open as `into` and syncs it: on disk before it gets its name. */
async function copySynced(source: string, into: fs.FileHandle): Promise<void> {
  const from = await fs.open(source, 'r');
  try {
    const chunk = Buffer.allocUnsafe(COPY_CHUNK);
    for (;;) {
      const { bytesRead } = await from.read(chunk, 0, COPY_CHUNK, null);
      if (bytesRead === 0) break;
      for (let at = 0; at < bytesRead; ) at += (await into.write(chunk, at, bytesRead - at)).bytesWritten;
    }
  } finally {
    await from.close();
  }
  await into.sync();
}

/**
 * The temporary file's name still names the file written through `fh`: swapped meanwhile (for a
 * link, another file) by someone who writes in the lab's folder, that would be placed as the
 * instance. Refused instead.
 */
async function stillOurs(fh: fs.FileHandle, temp: string): Promise<void> {
  const [written, named] = await Promise.all([fh.stat(), fs.lstat(temp)]);
  if (written.ino !== named.ino || written.dev !== named.dev) throw new ExportRefused(`${temp} was replaced by something else while the instance was written into it`);
}

/** How much of a file a copy reads and writes at a time. */
const COPY_CHUNK = 1 << 20;

/** Puts the instance at `dest` over what is there, whole or not at all (a rename). */
async function replace(dest: string, source: string, mode: ExportMode, loc: InstanceLocation): Promise<void> {
  const { temp, fh } = await takeTemp(path.dirname(dest), loc.SOPInstanceUID);
  try {
    if (mode === 'copy') {
      try {
        await copySynced(source, fh);
        await stillOurs(fh, temp);
      } finally {
        await fh.close();
      }
    } else {
      await fh.close();
      await fs.rm(temp);
      await (mode === 'hardlink' ? fs.link(source, temp) : fs.symlink(source, temp));
    }
    await fs.rename(temp, dest);
  } finally {
    await dropTemp(temp);
  }
}

/** Whether a name is taken (by a file, a folder or a link, dangling or not). */
const taken = async (candidate: string): Promise<boolean> => (await lstatOrNull(candidate)) !== null;

/** What link() says on a filesystem that has no hard links (exFAT, FAT, some SMB and FUSE shares). */
const NO_HARD_LINKS = new Set(['EPERM', 'EOPNOTSUPP', 'ENOTSUP', 'ENOSYS']);

/**
 * Puts the finished temporary file `temp` at `dest`, failing with EEXIST when the name is taken:
 * by link(), which cannot overwrite. A lab share without hard links refused every file, retried
 * for hours: there the name is claimed first by creating it exclusively (O_EXCL, which such
 * shares have; two exports choosing one name at once cannot both have it), then the file is
 * renamed onto its own claim. A crash between the two leaves an empty file under the name, which
 * the next run takes for another file (the instance goes to ~2).
 */
async function placeTemp(temp: string, dest: string): Promise<void> {
  try {
    await fs.link(temp, dest);
  } catch (e) {
    if (!NO_HARD_LINKS.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
    await (await fs.open(dest, 'wx')).close(); // EEXIST when taken
    await fs.rename(temp, dest);
  }
}

/** Creates `dest` from `source`; fails with EEXIST (and changes nothing) when the name is taken. */
async function create(dest: string, source: string, mode: ExportMode, loc: InstanceLocation): Promise<void> {
  if (mode === 'symlink') return fs.symlink(source, dest);
  if (mode === 'hardlink') return fs.link(source, dest);
  const { temp, fh } = await takeTemp(path.dirname(dest), loc.SOPInstanceUID);
  try {
    try {
      await copySynced(source, fh);
      await stillOurs(fh, temp);
    } finally {
      await fh.close();
    }
    await placeTemp(temp, dest);
  } finally {
    await dropTemp(temp);
  }
}

/** Where an instance went, whether it was there already, and the folders made for it (to be synced). */
export interface Placement {
  path: string;
  placed: Placed;
  /** Folders whose entries changed by making `path`'s folder: the parent of the first one made, and each one made. */
  madeDirs: string[];
}

/**
 * Makes the folder of `dest` and its missing parents below `root` (the export folder). A new
 * folder's name is an entry in its parent, as lost in a crash as a file's name unless that parent
 * is synced too: so the parent of the first folder made and every folder made are returned, to
 * be synced before the files under them are reported exported. A symbolic link below `root` is
 * never followed: whoever may write in a lab's folder could otherwise send the server's writes
 * anywhere it may write (`SUBJ042 -> /etc`). `root` itself may be one (a share's mount).
 */
async function makeFolder(dest: string, root: string): Promise<string[]> {
  const rel = path.relative(root, path.dirname(dest));
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ExportRefused(`export path escapes ${root}: ${dest}`);
  const made: string[] = [];
  let current = root;
  for (const part of rel === '' ? [] : rel.split(path.sep)) {
    current = path.join(current, part);
    let st = await lstatOrNull(current);
    if (st === null) {
      const created = await fs.mkdir(current).then(
        () => true,
        (e: NodeJS.ErrnoException) => (e.code === 'EEXIST' ? false : Promise.reject(e)),
      );
      if (created) {
        made.push(current);
        continue;
      }
      st = await lstatOrNull(current); // made meanwhile by another export
    }
    if (st?.isSymbolicLink()) throw new ExportRefused(`${current} is a symbolic link: an export never follows one out of its folder`);
    if (!st?.isDirectory()) throw new PacsError('STORAGE_FAILURE', `cannot make the folders of ${dest}: a file is in the way`);
  }
  const first = made[0];
  return first === undefined ? [] : [path.dirname(first), ...made.reverse()];
}

/** What is at a name, not following a link; null when nothing is. */
function lstatOrNull(p: string): Promise<import('node:fs').Stats | null> {
  return fs.lstat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
}

/** Puts one instance at `dest` (or its first free alternative), below the export folder `root`. */
export async function placeInstance(objects: ObjectStore, loc: InstanceLocation, dest: string, mode: ExportMode, root: string): Promise<Placement> {
  const source = objects.absolutePath(loc.path);
  const madeDirs = await makeFolder(dest, root);
  for (let n = 1; n <= MAX_ALTERNATIVES; n++) {
    const candidate = n === 1 ? dest : alternativePath(dest, n);
    // A name already taken is looked at before anything is copied: a re-run (or a study exported
    // again because it grew) finds its files in place without copying and syncing each again.
    if (await taken(candidate)) {
      if (await isSame(candidate, source, loc, mode)) return { path: candidate, placed: 'present', madeDirs };
      if (await holdsEarlierVersion(candidate, loc.SOPInstanceUID)) {
        await replace(candidate, source, mode, loc);
        return { path: candidate, placed: 'written', madeDirs };
      }
      continue;
    }
    try {
      await create(candidate, source, mode, loc);
      return { path: candidate, placed: 'written', madeDirs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // Taken meanwhile (another export of the same instance at once): theirs may be these bytes.
      if (await isSame(candidate, source, loc, mode)) return { path: candidate, placed: 'present', madeDirs };
    }
  }
  throw new ExportRefused(`more than ${MAX_ALTERNATIVES} files already named like ${dest}`);
}

/**
 * Where a dry run says an instance would go: the first of `dest` and its alternatives that is
 * neither planned for another instance of this run nor taken on disk by another file — or the
 * one that already holds this instance (`same`): then "present". Nothing is written.
 */
export async function plannedPlacement(dest: string, planned: Set<string>, same: (candidate: string) => Promise<boolean>, sopInstanceUID: string): Promise<Placement> {
  for (let n = 1; n <= MAX_ALTERNATIVES; n++) {
    const candidate = n === 1 ? dest : alternativePath(dest, n);
    if (planned.has(candidate)) continue;
    const exists = await fs.lstat(candidate).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        // A file where a folder of the path should be: the real run's mkdir would fail.
        if (e.code === 'ENOTDIR') throw new PacsError('STORAGE_FAILURE', `cannot make the folders of ${candidate}: a file is in the way`);
        return e.code === 'ENOENT' ? false : Promise.reject(e);
      },
    );
    if (exists && !(await same(candidate))) {
      // Another version of this instance: the real run writes over it.
      if (!(await holdsEarlierVersion(candidate, sopInstanceUID))) continue;
      planned.add(candidate);
      return { path: candidate, placed: 'written', madeDirs: [] };
    }
    planned.add(candidate);
    return { path: candidate, placed: exists ? 'present' : 'written', madeDirs: [] };
  }
  throw new ExportRefused(`more than ${MAX_ALTERNATIVES} files already named like ${dest}`);
}

/** Whether the file at `candidate` holds exactly the bytes whose SHA-256 is `digest`. */
export async function holdsBytes(candidate: string, size: number, digest: string): Promise<boolean> {
  const st = await fs.lstat(candidate);
  return st.isFile() && st.size === size && (await sha256(candidate)) === digest;
}

/** Whether `dest` already is the instance `loc`, as `mode` would have placed it. */
export function holdsInstance(objects: ObjectStore, loc: InstanceLocation, dest: string, mode: ExportMode): Promise<boolean> {
  return isSame(dest, objects.absolutePath(loc.path), loc, mode);
}

/** The SHA-256 (hex) of bytes given in parts, as sha256() gives it of the file they make. */
export function digestOf(parts: readonly Buffer[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/**
 * Writes `parts` (a de-identified file, of the instance `sopInstanceUID`, one part after the
 * other) at `dest` or its first free alternative, whole or not at all, like a copy.
 */
export async function placeBytes(parts: readonly Buffer[], dest: string, sopInstanceUID: string, root: string): Promise<Placement> {
  const madeDirs = await makeFolder(dest, root);
  const digest = digestOf(parts);
  const size = parts.reduce((n, p) => n + p.length, 0);
  const { temp, fh } = await takeTemp(path.dirname(dest), sopInstanceUID);
  try {
    // writev writes them all (libuv goes on after a short write and past IOV_MAX).
    const { bytesWritten } = await fh.writev(parts as Buffer[]);
    if (bytesWritten !== size) throw new Error(`${temp}: ${bytesWritten} of ${size} bytes written`);
    await fh.sync();
    await stillOurs(fh, temp);
    for (let n = 1; n <= MAX_ALTERNATIVES; n++) {
      const candidate = n === 1 ? dest : alternativePath(dest, n);
      try {
        await placeTemp(temp, candidate);
        return { path: candidate, placed: 'written', madeDirs };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        // De-identification is deterministic: a re-run makes the same bytes, found here as done.
        if (await holdsBytes(candidate, size, digest)) return { path: candidate, placed: 'present', madeDirs };
        // The de-identified copy of the instance before it was replaced: this one takes its place.
        if (await holdsEarlierVersion(candidate, sopInstanceUID)) {
          await fs.rename(temp, candidate);
          return { path: candidate, placed: 'written', madeDirs };
        }
      }
    }
  } finally {
    await fh.close();
    await dropTemp(temp);
  }
  throw new ExportRefused(`more than ${MAX_ALTERNATIVES} files already named like ${dest}`);
}

/** Directories made by an export are synced so a crash does not forget names already reported done. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r').catch(() => null);
  if (!fh) return;
  try {
    await fh.sync();
  } catch {
    // some filesystems (network shares) refuse to sync a directory; the files themselves are synced
  } finally {
    await fh.close();
  }
}
