// Stable series and studies: a timer reads what was stored since its last look (from the
// index's change log) and, once a series or study has received nothing for `stable_after`
// seconds, hands it to the listeners (the rules, which enqueue durable jobs) and only then
// records the event as given. A crash in between gives the event again after the restart;
// the rules' job dedupe keys make that harmless. Series are handed over before their study.
import type { StabilityEntry, StabilityStore } from '../index/stability.js';
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logging.js';

export interface StabilitySettings {
  stableAfterSeconds: number;
  checkIntervalSeconds: number;
}

export type StableListener = (entry: StabilityEntry) => Promise<void>;

/** Whether the series or study is still in the index. */
export type StillThere = (entry: StabilityEntry) => Promise<boolean>;

const BATCH = 500;
/** A listener that failed is tried again after this long (not at every tick). */
const RETRY_MS = 30_000;
/** Failing entries remembered at most (each is tried again after RETRY_MS anyway). */
const MAX_FAILING = 10_000;

export class StabilityService {
  private readonly listeners: StableListener[] = [];
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private readonly failedUntil = new Map<string, number>();
  private stopped = false;

  constructor(
    private readonly store: StabilityStore,
    private readonly events: EventBus,
    private readonly settings: () => StabilitySettings,
    private readonly logger: Logger,
    private readonly stillThere: StillThere = async () => true,
  ) {}

  /** Listeners run in order and are awaited before the event is recorded as given. */
  onStable(listener: StableListener): void {
    this.listeners.push(listener);
  }

  start(): void {
    if (this.timer) return;
    this.stopped = false;
    const schedule = (): void => {
      this.timer = setTimeout(() => {
        void this.tick().finally(() => {
          if (this.timer) schedule();
        });
      }, this.settings().checkIntervalSeconds * 1000);
      this.timer.unref();
    };
    schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.ticking;
  }

  /** One look: catch up with the change log, then give the events that are due. */
  tick(now = new Date()): Promise<void> {
    this.ticking ??= this.run(now)
      .catch((e: unknown) => this.logger.error({ err: e }, 'stability check failed'))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async run(now: Date): Promise<void> {
    while ((await this.store.catchUp(BATCH)) === BATCH);
    const before = new Date(now.getTime() - this.settings().stableAfterSeconds * 1000);
    // Entries whose listener keeps failing (a study whose files are gone) stay due, oldest first:
    // read past them, or that many failing entries would hold every later one back for ever.
    for (const [key, until] of this.failedUntil) if (until <= now.getTime()) this.failedUntil.delete(key);
    for (const entry of await this.store.due(before, BATCH + this.failedUntil.size)) {
      if (this.stopped) return;
      const key = `${entry.level}:${entry.uid}:${entry.lastChangeSeq}`;
      if ((this.failedUntil.get(key) ?? 0) > now.getTime()) continue;
      // Deleted before it became stable (retention, by hand): nothing to act on, no event for
      // plugins about a study no query finds; recorded as given so it is not looked at again.
      if (!(await this.stillThere(entry))) {
        if (await this.store.markStable(entry.level, entry.uid, entry.lastChangeSeq, now)) this.logger.info({ level: entry.level, uid: entry.uid }, `${entry.level} deleted before it was stable: no event`);
        continue;
      }
      try {
        for (const l of this.listeners) await l(entry);
      } catch (e) {
        if (this.failedUntil.size < MAX_FAILING) this.failedUntil.set(key, now.getTime() + RETRY_MS);
        this.logger.error({ err: e, level: entry.level, uid: entry.uid }, `${entry.level} stable: a listener failed; trying again later`);
        continue;
      }
      this.failedUntil.delete(key);
      if (await this.store.markStable(entry.level, entry.uid, entry.lastChangeSeq, now)) {
        this.logger.info({ level: entry.level, uid: entry.uid, studyUID: entry.studyUID }, `${entry.level} stable`);
        this.events.emit(entry.level === 'study' ? 'study.stable' : 'series.stable', { entry });
      }
    }
  }
}
