// The research workflow wired together: stable series/studies → rules → durable jobs (export,
// forward by the send job (C-STORE) or the stow job (STOW-RS), run a command), and rules on
// each received instance.
import type { Config } from '../config/schema.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logging.js';
import type { ArchiveIndex } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import { commandJobHandler } from './command-job.js';
import { exportJobHandler } from './export-job.js';
import type { JobService } from './jobs.js';
import type { MetadataService } from './metadata.js';
import { RuleEngine } from './rules.js';
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

export class ResearchWorkflow {
  readonly stability: StabilityService;
  readonly rules: RuleEngine;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: ResearchDeps) {
    const { config, index, objects, metadata, events, jobs, logger } = deps;
    jobs.register('export', exportJobHandler({ index, objects, metadata }));
    jobs.register('command', commandJobHandler({ index, objects, metadata }));
    jobs.register('stow', stowJobHandler({ index, objects, servers: () => config().dicomweb_servers }));
    this.rules = new RuleEngine({ rules: () => config().rules, index, metadata, jobs, logger: logger.child({ component: 'rules' }) });
    this.stability = new StabilityService(
      index.stability,
      events,
      () => ({ stableAfterSeconds: config().stability.stable_after, checkIntervalSeconds: config().stability.check_interval }),
      logger.child({ component: 'stability' }),
    );
    this.stability.onStable((entry) => this.rules.fromStable(entry).then(() => {}));
  }

  start(): void {
    const { events, logger } = this.deps;
    // Rules "on: instance.received" act on each committed instance; a crash between the commit
    // and the queueing loses that one instance's jobs (stable-series/study rules are durable).
    this.unsubscribe = events.on('instance.stored', ({ record, changeSeq }) => {
      if (record.provenance.source === 'reindex') return;
      if (!this.deps.config().rules.some((r) => r.enabled && r.on === 'instance.received')) return;
      void this.rules
        .apply({
          event: 'instance.received',
          level: 'IMAGE',
          uid: record.instance.SOPInstanceUID,
          studyUID: record.study.StudyInstanceUID,
          seq: changeSeq,
          sopInstanceUID: record.instance.SOPInstanceUID,
          source: { callingAE: record.provenance.callingAE, calledAE: record.provenance.calledAE, remoteAddress: record.provenance.remoteAddress },
        })
        .catch((e: unknown) => logger.error({ err: e, sopInstanceUID: record.instance.SOPInstanceUID }, 'rules on a received instance failed'));
    });
    this.stability.start();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.stability.stop();
  }
}
