// Verification Service Class (PS3.4 Annex A): C-ECHO.
import { CommandField, NO_DATASET } from '../net/dimse/command.js';
import { Status } from '../net/dimse/status.js';
import type { ServiceClassProvider } from './registry.js';
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass } from '../dicom/uids.js';


export const verificationScp: ServiceClassProvider = {
  name: 'verification',
  sopClasses: [SopClass.Verification],
  transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
  preference: 'ours',
  commands: [CommandField.C_ECHO_RQ],
  handle(ctx, cmd) {
    ctx.stats.operations['C-ECHO'] = (ctx.stats.operations['C-ECHO'] ?? 0) + 1;
    void ctx.send({
      CommandField: CommandField.C_ECHO_RSP,
      AffectedSOPClassUID: SopClass.Verification,
      MessageIDBeingRespondedTo: cmd.MessageID ?? 0,
      CommandDataSetType: NO_DATASET,
      Status: Status.Success,
    }).catch(() => undefined); // the association went away before the answer: nobody to answer
    return null;
  },
};
