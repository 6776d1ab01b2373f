// Basic Worklist Management Service Class, SCP role (PS3.4 Annex K): C-FIND on the Modality
// Worklist Information Model. One pending response per matching Scheduled Procedure Step,
// C-CANCEL honoured between them, answers in a character set that carries their text.
import { TS } from '../dicom/transfer-syntax.js';
import { tagOfKeyword } from '../dicom/dictionary.js';
import { chooseCharacterSet } from '../dicom/identifier.js';
import { decodeJsonDataset, encodeJsonDataset, jsonTexts } from '../dicom/json-encode.js';
import type { JsonDataset } from '../dicom/json.js';
import { SopClass } from '../dicom/uids.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, type Command, hasDataset } from '../net/dimse/command.js';
import { Status, errorComment } from '../net/dimse/status.js';
import { QueryError } from '../index/query/types.js';
import { errorMessage } from '../core/errors.js';
import type { WorklistService } from '../services/worklist.js';
import { cancel, cancellable } from './qr.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';

const MAX_IDENTIFIER = 1024 * 1024;

export interface WorklistScpDeps {
  worklist: WorklistService;
  /** Most answers to one C-FIND (query.max_results; 0 = all). */
  maxResults: () => number;
}

export function worklistScp(deps: WorklistScpDeps): ServiceClassProvider {
  return {
    name: 'worklist',
    sopClasses: [SopClass.ModalityWorklistInformationModelFind],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.C_FIND_RQ, CommandField.C_CANCEL_RQ],
    handle(ctx, cmd) {
      if (cmd.CommandField === CommandField.C_CANCEL_RQ) {
        cancel(ctx.assoc, cmd.MessageIDBeingRespondedTo);
        return null;
      }
      ctx.stats.operations['C-FIND'] = (ctx.stats.operations['C-FIND'] ?? 0) + 1;
      if (!hasDataset(cmd)) {
        void respond(ctx, cmd, Status.IdentifierDoesNotMatchSOPClass, 'C-FIND-RQ without an identifier').catch(() => {});
        return null;
      }
      let done!: () => void;
      void ctx.track(new Promise<void>((r) => (done = r)));
      return new BufferSink(MAX_IDENTIFIER, (err, data) => {
        const work = err ? respond(ctx, cmd, Status.OutOfResources, err.message) : find(deps, ctx, cmd, data);
        work.catch(() => {}).finally(done);
      });
    },
  };
}

function respond(ctx: ScpContext, cmd: Command, status: number, comment?: string, offending?: number): Promise<void> {
  return ctx.send({
    CommandField: CommandField.C_FIND_RSP,
    AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
    MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
    CommandDataSetType: NO_DATASET,
    Status: status,
    ...(comment ? { ErrorComment: errorComment(comment) } : {}),
    ...(offending !== undefined ? { OffendingElement: [offending] } : {}),
  });
}

async function find(deps: WorklistScpDeps, ctx: ScpContext, cmd: Command, data: Buffer): Promise<void> {
  const fail = (status: number, comment: string, offending?: number): Promise<void> => {
    ctx.stats.failures++;
    ctx.stats.lastError = comment;
    ctx.logger.warn({ status: `0x${status.toString(16)}`, error: comment }, 'worklist C-FIND failed');
    return respond(ctx, cmd, status, comment, offending);
  };
  let query: JsonDataset;
  let requestedCharset: string | null;
  try {
    ({ dataset: query, specificCharacterSet: requestedCharset } = await decodeJsonDataset(data, ctx.transferSyntax));
  } catch (e) {
    return fail(Status.IdentifierDoesNotMatchSOPClass, `identifier cannot be parsed: ${errorMessage(e)}`);
  }
  return cancellable(ctx.assoc, cmd.MessageID ?? 0, async (op) => {
    let answers: JsonDataset[];
    try {
      answers = await deps.worklist.find(query, deps.maxResults());
    } catch (e) {
      if (e instanceof QueryError) return fail(Status.IdentifierDoesNotMatchSOPClass, e.message, e.keyword ? tagOfKeyword(e.keyword) : undefined);
      return fail(Status.UnableToProcess, `worklist query failed: ${errorMessage(e)}`);
    }
    for (const answer of answers) {
      if (op.cancelled) return respond(ctx, cmd, Status.Cancel);
      const charset = chooseCharacterSet(requestedCharset, jsonTexts(answer));
      await ctx.send(
        {
          CommandField: CommandField.C_FIND_RSP,
          AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
          MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
          CommandDataSetType: 0x0000,
          Status: Status.Pending,
        },
        encodeJsonDataset(answer, ctx.transferSyntax, charset),
      );
    }
    return respond(ctx, cmd, op.cancelled ? Status.Cancel : Status.Success);
  });
}
