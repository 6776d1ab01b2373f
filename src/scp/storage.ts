// Storage Service Class (PS3.4 Annex B), SCP role: every storage SOP class of the standard in
// every transfer syntax, each C-STORE streamed into the store pipeline.
import { STORAGE_SOP_CLASSES, TRANSFER_SYNTAXES } from '../dicom/uids.js';
import { CommandField, type Command, hasDataset, storeResponse } from '../net/dimse/command.js';
import { Status, storeFailureStatus, errorComment } from '../net/dimse/status.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import type { StoreService } from '../services/store.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';
import { transferSyntaxInfo } from '../dicom/transfer-syntax.js';
import { PacsError } from '../core/errors.js';

/** Every transfer syntax we can file as received: all of the standard's, retired ones too. */
const ALL_TRANSFER_SYNTAXES = TRANSFER_SYNTAXES.map((t) => t.uid).filter((uid) => transferSyntaxInfo(uid) !== undefined);

export interface StorageScpOptions {
  /** Largest dataset accepted in bytes (server.max_dataset_mb), read at each C-STORE; 0 = no limit. */
  maxDatasetBytes?: () => number;
}

export function storageScp(store: StoreService, extraSopClasses: readonly string[] = [], options: StorageScpOptions = {}): ServiceClassProvider {
  return {
    name: 'storage',
    sopClasses: [...STORAGE_SOP_CLASSES.map((c) => c.uid), ...extraSopClasses],
    transferSyntaxes: () => ALL_TRANSFER_SYNTAXES,
    preference: 'proposer',
    commands: [CommandField.C_STORE_RQ],
    // The requestor may also act as Storage SCP on this association: that is how a C-GET
    // receives its instances (PS3.4 C.4.3, role selection PS3.7 D.3.3.4).
    roles: (p) => ({ sopClass: p.sopClass, scuRole: p.scuRole, scpRole: p.scpRole }),
    handle: (ctx, cmd) => handleStore(store, ctx, cmd, options.maxDatasetBytes?.() ?? 0),
  };
}

function respond(ctx: ScpContext, cmd: Command, status: number, comment?: string): Promise<void> {
  return ctx.send(storeResponse(cmd, status, comment ? errorComment(comment) : undefined));
}

function handleStore(store: StoreService, ctx: ScpContext, cmd: Command, maxBytes: number): DatasetSink | null {
  ctx.stats.operations['C-STORE'] = (ctx.stats.operations['C-STORE'] ?? 0) + 1;
  if (!hasDataset(cmd)) {
    ctx.stats.failures++;
    void respond(ctx, cmd, Status.CannotUnderstand, 'C-STORE-RQ announces no dataset').catch(() => {});
    return null;
  }
  const sopClassUID = cmd.AffectedSOPClassUID ?? '';
  const sopInstanceUID = cmd.AffectedSOPInstanceUID ?? '';
  const session = store.begin({
    sopClassUID,
    sopInstanceUID,
    transferSyntaxUID: ctx.transferSyntax,
    provenance: { callingAE: ctx.assoc.callingAETitle, calledAE: ctx.assoc.calledAETitle, remoteAddress: ctx.assoc.remoteAddress, source: 'dimse' },
  });
  let done!: () => void;
  ctx.track(new Promise<void>((r) => (done = r)));
  const fail = (status: number, comment: string): void => {
    ctx.stats.failures++;
    ctx.stats.lastError = comment;
    ctx.logger.warn({ sopInstanceUID, status: `0x${status.toString(16).padStart(4, '0')}`, error: comment }, 'C-STORE failed');
  };
  // Past the size limit the partial file is dropped at once and the rest of the dataset read
  // and discarded: the association stays usable, the answer comes after the last fragment.
  let received = 0;
  let tooLarge: Promise<unknown> | null = null;
  return {
    write: (chunk) => {
      if (tooLarge) return true;
      received += chunk.length;
      if (maxBytes > 0 && received > maxBytes) {
        tooLarge = session.abort();
        return true;
      }
      return session.write(chunk);
    },
    onDrain: (cb) => (tooLarge ? cb() : session.onDrain(cb)),
    end: () => {
      if (tooLarge) {
        const comment = `dataset larger than ${maxBytes / 1024 / 1024} MB (server.max_dataset_mb): not stored`;
        fail(Status.OutOfResources, comment);
        session.refused(new PacsError('OUT_OF_RESOURCES', comment));
        void tooLarge
          .catch(() => {})
          .then(() => respond(ctx, cmd, Status.OutOfResources, comment))
          .catch(() => {})
          .finally(done);
        return;
      }
      const mismatch = sopClassUID !== ctx.abstractSyntax ? `Affected SOP Class UID ${sopClassUID} differs from the presentation context's ${ctx.abstractSyntax}` : null;
      const work = mismatch ? session.abort().then(() => Promise.reject(new Error(mismatch))) : session.end();
      if (mismatch) session.refused(new PacsError('UID_MISMATCH', mismatch));
      work
        .then(
          (r) => {
            ctx.stats.instances++;
            ctx.logger.debug({ sopInstanceUID, kind: r.kind, path: r.path, size: r.size }, 'C-STORE');
            return respond(ctx, cmd, Status.Success);
          },
          (e: unknown) => {
            const { status, comment } = mismatch ? { status: Status.SOPClassNotSupported, comment: mismatch } : storeFailureStatus(e);
            fail(status, comment);
            return respond(ctx, cmd, status, comment);
          },
        )
        .catch(() => {}) // the association went away before the response: nothing to answer
        .finally(done);
    },
    abort: () => {
      void (tooLarge ?? session.abort()).finally(done);
    },
  };
}
