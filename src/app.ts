// The composition root: the only place that picks concrete implementations (SQLite index,
// filesystem store, the SCPs) and wires them together from the configuration.
import { PacsError } from './core/errors.js';
import { EventBus } from './core/events.js';
import { HookList } from './core/hooks.js';
import { type Logger, createLogger, flushLogger } from './core/logging.js';
import type { Config } from './config/load.js';
import { describeReload } from './config/load.js';
import { SqliteIndex } from './index/sqlite/sqlite-index.js';
import type { ArchiveIndex } from './index/types.js';
import { FsObjectStore } from './storage/fs-store.js';
import { FsImageCache } from './storage/image-cache.js';
import { MetadataService } from './services/metadata.js';
import { buildHttpServer } from './http/server.js';
import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { StoreService, type StoreSettings } from './services/store.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './net/acse.js';
import { DicomListener } from './net/listener.js';
import { SopRegistry } from './scp/registry.js';
import { verificationScp } from './scp/verification.js';
import { storageScp } from './scp/storage.js';
import { findScp } from './scp/find.js';
import { retrieveScp } from './scp/retrieve.js';
import { AcceptorSession, type AcceptPolicy } from './scp/acceptor.js';
import { DecoderPool } from './codecs/pool.js';
import { NodeDirectory } from './services/nodes.js';
import { JobService } from './services/jobs.js';
import { pullJobHandler, sendJobHandler } from './services/transfer-jobs.js';
import { ActivityMonitor } from './services/activity.js';
import { MetadataWarmer } from './services/metadata-warmer.js';
import { VERSION } from './version.js';
import { Metrics } from './core/metrics.js';
import { startMetricsServer } from './http/metrics-server.js';
import type { Server as NodeHttpServer } from 'node:http';
import { RenderingService } from './services/rendering.js';
import { WorklistService } from './services/worklist.js';
import { worklistScp } from './scp/worklist.js';
import { MppsService } from './services/mpps.js';
import { mppsScp } from './scp/mpps.js';
import { CommitmentService } from './services/commitment.js';
import { commitmentScp } from './scp/commitment.js';

export interface ArchiveParts {
  config: () => Readonly<Config>;
  logger: Logger;
  index: ArchiveIndex;
  objects: FsObjectStore;
  events: EventBus;
  store: StoreService;
  metadata: MetadataService;
  /** Known nodes: the configuration file's and those added at run time. */
  nodes: NodeDirectory;
  /** The modality worklist (Scheduled Procedure Steps). */
  worklist: WorklistService;
  /** Modality Performed Procedure Steps. */
  mpps: MppsService;
  /** Replaces the configuration every getter reads (SIGHUP reload). */
  setConfig(c: Readonly<Config>): void;
  close(): Promise<void>;
}

const storeSettings = (c: Readonly<Config>): StoreSettings => ({
  naming: c.storage.naming,
  duplicatePolicy: c.storage.duplicate_policy,
  minFreeBytes: c.storage.min_free_mb * 1024 * 1024,
  implementationClassUID: IMPLEMENTATION_CLASS_UID,
  implementationVersionName: IMPLEMENTATION_VERSION_NAME,
});

/** The archive without the network: index, files, store pipeline (server and CLI tools share it). */
export async function openArchive(initial: Readonly<Config>, options: { logger?: Logger } = {}): Promise<ArchiveParts> {
  let config = initial;
  const logger = options.logger ?? createLogger({ level: config.logging.level, file: config.logging.file ?? null });
  if (config.tls.enabled)
    throw new PacsError('CONFIG_INVALID', 'tls.enabled: DICOM TLS is not available in this version; set it to false');
  if (config.database.url)
    throw new PacsError('CONFIG_INVALID', 'database.url: PostgreSQL is not available in this version; use database.path (SQLite)');
  const objects = new FsObjectStore(config.storage.directory, { fsync: config.storage.fsync, stagingDir: config.storage.temp_dir });
  const index = SqliteIndex.open({ path: config.database.path, walMode: config.database.wal_mode });
  await index.migrate();
  const events = new EventBus();
  events.onError = (e, event) => logger.error({ err: e, event }, 'event listener failed');
  const store = new StoreService({ index, store: objects, events, hooks: new HookList(), logger, settings: () => storeSettings(config) });
  await store.refreshFreeSpace(true);
  // The prepared texts live in the index: a series after a restart is one query, not 300 files.
  const metadata = new MetadataService(objects, index.metadata);
  const nodes = new NodeDirectory(index.nodes, () => config.known_nodes);
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: config.query.fuzzy_person_names }));
  const mpps = new MppsService(index.mpps, worklist, logger.child({ component: 'mpps' }));
  return {
    config: () => config,
    logger,
    index,
    objects,
    events,
    store,
    metadata,
    nodes,
    worklist,
    mpps,
    setConfig(c) {
      config = c;
    },
    async close() {
      objects.close();
      await index.close();
    },
  };
}

