// What the status page shows about the recent past: instances received per second over the
// last minutes, the latest stores, the latest failures and associations. Fed by events after
// commit; kept in memory (this server's view; the index holds the durable record).
import type { EventBus } from '../core/events.js';

export interface RecentStore {
  at: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  patientName: string | null;
  modality: string | null;
  callingAE: string | null;
  source: string;
  size: number;
}

export interface RecentError {
  at: string;
  kind: 'store' | 'association';
  message: string;
  sopInstanceUID?: string;
  callingAE?: string | null;
}

export interface RecentAssociation {
  at: string;
  callingAE: string;
  calledAE: string;
  remoteAddress: string;
  outcome: string;
  instances: number;
  failures: number;
  bytesIn: number;
  durationMs: number;
}

export interface ThroughputSample {
  /** Start of the second (ms since the epoch). */
  t: number;
  instances: number;
  bytes: number;
}

const KEEP = 50;
const WINDOW_S = 300;

export class ActivityMonitor {
  readonly startedAt = new Date();
  private readonly stores: RecentStore[] = [];
  private readonly errors: RecentError[] = [];
  private readonly associations: RecentAssociation[] = [];
  private readonly buckets = new Map<number, ThroughputSample>();
  totals = { instances: 0, bytes: 0, failures: 0, associations: 0 };

  constructor(events: EventBus) {
    events.on('instance.stored', ({ record }) => {
      this.totals.instances++;
      this.totals.bytes += record.file.size;
      const t = Math.floor(Date.now() / 1000) * 1000;
      const b = this.buckets.get(t) ?? { t, instances: 0, bytes: 0 };
      b.instances++;
      b.bytes += record.file.size;
      this.buckets.set(t, b);
      if (this.buckets.size > WINDOW_S + 10) for (const k of this.buckets.keys()) if (k < t - WINDOW_S * 1000) this.buckets.delete(k);
      push(this.stores, {
        at: new Date().toISOString(),
        sopInstanceUID: record.instance.SOPInstanceUID,
        studyInstanceUID: record.study.StudyInstanceUID,
        patientName: record.patient.PatientName,
        modality: record.series.Modality,
        callingAE: record.provenance.callingAE,
        source: record.provenance.source,
        size: record.file.size,
      });
    });
    events.on('instance.failed', (f) => {
      if (f.code === 'ABORTED') return; // the association's own line reports it
      this.totals.failures++;
      push(this.errors, { at: new Date().toISOString(), kind: 'store', message: `${f.code}: ${f.message}`, sopInstanceUID: f.sopInstanceUID, callingAE: f.provenance.callingAE });
    });
    events.on('association.closed', (a) => {
      this.totals.associations++;
      push(this.associations, { at: new Date().toISOString(), ...a });
      if (a.outcome !== 'released' || a.failures > 0)
        push(this.errors, { at: new Date().toISOString(), kind: 'association', message: `${a.outcome}${a.lastError ? `: ${a.lastError}` : ''}`, callingAE: a.callingAE });
    });
  }

  /** Per-second counts for the last `seconds` (oldest first; seconds without stores are zeros). */
  throughput(seconds = 60): ThroughputSample[] {
    const now = Math.floor(Date.now() / 1000) * 1000;
    const out: ThroughputSample[] = [];
    for (let t = now - (Math.min(seconds, WINDOW_S) - 1) * 1000; t <= now; t += 1000) out.push(this.buckets.get(t) ?? { t, instances: 0, bytes: 0 });
    return out;
  }

  recentStores(): RecentStore[] {
    return [...this.stores].reverse();
  }

  recentErrors(): RecentError[] {
    return [...this.errors].reverse();
  }

  recentAssociations(): RecentAssociation[] {
    return [...this.associations].reverse();
  }
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP) list.shift();
}
