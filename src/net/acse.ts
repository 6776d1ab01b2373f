// Association negotiation (PS3.8 section 7.1, PS3.7 Annex D): building A-ASSOCIATE-RQ and
// deciding an A-ASSOCIATE-AC from what the peer proposed and what we support.
import {
  type AssociateAC,
  type AssociateRQ,
  DICOM_APPLICATION_CONTEXT,
  PcResult,
  type PresentationContextAC,
  type PresentationContextRQ,
  PduType,
  type RoleSelection,
  type UserIdentityRQ,
  emptyUserInformation,
} from './pdu/types.js';

import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../dicom/implementation.js';

export { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME };

export interface LocalIdentity {
  maxPduLength: number;
  implementationClassUID?: string;
  implementationVersionName?: string;
}

/** What a service layer tells the negotiator. */
export interface PresentationPolicy {
  /** Transfer syntaxes acceptable for an abstract syntax, or null if the abstract syntax is not supported. */
  transferSyntaxesFor(abstractSyntax: string): readonly string[] | null;
  /**
   * Which transfer syntax to pick among the acceptable ones proposed: 'proposer' takes the
   * requestor's order (storage: store what the modality prefers to send), 'ours' takes our order.
   */
  preference(abstractSyntax: string): 'proposer' | 'ours';
  /** SCP/SCU role selection answer for a SOP class (PS3.7 D.3.3.4); null = no answer item. */
  roles?(proposed: RoleSelection): RoleSelection | null;
  /** SOP Class Extended Negotiation answer (PS3.7 D.3.3.5); null = no answer item. */
  extendedNegotiation?(sopClass: string, info: Buffer): Buffer | null;
}

/**
 * What makes an A-ASSOCIATE-RQ's presentation contexts unanswerable, or null: PS3.8 9.3.2.2
 * asks at least one, with IDs odd (1-255) and unique — the AC answers each by its ID, so a
 * repeated ID would give one context the abstract syntax of one item and the transfer
 * syntax of another.
 */
export function presentationContextProblem(rq: AssociateRQ): string | null {
  if (!rq.presentationContexts.length) return 'the A-ASSOCIATE-RQ proposes no presentation context';
  const seen = new Set<number>();
  for (const pc of rq.presentationContexts) {
    if (pc.id % 2 === 0 || pc.id < 1 || pc.id > 255) return `presentation context ID ${pc.id} is not an odd number from 1 to 255`;
    if (seen.has(pc.id)) return `presentation context ID ${pc.id} is proposed twice`;
    seen.add(pc.id);
  }
  return null;
}

/**
 * Least maximum PDU length a requestor may ask us to send in (DCMTK's floor is 4,096): at 1 byte,
 * every 2 bytes of data went in a PDU of their own, some 65,000 writes per 64 KB of an answer,
 * the event loop held for every other association.
 */
export const MIN_PEER_MAX_PDU = 1024;

/** What makes an A-ASSOCIATE-RQ's user information unanswerable, or null. */
export function userInformationProblem(rq: AssociateRQ): string | null {
  const max = rq.userInformation.maxPduLength;
  if (max > 0 && max < MIN_PEER_MAX_PDU) return `maximum PDU length ${max} is below ${MIN_PEER_MAX_PDU}`;
  return null;
}

/**
 * Whether a calling AE title is one (PS3.5 6.2 AE: 1-16 characters of the default repertoire,
 * no backslash, no control characters; PS3.8: not all spaces). Sixteen spaces matched the
 * allowed title '*' as an empty name.
 */
export function isAeTitle(title: string): boolean {
  return title.trim() !== '' && /^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(title);
}

export function negotiateContexts(rq: AssociateRQ, policy: PresentationPolicy): PresentationContextAC[] {
  return rq.presentationContexts.map((pc): PresentationContextAC => {
    const ours = pc.abstractSyntax ? policy.transferSyntaxesFor(pc.abstractSyntax) : null;
    if (!ours) return { id: pc.id, result: PcResult.AbstractSyntaxNotSupported, transferSyntax: '' };
    const acceptable = new Set(ours);
    const pick =
      policy.preference(pc.abstractSyntax) === 'proposer'
        ? pc.transferSyntaxes.find((ts) => acceptable.has(ts))
        : ours.find((ts) => pc.transferSyntaxes.includes(ts));
    return pick
      ? { id: pc.id, result: PcResult.Acceptance, transferSyntax: pick }
      : { id: pc.id, result: PcResult.TransferSyntaxesNotSupported, transferSyntax: '' };
  });
}

