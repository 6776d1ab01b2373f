// pacs_server: loads the configuration, starts the server, and handles the signals:
// SIGHUP reloads, SIGTERM/SIGINT shut down gracefully, a second one stops at once.
import { ConfigError, loadConfig, parseServerArgs, serverHelpText } from './config/load.js';
import { PacsServer } from './app.js';
import { errorMessage } from './core/errors.js';
import { restoreDefaultHeap, wantsCompactHeap } from './core/heap.js';
import { VERSION } from './version.js';

export async function main(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseServerArgs(argv);
  } catch (e) {
    return fail(e);
  }
  if (args.help) {
    process.stdout.write(serverHelpText());
    return 0;
  }
  if (args.version) {
    process.stdout.write(`pacs_server ${VERSION}\n`);
    return 0;
  }
  const load = () => loadConfig({ ...(args.configFile ? { file: args.configFile } : {}), overrides: args.overrides });
  let server: PacsServer;
  try {
    const { config } = load();
    // bin/pacs_server set the compact heap flags before loading us (core/heap.ts).
    if (!wantsCompactHeap(config)) restoreDefaultHeap();
    server = await PacsServer.create(config);
  } catch (e) {
    return fail(e);
  }

  // A promise rejected with nobody to handle it is a bug of ours (a reply to a peer that has
  // just gone away, say). Node's default ends the process: every association and request with
  // it, at a peer's timing. Logged, loudly, and the server goes on.
  process.on('unhandledRejection', (e) => server.logger.error({ err: e }, 'unhandled promise rejection (a bug: please report it); the server goes on'));

  // The handlers are in place before the listeners open: a stop asked for while the server is
  // still starting (a service manager, a test that saw the port open) waits for the start to
  // finish, then shuts down gracefully — never the default action that kills the process.
  let starting: Promise<unknown> = Promise.resolve();
  const stopped = new Promise<number>((resolve) => {
    let signals = 0;
    const shutdown = (signal: string): void => {
      if (++signals > 1) {
        server.logger.warn({ signal }, 'second signal: stopping now');
        process.exit(130);
      }
      server.logger.info({ signal }, 'signal received');
      void starting
        .catch(() => undefined)
        .then(() => server.stop())
        .then(
          () => resolve(0),
          (e: unknown) => {
            server.logger.error({ err: e }, 'error during shutdown');
            resolve(1);
          },
        );
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });
  // SIGHUP too, before the start: its default action ends the process. A reload asked for while
  // starting is applied once the start is done.
  process.on('SIGHUP', () => {
    void starting.then(
      () => {
        // The files first, whatever the configuration says: logrotate renamed them before
        // signalling, and a file that cannot be loaded must not keep them in the rotated ones.
        server.reopenFiles();
        try {
          server.reload(load().config);
        } catch (e) {
          server.logger.error({ problems: e instanceof ConfigError ? e.problems : [errorMessage(e)] }, 'reload refused: configuration kept as it was');
        }
      },
      () => undefined,
    );
  });
  try {
    starting = server.start();
    await starting;
  } catch (e) {
    return fail(e);
  }
  return stopped;
}

function fail(e: unknown): number {
  if (e instanceof ConfigError) process.stderr.write(`pacs_server: configuration error\n${e.problems.map((p) => `  ${p}`).join('\n')}\n`);
  else process.stderr.write(`pacs_server: ${errorMessage(e)}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`pacs_server: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
