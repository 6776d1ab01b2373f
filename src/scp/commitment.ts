// Storage Commitment Push Model SOP Class, SCP role (PS3.4 Annex J): N-ACTION (Request
// Storage Commitment) is checked, queued durably, and answered at once; the N-EVENT-REPORT
// follows from the commitment job, on this association while it is open.
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass, STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE } from '../dicom/uids.js';
import { MAX_REQUEST_ITEMS, decodeJsonDataset, encodeJsonDataset, jsonElementText } from '../dicom/json-encode.js';
import type { JsonDataset } from '../dicom/json.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, type Command, hasDataset } from '../net/dimse/command.js';
import { errorComment } from '../net/dimse/status.js';
import { errorMessage, isPacsError } from '../core/errors.js';
import type { CommitmentService, InstanceRef, ReportChannel } from '../services/commitment.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';

/** N-ACTION statuses of PS3.7 table 10.3.4-2 used here. */
const NActionStatus = { Success: 0x0000, ProcessingFailure: 0x0110, NoSuchSOPInstance: 0x0112, InvalidArgumentValue: 0x0115, NoSuchActionType: 0x0123, ResourceLimitation: 0x0213 } as const;
const SOP = SopClass.StorageCommitmentPushModel;
const MAX_DATASET = 16 * 1024 * 1024;
/**
 * How long a requester waiting on its association for the report keeps it from being closed as
 * idle, at most: the report's job may run on another server sharing the index, which reports on
 * a new association and never says so here.
 */
const REPORT_KEEPS_OPEN_MS = 10 * 60_000;
const UID = /^[0-9]+(\.[0-9]+)*$/;

export function commitmentScp(commitment: CommitmentService): ServiceClassProvider {
  return {
    name: 'commitment',
    sopClasses: [SOP],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.N_ACTION_RQ],
    handle(ctx, cmd) {
      ctx.stats.operations['N-ACTION'] = (ctx.stats.operations['N-ACTION'] ?? 0) + 1;
      const fail = (status: number, comment: string): Promise<void> => {
        ctx.stats.failures++;
        ctx.stats.lastError = comment;
        ctx.logger.warn({ status: `0x${status.toString(16).padStart(4, '0')}`, error: comment }, 'storage commitment N-ACTION refused');
        return respond(ctx, cmd, status, comment);
      };
      if (cmd.RequestedSOPInstanceUID !== STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE) {
        void fail(NActionStatus.NoSuchSOPInstance, `Requested SOP Instance UID must be ${STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE}`).catch(() => {});
        return null;
      }
      if (cmd.ActionTypeID !== 1) {
        void fail(NActionStatus.NoSuchActionType, `Action Type ID ${cmd.ActionTypeID ?? '(none)'}: only 1, Request Storage Commitment`).catch(() => {});
        return null;
      }
      if (!hasDataset(cmd)) {
        void fail(NActionStatus.InvalidArgumentValue, 'N-ACTION without its Transaction UID and Referenced SOP Sequence').catch(() => {});
        return null;
      }
      let done!: () => void;
      void ctx.track(new Promise<void>((r) => (done = r)));
      return new BufferSink(MAX_DATASET, (err, data) => {
        const work = err
          ? fail(NActionStatus.ProcessingFailure, err.message)
          : decodeJsonDataset(data, ctx.transferSyntax).then(
              async ({ dataset }) => {
                const request = readRequest(dataset);
                if (typeof request === 'string') return fail(NActionStatus.InvalidArgumentValue, request);
                // The report must not overtake the N-ACTION-RSP: the channel waits for it.
                let responded!: () => void;
                const answered = new Promise<void>((r) => (responded = r));
                // The requester may wait on this association for the report: not idle until it went.
                let reported!: () => void;
                const waited = new Promise<void>((r) => (reported = r));
                // Bounded, and over when the association ends: the cap must not outlive it (a ref'd
                // timer of ten minutes held the process after the server stopped).
                let cap: NodeJS.Timeout | undefined;
                const ended = new Promise<void>((r) => {
                  cap = setTimeout(r, REPORT_KEEPS_OPEN_MS).unref();
                  if (ctx.assoc.ended.aborted) r();
                  else ctx.assoc.ended.addEventListener('abort', () => r(), { once: true });
                });
                ctx.keepOpen(Promise.race([waited, ended]).finally(() => clearTimeout(cap)));
                try {
                  await commitment.accept({ ...request, requester: ctx.assoc.callingAETitle }, channelOf(ctx, answered, reported));
                } catch (e) {
                  responded();
                  reported();
                  return fail(NActionStatus.ProcessingFailure, `cannot queue the request: ${errorMessage(e)}`);
                }
                ctx.logger.info({ transactionUID: request.transactionUID, instances: request.instances.length }, 'storage commitment requested');
                if (!(await commitment.reachable(ctx.assoc.callingAETitle).catch(() => true)))
                  ctx.logger.warn(
                    { requester: ctx.assoc.callingAETitle, transactionUID: request.transactionUID },
                    'storage commitment requester is not a known node: its report can only go on this association, and is lost if the association is released first (add it to known_nodes)',
                  );
                return respond(ctx, cmd, NActionStatus.Success).finally(responded);
              },
              (e: unknown) =>
                isPacsError(e, 'OUT_OF_RESOURCES')
                  ? fail(NActionStatus.ResourceLimitation, `${errorMessage(e)}: ask for at most ${MAX_REQUEST_ITEMS} instances at once`)
                  : fail(NActionStatus.InvalidArgumentValue, `dataset cannot be parsed: ${errorMessage(e)}`),
            );
        // Whatever failed unforeseen still gets its answer (the requester would wait out its own timeout) and a log line.
        work
          .catch((e: unknown) => {
            ctx.logger.error({ err: e }, 'storage commitment N-ACTION failed');
            return fail(NActionStatus.ProcessingFailure, `the request could not be handled: ${errorMessage(e)}`);
          })
          .catch(() => {})
          .finally(done);
      });
    },
  };
}

