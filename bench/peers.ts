// Starting the servers a benchmark compares: our pacs_server, DCMTK's storescp, Orthanc.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from '../test/helpers/dcmtk.js';

export interface Peer {
  name: string;
  aeTitle: string;
  port: number;
  pid: number;
  /** The web port, for peers started with their DICOMweb on. */
  httpPort?: number;
  stop(): Promise<void>;
}

const ENV = { ...process.env, TCP_NODELAY: '1' };

async function started(name: string, aeTitle: string, port: number, child: ChildProcess, httpPort?: number): Promise<Peer> {
  await waitForPort(port, 30_000);
  if (httpPort) await waitForPort(httpPort, 30_000);
  return {
    name,
    aeTitle,
    port,
    pid: child.pid!,
    ...(httpPort ? { httpPort } : {}),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/**
 * pacs_server on `dir`; with `web`, DICOMweb on a free port of 127.0.0.1, else no web server.
 * `storage` and `dbUrl` (PostgreSQL) let several servers share one archive.
 */
export async function startPacs(dir: string, extra: string[] = [], opts: { web?: boolean; storage?: string; dbUrl?: string } = {}): Promise<Peer> {
  const port = await freePort();
  const httpPort = opts.web ? await freePort() : undefined;
  const bin = new URL('../../bin/pacs_server', import.meta.url).pathname;
  const web = httpPort ? ['--http-port', String(httpPort), '--set', 'http.host=127.0.0.1'] : ['--no-http'];
  const db = opts.dbUrl ? ['--db-url', opts.dbUrl] : ['--db', path.join(dir, 'pacs.db')];
  const args = [bin, '--port', String(port), '--storage-dir', opts.storage ?? path.join(dir, 'archive'), ...db, ...web, '--no-metrics', '--log-level', 'warn', '--max-associations', '100', '--set', 'storage.min_free_mb=0', ...extra];
  const child = spawn(process.execPath, args, { env: ENV, stdio: ['ignore', 'ignore', 'inherit'] });
  return started('pacs-server', 'PACS_SERVER', port, child, httpPort);
}

/** storescp writing every file bit-preserving; --fork serves concurrent associations. */
export async function startStorescp(dir: string, fork: boolean): Promise<Peer> {
  const port = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const child = spawn('storescp', ['+B', '+xa', '-od', dir, ...(fork ? ['--fork'] : []), '-aet', 'STORESCP', String(port)], { env: ENV, stdio: 'ignore' });
  return started('storescp', 'STORESCP', port, child);
}

/** Debian's DICOMweb plugin for Orthanc (package orthanc-dicomweb). */
export const ORTHANC_DICOMWEB = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

/**
 * Orthanc from Debian's package, SQLite index, no compression; no plugins, or with `dicomweb`
 * its DICOMweb plugin at /dicom-web/ with its default settings (full metadata read from the files).
 */
export async function startOrthanc(dir: string, opts: { dicomweb?: boolean } = {}): Promise<Peer> {
  const port = await freePort();
  const http = await freePort();
  fs.mkdirSync(dir, { recursive: true });
  const config = {
    Name: 'bench',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    DicomAet: 'ORTHANC',
    DicomPort: port,
    HttpPort: http,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomCheckCalledAet: false,
    StorageCompression: false,
    Plugins: opts.dicomweb ? [ORTHANC_DICOMWEB] : [],
    ...(opts.dicomweb ? { DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, WadoRoot: '/wado', Ssl: false } } : {}),
    ConcurrentJobs: 2,
    // Orthanc answers queries and retrieves only from declared modalities unless told otherwise.
    DicomAlwaysAllowFind: true,
    DicomAlwaysAllowGet: true,
    DicomAlwaysAllowMove: true,
  };
  const file = path.join(dir, 'orthanc.json');
  fs.writeFileSync(file, JSON.stringify(config));
  const child = spawn('Orthanc', [file], { env: ENV, stdio: 'ignore' });
  return started('orthanc', 'ORTHANC', port, child, opts.dicomweb ? http : undefined);
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
export function peakRssMB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

/** CPU time a process has used so far, user + system, all its threads, in seconds (/proc/PID/stat; clock ticks of 1/100 s). */
export function cpuSeconds(pid: number, withReapedChildren = false): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at field 3: utime is 14, stime
  // 15; cutime 16 and cstime 17 count children once waited for (dcmqrscp forks one per association).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const own = Number(fields[11]) + Number(fields[12]);
  return (own + (withReapedChildren ? Number(fields[13]) + Number(fields[14]) : 0)) / 100;
}

/** Hard links of `files` dealt round-robin into `parts` folders under `into`: one storescu association each. */
export function split(files: string[], parts: number, into: string): string[] {
  const dirs = Array.from({ length: parts }, (_, i) => path.join(into, `part${i}`));
  dirs.forEach((d) => fs.mkdirSync(d, { recursive: true }));
  files.forEach((f, i) => fs.linkSync(f, path.join(dirs[i % parts]!, path.basename(f))));
  return dirs;
}
