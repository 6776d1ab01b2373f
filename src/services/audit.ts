// The audit trail: who did what to which study, as JSON lines in its own file (IHE ATNA in
// spirit: stores, queries, retrieves, deletions, exports, failed logins and refused access).
// Stores are summed per study and sender and written when the sender's association closes
// (or within a few seconds for STOW-RS and uploads), not one line per image.
import fs from 'node:fs';
import path from 'node:path';
import type { AuditEntry, EventBus } from '../core/events.js';
import { PacsError, errorMessage } from '../core/errors.js';
import type { Job, JobOutcome } from '../index/jobs.js';

const FLUSH_MS = 5_000;
/**
 * A DICOM sender's stores are summed until its association closes, or for this long at most: a
 * modality that holds its association for hours went unaudited that long, and a crash lost the
 * lines of instances already acknowledged.
 */
const DIMSE_FLUSH_MS = 60_000;

interface StoreGroup {
  who: string | null;
  from: string | null;
  source: string;
  study: string;
  patient: string;
  instances: number;
  bytes: number;
  /** When the group's first instance was stored. */
  since: number;
}

export class AuditTrail {
  private out: fs.WriteStream;
  /** The file failed (a full disk, removed): lines are counted, not written, until reopen(). */
  private broken = false;
  private lost = 0;
  private readonly stores = new Map<string, StoreGroup>();
  private readonly offs: (() => void)[] = [];
  private readonly timer: NodeJS.Timeout;

  /**
   * `file` is checked at once (a configuration error naming logging.audit_file); a failure later
   * goes to `onError`, once until reopen(): an unhandled error of the stream ended the process —
   * every association and request dropped by a full disk under the audit file.
   */
  constructor(
    events: EventBus,
    private readonly file: string,
    private readonly onError: (e: unknown, lost: number) => void = () => undefined,
    timing: { flushMs?: number; dimseFlushMs?: number } = {},
  ) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.closeSync(fs.openSync(file, 'a'));
    } catch (e) {
      throw new PacsError('CONFIG_INVALID', `logging.audit_file: cannot write ${file}: ${errorMessage(e)}`, { cause: e });
    }
    this.out = this.open();
    this.offs.push(
      events.on('audit', (e) => this.write(e)),
      events.on('instance.stored', ({ record }) => {
        const p = record.provenance;
        // The sender: its AE title over DICOM, the web user over STOW-RS and uploads.
        const who = p.callingAE ?? p.user ?? null;
        const key = `${p.source}|${who ?? ''}|${p.remoteAddress ?? ''}|${record.study.StudyInstanceUID}`;
        const g = this.stores.get(key) ?? { who, from: p.remoteAddress, source: p.source, study: record.study.StudyInstanceUID, patient: record.patient.PatientID, instances: 0, bytes: 0, since: Date.now() };
        g.instances++;
        g.bytes += record.file.size;
        this.stores.set(key, g);
      }),
      events.on('instance.failed', (f) => {
        if (f.code !== 'ABORTED')
          this.write({ action: 'store', outcome: 'failure', who: f.provenance.callingAE ?? f.provenance.user ?? null, from: f.provenance.remoteAddress, what: { sopInstanceUID: f.sopInstanceUID, code: f.code, reason: f.message } });
      }),
      events.on('association.closed', (a) => {
        this.flush((g) => g.source === 'dimse' && g.who === a.callingAE && g.from === a.remoteAddress);
        if (a.outcome === 'rejected') this.write({ action: 'access-denied', outcome: 'failure', who: a.callingAE, from: a.remoteAddress, what: { association: 'rejected', ...(a.rejectedBecause ? { reason: a.rejectedBecause } : {}) } });
      }),
    );
    const dimseFlushMs = timing.dimseFlushMs ?? DIMSE_FLUSH_MS;
    this.timer = setInterval(() => this.flush((g) => g.source !== 'dimse' || Date.now() - g.since >= dimseFlushMs), timing.flushMs ?? FLUSH_MS);
    this.timer.unref();
  }

  private open(): fs.WriteStream {
    const out = fs.createWriteStream(this.file, { flags: 'a' });
    out.on('error', (e) => {
      if (out !== this.out || this.broken) return;
      this.broken = true;
      this.onError(e, this.lost);
    });
    return out;
  }

  private write(e: AuditEntry): void {
    if (this.broken) {
      this.lost++;
      return;
    }
    this.out.write(line(e));
  }

  /**
   * Opens the file again by its name (SIGHUP, after logrotate renamed it, or once a full disk
   * has room): lines went on into the renamed file, or were lost, until a restart.
   */
  reopen(): void {
    const old = this.out;
    const lost = this.lost;
    this.out = this.open();
    this.broken = false;
    this.lost = 0;
    // The count is kept until its line is written: a disk still full loses no count.
    if (lost)
      this.out.write(line({ action: 'audit-lost', outcome: 'failure', who: null, from: null, what: { lines: lost, file: this.file } }), (e) => {
        if (e) this.lost += lost;
      });
    old.end();
  }

  private flush(which: (g: StoreGroup) => boolean): void {
    for (const [key, g] of this.stores) {
      if (!which(g)) continue;
      this.stores.delete(key);
      this.write({ action: 'store', outcome: 'success', who: g.who, from: g.from, what: { source: g.source, study: g.study, patient: g.patient, instances: g.instances, bytes: g.bytes } });
    }
  }

  /** Writes what is pending and closes the file. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.flush(() => true);
    for (const off of this.offs) off();
    await new Promise<void>((resolve) => this.out.end(() => resolve()));
  }
}

/** An entry as its line in the file: JSON, with the time it is written. */
const line = (e: AuditEntry): string => `${JSON.stringify({ time: new Date().toISOString(), ...e })}\n`;

/** Job types that carry patient data out of the archive, and where each says it goes. */
const OUTBOUND: Readonly<Record<string, (p: Record<string, unknown>) => unknown>> = {
  send: (p) => p.destination,
  export: (p) => p.to,
  command: (p) => (Array.isArray(p.argv) ? p.argv[0] : undefined),
  stow: (p) => p.server,
  'mpps-forward': (p) => p.node,
};

/** The audit line of one attempt of a job that sends patient data out; null for other jobs. */
export function outboundAudit(job: Pick<Job, 'id' | 'type' | 'payload'>, outcome: JobOutcome): AuditEntry | null {
  const to = OUTBOUND[job.type];
  if (!to) return null;
  const progress = outcome.progress ?? {};
  // Canceled or withdrawn before anything went out: nothing to record.
  if (outcome.state === 'canceled' && !progress.completed && !progress.failed) return null;
  const p = job.payload;
  const uids = Array.isArray(p.uids) ? (p.uids as unknown[]).slice(0, 20) : p.uid !== undefined ? [p.uid] : undefined;
  return {
    action: 'export',
    outcome: outcome.state === 'succeeded' ? 'success' : 'failure',
    who: typeof p.rule === 'string' ? `rule:${p.rule}` : null,
    from: null,
    what: {
      job: job.id,
      type: job.type,
      to: to(p) ?? null,
      ...(p.level !== undefined ? { level: p.level } : {}),
      ...(uids ? { uids } : {}),
      deidentified: p.deidentify !== undefined && p.deidentify !== null,
      state: outcome.state,
      ...(progress.completed !== undefined ? { completed: progress.completed } : {}),
      ...(progress.failed !== undefined ? { failed: progress.failed } : {}),
      ...(outcome.error ? { error: outcome.error } : {}),
    },
  };
}
