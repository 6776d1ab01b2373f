// The research workflow wired together: stable series/studies → rules → durable jobs (export,
// forward by the send job (C-STORE) or the stow job (STOW-RS), run a command), and rules on
// each received instance. Both follow the index's change log from a cursor kept in the index,
// so neither loses an instance to a crash.
import type { Config } from '../config/schema.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logging.js';
import type { ArchiveIndex } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { commandJobHandler } from './command-job.js';
import { exportJobHandler } from './export-job.js';
import type { JobService } from './jobs.js';
import type { MetadataService } from './metadata.js';
import { ReceivedRules } from './received-rules.js';
import { RuleEngine, withdrawnRuleJob } from './rules.js';
import { StabilityService } from './stability.js';
import { stowJobHandler } from './stow-job.js';

export interface ResearchDeps {
  config: () => Readonly<Config>;
  index: ArchiveIndex;
  objects: ObjectStore;
  metadata: MetadataService;
  events: EventBus;
  jobs: JobService;
  logger: Logger;
}

const PRUNE_EVERY_MS = 3_600_000;
const CHANGES_PER_PRUNE = 10_000;
const MAX_PRUNES = 100;

export class ResearchWorkflow {
  readonly stability: StabilityService;
  readonly rules: RuleEngine;
  readonly received: ReceivedRules;
  private unsubscribe: (() => void) | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ResearchDeps) {
    const { config, index, objects, metadata, events, jobs, logger } = deps;
    jobs.register('export', exportJobHandler({ index, objects, metadata }));
    jobs.register('command', commandJobHandler({ index, objects, metadata }));
    jobs.register('stow', stowJobHandler({ index, objects, servers: () => config().dicomweb_servers }));
    this.rules = new RuleEngine({ rules: () => config().rules, index, metadata, jobs, logger: logger.child({ component: 'rules' }) });
    // A rule removed, disabled or changed by a reload: its jobs still queued (a destination down,
    // a back-off) do not carry out what it no longer says.
    jobs.checkBeforeRun((job) => withdrawnRuleJob(config().rules, job));
    this.stability = new StabilityService(
      index.stability,
      events,
      () => ({ stableAfterSeconds: config().stability.stable_after, checkIntervalSeconds: config().stability.check_interval }),
      logger.child({ component: 'stability' }),
      async (entry) => (entry.level === 'study' ? index.findStudy(entry.uid) : index.findSeries(entry.uid)).then((found) => found !== null),
    );
    this.stability.onStable((entry) => this.rules.fromStable(entry).then(() => {}));
    this.received = new ReceivedRules({
      cursors: index.cursors,
      apply: (subject) => this.rules.apply(subject),
      active: () => config().rules.some((r) => r.enabled && r.on === 'instance.received'),
      // The same look-again interval as the stable series and studies: one setting for "how soon".
      intervalSeconds: () => config().stability.check_interval,
      logger: logger.child({ component: 'rules' }),
    });
  }

  start(): void {
    // Rules "on: instance.received" follow the change log (received-rules.ts), so an instance
    // committed just before a crash still gets its jobs; a store here only makes the follower
    // look shortly instead of at its next interval.
    this.unsubscribe = this.deps.events.on('instance.stored', () => this.received.wake());
    this.received.start();
    this.stability.start();
    // How far each rule acted on each study is kept until the study is gone: then pruned, a
    // minute after start and hourly (a study sent again is acted on as new, as it should be).
    const prune = (delay: number): void => {
      this.pruneTimer = setTimeout(() => void this.pruneActed().finally(() => this.pruneTimer && prune(PRUNE_EVERY_MS)), delay);
      this.pruneTimer.unref();
    };
    prune(60_000);
  }

  /** Removes the rules' cursors and the stability entries of studies and series deleted since; resolves with how many. */
  async pruneActed(): Promise<number> {
    try {
      const removed = await this.deps.index.cursors.pruneActed();
      if (removed) this.deps.logger.info({ removed }, 'rules: forgot how far they acted on deleted studies and series');
      const forgotten = await this.deps.index.stability.pruneGone();
      if (forgotten) this.deps.logger.info({ removed: forgotten }, 'stability: forgot deleted studies and series');
      return removed + forgotten + (await this.pruneChanges().catch((e: unknown) => (this.deps.logger.warn({ err: e }, 'change log: cannot forget old changes'), 0)));
    } catch (e) {
      this.deps.logger.warn({ err: e }, 'rules: cannot prune the cursors of deleted studies');
      return 0;
    }
  }

  /**
   * Forgets the changes older than database.changes_keep_days that no follower needs, in
   * statements of CHANGES_PER_PRUNE rows (each a short write), at most MAX_PRUNES an hour: a log
   * of years is worked off over hours, never in one long lock.
   */
  async pruneChanges(): Promise<number> {
    const days = this.deps.config().database.changes_keep_days;
    if (days <= 0) return 0;
    const before = new Date(Date.now() - days * 86_400_000);
    let removed = 0;
    for (let i = 0; i < MAX_PRUNES; i++) {
      const n = await this.deps.index.cursors.pruneChanges(before, CHANGES_PER_PRUNE);
      removed += n;
      if (n < CHANGES_PER_PRUNE) break;
    }
    if (removed) this.deps.logger.info({ removed, olderThanDays: days }, 'change log: forgot old changes');
    return removed;
  }

  async stop(): Promise<void> {
    if (this.pruneTimer) clearTimeout(this.pruneTimer);
    this.pruneTimer = null;
    this.unsubscribe?.();
    await Promise.all([this.stability.stop(), this.received.stop()]);
  }
}
