// The composition root: the only place that picks concrete implementations (SQLite index,
// filesystem store, the SCPs) and wires them together from the configuration.
import { compactHeapFlags } from './core/heap.js';
import { EventBus, type AuditEntry } from './core/events.js';
import { HookList } from './core/hooks.js';
import { type Logger, createLogger, flushLogger, reopenLogFile } from './core/logging.js';
import type { Config } from './config/load.js';
import { describeReload, redactDatabaseUrl } from './config/load.js';
import { SqliteIndex } from './index/sqlite/sqlite-index.js';
import { PostgresIndex } from './index/postgres/postgres-index.js';
import type { ArchiveIndex } from './index/types.js';
import { FsObjectStore } from './storage/fs-store.js';
import { FsImageCache } from './storage/image-cache.js';
import { MetadataService } from './services/metadata.js';
import { buildHttpServer } from './http/server.js';
import { dicomwebCredentialWarnings, httpStartWarnings } from './http/exposure.js';
import { plainTextMessage, plainTextUsers } from './core/passwords.js';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { FailedLogins } from './core/failed-logins.js';
import { REINDEX_PENDING } from './services/import.js';
import { join } from 'node:path';
import { type BeforeStoreHook, StoreService, type StoreSettings } from './services/store.js';
import { loadPlugins } from './plugins.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from './net/acse.js';
import { DicomListener } from './net/listener.js';
import { SopRegistry } from './scp/registry.js';
import { verificationScp } from './scp/verification.js';
import { storageScp } from './scp/storage.js';
import { findScp } from './scp/find.js';
import { retrieveScp } from './scp/retrieve.js';
import { AcceptorSession, type AcceptPolicy } from './scp/acceptor.js';
import { AssociationRateLimiter } from './scp/rate-limit.js';
import { DecoderPool, type PoolOptions } from './codecs/pool.js';
import { NodeDirectory } from './services/nodes.js';
import { JobService } from './services/jobs.js';
import { pullJobHandler, sendJobHandler } from './services/transfer-jobs.js';
import { ActivityMonitor } from './services/activity.js';
import { MetadataWarmer } from './services/metadata-warmer.js';
import { AuditTrail, outboundAudit } from './services/audit.js';
import { VERSION } from './version.js';
import { type TlsMaterial, clientOptions, loadTls, serverOptions } from './tls-config.js';
import type { Association } from './net/association.js';
import { Metrics } from './core/metrics.js';
import { startMetricsServer } from './http/metrics-server.js';
import type { Server as NodeHttpServer } from 'node:http';
import { RenderingService } from './services/rendering.js';
import { WorklistService } from './services/worklist.js';
import { worklistScp } from './scp/worklist.js';
import { MppsService } from './services/mpps.js';
import { mppsScp } from './scp/mpps.js';
import { restrictionWarning } from './scp/permissions.js';
import { PERMISSIONS } from './config/schema.js';
import { CommitmentService } from './services/commitment.js';
import { commitmentScp } from './scp/commitment.js';
import { WorkflowFeeds } from './workflow-feeds.js';
import { enableMppsForwarding } from './services/mpps-forward.js';
import { ResearchWorkflow } from './services/research.js';
import { UnreachableNodes } from './services/unreachable.js';
import type { RetentionService } from './services/retention.js';
import { setupRetention } from './retention-setup.js';
import { OncePer } from './core/once-per.js';

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
  /** Checks before each instance is committed (plugins add theirs). */
  hooks: BeforeStoreHook;
  /** Rendered thumbnails kept by instance. */
  thumbnails: FsImageCache;
  /** The caches derived from each instance (metadata, thumbnails): a deletion forgets them all. */
  derived: readonly { forget(sopInstanceUID: string): Promise<void> }[];
  /** The modality worklist (Scheduled Procedure Steps). */
  worklist: WorklistService;
  /** Modality Performed Procedure Steps. */
  mpps: MppsService;
  /** Certificate, key and CAs when tls.enabled (DICOM TLS, HTTPS). */
  tls: TlsMaterial | null;
  /** Replaces the configuration every getter reads (SIGHUP reload). */
  setConfig(c: Readonly<Config>): void;
  close(): Promise<void>;
}

