// Orthanc with its DICOMweb plugin, started for a test in a directory of its own (Debian's
// packages orthanc and orthanc-dicomweb; .ci/run installs them).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitForPort } from './dcmtk.js';

const PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export const orthancAvailable = fs.existsSync(PLUGIN) && fs.existsSync('/usr/sbin/Orthanc');
// In CI a missing Orthanc is a failure, not a reason to skip.
if (!orthancAvailable && process.env.CI === 'true') throw new Error('Orthanc and its DICOMweb plugin must be installed in CI (.ci/run)');
/** For describe/test's `skip`. */
export const orthancSkip = orthancAvailable ? false : 'Orthanc with its DICOMweb plugin is not installed (apt-get install orthanc orthanc-dicomweb; .ci/run does)';

export interface OrthancOptions {
  /** Remote DICOMweb servers Orthanc knows by name (its DicomWeb.Servers). */
  dicomwebServers?: Record<string, string>;
  /** HTTP Basic users; none: no authentication. */
  users?: Record<string, string>;
}

export interface Orthanc {
  /** http://127.0.0.1:<port> */
  api: string;
  /** Its DICOMweb root: `${api}/dicom-web`. */
  dicomweb: string;
  /** Its REST API; fails the test on an error answer. */
  call(method: string, url: string, body?: unknown): Promise<unknown>;
  /** What Orthanc wrote, and how it ended if it did: for failure messages. */
  log(): string;
  /** Stops it and waits until it has exited (its files can then be removed). */
  stop(): Promise<void>;
}

export async function startOrthanc(parent: string, opts: OrthancOptions = {}): Promise<Orthanc> {
  const dir = fs.mkdtempSync(path.join(parent, 'orthanc-'));
  const httpPort = await freePort();
  let dicomPort = await freePort();
  while (dicomPort === httpPort) dicomPort = await freePort();
  const config = {
    Name: 'orthanc-test',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'index'),
    DicomPort: dicomPort,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: opts.users !== undefined,
    ...(opts.users ? { RegisteredUsers: opts.users } : {}),
    Plugins: [PLUGIN],
    DicomWeb: { Enable: true, Root: '/dicom-web/', ...(opts.dicomwebServers ? { Servers: Object.fromEntries(Object.entries(opts.dicomwebServers).map(([k, v]) => [k, [v]])) } : {}) },
  };
  fs.writeFileSync(path.join(dir, 'orthanc.json'), JSON.stringify(config));
  const logFile = path.join(dir, 'orthanc.log');
  const out = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn('Orthanc', [path.join(dir, 'orthanc.json')], { stdio: ['ignore', out, out] });
  fs.closeSync(out);
  let ended = '';
  child.once('exit', (code, signal) => (ended = `Orthanc exited (${signal ?? `status ${code}`})`));
  // Both listeners up: Orthanc has finished starting (a failed bind ends it after the first).
  await waitForPort(httpPort, 30_000);
  await waitForPort(dicomPort, 30_000);
  const api = `http://127.0.0.1:${httpPort}`;
  const [user, password] = Object.entries(opts.users ?? {})[0] ?? [];
  const authorization = user ? { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : undefined;
  return {
    api,
    dicomweb: `${api}/dicom-web`,
    log: () => `${ended}\n${fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : ''}`,
    async call(method, url, body) {
      const r = await fetch(`${api}${url}`, {
        method,
        ...(authorization ? { headers: authorization } : {}),
        ...(body === undefined ? {} : { body: Buffer.isBuffer(body) ? body : JSON.stringify(body) }),
      });
      const text = await r.text();
      assert.ok(r.ok, `Orthanc ${method} ${url}: ${r.status} ${text}`);
      return text ? (JSON.parse(text) as unknown) : null;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
