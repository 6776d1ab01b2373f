// Starting the built pacs_server and pacs as a user would, from bin/.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, run, waitForPort, type RunResult } from '../helpers/dcmtk.js';
import { TEST_INDEX, testDatabaseYaml } from '../helpers/index-backend.js';

export const BIN = new URL('../../../bin/', import.meta.url).pathname;

export interface RunningServer {
  child: ChildProcess;
  port: number;
  dir: string;
  configFile: string;
  log(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-e2e-'));
}

/**
 * Writes a configuration file of the archive in its folder. The suites run on PostgreSQL too
 * (PACS_TEST_INDEX): baseYaml's SQLite file becomes the folder's own schema there; a test that
 * names its database itself keeps it.
 */
export async function writeConfig(configFile: string, text: string): Promise<void> {
  const dir = path.dirname(configFile);
  fs.writeFileSync(configFile, TEST_INDEX === 'sqlite' ? text : text.replace(SQLITE_LINE, `database: ${await testDatabaseYaml(dir)}`));
}

/** Writes a configuration file in `dir` and starts pacs_server on it. */
export async function startServer(dir: string, yaml: (port: number) => string): Promise<RunningServer> {
  const port = await freePort();
  const configFile = path.join(dir, 'pacs_server.yaml');
  await writeConfig(configFile, yaml(port));
  let out = '';
  const child = spawn(process.execPath, [path.join(BIN, 'pacs_server'), '--config', configFile], { cwd: dir, env: { ...process.env, TCP_NODELAY: '1' } });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  await waitForPort(port, 20_000).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(e)}\n${out}`);
  });
  return {
    child,
    port,
    dir,
    configFile,
    log: () => out,
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        // Ended already (exitCode, or signalCode when a signal killed it): 'exit' will not come again.
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill(signal);
      }),
  };
}

export const pacs = (args: string[], cwd?: string): Promise<RunResult> =>
  run(process.execPath, [path.join(BIN, 'pacs'), ...args], { timeoutMs: 120_000, ...(cwd ? { cwd } : {}) });

const SQLITE_LINE = 'database: { path: ./pacs.db }';

export const baseYaml = (port: number, extra = ''): string => `
server: { ae_title: PACS_SERVER, port: ${port}, host: 127.0.0.1, shutdown_grace: 3 }
storage: { directory: ./archive, min_free_mb: 0 }
${SQLITE_LINE}
http: { enabled: false }
monitoring: { enabled: false }
logging: { level: info, file: ./logs/pacs.log }
${extra}`;