export class PacsServer {
  private listener: DicomListener | null = null;
  private http: FastifyInstance | null = null;
  private stopping = false;
  /** Recent stores, errors and associations for the status page. */
  readonly activity: ActivityMonitor;
  /** Prometheus metrics, served on monitoring.metrics_port. */
  readonly metrics: Metrics;
  private metricsServer: NodeHttpServer | null = null;
  /** Prepares WADO-RS metadata after each store (http.prepare_metadata). */
  metadataWarmer: MetadataWarmer | null = null;

  private constructor(
    readonly archive: ArchiveParts,
    readonly registry: SopRegistry,
    /** Decodes compressed frames for retrieves to receivers that take only uncompressed syntaxes, and renders images for DICOMweb; threads start on first use. */
    readonly decoders: DecoderPool,
    /** The durable job queue's runner (send, pull; later exports and forwards). */
    readonly jobs: JobService,
  ) {
    this.activity = new ActivityMonitor(archive.events);
    const jobStates = ['queued', 'running', 'failed'] as const;
    this.metrics = new Metrics(archive.events, {
      activeAssociations: () => this.listener?.active.size ?? 0,
      diskFreeBytes: () => archive.objects.freeBytes(),
      archive: () => archive.index.statistics(),
      jobs: async () => Object.fromEntries(await Promise.all(jobStates.map(async (state) => [state, (await archive.index.jobs.list({ state, limit: 0, offset: 0 })).total] as const))),
      minFreeBytes: () => archive.config().storage.min_free_mb * 1024 * 1024,
    });
  }

  static async create(config: Readonly<Config>, options: { logger?: Logger } = {}): Promise<PacsServer> {
    const archive = await openArchive(config, options);
    const decoders = new DecoderPool();
    const registry = new SopRegistry();
    registry.register(verificationScp);
    registry.register(storageScp(archive.store));
    registry.register(
      findScp({
        index: archive.index,
        aeTitle: () => archive.config().server.ae_title,
        fuzzyNames: () => archive.config().query.fuzzy_person_names,
        maxResults: () => archive.config().query.max_results,
      }),
    );
    registry.register(
      retrieveScp({
        index: archive.index,
        store: archive.objects,
        aeTitle: () => archive.config().server.ae_title,
        destination: async (ae) => {
          const node = await archive.nodes.find(ae);
          return node ? { aeTitle: node.ae_title, host: node.host, port: node.port } : null;
        },
        decoder: decoders,
      }),
    );
    registry.register(worklistScp({ worklist: archive.worklist, maxResults: () => archive.config().query.max_results }));
    registry.register(mppsScp(archive.mpps));
    const c = () => archive.config().jobs;
    const jobs = new JobService(archive.index.jobs, () => ({ workers: c().workers, maxAttempts: c().max_attempts, backoffSeconds: c().backoff_seconds, keepDays: c().keep_days }), archive.logger.child({ component: 'jobs' }));
    const aeTitle = (): string => archive.config().server.ae_title;
    jobs.register('send', sendJobHandler({ index: archive.index, objects: archive.objects, decoder: decoders, nodes: archive.nodes, aeTitle }));
    jobs.register('pull', pullJobHandler({ nodes: archive.nodes, store: archive.store, aeTitle }));
    registry.register(commitmentScp(new CommitmentService({ index: archive.index, objects: archive.objects, nodes: archive.nodes, aeTitle }, jobs)));
    return new PacsServer(archive, registry, decoders, jobs);
  }

  get logger(): Logger {
    return this.archive.logger;
  }

  /** The web server once started (tests drive it through inject()). */
  get httpServer(): FastifyInstance | null {
    return this.http;
  }

  private acceptPolicy(): AcceptPolicy {
    const c = this.archive.config();
    return {
      aeTitle: c.server.ae_title,
      strictCalledAE: c.server.strict_called_ae,
      allowedAETitles: c.access_control.allowed_ae_titles,
      maxAssociations: c.server.max_associations,
      maxAssociationsPerAE: c.server.max_associations_per_ae,
      maxPduLength: c.server.max_pdu_length,
    };
  }

