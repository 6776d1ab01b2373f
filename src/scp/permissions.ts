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

interface NodeRestrictions {
  ae_title: string;
  permissions: readonly string[];
  addresses?: readonly string[] | undefined;
}

/**
 * Said at start: known nodes restricted (fewer permissions than all, or bound to addresses)
 * while allowed_ae_titles admits titles by pattern ("*", "WS*") — a calling AE that is no known
 * node is not restricted, so a peer held to "store" may call as "WS1X" and query, from anywhere.
 */
export function restrictionWarning(nodes: readonly NodeRestrictions[], allowedAETitles: readonly string[], allPermissions: number): { fields: Record<string, unknown>; message: string } | null {
  const restricted = nodes.filter((n) => n.permissions.length < allPermissions || n.addresses !== undefined).map((n) => n.ae_title);
  const patterns = allowedAETitles.filter((t) => /[*?]/.test(t));
  if (!restricted.length || !patterns.length) return null;
  return {
    fields: { restrictedNodes: restricted.slice(0, 20), patterns },
    message: `known_nodes restrict ${restricted.length} AE title(s) by permissions or addresses, but access_control.allowed_ae_titles admits calling AE titles by pattern (${patterns.join(', ')}), and a title that is no known node is not restricted at all: a peer may sidestep its restrictions by calling under another title. List the allowed titles, or require a user identity (access_control.user_identity.required)`,
  };
}