/** How often the temporary files of processes that are gone are swept while the server runs. */
const STAGING_SWEEP_MS = 3_600_000;

const storeSettings = (c: Readonly<Config>): StoreSettings => ({
  naming: c.storage.naming,
  duplicatePolicy: c.storage.duplicate_policy,
  minFreeBytes: c.storage.min_free_mb * 1024 * 1024,
  implementationClassUID: IMPLEMENTATION_CLASS_UID,
  implementationVersionName: IMPLEMENTATION_VERSION_NAME,
  maxDatasetBytes: c.server.max_dataset_mb * 1024 * 1024,
});

/**
 * The index the configuration names: PostgreSQL when database.url is set (several servers may
 * share it), else the SQLite file at database.path.
 */
export function openIndex(config: Readonly<Config>): ArchiveIndex {
  if (config.database.url !== undefined) return PostgresIndex.open({ url: config.database.url });
  return SqliteIndex.open({ path: config.database.path, walMode: config.database.wal_mode, syncCommits: config.storage.fsync });
}

/** Where the index is, for logs: the file, or the PostgreSQL URL without its password. */
export function describeIndex(config: Readonly<Config>): string {
  const url = config.database.url;
  return url === undefined ? config.database.path : redactDatabaseUrl(url);
}

/** The archive without the network: index, files, store pipeline (server and CLI tools share it). */
/** The durable job queue over the archive's index, with the `jobs` settings (live). */
export function jobServiceOf(archive: ArchiveParts): JobService {
  const c = () => archive.config().jobs;
  return new JobService(archive.index.jobs, () => ({ workers: c().workers, maxAttempts: c().max_attempts, backoffSeconds: c().backoff_seconds, keepDays: c().keep_days, leaseSeconds: c().lease_seconds }), archive.logger.child({ component: 'jobs' }), archive.config().server.node_name);
}

/**
 * Loads the configured plugins onto an archive: their beforeStore checks join its store
 * pipeline, their listeners its events. The server, and `pacs import` (one pipeline, many doors).
 */
export function loadArchivePlugins(archive: ArchiveParts, jobs: JobService): Promise<string[]> {
  return loadPlugins(archive.config().plugins, { events: archive.events, hooks: archive.hooks, index: archive.index, jobs, logger: archive.logger });
}

export async function openArchive(initial: Readonly<Config>, options: { logger?: Logger } = {}): Promise<ArchiveParts> {
  let config = initial;
  const logger = options.logger ?? createLogger({ level: config.logging.level, file: config.logging.file ?? null });
  const tlsMaterial = loadTls(config.tls);
  const objects = new FsObjectStore(config.storage.directory, { fsync: config.storage.fsync, stagingDir: config.storage.temp_dir });
  const index = openIndex(config);
  try {
    await index.migrate();
  } catch (e) {
    await index.close().catch(() => undefined);
    throw e;
  }
  const events = new EventBus();
  events.onError = (e, event) => logger.error({ err: e, event }, 'event listener failed');
  const hooks: BeforeStoreHook = new HookList();
  const store = new StoreService({ index, store: objects, events, hooks, logger, settings: () => storeSettings(config) });
  await store.refreshFreeSpace(true);
  // The prepared texts live in the index: a series after a restart is one query, not 300 files.
  const metadata = new MetadataService(objects, index.metadata);
  // What is derived from each instance and kept apart from it, to forget when it is deleted.
  const thumbnails = new FsImageCache(join(config.storage.directory, '.thumbnails'));
  const derived = [metadata, { forget: (uid: string) => thumbnails.removeInstance(uid) }];
  const nodes = new NodeDirectory(index.nodes, () => config.known_nodes, () => (tlsMaterial ? clientOptions(tlsMaterial) : null));
  const worklist = new WorklistService(index.worklist, () => ({ fuzzyNames: config.query.fuzzy_person_names }), index);
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
    hooks,
    thumbnails,
    derived,
    tls: tlsMaterial,
    worklist,
    mpps,
    setConfig(c) {
      config = c;
    },
    async close() {
      await mpps.close();
      objects.close();
      await index.close();
    },
  };
}

