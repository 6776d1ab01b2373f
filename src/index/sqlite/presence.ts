// Who uses a SQLite index for long: a marker file beside the database (FILE.owner), made with
// O_EXCL, saying which process holds it and why (a server, or a maintenance tool). A second
// server on the same file, or pacs reindex / verify --repair beside a running server, is refused
// with the holder named. A marker whose process is gone (a crash, a kill -9) is a leftover: the
// next holder takes it over. A marker of another host cannot be checked and is taken as live.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { HOST, isAlive } from '../../core/process-alive.js';
import { IndexInUseError } from '../errors.js';

export type PresenceRole = 'server' | 'maintenance' | 'writer';

interface Holder {
  role: PresenceRole;
  pid: number;
  host: string;
  since: string;
}

/** Markers this process holds: its own pid in a marker is live only if listed here. */
const held = new Set<string>();

/** A marker just made may not be written yet: unreadable and younger than this, it is live. */
const WRITING_MS = 2_000;

function read(file: string): Holder | 'unreadable' | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if ((h.role === 'server' || h.role === 'maintenance' || h.role === 'writer') && typeof h.pid === 'number' && typeof h.host === 'string') return { role: h.role, pid: h.pid, host: h.host, since: String(h.since ?? '') };
  } catch {
    // a marker being written, or damaged
  }
  return 'unreadable';
}

function live(file: string, h: Holder | 'unreadable'): boolean {
  if (h === 'unreadable') {
    try {
      return Date.now() - fs.statSync(file).mtimeMs < WRITING_MS;
    } catch {
      return false;
    }
  }
  if (h.host !== HOST) return true;
  // Our own pid: this process holds it, or an earlier process that had our pid (a container restarted) left it.
  return h.pid === process.pid ? held.has(file) : isAlive(h.pid);
}

function refusal(file: string, h: Holder | 'unreadable', wanted: PresenceRole): string {
  if (h === 'unreadable') return `another process is taking ${file}`;
  const who = `pid ${h.pid} on ${h.host}, since ${h.since}`;
  const gone = `; if that process is gone, remove ${file}`;
  if (h.role === 'maintenance') return `a maintenance tool (pacs reindex or verify --repair; ${who}) is working on this index: wait for it to end${gone}`;
  if (wanted === 'server') return `another server (${who}) uses this SQLite index: one server per SQLite file (several servers share a PostgreSQL index)${gone}`;
  return `a server (${who}) uses this index: stop it first${gone}`;
}

/** Takes the marker for `role`, or throws PacsError CONFLICT naming its live holder. */
export function holdMarker(file: string, role: PresenceRole): () => Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify({ role, pid: process.pid, host: HOST, since: new Date().toISOString() } satisfies Holder));
      } finally {
        fs.closeSync(fd);
      }
      held.add(file);
      return async () => {
        if (!held.delete(file)) return;
        fs.rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = read(file);
    if (holder !== null && live(file, holder)) throw new IndexInUseError(refusal(file, holder, role));
    // A leftover of a process that is gone. Removed by moving it aside first and reading what
    // was moved: removed by name, a marker another process made since our read (taking over the
    // same leftover) went with it, and both went on as its holder.
    const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // another process removed it
      throw e;
    }
    const moved = read(aside);
    if (moved !== null && live(aside, moved)) {
      // A live holder's marker, made after our read: back where it was (unless a third made one).
      try {
        fs.linkSync(aside, file);
      } catch {
        // a marker is there again: whoever made it holds it
      }
      fs.rmSync(aside, { force: true });
      throw new IndexInUseError(refusal(file, moved, role));
    }
    fs.rmSync(aside, { force: true });
  }
  throw new IndexInUseError(`cannot take ${file}: other processes keep making it`);
}

/**
 * Writers beside the servers (`pacs import`): one marker each in `dir`, for the maintenance
 * tools to wait for — a reindex rebuilding the index while an import added rows and files left
 * instances out of it. The marker is made first, then the maintenance marker `owner` read; a
 * maintenance tool takes `owner` first, then reads `dir` (liveWriters): whichever comes second
 * sees the other. Servers and other writers do not matter.
 */
export function holdWriter(owner: string, dir: string): () => Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${HOST}-${process.pid}-${randomBytes(4).toString('hex')}`);
  fs.writeFileSync(file, JSON.stringify({ role: 'writer', pid: process.pid, host: HOST, since: new Date().toISOString() } satisfies Holder));
  held.add(file);
  const release = async (): Promise<void> => {
    if (!held.delete(file)) return;
    fs.rmSync(file, { force: true });
  };
  const holder = read(owner);
  if (holder !== null && holder !== 'unreadable' && holder.role === 'maintenance' && live(owner, holder)) {
    held.delete(file);
    fs.rmSync(file, { force: true });
    throw new IndexInUseError(refusal(owner, holder, 'writer'));
  }
  return release;
}

/** Throws IndexInUseError naming a live writer in `dir` (leftovers of gone processes are removed). */
export function refuseLiveWriters(dir: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return; // never written to
  }
  for (const n of names) {
    const file = path.join(dir, n);
    const h = read(file);
    if (h === null) continue;
    if (!live(file, h)) {
      fs.rmSync(file, { force: true });
      continue;
    }
    const who = h === 'unreadable' ? 'a process starting' : `pid ${h.pid} on ${h.host}, since ${h.since}`;
    throw new IndexInUseError(`pacs import (${who}) is writing to this archive: wait for it to end; if that process is gone, remove ${file}`);
  }
}
