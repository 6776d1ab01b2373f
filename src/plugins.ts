// Plugins: JavaScript modules named in the configuration (`plugins:`), loaded at start and given
// a narrow API — the scripting Conquest and Orthanc users do in Lua. A plugin may refuse
// instances before they are stored, hear events after commit, read the index, run its own
// durable jobs, and log. It cannot change stored bytes (the archive keeps what it received) or
// reach the server's internals. A module exports `register(api)` (or a default function).
import { pathToFileURL } from 'node:url';
import { PacsError, errorMessage } from './core/errors.js';
import type { EventBus, PacsEvents } from './core/events.js';
import type { HookList } from './core/hooks.js';
import type { Logger } from './core/logging.js';
import type { ArchiveIndex, InstanceRecord } from './index/types.js';
import type { IndexQuery, QueryRow } from './index/query/types.js';
import type { JobHandler, JobService } from './services/jobs.js';

type PluginEvent = 'instance.stored' | 'series.stable' | 'study.stable' | 'association.closed';

export interface PluginApi {
  readonly name: string;
  /** The plugin's own `options` from the configuration. */
  readonly options: Readonly<Record<string, unknown>>;
  readonly logger: Logger;
  /** Runs before each instance is committed (after its header is read); throw `api.reject(reason)` to refuse it. */
  beforeStore(check: (instance: Readonly<InstanceRecord>) => void | Promise<void>): void;
  /** The error that refuses an instance: the sender gets a failure status with `reason` as the comment. */
  reject(reason: string): Error;
  /** Listens to an event (after commit); returns a function that stops listening. */
  on<K extends PluginEvent>(event: K, listener: (payload: PacsEvents[K]) => void): () => void;
  /** Read-only index queries (C-FIND matching). */
  readonly index: {
    query(query: IndexQuery): Promise<QueryRow[]>;
    statistics: ArchiveIndex['statistics'];
    findStudy: ArchiveIndex['findStudy'];
    findSeries: ArchiveIndex['findSeries'];
  };
  /** Durable jobs of the plugin's own types (named `plugin:<name>:<type>` in the queue). */
  readonly jobs: {
    register(type: string, handler: JobHandler): void;
    enqueue(type: string, payload: Record<string, unknown>, options?: { dedupeKey?: string }): Promise<{ id: number }>;
  };
}

export interface PluginHost {
  events: EventBus;
  hooks: HookList<{ record: InstanceRecord }>;
  index: ArchiveIndex;
  jobs: JobService;
  logger: Logger;
}

export type PluginSpec = string | { path: string; options: Record<string, unknown> };

const nameOf = (path: string): string => path.split(/[\\/]/).pop()!.replace(/\.[cm]?js$/, '');

/** Imports and registers every plugin; a plugin that fails to load stops the start, naming it. */
export async function loadPlugins(specs: readonly PluginSpec[], host: PluginHost): Promise<string[]> {
  const loaded: string[] = [];
  for (const spec of specs) {
    const path = typeof spec === 'string' ? spec : spec.path;
    const name = nameOf(path);
    let mod: { register?: unknown; default?: unknown };
    try {
      mod = (await import(pathToFileURL(path).href)) as typeof mod;
    } catch (e) {
      throw new PacsError('CONFIG_INVALID', `plugins: cannot load ${path}: ${errorMessage(e)}`);
    }
    const register = typeof mod.register === 'function' ? mod.register : typeof mod.default === 'function' ? mod.default : null;
    if (!register) throw new PacsError('CONFIG_INVALID', `plugins: ${path} exports no register(api) function`);
    const api = makeApi(name, typeof spec === 'string' ? {} : spec.options, host);
    try {
      await (register as (api: PluginApi) => unknown)(api);
    } catch (e) {
      throw new PacsError('CONFIG_INVALID', `plugins: ${name} failed to register: ${errorMessage(e)}`);
    }
    loaded.push(name);
  }
  return loaded;
}

function makeApi(name: string, options: Record<string, unknown>, host: PluginHost): PluginApi {
  const logger = host.logger.child({ plugin: name });
  const jobType = (type: string): string => `plugin:${name}:${type}`;
  let hooks = 0;
  return {
    name,
    options: Object.freeze({ ...options }),
    logger,
    beforeStore(check) {
      host.hooks.add(`plugin:${name}:${++hooks}`, async ({ record }) => {
        try {
          await check(record);
        } catch (e) {
          if (e instanceof PacsError) throw e;
          // A plugin's own bug refuses the instance rather than storing what it meant to check.
          logger.error({ err: e }, 'plugin beforeStore failed');
          throw new PacsError('REJECTED_BY_HOOK', `plugin ${name} failed: ${errorMessage(e)}`);
        }
      });
    },
    reject: (reason) => new PacsError('REJECTED_BY_HOOK', `${name}: ${reason}`),
    on: (event, listener) => host.events.on(event, listener),
    index: {
      query: (q) => host.index.query(q),
      statistics: () => host.index.statistics(),
      findStudy: (uid) => host.index.findStudy(uid),
      findSeries: (uid) => host.index.findSeries(uid),
    },
    jobs: {
      register: (type, handler) => host.jobs.register(jobType(type), handler),
      enqueue: async (type, payload, opts = {}) => ({ id: (await host.jobs.enqueue(jobType(type), payload, opts)).id }),
    },
  };
}
