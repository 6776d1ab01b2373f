// The requester of Storage Commitment (PS3.4 J.3): sends the N-ACTION and waits for the
// N-EVENT-REPORT, which comes on the same association or, once that is released, on a new
// one the SCP opens to us: a small acceptor that takes only Storage Commitment, lets the peer
// be its SCP (role selection) and answers each report. `pacs commit` and the tests use it.
import type { Socket } from 'node:net';
import { DicomListener } from '../net/listener.js';
import { buildAssociateAC, type PresentationPolicy } from '../net/acse.js';
import type { AssociationUser } from '../net/association.js';
import type { RoleSelection } from '../net/pdu/types.js';
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass } from '../dicom/uids.js';
import { type CommitmentReport, type Peer, commitmentReportSink, connectWorkflow, requestCommitment } from '../services/workflow-scu.js';
import { newUid } from '../services/worklist.js';
import type { InstanceRef } from '../services/commitment.js';

const SOP = SopClass.StorageCommitmentPushModel;

/** Reports that reached us, and waiters for those still to come, by Transaction UID. */
class ReportBox {
  private readonly got = new Map<string, CommitmentReport>();
  private readonly waiting = new Map<string, (r: CommitmentReport) => void>();

  put(r: CommitmentReport): void {
    const w = this.waiting.get(r.transactionUID);
    if (w) {
      this.waiting.delete(r.transactionUID);
      w(r);
    } else this.got.set(r.transactionUID, r);
  }

  /** A report that came already, if any. */
  had(transactionUID: string): CommitmentReport | null {
    return this.got.get(transactionUID) ?? null;
  }

  wait(transactionUID: string, ms: number): Promise<CommitmentReport> {
    const had = this.got.get(transactionUID);
    if (had) return Promise.resolve(had);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(transactionUID);
        reject(new Error(`no storage commitment report for ${transactionUID} within ${ms / 1000} s`));
      }, ms);
      t.unref(); // the socket or listener we wait on keeps the process alive, not this timer
      this.waiting.set(transactionUID, (r) => {
        clearTimeout(t);
        resolve(r);
      });
    });
  }
}

/** Accepts associations from the SCP that bring reports (port 0: any free port). */
export class CommitmentReportListener {
  private listener: DicomListener | null = null;
  private readonly box = new ReportBox();
  /** Role selections the SCPs proposed, to check they asked to be SCP. */
  readonly proposedRoles: RoleSelection[] = [];

  constructor(private readonly options: { port: number; host?: string; maxPduLength?: number }) {}

  async start(): Promise<number> {
    const maxPduLength = this.options.maxPduLength ?? 262_144;
    const policy: PresentationPolicy = {
      transferSyntaxesFor: (sop) => (sop === SOP ? [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian] : null),
      preference: () => 'ours',
      roles: (p) => {
        this.proposedRoles.push(p);
        return p.sopClass === SOP ? { sopClass: SOP, scuRole: false, scpRole: p.scpRole } : null;
      },
    };
    const userFor = (_socket: Socket): AssociationUser => ({
      onAssociateRequest: (rq) => buildAssociateAC(rq, policy, { maxPduLength }),
      onCommand: (assoc, contextId, command) =>
        commitmentReportSink((c, cmd) => assoc.sendMessage(c, cmd), contextId, assoc.contexts.get(contextId)!.transferSyntax, command, assoc.callingAETitle, false, (r) => this.box.put(r)),
    });
    this.listener = new DicomListener({ host: this.options.host ?? '0.0.0.0', port: this.options.port, maxPduLength, timeouts: () => ({ artimMs: 30_000, idleMs: 60_000 }), userFor });
    return (await this.listener.start()).port;
  }

  wait(transactionUID: string, ms: number): Promise<CommitmentReport> {
    return this.box.wait(transactionUID, ms);
  }

  stop(): Promise<void> {
    return this.listener?.stop(1000) ?? Promise.resolve();
  }
}

export interface CommitOptions {
  /** Release at once and wait for the report on a new association (needs `listener`). */
  releaseAtOnce?: boolean;
  listener?: CommitmentReportListener;
  waitMs?: number;
  transactionUID?: string;
}

/**
 * Requests commitment for `instances` and resolves with the report. It waits on the request's
 * association, and on `listener` too when one is given (the SCP may use either).
 */
export async function requestAndWait(peer: Peer, instances: readonly InstanceRef[], o: CommitOptions = {}): Promise<{ status: number; comment?: string; report: CommitmentReport | null }> {
  const box = new ReportBox();
  const scu = await connectWorkflow(peer, [SOP], {
    roleSelections: [{ sopClass: SOP, scuRole: true, scpRole: false }],
    onRequest: (assoc, contextId, command) =>
      commitmentReportSink((c, cmd) => assoc.sendMessage(c, cmd), contextId, assoc.contexts.get(contextId)!.transferSyntax, command, peer.calledAETitle, true, (r) => box.put(r)),
  });
  const transactionUID = o.transactionUID ?? newUid();
  const waitMs = o.waitMs ?? 30_000;
  let released = false;
  try {
    const rsp = await requestCommitment(scu, transactionUID, instances);
    if (rsp.Status !== 0) return { status: rsp.Status ?? -1, ...(rsp.ErrorComment ? { comment: rsp.ErrorComment } : {}), report: null };
    if (o.releaseAtOnce) {
      await scu.release();
      released = true;
      // It may have come on this association while the release went out: we acknowledged it
      // (0x0000), so the SCP will not send it again.
      const early = box.had(transactionUID);
      if (early) return { status: 0, report: early };
    }
    const waits = [...(released ? [] : [box.wait(transactionUID, waitMs)]), ...(o.listener ? [o.listener.wait(transactionUID, waitMs)] : [])];
    if (!waits.length) throw new Error('released at once with nowhere to receive the report: give a listener');
    return { status: 0, report: await Promise.any(waits).catch((e: AggregateError) => Promise.reject(e.errors[0] as Error)) };
  } finally {
    if (!released) await scu.release().catch(() => scu.abort());
  }
}
