// Prometheus metrics (prom-client) for monitoring.metrics_port. Counters and histograms are fed
// from the event bus after commit and from the web server's hooks; gauges that describe the
// present (associations open, disk free, jobs waiting, archive size) are read when scraped.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventBus } from './events.js';

export interface MetricsSources {
  activeAssociations: () => number;
  diskFreeBytes: () => Promise<number>;
  archive: () => Promise<{ patients: number; studies: number; series: number; instances: number; bytes: number }>;
  jobs: () => Promise<Record<string, number>>;
  minFreeBytes: () => number;
}

/** How long a scrape waits for one source (the index, the volume) before leaving its gauges out. */
const SOURCE_TIMEOUT_MS = 5000;

/**
 * One call per scrape for sources several gauges read (a scrape collects them all within a
 * moment), that answers null when the source fails or hangs: a gauge it feeds is then left out
 * of that scrape, and the rest is served. One failing source (the volume gone, PostgreSQL
 * down) made the whole scrape a 500 — no store failures, associations or process metrics
 * during the very incident they are there for.
 */
function perScrape<T>(fn: () => Promise<T>): () => Promise<T | null> {
  let last: { at: number; value: Promise<T | null> } | null = null;
  // A call still pending (a hung index) is waited for again, not joined by another each scrape.
  let inFlight: Promise<T | null> | null = null;
  return () => {
    if (!last || Date.now() - last.at > 1000) {
      if (!inFlight) {
        const call = fn().catch(() => null);
        inFlight = call;
        void call.finally(() => {
          if (inFlight === call) inFlight = null;
        });
      }
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), SOURCE_TIMEOUT_MS)));
      const value = Promise.race([inFlight, timeout]).finally(() => clearTimeout(timer));
      last = { at: Date.now(), value };
    }
    return last.value;
  };
}

export class Metrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly refusedConnections: Counter<'why'>;

  constructor(events: EventBus, given: MetricsSources) {
    const r = this.registry;
    const sources = { ...given, diskFreeBytes: perScrape(given.diskFreeBytes), archive: perScrape(given.archive), jobs: perScrape(given.jobs) };
    collectDefaultMetrics({ register: r, prefix: 'pacs_' });
    this.refusedConnections = new Counter({ name: 'pacs_connections_refused_total', help: 'DICOM connections closed unanswered by a limit (too many connections; too many not associated from one address), by why', labelNames: ['why'], registers: [r] });
    const associations = new Counter({ name: 'pacs_associations_total', help: 'Associations ended, by outcome (released, aborted, rejected, …)', labelNames: ['outcome'], registers: [r] });
    const operations = new Counter({ name: 'pacs_dimse_operations_total', help: 'DIMSE requests answered, by operation (counted at the final response)', labelNames: ['operation'], registers: [r] });
    const operationFailures = new Counter({ name: 'pacs_dimse_failures_total', help: 'DIMSE requests answered with a failure status', registers: [r] });
    const bytes = new Counter({ name: 'pacs_network_bytes_total', help: 'Bytes on DICOM associations, by direction (counted when each association ends)', labelNames: ['direction'], registers: [r] });
    const stored = new Counter({ name: 'pacs_instances_stored_total', help: 'Instances committed, by door (dimse, stow, upload, import)', labelNames: ['source'], registers: [r] });
    const storeFailures = new Counter({ name: 'pacs_store_failures_total', help: 'Instances refused or lost, by error code', labelNames: ['code'], registers: [r] });
    const storeSeconds = new Histogram({
      name: 'pacs_store_duration_seconds',
      help: 'From the first byte of an instance to its commit (file synced, index written)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers: [r],
    });
    this.httpRequests = new Counter({ name: 'pacs_http_requests_total', help: 'HTTP requests, by method, route and status', labelNames: ['method', 'route', 'status'], registers: [r] });
    this.httpDuration = new Histogram({
      name: 'pacs_http_request_duration_seconds',
      help: 'HTTP request latency (QIDO-RS, WADO-RS, API …), by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers: [r],
    });
    new Gauge({ name: 'pacs_associations_active', help: 'Associations open now', registers: [r], collect() { this.set(sources.activeAssociations()); } });
    // A source that failed this scrape: its labelled gauges are reset (left out), the others NaN
    // (unknown) — never a stale value, nor a 0 that reads as a full disk.
    new Gauge({
      name: 'pacs_disk_free_bytes',
      help: 'Free bytes on the storage volume (NaN when it cannot be read)',
      registers: [r],
      async collect() {
        this.set((await sources.diskFreeBytes()) ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'pacs_disk_below_minimum',
      help: '1 when free space is below storage.min_free_mb (new stores are refused with 0xA700)',
      registers: [r],
      async collect() {
        const min = sources.minFreeBytes();
        const free = await sources.diskFreeBytes();
        this.set(free === null ? Number.NaN : min > 0 && free < min ? 1 : 0);
      },
    });
    new Gauge({
      name: 'pacs_archive_objects',
      help: 'What the index holds, by level',
      labelNames: ['level'],
      registers: [r],
      async collect() {
        const a = await sources.archive();
        if (a === null) return this.reset();
        for (const level of ['patients', 'studies', 'series', 'instances'] as const) this.set({ level }, a[level]);
      },
    });
    new Gauge({
      name: 'pacs_archive_bytes',
      help: 'Bytes of the stored files',
      registers: [r],
      async collect() {
        this.set((await sources.archive())?.bytes ?? Number.NaN);
      },
    });
    new Gauge({
      name: 'pacs_jobs',
      help: 'Jobs in the durable queue, by state',
      labelNames: ['state'],
      registers: [r],
      async collect() {
        const jobs = await sources.jobs();
        if (jobs === null) return this.reset();
        for (const [state, n] of Object.entries(jobs)) this.set({ state }, n);
      },
    });

    const rejected = new Counter({ name: 'pacs_associations_rejected_total', help: 'Associations refused, by reason', labelNames: ['reason'], registers: [r] });
    const responses = new Counter({ name: 'pacs_dimse_responses_total', help: 'DIMSE requests served, by operation and final status class', labelNames: ['operation', 'status'], registers: [r] });
    const operationSeconds = new Histogram({
      name: 'pacs_dimse_operation_duration_seconds',
      help: 'From a DIMSE request to its final response (C-STORE, C-FIND, C-MOVE, C-GET, N-*), by operation',
      labelNames: ['operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers: [r],
    });
    // Counted as each operation ends, not when its association closes: a modality holding one
    // open for hours showed a flat line, then a spike.
    events.on('dimse.operation', ({ operation, status, ms }) => {
      operations.inc({ operation });
      if (status === 'failure') operationFailures.inc();
      responses.inc({ operation, status });
      operationSeconds.observe({ operation }, ms / 1000);
    });
    events.on('association.closed', (a) => {
      associations.inc({ outcome: a.outcome });
      if (a.rejectReason) rejected.inc({ reason: a.rejectReason });
      bytes.inc({ direction: 'in' }, a.bytesIn);
      bytes.inc({ direction: 'out' }, a.bytesOut);
    });
    events.on('instance.stored', ({ record }) => stored.inc({ source: record.provenance.source }));
    events.on('instance.ingested', ({ durationMs }) => storeSeconds.observe(durationMs / 1000));
    events.on('instance.failed', ({ code }) => storeFailures.inc({ code }));
  }

  /** One HTTP request answered (the route pattern, not the URL, keeps the label set small). */
  observeHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  /** A connection the DICOM listener closed unanswered by a limit. */
  connectionRefused(why: string): void {
    this.refusedConnections.inc({ why });
  }

  async text(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
