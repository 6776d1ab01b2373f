// Modality Performed Procedure Step SOP Class, SCP role (PS3.4 Annex F): N-CREATE and N-SET,
// their datasets decoded here and judged by the MPPS service; each answer carries the
// standard's status with an error comment and, where one applies, the offending elements.
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass } from '../dicom/uids.js';
import { MAX_REQUEST_ITEMS, decodeJsonDataset } from '../dicom/json-encode.js';
import type { JsonDataset } from '../dicom/json.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, type Command, hasDataset } from '../net/dimse/command.js';
import { Status, errorComment, isFailure } from '../net/dimse/status.js';
import { errorMessage, isPacsError } from '../core/errors.js';
import { type MppsOutcome, type MppsService, MppsStatus } from '../services/mpps.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';

const MAX_DATASET = 4 * 1024 * 1024;

export function mppsScp(mpps: MppsService): ServiceClassProvider {
  return {
    name: 'mpps',
    sopClasses: [SopClass.ModalityPerformedProcedureStep],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.N_CREATE_RQ, CommandField.N_SET_RQ],
    handle(ctx, cmd) {
      const create = cmd.CommandField === CommandField.N_CREATE_RQ;
      const name = create ? 'N-CREATE' : 'N-SET';
      ctx.stats.operations[name] = (ctx.stats.operations[name] ?? 0) + 1;
      const uid = (create ? cmd.AffectedSOPInstanceUID : cmd.RequestedSOPInstanceUID) || null;
      const answer = (o: MppsOutcome): Promise<void> => respond(ctx, cmd, o);
      if (!create && !uid) {
        void answer({ status: MppsStatus.NoSuchObjectInstance, sopInstanceUID: '', comment: 'N-SET-RQ without Requested SOP Instance UID' }).catch(() => {});
        return null;
      }
      const run = (ds: JsonDataset): Promise<MppsOutcome> => (create ? mpps.create(uid, ctx.assoc.callingAETitle, ds) : mpps.set(uid!, ds));
      let done!: () => void;
      void ctx.track(new Promise<void>((r) => (done = r)));
      // Whatever fails in the store gets its answer (0x0110 with the reason), not silence.
      const failed = (e: unknown): Promise<void> => answer({ status: MppsStatus.ProcessingFailure, sopInstanceUID: uid ?? '', comment: errorMessage(e) });
      if (!hasDataset(cmd)) {
        // Every attribute N-CREATE requires is missing; an N-SET without changes changes nothing.
        run({}).then(answer).catch(failed).catch(() => {}).finally(done);
        return null;
      }
      return new BufferSink(MAX_DATASET, (err, data) => {
        // Too large: a processing failure with the reason (0xA700 is a C-STORE status, not an N-CREATE / N-SET one).
        const work = err
          ? answer({ status: MppsStatus.ProcessingFailure, sopInstanceUID: uid ?? '', comment: err.message })
          : decodeJsonDataset(data, ctx.transferSyntax).then(
              ({ dataset }) => run(dataset).then(answer),
              (e: unknown) =>
                answer(
                  isPacsError(e, 'OUT_OF_RESOURCES')
                    ? { status: MppsStatus.ResourceLimitation, sopInstanceUID: uid ?? '', comment: `${errorMessage(e)} (at most ${MAX_REQUEST_ITEMS})` }
                    : { status: MppsStatus.InvalidAttributeValue, sopInstanceUID: uid ?? '', comment: `dataset cannot be parsed: ${errorMessage(e)}` },
                ),
            );
        work
          .catch(failed)
          .catch(() => {})
          .finally(done);
      });
    },
  };
}

function respond(ctx: ScpContext, cmd: Command, o: MppsOutcome): Promise<void> {
  const create = cmd.CommandField === CommandField.N_CREATE_RQ;
  if (o.status !== Status.Success) {
    ctx.stats.failures++;
    ctx.stats.lastError = o.comment ?? null;
    ctx.logger.warn({ sopInstanceUID: o.sopInstanceUID, status: `0x${o.status.toString(16).padStart(4, '0')}`, error: o.comment }, `MPPS ${create ? 'N-CREATE' : 'N-SET'} failed`);
  }
  return ctx.send({
    CommandField: create ? CommandField.N_CREATE_RSP : CommandField.N_SET_RSP,
    AffectedSOPClassUID: SopClass.ModalityPerformedProcedureStep,
    MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
    CommandDataSetType: NO_DATASET,
    Status: o.status,
    // A UID we made for an N-CREATE that named none names nothing once it failed: an SCU that
    // kept it got 0x0112 for its N-SETs (PS3.7 10.1.5.1.4: made UIDs go in the success response).
    ...(o.sopInstanceUID && !(create && !cmd.AffectedSOPInstanceUID && isFailure(o.status)) ? { AffectedSOPInstanceUID: o.sopInstanceUID } : {}),
    ...(o.comment ? { ErrorComment: errorComment(o.comment) } : {}),
    ...(o.errorId !== undefined ? { ErrorID: o.errorId } : {}),
    // PS3.7 C.4: missing attributes are named in Attribute Identifier List, bad values in Offending Element.
    ...(o.offending?.length ? (o.status === MppsStatus.MissingAttribute || o.status === MppsStatus.MissingAttributeValue ? { AttributeIdentifierList: o.offending } : { OffendingElement: o.offending }) : {}),
  } satisfies Command);
}