export class PacsServer {
  private readonly listeners: DicomListener[] = [];
  private http: FastifyInstance | null = null;
  private stopping = false;
  /** Ends this server's presence on the index (taken at start: maintenance tools wait for the stop). */
  private leave: (() => Promise<void>) | null = null;
  /** Recent stores, errors and associations for the status page. */
  readonly activity: ActivityMonitor;
  /** Prometheus metrics, served on monitoring.metrics_port. */
  readonly metrics: Metrics;
  private metricsServer: NodeHttpServer | null = null;
  /** Prepares WADO-RS metadata after each store (http.prepare_metadata). */
  metadataWarmer: MetadataWarmer | null = null;
  /** Sweeps the temporary files of gone processes every STAGING_SWEEP_MS. */
  private stagingSweep: NodeJS.Timeout | null = null;
  /** The audit trail (logging.audit_file). */
  private auditTrail: AuditTrail | null = null;
  /** The worklist folder, the HL7 listener and MPPS forwarding. */
  readonly feeds: WorkflowFeeds;
  /** Retention rules, run as durable jobs. */
  readonly retention: RetentionService;

  private constructor(
    readonly archive: ArchiveParts,
    readonly registry: SopRegistry,
    /** Decodes compressed frames for retrieves to receivers that take only uncompressed syntaxes, and renders images for DICOMweb; threads start on first use. */
    readonly decoders: DecoderPool,
    /** The durable job queue's runner (send, pull, exports, forwards, commands). */
    readonly jobs: JobService,
    /** Stable series and studies, and the rules that act on them. */
    readonly research: ResearchWorkflow,
  ) {
    this.activity = new ActivityMonitor(archive.events);
    this.feeds = new WorkflowFeeds(archive);
    this.retention = setupRetention(archive, jobs);
    const jobStates = ['queued', 'running', 'failed'] as const;
    this.metrics = new Metrics(archive.events, {
      activeAssociations: () => this.listeners[0]?.active.size ?? 0,
      diskFreeBytes: () => archive.objects.freeBytes(),
      archive: () => archive.index.statistics(),
      jobs: async () => Object.fromEntries(await Promise.all(jobStates.map(async (state) => [state, (await archive.index.jobs.list({ state, limit: 0, offset: 0 })).total] as const))),
      minFreeBytes: () => archive.config().storage.min_free_mb * 1024 * 1024,
    });
  }

