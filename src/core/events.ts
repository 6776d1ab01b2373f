// A typed event bus. Events fire only after the change they announce is committed
// (ARCHITECTURE principle 4); listeners that do slow or remote work enqueue durable jobs.
import { EventEmitter } from 'node:events';
import type { InstanceRecord, Provenance, StoreOutcome } from '../index/types.js';
import type { StabilityEntry } from '../index/stability.js';

/** One entry of the audit trail (IHE ATNA in spirit): who did what to which patient or study. */
export interface AuditEntry {
  action: 'store' | 'query' | 'retrieve' | 'delete' | 'export' | 'login-failed' | 'access-denied' | 'http' | 'association' | 'audit-lost' | 'hl7';
  outcome: 'success' | 'failure';
  /** Calling AE title or HTTP user; null when anonymous. */
  who: string | null;
  /** Network address of the peer. */
  from: string | null;
  /** What was acted on: study UIDs, patient IDs, the query keys, the URL. */
  what: Record<string, unknown>;
}

export interface PacsEvents {
  /** Something the audit trail records (DICOM queries and retrieves, HTTP requests, refusals). */
  audit: AuditEntry;
  'instance.stored': { record: InstanceRecord; outcome: StoreOutcome['outcome']; changeSeq: number };
  /** An instance was received and committed: how long from its first byte to the commit, for metrics. */
  'instance.ingested': { durationMs: number; bytes: number; source: Provenance['source'] };
  /** A DIMSE request we served ended (its final response sent): for latency and status metrics. */
  'dimse.operation': { operation: string; status: 'success' | 'warning' | 'failure' | 'cancel'; ms: number };
  /** An instance was refused or lost (nothing of it is kept); for the status page and metrics. */
  'instance.failed': { sopInstanceUID: string; code: string; message: string; provenance: Provenance };
  /** No instance of the series (study) arrived for stability.stable_after seconds; its rules' jobs are queued. */
  'series.stable': { entry: StabilityEntry };
  'study.stable': { entry: StabilityEntry };
  'association.closed': {
    callingAE: string;
    calledAE: string;
    remoteAddress: string;
    outcome: string;
    instances: number;
    failures: number;
    lastError: string | null;
    /** Why the association was rejected, in words (outcome "rejected"). */
    rejectedBecause?: string;
    /** The rejection as a short label (calling-ae-not-recognized, local-limit-exceeded, …). */
    rejectReason?: string;
    /** The user named in User Identity Negotiation, once verified. */
    user?: string;
    /** DIMSE operations by name (C-STORE, C-FIND, …) on this association. */
    operations: Record<string, number>;
    bytesIn: number;
    bytesOut: number;
    durationMs: number;
  };
}

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  on<K extends keyof PacsEvents>(event: K, listener: (payload: PacsEvents[K]) => void): () => void {
    this.emitter.on(event, listener);
    return () => this.emitter.off(event, listener);
  }

  /** A throwing listener must not break the store that emitted: errors go to `onError`. */
  emit<K extends keyof PacsEvents>(event: K, payload: PacsEvents[K]): void {
    for (const l of this.emitter.listeners(event) as ((p: PacsEvents[K]) => void)[]) {
      try {
        l(payload);
      } catch (e) {
        this.onError(e, event);
      }
    }
  }

  onError: (e: unknown, event: string) => void = () => {};
}
