// MPPS forwarding (mpps.forward_to): each accepted N-CREATE or N-SET queues a durable job that
// brings the peer's copy of the step up to ours. The job does not replay the event but sends
// the step's state when it runs — N-CREATE as it began (IN PROGRESS), then N-SET with the
// rest — so jobs retried, run late or in parallel for one step still leave the peer with the
// latest state: an N-CREATE answered "duplicate" means it is there already, an N-SET answered
// "no longer updatable" means it is final there already.
import type { JsonDataset } from '../dicom/json.js';
import { SopClass } from '../dicom/uids.js';
import type { MppsStore } from '../index/workflow.js';
import type { JobService, JobHandler } from './jobs.js';
import { PermanentJobError } from './jobs.js';
import { FINAL_REQUIRED, FIXED, MppsStatus, type MppsService } from './mpps.js';
import { type NodeDirectory, reachOf } from './nodes.js';
import { connectWorkflow, mppsCreate, mppsSet } from './workflow-scu.js';
import { isWarning } from '../net/dimse/status.js';

export const MPPS_FORWARD = 'mpps-forward';

export interface MppsForwardPayload {
  node: string;
  uid: string;
}

/** The N-CREATE of a step: its attributes as they are, but IN PROGRESS and without an end (type 2: present, empty). */
export function createDataset(ds: JsonDataset): JsonDataset {
  const out = structuredClone(ds);
  out['00400252'] = { vr: 'CS', Value: ['IN PROGRESS'] };
  for (const k of FINAL_REQUIRED) out[k] = { vr: k === '00400250' ? 'DA' : 'TM' };
  return out;
}

/** The N-SET: everything an N-SET may change (PS3.4 table F.7.2-1). */
export function setDataset(ds: JsonDataset): JsonDataset {
  return Object.fromEntries(Object.entries(ds).filter(([k]) => !FIXED.includes(k)));
}

/** Error ID (0000,0903) of an N-SET on a step no longer IN PROGRESS (PS3.4 F.7.2.2). */
const MPPS_NOT_IN_PROGRESS = 0xa710;

/** Refusals that another try may not meet: the peer's trouble, not our request's. */
const passing = (status: number | undefined): boolean => status === MppsStatus.ProcessingFailure || status === 0x0213 || (status !== undefined && status >= 0xa700 && status <= 0xa7ff);

const hex = (n: number | undefined): string => `0x${(n ?? 0xffff).toString(16).padStart(4, '0')}`;

export function mppsForwardHandler(deps: { mpps: MppsStore; nodes: NodeDirectory; aeTitle: () => string }): JobHandler {
  return {
    async run(ctx) {
      const { node: ae, uid } = ctx.job.payload as unknown as MppsForwardPayload;
      const node = await deps.nodes.find(ae);
      if (!node) throw new PermanentJobError(`${ae} is not a known node`);
      const step = await deps.mpps.get(uid);
      if (!step) throw new PermanentJobError(`no MPPS ${uid}`);
      const scu = await connectWorkflow({ ...reachOf(node), callingAETitle: deps.aeTitle() }, [SopClass.ModalityPerformedProcedureStep], { signal: ctx.signal });
      try {
        const created = await mppsCreate(scu, uid, createDataset(step.dataset));
        // A warning (0x0107 attribute list error, 0x0116 value out of range: PS3.7 C.4) is a step
        // created all the same: its N-SET follows.
        const createdStatus = created.Status ?? 0xffff;
        if (createdStatus !== MppsStatus.Success && createdStatus !== MppsStatus.DuplicateSOPInstance && !isWarning(createdStatus)) {
          const why = `${ae} refused the N-CREATE: ${hex(created.Status)} ${created.ErrorComment ?? ''}`.trim();
          // A processing failure, a resource limitation (0x0213) or running out of resources
          // (0xA7xx) is the peer's passing trouble (retried); anything else says our request is wrong there.
          throw passing(created.Status) ? new Error(why) : new PermanentJobError(why);
        }
        const set = await mppsSet(scu, uid, setDataset(step.dataset));
        // 0x0110 with Error ID 0xA710 (PS3.4 F.7.2.2): the step is final there already, from an
        // earlier run of this job. Any other failure, 0x0110 without it included, is retried.
        const finalThere = set.Status === MppsStatus.ProcessingFailure && set.ErrorID === MPPS_NOT_IN_PROGRESS;
        if (set.Status !== MppsStatus.Success && !finalThere && !isWarning(set.Status ?? 0xffff)) {
          const why = `${ae} refused the N-SET: ${hex(set.Status)} ${set.ErrorComment ?? ''}`.trim();
          // An attribute it does not take (0x0105, 0x0106) is refused again at every try.
          throw set.Status === MppsStatus.NoSuchAttribute || set.Status === MppsStatus.InvalidAttributeValue ? new PermanentJobError(why) : new Error(why);
        }
      } finally {
        await scu.release().catch(() => scu.abort());
      }
      return { total: 1, completed: 1, message: `${step.status} sent to ${ae}` };
    },
  };
}

/** Registers the job type and queues a job per forward_to node for each accepted N-CREATE / N-SET. */
export function enableMppsForwarding(mpps: MppsService, store: MppsStore, jobs: JobService, nodes: NodeDirectory, settings: { aeTitle: () => string; forwardTo: () => readonly string[] }): void {
  jobs.register(MPPS_FORWARD, mppsForwardHandler({ mpps: store, nodes, aeTitle: settings.aeTitle }), { prompt: true });
  mpps.onAccepted = async (uid) => {
    for (const node of settings.forwardTo()) await jobs.enqueue(MPPS_FORWARD, { node, uid } satisfies MppsForwardPayload);
  };
}
