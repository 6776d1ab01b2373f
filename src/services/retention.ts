// Retention rules (config `retention`): delete the least recently received studies when they
// are older than max_age_days, or while the archive is above max_bytes or its volume above
// max_usage_percent — never a study marked protected (unless keep_protected is false).
// A pass runs as a durable job, queued once per check interval even with several servers on
// one index (the job's dedupe key names the interval), and only one pass runs at a time on the
// whole index (RetentionStore.exclusivePass); every study deleted is logged and audited.
// Deletion goes through deleteInstances: the file set aside, the row, then the file.
import type { ArchiveIndex } from '../index/types.js';
import type { RetentionCandidate } from '../index/retention.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../core/logging.js';
import type { EventBus } from '../core/events.js';
import { deleteInstances, partialDelete, type DeleteDeps } from './delete.js';
import { selectInstances } from './retrieve.js';
import type { JobHandler, JobService } from './jobs.js';

export interface RetentionSettings {
  /** 0: no age rule. */
  maxAgeDays: number;
  /** 0: no size rule. */
  maxBytes: number;
  /** 0: no usage rule. */
  maxUsagePercent: number;
  /** No rule deletes a study received less than this long ago; 0: no minimum. */
  minAgeHours: number;
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
  /** Another pass was running: this one deleted nothing. */
  skipped?: boolean;
}

const BATCH = 50;

export const retentionEnabled = (s: RetentionSettings): boolean => s.maxAgeDays > 0 || s.maxBytes > 0 || s.maxUsagePercent > 0;

