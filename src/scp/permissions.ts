// Per-node permissions (known_nodes[].permissions): which DIMSE operations a calling AE that is
// a known node may ask of us. A calling AE that is no known node is governed by
// access_control.allowed_ae_titles alone.
import { CommandField } from '../net/dimse/command.js';
import { SopClass } from '../dicom/uids.js';

/** The permission a request needs, or null for what every peer may do (C-ECHO, C-CANCEL). */
export function permissionFor(commandField: number, abstractSyntax: string): string | null {
  switch (commandField) {
    case CommandField.C_STORE_RQ:
      return 'store';
    case CommandField.C_FIND_RQ:
      return abstractSyntax === SopClass.ModalityWorklistInformationModelFind ? 'worklist' : 'find';
    case CommandField.C_MOVE_RQ:
      return 'move';
    case CommandField.C_GET_RQ:
      return 'get';
    case CommandField.N_CREATE_RQ:
    case CommandField.N_SET_RQ:
      return abstractSyntax === SopClass.ModalityPerformedProcedureStep ? 'mpps' : null;
    case CommandField.N_ACTION_RQ:
      return abstractSyntax === SopClass.StorageCommitmentPushModel ? 'commit' : null;
    default:
      return null;
  }
}
