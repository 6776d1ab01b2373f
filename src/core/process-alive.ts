// Whether a process of this host still runs: a lease or a temporary file named after a process
// that is gone is a leftover to take back.
import os from 'node:os';

/** This host's name as it appears in the names of temporary files (safe in a file name, bounded). */
export const HOST = os.hostname().replace(/[^A-Za-z0-9.]/g, '_').slice(0, 64) || 'host';

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}
