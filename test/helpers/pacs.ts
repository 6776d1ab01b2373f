// An in-process pacs-server in a temporary directory, for interop and protocol tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pino from 'pino';
import { PacsServer } from '../../src/app.js';
import type { PoolOptions } from '../../src/codecs/pool.js';
import { parseConfigData } from '../../src/config/load.js';
import { createLogger } from '../../src/core/logging.js';
import { testDatabase } from './index-backend.js';

export interface TestPacs {
  server: PacsServer;
  port: number;
  dir: string;
  storageDir: string;
  stop(): Promise<void>;
  /**
   * Every file under the storage directory, relative, temporary ones included except the
   * store's empty spares (made ahead of need, they belong to no instance).
   */
  files(): string[];
}

export interface TestPacsOptions {
  /** The codec pool's options (a worker of the test's, a size). */
  decoderPool?: PoolOptions;
  /** Where the log lines go (default stdout), for a test that reads them. */
  logStream?: pino.DestinationStream;
}

export async function startTestPacs(overrides: Record<string, Record<string, unknown>> = {}, options: TestPacsOptions = {}): Promise<TestPacs> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-test-'));
  const storageDir = path.join(dir, 'archive');
  const base: Record<string, Record<string, unknown>> = {
    server: { port: 0, host: '127.0.0.1', ae_title: 'PACS_SERVER', shutdown_grace: 2 },
    storage: { directory: storageDir, min_free_mb: 0 },
    database: await testDatabase(dir),
    http: { enabled: false },
    monitoring: { enabled: false },
    logging: { level: process.env.TEST_LOG_LEVEL ?? 'silent' },
  };
  for (const [k, v] of Object.entries(overrides)) base[k] = Array.isArray(v) ? (v as never) : { ...(base[k] ?? {}), ...v };
  const config = parseConfigData(base, dir);
  const logger = createLogger({ level: String(base.logging!.level) }, options.logStream ? { stdout: options.logStream } : {});
  const server = await PacsServer.create(config, { logger, ...(options.decoderPool ? { decoderPool: options.decoderPool } : {}) });
  const { dicomPort } = await server.start();
  const walk = (d: string, rel = ''): string[] =>
    fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(d, e.name), `${rel}${e.name}/`) : [`${rel}${e.name}`]));
  return {
    server,
    port: dicomPort,
    dir,
    storageDir,
    files: () => {
      const spares = new Set(server.archive.objects.spareFiles().map((f) => path.relative(storageDir, f)));
      return walk(storageDir).filter((f) => !spares.has(f));
    },
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
