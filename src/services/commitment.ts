// Storage Commitment Push Model, SCP side (PS3.4 Annex J): a request is a durable job from the
// moment it is accepted, so one accepted before a restart is answered after it. The job checks
// each referenced instance (indexed, of the class named, its file's SHA-256 what was recorded
// when it was stored), then sends the N-EVENT-REPORT on the requester's association if that is
// still open here, else on a new association to the requester as a known node, where we are
// the association requestor acting as SCP (SCP/SCU role selection, PS3.7 D.3.3.4).
import { createHash } from 'node:crypto';
import { SopClass, STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE, isStorageSopClass } from '../dicom/uids.js';
import type { JsonDataset } from '../dicom/json.js';
import { encodeJsonDataset } from '../dicom/json-encode.js';
import { CommandField } from '../net/dimse/command.js';
import { errorMessage } from '../core/errors.js';
import type { ArchiveIndex } from '../index/types.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { JobService, JobHandler } from './jobs.js';
import { PermanentJobError } from './jobs.js';
import { type NodeDirectory, reachOf } from './nodes.js';
import { connectWorkflow } from './workflow-scu.js';

export interface InstanceRef {
  sopClassUID: string;
  sopInstanceUID: string;
}

/** The payload of a "commitment" job: everything needed to answer, whatever happens meanwhile. */
export interface CommitmentPayload {
  transactionUID: string;
  /** The requester's AE title: where a report on a new association goes. */
  requester: string;
  instances: InstanceRef[];
}

/** The requester's association while it is open in this process. */
export interface ReportChannel {
  readonly open: boolean;
  /** Sends the N-EVENT-REPORT-RQ and resolves with the response's status. */
  send(eventTypeId: number, dataset: JsonDataset): Promise<number>;
  /** No report will go on it (sent, another request's channel took its place, or it closed). */
  done(): void;
}

/** Failure Reason (0008,1197) values of PS3.4 J.3.3.1.1. */
export const FailureReason = { ProcessingFailure: 0x0110, NoSuchObjectInstance: 0x0112, ClassInstanceConflict: 0x0119, ReferencedSOPClassNotSupported: 0x0122 } as const;

export const COMMITMENT_JOB = 'commitment';
/** Files verified side by side: enough to keep a disk and a core busy, few enough not to crowd stores. */
const VERIFY_AT_ONCE = 4;

export interface CommitmentDeps {
  index: ArchiveIndex;
  objects: ObjectStore;
  nodes: NodeDirectory;
  aeTitle: () => string;
}

/** Two requesters may use one Transaction UID: each report goes back on its own requester's association. */
const channelKey = (p: CommitmentPayload): string => `${p.requester}\\${p.transactionUID}`;

/** Whether a queued job asks for the same instances (a job just made always does: the loop in `accept` ends). */
const sameRequest = (queued: Record<string, unknown>, p: CommitmentPayload): boolean => {
  const key = (list: unknown): string => (Array.isArray(list) ? list.map((r: Partial<InstanceRef>) => `${r.sopClassUID}\\${r.sopInstanceUID}`).join('|') : '');
  return key(queued.instances) === key(p.instances);
};

const ref = (r: InstanceRef): JsonDataset => ({ '00081150': { vr: 'UI', Value: [r.sopClassUID] }, '00081155': { vr: 'UI', Value: [r.sopInstanceUID] } });

export class CommitmentService {
  private readonly channels = new Map<string, ReportChannel>();

  constructor(
    private readonly deps: CommitmentDeps,
    private readonly jobs: JobService,
  ) {
    jobs.register(COMMITMENT_JOB, this.handler(), { prompt: true });
  }

  /** Queues the request (durably) and remembers the association to answer on while it lasts. */
  async accept(payload: CommitmentPayload, channel: ReportChannel): Promise<void> {
    for (const [key, c] of this.channels) if (!c.open) this.drop(key);
    this.drop(channelKey(payload));
    this.channels.set(channelKey(payload), channel);
    // The same request twice while its job still waits (a requester that asks again after a crash
    // before our answer) is one job; asked again once its report is being sent, went out or failed
    // for good, it is a new job and a new report: a requester asks again when it got no report.
    const base = `commitment:${payload.requester}:${payload.transactionUID}`;
    let job = await this.jobs.enqueue(COMMITMENT_JOB, { ...payload }, { dedupeKey: base });
    // One still waiting after failed reports waits out a back-off (up to an hour) with what is
    // left of its attempts: the requester asking again is back, and waits on its association
    // for the report (J.3.3.1.3). That job is canceled and a new one, due now, made below.
    if (job.state === 'queued' && job.attempts > 0) job = (await this.jobs.cancel(job.id)) ?? job;
    while (job.state !== 'queued' || !sameRequest(job.payload, payload)) job = await this.jobs.enqueue(COMMITMENT_JOB, { ...payload }, { dedupeKey: `${base}#${job.id}` });
  }

  /** Forgets a request's association: its requester no longer waits on it for the report. */
  private drop(key: string): void {
    this.channels.get(key)?.done();
    this.channels.delete(key);
  }

  /**
   * Whether a report to this requester can go on a new association (it is a known node). If not,
   * only the association of its request can carry it: released before the report, it is lost.
   */
  async reachable(requester: string): Promise<boolean> {
    return (await this.deps.nodes.find(requester)) !== null;
  }

