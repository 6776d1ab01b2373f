// Retention rules (config `retention`): delete the least recently received studies when they
// are older than max_age_days, or while the archive is above max_bytes or its volume above
// max_usage_percent — never a study marked protected (unless keep_protected is false).
// A pass runs as a durable job, at most one per check interval even with several servers on
// one index (the job's dedupe key names the interval); every study deleted is logged and
// audited. Deletion goes through deleteInstances: index row first, then the file.
import type { ArchiveIndex } from '../index/types.js';
import type { RetentionCandidate } from '../index/retention.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../core/logging.js';
import type { EventBus } from '../core/events.js';
import { deleteInstances, type DeleteDeps } from './delete.js';
import { selectInstances } from './retrieve.js';
import type { JobHandler, JobService } from './jobs.js';

export interface RetentionSettings {
  /** 0: no age rule. */
  maxAgeDays: number;
  /** 0: no size rule. */
  maxBytes: number;
  /** 0: no usage rule. */
  maxUsagePercent: number;
  keepProtected: boolean;
  intervalMinutes: number;
}

export interface RetentionDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  derived: DeleteDeps['derived'];
  exclusive: DeleteDeps['exclusive'];
  logger: Logger;
  events: EventBus;
  settings: () => RetentionSettings;
  /** The volume holding the archive. */
  diskUsage: () => Promise<{ totalBytes: number; freeBytes: number }>;
}

export interface RetentionOutcome {
  studies: number;
  instances: number;
  bytes: number;
}

const BATCH = 50;

export const retentionEnabled = (s: RetentionSettings): boolean => s.maxAgeDays > 0 || s.maxBytes > 0 || s.maxUsagePercent > 0;

export class RetentionService {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: RetentionDeps,
    private readonly jobs: JobService,
  ) {
    jobs.register('retention', this.handler());
  }

  /** Queues a pass now and then each interval (when a rule is set; settings are re-read each time). */
  start(): void {
    const tick = (): void => {
      const s = this.deps.settings();
      if (retentionEnabled(s)) {
        const slot = Math.floor(Date.now() / (s.intervalMinutes * 60_000));
        void this.jobs.enqueue('retention', {}, { dedupeKey: `retention:${s.intervalMinutes}:${slot}`, maxAttempts: 1 }).catch((e: unknown) => this.deps.logger.warn({ err: e }, 'cannot queue the retention job'));
      }
      this.timer = setTimeout(tick, Math.min(s.intervalMinutes * 60_000, 3_600_000));
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private handler(): JobHandler {
    return {
      run: async (ctx) => {
        const r = await this.run(ctx.signal);
        return { completed: r.studies, message: `${r.studies} studies (${r.instances} instances, ${r.bytes} bytes) deleted` };
      },
    };
  }

  /** One pass of every rule; stops early when `signal` aborts (the server stops). */
  async run(signal?: AbortSignal): Promise<RetentionOutcome> {
    const s = this.deps.settings();
    const out: RetentionOutcome = { studies: 0, instances: 0, bytes: 0 };
    const includeProtected = !s.keepProtected;
    if (s.maxAgeDays > 0) {
      const before = new Date(Date.now() - s.maxAgeDays * 86_400_000);
      await this.deleteWhile(out, signal, () => true, { receivedBefore: before, includeProtected }, `received more than ${s.maxAgeDays} days ago (retention.max_age_days)`);
    }
    if (s.maxBytes > 0) {
      let bytes = (await this.deps.index.statistics()).bytes;
      await this.deleteWhile(out, signal, (freed) => (bytes -= freed) > s.maxBytes, { includeProtected }, `the archive holds ${bytes} bytes, above retention.max_bytes (${s.maxBytes})`, bytes > s.maxBytes);
    }
    if (s.maxUsagePercent > 0) {
      const d = await this.deps.diskUsage();
      let excess = d.totalBytes - d.freeBytes - (d.totalBytes * s.maxUsagePercent) / 100;
      const why = `the volume is ${(((d.totalBytes - d.freeBytes) / d.totalBytes) * 100).toFixed(1)}% full, above retention.max_usage_percent (${s.maxUsagePercent}%)`;
      await this.deleteWhile(out, signal, (freed) => (excess -= freed) > 0, { includeProtected }, why, excess > 0);
    }
    if (out.studies) this.deps.logger.info({ event: 'retention', ...out }, 'retention pass done');
    return out;
  }

  /**
   * Deletes the oldest studies one by one while `more(bytesJustFreed)` holds. A study that
   * cannot be deleted is skipped; when a batch frees nothing, the pass ends (nothing left to
   * delete but protected studies: logged, since the rule cannot be met).
   */
  private async deleteWhile(
    out: RetentionOutcome,
    signal: AbortSignal | undefined,
    more: (freed: number) => boolean,
    select: { receivedBefore?: Date; includeProtected: boolean },
    why: string,
    needed = true,
  ): Promise<void> {
    if (!needed) return;
    const skipped = new Set<string>();
    for (;;) {
      const batch = (await this.deps.index.retention.oldest({ ...select, limit: BATCH + skipped.size })).filter((c) => !skipped.has(c.studyInstanceUID));
      if (!batch.length) {
        if (!select.receivedBefore) this.deps.logger.warn({ rule: why }, 'retention: nothing left to delete but protected studies; the rule is not met');
        return;
      }
      for (const c of batch) {
        if (signal?.aborted) return;
        const freed = await this.deleteStudy(c, select.includeProtected, why);
        if (freed === null) skipped.add(c.studyInstanceUID);
        else {
          out.studies++;
          out.instances += freed.instances;
          out.bytes += freed.bytes;
          if (!more(freed.bytes)) return;
        }
      }
    }
  }

  private async deleteStudy(c: RetentionCandidate, includeProtected: boolean, why: string): Promise<{ instances: number; bytes: number } | null> {
    const { index, objects, derived, exclusive, logger } = this.deps;
    try {
      // The candidates were chosen a batch ago, and deleting a batch can take minutes: a study
      // protected since, or that received an instance since, is no longer one.
      const [study, isProtected] = await Promise.all([index.findStudy(c.studyInstanceUID), index.retention.isProtected(c.studyInstanceUID)]);
      if (!study || (isProtected && !includeProtected) || study.lastReceivedAt.getTime() !== c.lastReceivedAt.getTime()) return null;
      const instances = await selectInstances(index, 'STUDY_ROOT', 'STUDY', [{ keyword: 'StudyInstanceUID', value: c.studyInstanceUID }]);
      const r = await deleteInstances({ index, objects, derived, logger, exclusive }, instances);
      logger.info({ event: 'retention', studyInstanceUID: c.studyInstanceUID, instances: r.instances, bytes: r.bytes, lastReceivedAt: c.lastReceivedAt.toISOString(), reason: why }, 'retention deleted a study');
      this.deps.events.emit('audit', { action: 'delete', outcome: 'success', who: 'retention', from: null, what: { studyInstanceUID: c.studyInstanceUID, instances: r.instances, bytes: r.bytes, reason: why } });
      return r.instances ? r : null;
    } catch (e) {
      logger.warn({ err: e, studyInstanceUID: c.studyInstanceUID }, 'retention could not delete a study');
      return null;
    }
  }
}
