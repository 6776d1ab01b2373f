// The C-FIND plumbing every C-FIND SCP shares (Query/Retrieve, Modality Worklist): C-CANCEL,
// the identifier gathered in memory (bounded), the final and failure responses, and pending
// responses; each SCP supplies only how it answers an identifier.
import { errorMessage } from '../core/errors.js';
import { BufferSink } from '../net/dimse/assembler.js';
import { CommandField, NO_DATASET, type Command, hasDataset } from '../net/dimse/command.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import { Status, errorComment } from '../net/dimse/status.js';
import { type Operation, cancel, cancellable } from './qr.js';
import type { ScpContext } from './registry.js';

/** Largest C-FIND identifier accepted (identifiers are small; this bounds a hostile one). */
const MAX_IDENTIFIER = 1024 * 1024;

/** A final (or failure) C-FIND-RSP without a dataset. */
export function findResponse(ctx: ScpContext, cmd: Command, status: number, comment?: string, offending?: number): Promise<void> {
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

/** A pending C-FIND-RSP carrying one answer: 0xFF01 when keys of the request were not matched. */
export function pendingAnswer(ctx: ScpContext, cmd: Command, dataset: Buffer, status: number = Status.Pending): Promise<void> {
  return ctx.send(
    {
      CommandField: CommandField.C_FIND_RSP,
      AffectedSOPClassUID: cmd.AffectedSOPClassUID ?? ctx.abstractSyntax,
      MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
      CommandDataSetType: 0x0000,
      Status: status,
    },
    dataset,
  );
}

/** Logs and counts a refused C-FIND, then answers it. */
export function findFailure(ctx: ScpContext, cmd: Command, what: string, status: number, comment: string, offending?: number): Promise<void> {
  ctx.stats.failures++;
  ctx.stats.lastError = comment;
  ctx.logger.warn({ status: `0x${status.toString(16)}`, error: comment }, `${what} failed`);
  return findResponse(ctx, cmd, status, comment, offending);
}

/**
 * The `handle` of a C-FIND SCP: `answer` gets the whole identifier and sends the responses,
 * checking `op.cancelled` between answers.
 */
export function cFindHandler(answer: (ctx: ScpContext, cmd: Command, identifier: Buffer, op: Operation) => Promise<void>): (ctx: ScpContext, cmd: Command) => DatasetSink | null {
  return (ctx, cmd) => {
    if (cmd.CommandField === CommandField.C_CANCEL_RQ) {
      cancel(ctx.assoc, cmd.MessageIDBeingRespondedTo);
      return null;
    }
    ctx.stats.operations['C-FIND'] = (ctx.stats.operations['C-FIND'] ?? 0) + 1;
    if (!hasDataset(cmd)) {
      void findResponse(ctx, cmd, Status.IdentifierDoesNotMatchSOPClass, 'C-FIND-RQ without an identifier').catch(() => {});
      return null;
    }
    let done!: () => void;
    void ctx.track(new Promise<void>((r) => (done = r)));
    return new BufferSink(MAX_IDENTIFIER, (err, data) => {
      // Registered before the identifier is decoded (the first await): a C-CANCEL that follows
      // the request at once is handled after this, and must find the operation.
      const work = err ? findResponse(ctx, cmd, Status.OutOfResources, err.message) : cancellable(ctx.assoc, cmd.MessageID ?? 0, (op) => answer(ctx, cmd, data, op));
      work
        // An answer that could not be made (a stored value that does not encode, an index
        // failure) still ends the C-FIND, with the reason; unless the association is gone.
        .catch((e: unknown) => (ctx.assoc.established ? findFailure(ctx, cmd, 'C-FIND', Status.UnableToProcess, `cannot answer: ${errorMessage(e)}`) : undefined))
        .catch(() => {})
        .finally(done);
    });
  };
}