  /** Why an instance cannot be committed to, or null when it is safely kept. */
  async verify(r: InstanceRef): Promise<number | null> {
    // A class we never store (not a storage SOP class): we cannot take responsibility for it.
    if (!isStorageSopClass(r.sopClassUID)) return FailureReason.ReferencedSOPClassNotSupported;
    const loc = await this.deps.index.findInstance(r.sopInstanceUID);
    if (!loc) return FailureReason.NoSuchObjectInstance;
    if (loc.SOPClassUID !== r.sopClassUID) return FailureReason.ClassInstanceConflict;
    try {
      const hash = createHash('sha256');
      for await (const chunk of this.deps.objects.read(loc.path)) hash.update(chunk as Buffer);
      return hash.digest('hex') === loc.checksum ? null : FailureReason.ProcessingFailure;
    } catch {
      return FailureReason.ProcessingFailure;
    }
  }

  /**
   * The N-EVENT-REPORT's Event Type ID and dataset (PS3.4 J.3.3.1). Each file is read and hashed
   * whole, VERIFY_AT_ONCE at a time (an index look-up and a file's read overlap the others'
   * hashing); `signal` (the job canceled, the server stopping) is looked at between two groups,
   * so a request for thousands of instances stops when asked, and a canceled one sends no report.
   */
  async report(p: CommitmentPayload, signal?: AbortSignal): Promise<{ eventTypeId: number; dataset: JsonDataset; failed: number }> {
    const committed: InstanceRef[] = [];
    const failed: (InstanceRef & { reason: number })[] = [];
    for (let i = 0; i < p.instances.length; i += VERIFY_AT_ONCE) {
      signal?.throwIfAborted();
      const group = p.instances.slice(i, i + VERIFY_AT_ONCE);
      const reasons = await Promise.all(group.map((r) => this.verify(r)));
      group.forEach((r, k) => {
        const reason = reasons[k]!;
        if (reason === null) committed.push(r);
        else failed.push({ ...r, reason });
      });
    }
    const dataset: JsonDataset = {
      '00081195': { vr: 'UI', Value: [p.transactionUID] },
      '00080054': { vr: 'AE', Value: [this.deps.aeTitle()] },
    };
    if (committed.length) dataset['00081199'] = { vr: 'SQ', Value: committed.map(ref) };
    if (failed.length) dataset['00081198'] = { vr: 'SQ', Value: failed.map((f) => ({ ...ref(f), '00081197': { vr: 'US', Value: [f.reason] } })) };
    return { eventTypeId: failed.length ? 2 : 1, dataset, failed: failed.length };
  }

  private handler(): JobHandler {
    return {
      run: async ({ job, logger, progress, signal }) => {
        const p = job.payload as unknown as CommitmentPayload;
        if (!p.transactionUID || !Array.isArray(p.instances)) throw new PermanentJobError('not a storage commitment request');
        const { eventTypeId, dataset, failed } = await this.report(p, signal);
        signal.throwIfAborted();
        const summary = { total: p.instances.length, completed: p.instances.length - failed, failed };
        const channel = this.channels.get(channelKey(p));
        if (channel?.open) {
          try {
            const status = await channel.send(eventTypeId, dataset);
            if (status === 0) {
              this.drop(channelKey(p));
              return { ...summary, message: `reported to ${p.requester} on its association` };
            }
            logger.warn({ status }, 'the requester refused the report on its association; trying a new one');
          } catch (e) {
            logger.info({ error: errorMessage(e) }, 'the requester association is gone; reporting on a new one');
          }
        }
        this.drop(channelKey(p));
        progress({ ...summary, message: `connecting to ${p.requester}` });
        await this.reportOnNewAssociation(p.requester, eventTypeId, dataset, signal);
        return { ...summary, message: `reported to ${p.requester} on a new association` };
      },
    };
  }

  private async reportOnNewAssociation(requester: string, eventTypeId: number, dataset: JsonDataset, signal: AbortSignal): Promise<void> {
    const node = await this.deps.nodes.find(requester);
    if (!node) throw new PermanentJobError(`the requester ${requester} is not a known node: its report cannot be sent on a new association`);
    const sop = SopClass.StorageCommitmentPushModel;
    const scu = await connectWorkflow({ ...reachOf(node), callingAETitle: this.deps.aeTitle() }, [sop], {
      // We open the association but play the SOP class's SCP role (PS3.4 J.3.3, PS3.7 D.3.3.4).
      roleSelections: [{ sopClass: sop, scuRole: false, scpRole: true }],
      signal,
    });
    try {
      const ctx = scu.contextFor(sop);
      if (!ctx) throw new Error(`${requester} did not accept Storage Commitment Push Model`);
      const granted = scu.assoc.ac?.userInformation.roleSelections.find((r) => r.sopClass === sop);
      if (granted && !granted.scpRole) throw new Error(`${requester} refused us the SCP role for Storage Commitment`);
      const r = await scu.request(
        ctx.id,
        { CommandField: CommandField.N_EVENT_REPORT_RQ, AffectedSOPClassUID: sop, AffectedSOPInstanceUID: STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE, EventTypeID: eventTypeId },
        encodeJsonDataset(dataset, ctx.transferSyntax, null),
      );
      if (r.command.Status !== 0) throw new Error(`${requester} answered the report with status 0x${(r.command.Status ?? 0).toString(16)}`);
    } finally {
      await scu.release().catch(() => scu.abort());
    }
  }
}
