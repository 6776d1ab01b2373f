// The rules "on: instance.received", made durable (issue 6): instead of acting on the in-memory
// `instance.stored` event (lost when the process dies between the index commit and the
// queueing), a follower reads the index's change log after a cursor kept in the index, applies
// the rules to each stored or replaced instance, and only then advances the cursor. A crash in
// between applies them again after the restart; the jobs' dedupe keys (rule, action, instance,
// change seq) make that queue nothing new. Several servers sharing one index share the cursor:
// both may apply the same stretch (again harmless), and the cursor never moves back.
//
// The follower looks when it starts (what a crash left undone is queued at once), every
// `check_interval`, and shortly after this server stores an instance (wake(): a hint only, the
// log is the truth; another server's stores are seen at the next look). "Shortly": a burst of
// stores makes one look per WAKE_DELAY_MS, each a batch, rather than three more transactions per
// instance (read the cursor, read the log, advance).
// With no rule on instance.received, the cursor just moves to the end of the log: a rule added
// later acts on what is received from then on, not on the archive's history.
import { errorMessage, isPacsError } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import type { CursorStore, FollowedChange } from '../index/cursors.js';
import { PermanentJobError } from './jobs.js';
import type { RuleSubject } from './rules.js';

/** The cursor's name in the index (migration 10 makes it). */
export const RECEIVED_CURSOR = 'instance.received';
const BATCH = 200;
const WAKE_DELAY_MS = 100;

export interface ReceivedRulesDeps {
  cursors: CursorStore;
  /** Queues the actions of the matching rules (RuleEngine.apply); throws when it cannot. */
  apply: (subject: RuleSubject) => Promise<unknown>;
  /** Whether any enabled rule is on instance.received (read at each look: reloads apply). */
  active: () => boolean;
  intervalSeconds: () => number;
  logger: Logger;
  /** Changes read per batch (tests make it small). */
  batch?: number;
}

/** Why rules on received instances wait, for the status page: the log says it once, hours ago. */
export interface RulesHeldBack {
  since: string;
  /** The change log position of the instance they wait on; null when the index failed. */
  seq: number | null;
  sopInstanceUID: string | null;
  reason: string;
}

export class ReceivedRules {
  private timer: NodeJS.Timeout | null = null;
  private wakeTimer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  /** What failed last (a change's seq, or 'index'), so a failure is logged once, not at every look. */
  private failing: number | 'index' | null = null;
  private held: RulesHeldBack | null = null;

  constructor(private readonly deps: ReceivedRulesDeps) {}

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    const schedule = (ms: number): void => {
      this.timer = setTimeout(() => {
        void this.tick().finally(() => {
          if (!this.stopped) schedule(this.deps.intervalSeconds() * 1000);
        });
      }, ms);
      this.timer.unref();
    };
    schedule(0);
  }

  /** Stops looking and waits for the batch under way (its progress is recorded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.timer = this.wakeTimer = null;
    await this.running;
  }

  /**
   * An instance was stored here: look shortly rather than at the next interval. Ignored while a
   * failure is unresolved (the interval retries it) and when no rule is on instance.received.
   */
  wake(): void {
    if (this.stopped || this.wakeTimer || this.failing !== null || !this.deps.active()) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = null;
      void this.tick();
    }, Math.min(WAKE_DELAY_MS, this.deps.intervalSeconds() * 1000));
    this.wakeTimer.unref();
  }

  /** One look (or, when one is under way, one more right after it, so no wake-up is lost). */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.look();
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = null));
    return this.running;
  }

  private async look(): Promise<void> {
    const { cursors } = this.deps;
    const size = this.deps.batch ?? BATCH;
    try {
      if (!this.deps.active()) {
        await cursors.advanceToEnd(RECEIVED_CURSOR);
        return this.recovered();
      }
      let from = await cursors.position(RECEIVED_CURSOR);
      for (;;) {
        const changes = await cursors.changesAfter(from, size);
        const { done, complete } = await this.applyAll(changes);
        // Recorded even after a failure: the changes before it are done.
        if (done > from) from = await cursors.advance(RECEIVED_CURSOR, done);
        if (!complete) return; // a failure (already logged) or a stop
        if (changes.length < size) break;
      }
      this.recovered();
    } catch (e) {
      this.failed('index', e);
    }
  }

  /**
   * Applies the rules to each change in order, up to the first that fails or a stop. Returns the
   * seq of the last change done (0 for none) and whether every change was.
   */
  private async applyAll(changes: readonly FollowedChange[]): Promise<{ done: number; complete: boolean }> {
    let done = 0;
    for (const change of changes) {
      if (this.stopped) return { done, complete: false };
      try {
        await this.applyOne(change);
      } catch (e) {
        // The stored file cannot be parsed any more, or a job cannot be made (no handler for its
        // type): waiting will not mend either, and holding back every later instance's rules
        // for it would be worse. Anything else (the index or the storage unavailable) is tried
        // again at the next look, from this change.
        if (!isPacsError(e, 'DICOM_PARSE') && !(e instanceof PermanentJobError)) {
          this.failed(change.seq, e, { sopInstanceUID: change.sopInstanceUID });
          return { done, complete: false };
        }
        this.deps.logger.error({ err: e, sopInstanceUID: change.sopInstanceUID, seq: change.seq }, 'rules on a received instance cannot be applied; they are skipped');
      }
      done = change.seq;
    }
    return { done, complete: true };
  }

  private async applyOne(c: FollowedChange): Promise<void> {
    // Deleted since (nothing to act on), or a rebuilt index's row (not new data), as the stable rules.
    if (c.kind === 'instance.deleted' || c.source === null || c.source.source === 'reindex') return;
    const { callingAE, calledAE, remoteAddress } = c.source;
    await this.deps.apply({
      event: 'instance.received',
      level: 'IMAGE',
      uid: c.sopInstanceUID,
      studyUID: c.studyUID,
      seq: c.seq,
      sopInstanceUID: c.sopInstanceUID,
      source: { callingAE, calledAE, remoteAddress },
    });
  }

  /** What the rules on received instances wait for, or null when they are running. */
  heldBack(): RulesHeldBack | null {
    return this.held;
  }

  private failed(what: number | 'index', e: unknown, about: { sopInstanceUID?: string } = {}): void {
    if (this.failing === what) return;
    this.failing = what;
    this.held = { since: new Date().toISOString(), seq: what === 'index' ? null : what, sopInstanceUID: about.sopInstanceUID ?? null, reason: errorMessage(e) };
    // The instance is named: one whose file is gone holds the rules back until the file is
    // back or the instance is deleted.
    this.deps.logger.error({ err: e, ...(what === 'index' ? {} : { seq: what }), ...about }, `rules on received instances are held back: ${errorMessage(e)}; trying again every ${this.deps.intervalSeconds()} s`);
  }

  private recovered(): void {
    if (this.failing === null) return;
    this.failing = null;
    this.held = null;
    this.deps.logger.info('rules on received instances are running again');
  }
}