export function buildAssociateAC(rq: AssociateRQ, policy: PresentationPolicy, local: LocalIdentity, userIdentityResponse?: Buffer): AssociateAC {
  const ui = emptyUserInformation();
  ui.maxPduLength = local.maxPduLength;
  ui.implementationClassUID = local.implementationClassUID ?? IMPLEMENTATION_CLASS_UID;
  ui.implementationVersionName = local.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME;
  // We perform one operation at a time per association (PS3.7 D.3.3.3): answer 1/1 if asked.
  if (rq.userInformation.asyncOpsWindow) ui.asyncOpsWindow = { invoked: 1, performed: 1 };
  if (userIdentityResponse && rq.userInformation.userIdentity?.positiveResponseRequested) ui.userIdentityResponse = userIdentityResponse;
  const presentationContexts = negotiateContexts(rq, policy);
  const accepted = new Set(
    presentationContexts.filter((pc) => pc.result === PcResult.Acceptance).map((pc) => rq.presentationContexts.find((p) => p.id === pc.id)?.abstractSyntax),
  );
  // Roles and extended negotiation are answered once per SOP class (PS3.7 D.3.3.4, D.3.3.5:
  // one item each): a request repeating an item thousands of times would otherwise get an
  // answer longer than its 16-bit item length holds.
  for (const r of rq.userInformation.roleSelections) {
    const answer = ui.roleSelections.some((x) => x.sopClass === r.sopClass) ? null : policy.roles?.(r);
    if (answer) ui.roleSelections.push(answer);
  }
  for (const x of rq.userInformation.extendedNegotiation) {
    const info = accepted.has(x.sopClass) && !ui.extendedNegotiation.some((y) => y.sopClass === x.sopClass) ? policy.extendedNegotiation?.(x.sopClass, x.info) : null;
    if (info) ui.extendedNegotiation.push({ sopClass: x.sopClass, info });
  }
  return {
    type: PduType.AssociateAC,
    protocolVersion: 1,
    calledAETitle: rq.calledAETitle,
    callingAETitle: rq.callingAETitle,
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts,
    userInformation: ui,
  };
}

export interface AssociateRequestOptions extends LocalIdentity {
  callingAETitle: string;
  calledAETitle: string;
  contexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections?: RoleSelection[];
  userIdentity?: UserIdentityRQ;
}

export function buildAssociateRQ(o: AssociateRequestOptions): AssociateRQ {
  if (o.contexts.length > 128) throw new Error('at most 128 presentation contexts fit in one association (PS3.8 9.3.2.2)');
  const ui = emptyUserInformation();
  ui.maxPduLength = o.maxPduLength;
  ui.implementationClassUID = o.implementationClassUID ?? IMPLEMENTATION_CLASS_UID;
  ui.implementationVersionName = o.implementationVersionName ?? IMPLEMENTATION_VERSION_NAME;
  ui.roleSelections = o.roleSelections ?? [];
  ui.userIdentity = o.userIdentity ?? null;
  const presentationContexts: PresentationContextRQ[] = o.contexts.map((c, i) => ({ id: 2 * i + 1, ...c }));
  return {
    type: PduType.AssociateRQ,
    protocolVersion: 1,
    calledAETitle: o.calledAETitle,
    callingAETitle: o.callingAETitle,
    applicationContext: DICOM_APPLICATION_CONTEXT,
    presentationContexts,
    userInformation: ui,
  };
}

/** AE title matching with the wildcards * and ? (access_control.allowed_ae_titles). */
export function aeTitleMatches(pattern: string, ae: string): boolean {
  const re = new RegExp(`^${pattern.trim().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(ae.trim());
}