/**
 * Transaction UID and the referenced instances, or why the request cannot be read. An instance
 * named twice is verified and reported once (171,000 references to one file were 171,000 reads
 * of it, at every retry).
 */
function readRequest(ds: JsonDataset): { transactionUID: string; instances: InstanceRef[] } | string {
  const transactionUID = jsonElementText(ds['00081195']).trim();
  if (!transactionUID) return 'no Transaction UID (0008,1195)';
  if (transactionUID.length > 64 || !UID.test(transactionUID)) return 'Transaction UID (0008,1195) is not a UID';
  const sequence = ds['00081199'];
  if (sequence && sequence.vr !== 'SQ') return `Referenced SOP Sequence (0008,1199) has VR ${sequence.vr}, not SQ`;
  const items = (sequence?.Value ?? []) as JsonDataset[];
  if (!items.length) return 'no Referenced SOP Sequence (0008,1199) item';
  const instances = new Map<string, InstanceRef>();
  for (const i of items) {
    const ref = { sopClassUID: jsonElementText(i['00081150']).trim(), sopInstanceUID: jsonElementText(i['00081155']).trim() };
    if (!ref.sopClassUID || !ref.sopInstanceUID) return 'a Referenced SOP Sequence item lacks its SOP Class or Instance UID';
    instances.set(`${ref.sopClassUID}|${ref.sopInstanceUID}`, ref);
  }
  return { transactionUID, instances: [...instances.values()] };
}

/** The N-EVENT-REPORT on this association, as the commitment job sees it. */
function channelOf(ctx: ScpContext, answered: Promise<void>, done: () => void): ReportChannel {
  return {
    get open() {
      return ctx.assoc.established;
    },
    done,
    async send(eventTypeId, dataset) {
      await answered;
      // Released or aborted while the N-ACTION-RSP went out: the report goes on a new association.
      if (!ctx.assoc.established) throw new Error('the requester association ended');
      const rsp = await ctx.subRequest(
        ctx.contextId,
        { CommandField: CommandField.N_EVENT_REPORT_RQ, AffectedSOPClassUID: SOP, AffectedSOPInstanceUID: STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE, EventTypeID: eventTypeId },
        encodeJsonDataset(dataset, ctx.transferSyntax, null),
      );
      return rsp.Status ?? -1;
    },
  };
}

function respond(ctx: ScpContext, cmd: Command, status: number, comment?: string): Promise<void> {
  return ctx.send({
    CommandField: CommandField.N_ACTION_RSP,
    AffectedSOPClassUID: SOP,
    // The instance the request was about (PS3.7 10.3.4.2): a refused request for another one
    // must not name the well-known instance as the one missing.
    ...(cmd.RequestedSOPInstanceUID ? { AffectedSOPInstanceUID: cmd.RequestedSOPInstanceUID } : {}),
    MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
    CommandDataSetType: NO_DATASET,
    Status: status,
    ...(status === 0 ? { ActionTypeID: cmd.ActionTypeID ?? 1 } : {}),
    ...(comment ? { ErrorComment: errorComment(comment) } : {}),
  });
}