  /** `decoderPool`: the codec pool's options (tests give it a worker that holds frames back until told). */
  static async create(config: Readonly<Config>, options: { logger?: Logger; decoderPool?: PoolOptions } = {}): Promise<PacsServer> {
    const archive = await openArchive(config, options);
    const decoders = new DecoderPool(options.decoderPool);
    const registry = new SopRegistry();
    registry.register(verificationScp);
    registry.register(storageScp(archive.store, [], { maxDatasetBytes: () => archive.config().server.max_dataset_mb * 1024 * 1024 }));
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
        destination: (ae) => archive.nodes.find(ae),
        decoder: decoders,
        dimseTimeoutMs: () => archive.config().server.dimse_timeout * 1000,
      }),
    );
    registry.register(worklistScp({ worklist: archive.worklist, maxResults: () => archive.config().query.max_results }));
    registry.register(mppsScp(archive.mpps));
    const c = () => archive.config().jobs;
    const jobs = jobServiceOf(archive);
    const aeTitle = (): string => archive.config().server.ae_title;
    const unreachable = new UnreachableNodes(() => c().backoff_seconds * 1000);
    jobs.register('send', sendJobHandler({ index: archive.index, objects: archive.objects, decoder: decoders, nodes: archive.nodes, aeTitle, unreachable }));
    jobs.register('pull', pullJobHandler({ nodes: archive.nodes, store: archive.store, aeTitle, unreachable }));
    // Patient data leaving the archive through a job (a send, a rule's forward, export, program or
    // STOW-RS): one audit line per attempt, with where it went and how much.
    jobs.onFinished((job, outcome) => {
      const entry = outboundAudit(job, outcome);
      if (entry) archive.events.emit('audit', entry);
    });
    enableMppsForwarding(archive.mpps, archive.index.mpps, jobs, archive.nodes, { aeTitle, forwardTo: () => archive.config().mpps.forward_to });
    registry.register(commitmentScp(new CommitmentService({ index: archive.index, objects: archive.objects, nodes: archive.nodes, aeTitle }, jobs)));
    const plugins = await loadArchivePlugins(archive, jobs).catch(async (e: unknown) => {
      await decoders.close();
      await archive.close();
      throw e;
    });
    if (plugins.length) archive.logger.info({ plugins }, 'plugins loaded');
    const research = new ResearchWorkflow({ ...archive, config: archive.config, jobs, logger: archive.logger });
    return new PacsServer(archive, registry, decoders, jobs, research);
  }

  get logger(): Logger {
    return this.archive.logger;
  }

  /** The web server once started (tests drive it through inject()). */
  get httpServer(): FastifyInstance | null {
    return this.http;
  }

  /** A connection closed unanswered is said at warn level once a minute per address (a flood is one line a minute). */
  private readonly refusedSaid = new OncePer(60_000);

  /** A connection the listener closed unanswered by a limit: said, counted. */
  private connectionRefused(address: string, why: string): void {
    this.metrics.connectionRefused(why);
    if (this.refusedSaid.first(address)) this.logger.warn({ remoteAddress: address, why }, 'DICOM connection closed unanswered (further ones from this address for a minute at debug level)');
    else this.logger.debug({ remoteAddress: address, why }, 'DICOM connection closed unanswered');
  }

  private acceptPolicy(): AcceptPolicy {
    const c = this.archive.config();
    return {
      aeTitle: c.server.ae_title,
      strictCalledAE: c.server.strict_called_ae,
      allowedAETitles: c.access_control.allowed_ae_titles,
      maxAssociations: c.server.max_associations,
      maxAssociationsPerAE: c.server.max_associations_per_ae,
      maxAssociationsPerAddress: c.server.max_associations_per_address,
      maxPduLength: c.server.max_pdu_length,
      maxNewAssociationsPerMinutePerAE: c.server.max_new_associations_per_minute_per_ae,
      dimseTimeoutMs: c.server.dimse_timeout * 1000,
      permissionsOf: (ae) => this.archive.nodes.permissionsOf(ae),
      ...(c.access_control.user_identity ? { userIdentity: c.access_control.user_identity } : {}),
      addressesOf: (ae) => c.known_nodes.find((n) => n.ae_title === ae)?.addresses ?? null,
    };
  }

  async start(): Promise<{ dicomPort: number; tlsPort: number | null; httpPort: number | null; metricsPort: number | null }> {
    // First: a reindex or verify --repair under way (or, on SQLite, another server on the file)
    // refuses the start before this server touches a file or a row.
    this.leave = await this.archive.index.serve((e) => this.logger.warn({ error: e.message }, 'index presence lost; taking it again (pacs reindex and verify --repair could start meanwhile)'));
    try {
      return await this.open();
    } catch (e) {
      await this.leave().catch(() => undefined);
      this.leave = null;
      throw e;
    }
  }

  private async open(): Promise<{ dicomPort: number; tlsPort: number | null; httpPort: number | null; metricsPort: number | null }> {
    const c = this.archive.config();
    // A reindex cut short (^C, a crash) left the index part-built and without its protected
    // marks: served, retention could delete the studies it was to protect again.
    const pending = join(c.storage.directory, ...REINDEX_PENDING);
    if (existsSync(pending)) throw new Error(`a pacs reindex was cut short (${pending} is there): the index is not whole and lacks its protected studies; run pacs reindex again before starting the server`);
    const removed = await this.archive.objects.cleanupStaging();
    if (removed) this.logger.warn({ removed }, 'removed temporary files left by an earlier stop');
    // Deletes an earlier stop interrupted: each file set aside goes back if its row is still there.
    const swept = await this.archive.objects.sweepTombstones((uid) => this.archive.index.findInstance(uid));
    if (swept.restored || swept.removed) this.logger.warn(swept, 'settled files left set aside by deletes an earlier stop interrupted');
    await this.archive.nodes.refresh();
    if (c.logging.audit_file)
      this.auditTrail = new AuditTrail(this.archive.events, c.logging.audit_file, (e, lost) =>
        this.logger.error({ err: e, file: c.logging.audit_file, lost }, 'the audit file cannot be written: audit lines are counted and lost until it can (SIGHUP opens it again)'),
      );
    // Plain DICOM on server.port, DICOM TLS on tls.port; or, with TLS and no tls.port, TLS alone on server.port.
    const active = new Set<Association>();
    const rateLimiter = new AssociationRateLimiter();
    const failedLogins = new FailedLogins();
    const listen = async (port: number, secure: boolean): Promise<number> => {
      const listener: DicomListener = new DicomListener({
        host: c.server.host,
        port,
        maxPduLength: c.server.max_pdu_length,
        onError: (e: Error) => this.logger.error({ err: e, port }, 'DICOM listener error'),
        onRefused: (address, why) => this.connectionRefused(address, why),
        // Far beyond max_associations: connections that never speak must not lock good clients
        // out before ARTIM closes them (the hostile-peer suite holds 200), yet what they may make
        // us buffer stays bounded (1,024 × a 256 KB control PDU at most).
        maxConnections: () => Math.max(1024, 4 * this.archive.config().server.max_associations),
        active,
        timeouts: () => {
          const now = this.archive.config().server;
          return { artimMs: now.artim_timeout * 1000, idleMs: now.idle_timeout * 1000, dimseMs: now.dimse_timeout * 1000, sendStallMs: now.dimse_timeout * 1000 };
        },
        userFor: (socket): AcceptorSession =>
          new AcceptorSession({ registry: this.registry, policy: () => this.acceptPolicy(), active: () => active, logger: this.logger, events: this.archive.events, rateLimiter, failedLogins }, socket),
        ...(secure && this.archive.tls
          ? {
              tls: serverOptions(this.archive.tls, c.tls.require_client_cert),
              onTlsError: (e: Error, remote: string | undefined) => this.logger.warn({ remote, error: e.message }, 'DICOM TLS handshake failed'),
            }
          : {}),
      });
      const started = await listener.start();
      this.listeners.push(listener);
      return started.port;
    };
    const dicomPlain = plainTextUsers(c.access_control.user_identity?.users ?? []);
    if (dicomPlain.length) this.logger.warn({ users: dicomPlain }, plainTextMessage('access_control.user_identity.users'));
    for (const w of dicomwebCredentialWarnings(c.dicomweb_servers)) this.logger.warn(w.fields, w.message);
    const sidestep = c.access_control.user_identity?.required ? null : restrictionWarning(c.known_nodes, c.access_control.allowed_ae_titles, PERMISSIONS.length);
    if (sidestep) this.logger.warn(sidestep.fields, sidestep.message);
    // Client certificates on tls.port guard nothing while server.port takes the same peers in plain text.
    if (c.tls.enabled && c.tls.port !== undefined && c.tls.require_client_cert)
      this.logger.warn({ port: c.server.port, tlsPort: c.tls.port }, 'tls.require_client_cert holds on tls.port only: server.port still takes plain DICOM under the same access rules (leave tls.port out to serve TLS alone on server.port)');
    const tlsOnly = c.tls.enabled && c.tls.port === undefined;
    const port = await listen(c.server.port, tlsOnly);
    const tlsPort = c.tls.enabled && c.tls.port !== undefined ? await listen(c.tls.port, true) : tlsOnly ? port : null;
    this.jobs.start();
    // MPPS follow-ups an earlier stop (or another server of the index) left owed are taken up.
    this.archive.mpps.start();
    await this.feeds.start();
    this.research.start();
    this.retention.start();
    // A `pacs import` killed, another server of the volume crashed: their temporary files (of any
    // size, counted against the free space) went only at this server's next start.
    this.stagingSweep = setInterval(() => {
      this.archive.objects.cleanupStaging({ running: true }).then(
        (removed) => removed && this.logger.warn({ removed }, 'removed temporary files of processes that are gone'),
        (e: unknown) => this.logger.warn({ err: e }, 'cannot sweep the temporary files'),
      );
    }, STAGING_SWEEP_MS);
    this.stagingSweep.unref();
    let httpPort: number | null = null;
    if (c.http.enabled) {
      const a = this.archive;
      if (c.http.prepare_metadata) this.metadataWarmer = new MetadataWarmer(a.metadata, a.events, this.logger);
      const rendering = new RenderingService(a.index, a.objects, a.metadata, this.decoders, a.thumbnails);
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
        https: this.archive.tls ? serverOptions(this.archive.tls, false) : null,
        metrics: this.metrics,
        ...(this.auditTrail ? { audit: (e: AuditEntry) => this.archive.events.emit('audit', e) } : {}),
        dicomPort: () => port,
        rulesHeldBack: () => this.research.received.heldBack(),
        associations: () =>
          [...active].map((x) => ({
            callingAE: x.callingAETitle,
            calledAE: x.calledAETitle,
            remoteAddress: x.remoteAddress,
            startedAt: new Date(x.startedAt).toISOString(),
            bytesIn: x.bytesIn,
            bytesOut: x.bytesOut,
          })),
      });
      await this.http.listen({ host: c.http.host, port: c.http.port });
      for (const w of httpStartWarnings(c.http)) this.logger.warn(w.fields, w.message);
      // Without a listener, an 'error' of the listening socket (an accept failing) ends the process.
      this.http.server.on('error', (e) => this.logger.error({ err: e }, 'HTTP listener error'));
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
      { aeTitle: c.server.ae_title, dicomPort: port, tlsPort, httpPort, httpsEnabled: !!this.archive.tls, metricsPort, storage: c.storage.directory, index: describeIndex(c), v8HeapFlags: compactHeapFlags(), ...stats },
      `pacs_server listening: ${c.server.ae_title} on port ${port}`,
    );
    return { dicomPort: port, tlsPort, httpPort, metricsPort };
  }

  /**
   * Opens logging.file and logging.audit_file again by their names: SIGHUP is also what logrotate
   * sends after renaming them (the lines went on into the renamed files until a restart).
   */
  reopenFiles(): void {
    try {
      reopenLogFile(this.logger);
      this.auditTrail?.reopen();
    } catch (e) {
      this.logger.error({ err: e }, 'cannot open the log or audit file again');
    }
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
    this.logger.info({ graceSeconds: grace / 1000, active: this.listeners[0]?.active.size ?? 0 }, 'shutting down');
    this.metadataWarmer?.stop();
    if (this.stagingSweep) clearInterval(this.stagingSweep);
    this.retention.stop();
    await this.feeds.stop();
    const metricsClosed = new Promise<void>((resolve) => (this.metricsServer ? this.metricsServer.close(() => resolve()) : resolve()));
    await Promise.all([...this.listeners.map((l) => l.stop(grace)), this.http?.close(), this.jobs.stop(grace), this.research.stop(), metricsClosed]);
    await this.auditTrail?.close();
    await this.decoders.close();
    await this.leave?.().catch((e: unknown) => this.logger.warn({ err: e }, 'cannot end the presence on the index'));
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
