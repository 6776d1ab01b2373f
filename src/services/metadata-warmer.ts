// Prepares the WADO-RS metadata of each instance right after it is stored, one at a time in
// the background, so the first request for a series' metadata reads prepared texts instead of
// 300 files. Bounded: past QUEUE_LIMIT waiting instances (a large ingest), the rest are left
// to be made on first request, as before.
import type { EventBus } from '../core/events.js';
import type { Logger } from '../core/logging.js';
import type { InstanceLocation, InstanceRecord } from '../index/types.js';
import type { MetadataService } from './metadata.js';

const QUEUE_LIMIT = 20_000;

export function locationOf(r: InstanceRecord): InstanceLocation {
  return {
    SOPInstanceUID: r.instance.SOPInstanceUID,
    SOPClassUID: r.instance.SOPClassUID,
    SeriesInstanceUID: r.series.SeriesInstanceUID,
    StudyInstanceUID: r.study.StudyInstanceUID,
    PatientID: r.patient.PatientID,
    path: r.file.path,
    size: r.file.size,
    transferSyntaxUID: r.file.transferSyntaxUID,
    checksum: r.file.checksum,
    receivedAt: r.receivedAt,
  };
}

export class MetadataWarmer {
  private readonly queue: InstanceLocation[] = [];
  private running = false;
  private stopped = false;
  private readonly off: () => void;
  /** Instances prepared, and left for later because the queue was full (for tests and logs). */
  readonly counts = { prepared: 0, skipped: 0, failed: 0 };

  constructor(
    private readonly metadata: MetadataService,
    events: EventBus,
    private readonly logger: Logger,
  ) {
    this.off = events.on('instance.stored', ({ record }) => {
      if (this.queue.length >= QUEUE_LIMIT) {
        this.counts.skipped++;
        return;
      }
      this.queue.push(locationOf(record));
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (!this.stopped && this.queue.length) {
      const loc = this.queue.shift()!;
      try {
        await this.metadata.prepare(loc);
        this.counts.prepared++;
      } catch (e) {
        // The instance may be gone (deleted, replaced) already; it is made on request if needed.
        this.counts.failed++;
        this.logger.debug({ err: e, sopInstanceUID: loc.SOPInstanceUID }, 'metadata not prepared');
      }
    }
    this.running = false;
  }

  /** Whether nothing is waiting or being prepared. */
  get idle(): boolean {
    return !this.running && this.queue.length === 0;
  }

  stop(): void {
    this.stopped = true;
    this.off();
    this.queue.length = 0;
  }
}