export class RetentionService {
  private timer: NodeJS.Timeout | null = null;
  /**
   * The usage rule found that deleting frees (almost) nothing on the volume — files also held by
   * hard links (an export rule's `mode: hardlink`), by snapshots — and stopped: it stays off
   * (else each pass deleted another excess-worth of studies, to the last) until the volume shows
   * the space freed after all (a file system that frees later), max_usage_percent changes, or
   * the server restarts.
   */
  private usageStalled: { percent: number; usedAtStart: number; deleted: number; freed: number } | null = null;

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
        if (r.skipped) return { completed: 0, message: 'another retention pass was running; this one ended at once' };
        return { completed: r.studies, message: `${r.studies} studies (${r.instances} instances, ${r.bytes} bytes) deleted` };
      },
    };
  }

  /**
   * One pass of every rule; stops early when `signal` aborts (the server stops). At most one
   * pass runs on the index at a time, whatever started it (the interval's job, a manual run, a
   * run whose lease was lost and that has not noticed yet, another server): a pass that finds
   * one under way ends at once, deleting nothing.
   */
  async run(signal?: AbortSignal): Promise<RetentionOutcome> {
    const pass = await this.deps.index.retention.exclusivePass((lost) => this.pass(signal ? AbortSignal.any([signal, lost]) : lost));
    if (pass.ran) return pass.value;
    this.deps.logger.info('another retention pass is running (on this server or another sharing the index): this one ends at once');
    return { studies: 0, instances: 0, bytes: 0, skipped: true };
  }

  private async pass(signal: AbortSignal): Promise<RetentionOutcome> {
    const s = this.deps.settings();
    const out: RetentionOutcome = { studies: 0, instances: 0, bytes: 0 };
    const includeProtected = !s.keepProtected;
    // Never a study received less than min_age_hours ago, whatever the rule (nor one whose
    // stability is pending: RetentionStore.oldest leaves those out).
    const youngest = Date.now() - s.minAgeHours * 3_600_000;
    const eligible = { receivedBefore: new Date(youngest), includeProtected };
    if (s.maxAgeDays > 0) {
      const before = new Date(Math.min(youngest, Date.now() - s.maxAgeDays * 86_400_000));
      const why = `received more than ${s.maxAgeDays} days ago (retention.max_age_days)`;
      await this.deleteWhile(out, signal, () => Promise.resolve(why), { receivedBefore: before, includeProtected }, false);
    }
    // The size rules measure again before each study, never count down a figure taken at the
    // start: whatever else deletes or stores meanwhile (a user's delete, a store) counts too.
    if (s.maxBytes > 0) {
      const over = async (): Promise<string | null> => {
        const bytes = (await this.deps.index.statistics()).bytes;
        return bytes > s.maxBytes ? `the archive holds ${bytes} bytes, above retention.max_bytes (${s.maxBytes})` : null;
      };
      await this.deleteWhile(out, signal, over, eligible, true);
    }
    if (s.maxUsagePercent > 0 && !signal.aborted) await this.byUsage(out, signal, s, eligible);
    if (out.studies) this.deps.logger.info({ event: 'retention', ...out }, 'retention pass done');
    return out;
  }

  /**
   * The usage rule. The volume holds more than the archive (other data, the index, caches): when
   * its excess is more than all the studies retention may delete hold, deleting them would not
   * meet the rule, only empty the archive — pass after pass. Then nothing is deleted by usage
   * (an error names the figures) and the rule waits for an administrator. Checked at the start
   * and again before each study, against what is left of those studies.
   */
  private async byUsage(out: RetentionOutcome, signal: AbortSignal, s: RetentionSettings, eligible: { receivedBefore: Date; includeProtected: boolean }): Promise<void> {
    const stalled = this.usageStalled;
    const usedNow = async (): Promise<number> => {
      const d = await this.deps.diskUsage();
      return d.totalBytes - d.freeBytes;
    };
    if (stalled && stalled.percent === s.maxUsagePercent && (await usedNow()) > stalled.usedAtStart - stalled.deleted / 2) {
      this.deps.logger.error({ rule: 'retention.max_usage_percent', deletedBytes: stalled.deleted, freedBytes: stalled.freed }, 'retention: the usage rule is off: deleting studies freed almost nothing on the volume (hard links, snapshots?); it resumes once the volume shows the space freed, max_usage_percent changes, or the server restarts');
      return;
    }
    this.usageStalled = null;
    const available = await this.deps.index.retention.eligible(eligible);
    const bytesBefore = out.bytes;
    const start = await this.deps.diskUsage();
    const usedAtStart = start.totalBytes - start.freeBytes;
    // No more than the excess measured at the start is deleted in one pass, whatever the
    // volume says meanwhile: a volume whose usage does not fall as files go was emptied.
    const budget = usedAtStart - (start.totalBytes * s.maxUsagePercent) / 100;
    if (budget <= 0) return;
    const over = async (): Promise<string | null> => {
      const d = await this.deps.diskUsage();
      const used = d.totalBytes - d.freeBytes;
      const excess = used - (d.totalBytes * s.maxUsagePercent) / 100;
      if (excess <= 0) return null;
      if (out.bytes - bytesBefore >= budget) return null;
      const left = available.bytes - (out.bytes - bytesBefore);
      if (excess > left) {
        this.deps.logger.error(
          { rule: 'retention.max_usage_percent', totalBytes: d.totalBytes, usedBytes: used, excessBytes: Math.ceil(excess), eligibleBytes: left, eligibleStudies: available.studies },
          `retention: the volume is ${Math.ceil(excess)} bytes above max_usage_percent (${s.maxUsagePercent}%), more than the ${left} bytes of the studies retention may delete (unprotected, received over min_age_hours ago, stable); nothing is deleted by usage`,
        );
        return null;
      }
      return `the volume is ${((used / d.totalBytes) * 100).toFixed(1)}% full, above retention.max_usage_percent (${s.maxUsagePercent}%)`;
    };
    await this.deleteWhile(out, signal, over, eligible, true);
    const deleted = out.bytes - bytesBefore;
    if (deleted <= 0) return;
    const end = await this.deps.diskUsage();
    const freed = usedAtStart - (end.totalBytes - end.freeBytes);
    if (freed * 2 < deleted) {
      this.usageStalled = { percent: s.maxUsagePercent, usedAtStart, deleted, freed };
      this.deps.logger.error(
        { rule: 'retention.max_usage_percent', deletedBytes: deleted, freedBytes: freed },
        `retention: ${deleted} bytes of studies deleted for max_usage_percent freed ${freed} bytes on the volume (files held by hard links or snapshots?): the usage rule is off until the volume shows the space freed, max_usage_percent changes, or the server restarts`,
      );
    }
  }

  /**
   * Deletes the oldest studies one by one while `over()` gives a reason (the rule not met, as
   * measured now). A study that cannot be deleted is skipped; when a batch frees nothing, the
   * pass ends (nothing left to delete but protected studies: logged for a size rule, since the
   * rule cannot be met).
   */
  private async deleteWhile(
    out: RetentionOutcome,
    signal: AbortSignal,
    over: () => Promise<string | null>,
    select: { receivedBefore?: Date; includeProtected: boolean },
    sizeRule: boolean,
  ): Promise<void> {
    const skipped = new Set<string>();
    let why = await over();
    for (;;) {
      if (why === null || signal.aborted) return;
      const batch = (await this.deps.index.retention.oldest({ ...select, limit: BATCH + skipped.size })).filter((c) => !skipped.has(c.studyInstanceUID));
      if (!batch.length) {
        if (sizeRule) this.deps.logger.warn({ rule: why }, 'retention: nothing left it may delete (only protected, recent or not yet stable studies); the rule is not met');
        return;
      }
      for (const c of batch) {
        // Measured right before each study: the batch was chosen a while ago.
        why = await over();
        if (why === null || signal.aborted) return;
        const freed = await this.deleteStudy(c, select.includeProtected, why, signal);
        if (freed === null) skipped.add(c.studyInstanceUID);
        else {
          out.studies++;
          out.instances += freed.instances;
          out.bytes += freed.bytes;
        }
      }
      why = await over();
    }
  }

  private async deleteStudy(c: RetentionCandidate, includeProtected: boolean, why: string, signal: AbortSignal): Promise<{ instances: number; bytes: number } | null> {
    const { index, objects, derived, exclusive, logger } = this.deps;
    try {
      // The candidates were chosen a batch ago, and deleting a batch can take minutes: a study
      // protected since, or that received an instance since, is no longer one.
      const [study, isProtected] = await Promise.all([index.findStudy(c.studyInstanceUID), index.retention.isProtected(c.studyInstanceUID)]);
      if (!study || (isProtected && !includeProtected) || study.lastReceivedAt.getTime() !== c.lastReceivedAt.getTime()) return null;
      // A forward or export of it still to run (its destination down longer than min_age_hours):
      // deleted now, it would never reach the lab. It goes once those jobs have ended.
      const waiting = await index.jobs.activeNaming(c.studyInstanceUID);
      if (waiting) {
        logger.info({ studyInstanceUID: c.studyInstanceUID, jobs: waiting }, 'retention leaves a study whose queued jobs (a forward, an export) have not run yet');
        return null;
      }
      const instances = await selectInstances(index, 'STUDY_ROOT', 'STUDY', [{ keyword: 'StudyInstanceUID', value: c.studyInstanceUID }]);
      // That check is only a shortcut: each instance's row goes only while the study is still
      // unprotected and received no instance since it was chosen, checked in the delete's own
      // transaction; the first change stops the study there, its other instances kept.
      const guard = { studyInstanceUID: c.studyInstanceUID, lastReceivedAt: c.lastReceivedAt, includeProtected };
      // A failure part-way still logs, audits and counts what was deleted before it.
      const r = await deleteInstances({ index, objects, derived, logger, exclusive }, instances, { signal, guard }).catch((e: unknown) => {
        const partial = partialDelete(e);
        if (!partial?.instances) throw e;
        logger.warn({ err: e, studyInstanceUID: c.studyInstanceUID, deletedInstances: partial.instances }, 'retention could not delete all of a study');
        return partial;
      });
      if (r.stopped === 'changed') logger.warn({ studyInstanceUID: c.studyInstanceUID, deletedInstances: r.instances }, 'retention: the study was protected or received an instance while it was being deleted; the rest of it is kept');
      if (r.stopped === 'aborted') logger.info({ studyInstanceUID: c.studyInstanceUID, deletedInstances: r.instances }, 'retention stopped while deleting a study');
      if (!r.instances) return null;
      logger.info({ event: 'retention', studyInstanceUID: c.studyInstanceUID, instances: r.instances, bytes: r.bytes, partly: r.stopped !== undefined, lastReceivedAt: c.lastReceivedAt.toISOString(), reason: why }, 'retention deleted a study');
      this.deps.events.emit('audit', { action: 'delete', outcome: 'success', who: 'retention', from: null, what: { studyInstanceUID: c.studyInstanceUID, instances: r.instances, bytes: r.bytes, reason: why } });
      return r;
    } catch (e) {
      logger.warn({ err: e, studyInstanceUID: c.studyInstanceUID }, 'retention could not delete a study');
      return null;
    }
  }
}