  async start(): Promise<{ dicomPort: number; httpPort: number | null; metricsPort: number | null }> {
    const c = this.archive.config();
    const removed = await this.archive.objects.cleanupStaging();
    if (removed) this.logger.warn({ removed }, 'removed temporary files left by an earlier stop');
    const listener: DicomListener = new DicomListener({
      host: c.server.host,
      port: c.server.port,
      maxPduLength: c.server.max_pdu_length,
      timeouts: () => {
        const now = this.archive.config().server;
        return { artimMs: now.artim_timeout * 1000, idleMs: now.idle_timeout * 1000 };
      },
      userFor: (socket): AcceptorSession =>
        new AcceptorSession(
          { registry: this.registry, policy: () => this.acceptPolicy(), active: () => listener.active, logger: this.logger, events: this.archive.events },
          socket,
        ),
    });
    const { port } = await listener.start();
    this.listener = listener;
    this.jobs.start();
    let httpPort: number | null = null;
    if (c.http.enabled) {
      const a = this.archive;
      if (c.http.prepare_metadata) this.metadataWarmer = new MetadataWarmer(a.metadata, a.events, this.logger);
      const rendering = new RenderingService(a.index, a.objects, a.metadata, this.decoders, new FsImageCache(join(c.storage.directory, '.thumbnails')));
      this.http = await buildHttpServer({
        index: a.index,
        objects: a.objects,
        store: a.store,
        metadata: a.metadata,
        decoder: this.decoders,
        rendering,
        config: a.config,
        logger: this.logger,
        nodes: a.nodes,
        worklist: a.worklist,
        mpps: a.mpps,
        jobs: this.jobs,
        activity: this.activity,
        version: VERSION,
        metrics: this.metrics,
        dicomPort: () => port,
        associations: () =>
          [...listener.active].map((x) => ({
            callingAE: x.callingAETitle,
            calledAE: x.calledAETitle,
            remoteAddress: x.remoteAddress,
            startedAt: new Date(x.startedAt).toISOString(),
            bytesIn: x.bytesIn,
            bytesOut: x.bytesOut,
          })),
      });
      await this.http.listen({ host: c.http.host, port: c.http.port });
      const address = this.http.server.address();
      httpPort = typeof address === 'object' && address ? address.port : c.http.port;
    }
    let metricsPort: number | null = null;
    if (c.monitoring.enabled) {
      const m = await startMetricsServer(this.metrics, c.server.host, c.monitoring.metrics_port, this.logger);
      this.metricsServer = m.server;
      metricsPort = m.port;
    }
    const stats = await this.archive.index.statistics();
    this.logger.info(
      { aeTitle: c.server.ae_title, dicomPort: port, httpPort, metricsPort, storage: c.storage.directory, index: c.database.path, ...stats },
      `pacs_server listening: ${c.server.ae_title} on port ${port}`,
    );
    return { dicomPort: port, httpPort, metricsPort };
  }

  /** Applies a new configuration: live keys at once, the rest logged as needing a restart. */
  reload(next: Readonly<Config>): { live: string[]; restart: string[] } {
    const diff = describeReload(this.archive.config(), next);
    const restartKeys = new Set(diff.restart);
    // Only live keys change now; keep the running values of the others until a restart.
    this.archive.setConfig(restartKeys.size === 0 ? next : mergeLive(this.archive.config(), next, diff.live));
    this.logger.level = this.archive.config().logging.level;
    this.logger.info({ applied: diff.live, needsRestart: diff.restart }, 'configuration reloaded');
    return diff;
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const grace = this.archive.config().server.shutdown_grace * 1000;
    this.logger.info({ graceSeconds: grace / 1000, active: this.listener?.active.size ?? 0 }, 'shutting down');
    this.metadataWarmer?.stop();
    const metricsClosed = new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
    await Promise.all([this.listener?.stop(grace), this.http?.close(), this.jobs.stop(grace), metricsClosed]);
    await this.decoders.close();
    await this.archive.close();
    this.logger.info('stopped');
    await flushLogger(this.logger);
  }
}

/** The running configuration with only the live-reloadable keys taken from `next`. */
function mergeLive(current: Readonly<Config>, next: Readonly<Config>, liveKeys: string[]): Readonly<Config> {
  const out = structuredClone(current) as unknown as Record<string, Record<string, unknown>>;
  const src = next as unknown as Record<string, Record<string, unknown>>;
  for (const key of liveKeys) {
    const [section, field] = key.split('.');
    if (!section) continue;
    if (field === undefined || !(section in out) || typeof out[section] !== 'object' || Array.isArray(out[section])) out[section] = src[section]!;
    else out[section]![field] = src[section]![field];
  }
  return Object.freeze(out) as unknown as Readonly<Config>;
}
