// The seven PDUs of the DICOM upper layer (PS3.8 section 9.3) and their items, as plain data.

export const PduType = {
  AssociateRQ: 0x01,
  AssociateAC: 0x02,
  AssociateRJ: 0x03,
  PDataTF: 0x04,
  ReleaseRQ: 0x05,
  ReleaseRP: 0x06,
  Abort: 0x07,
} as const;

/** The only application context name of DICOM (PS3.7 Annex A.2.1). */
export const DICOM_APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

export interface PresentationContextRQ {
  id: number; // odd, 1..255
  abstractSyntax: string;
  transferSyntaxes: string[];
}

/** PS3.8 9.3.3.2: the result/reason of one presentation context. */
export const PcResult = {
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
} as const;

export interface PresentationContextAC {
  id: number;
  result: number;
  transferSyntax: string; // meaningless unless result is Acceptance
}

/** SCP/SCU Role Selection sub-item (PS3.7 D.3.3.4). */
export interface RoleSelection {
  sopClass: string;
  scuRole: boolean;
  scpRole: boolean;
}

/** User Identity Negotiation sub-item (PS3.7 D.3.3.7). */
export interface UserIdentityRQ {
  type: number; // 1 username, 2 username+passcode, 3 Kerberos, 4 SAML, 5 JWT
  positiveResponseRequested: boolean;
  primaryField: Buffer;
  secondaryField: Buffer;
}

export interface UserInformation {
  maxPduLength: number; // 0 = unlimited
  implementationClassUID: string | null;
  implementationVersionName: string | null;
  asyncOpsWindow: { invoked: number; performed: number } | null;
  roleSelections: RoleSelection[];
  /** SOP Class Extended Negotiation sub-items (0x56), application information kept raw. */
  extendedNegotiation: { sopClass: string; info: Buffer }[];
  /** SOP Class Common Extended Negotiation sub-items (0x57), kept raw. */
  commonExtendedNegotiation: Buffer[];
  userIdentity: UserIdentityRQ | null;
  /** Server response of User Identity Negotiation (0x59), A-ASSOCIATE-AC only. */
  userIdentityResponse: Buffer | null;
}

export interface AssociateRQ {
  type: typeof PduType.AssociateRQ;
  protocolVersion: number;
  calledAETitle: string;
  callingAETitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextRQ[];
  userInformation: UserInformation;
}

export interface AssociateAC {
  type: typeof PduType.AssociateAC;
  protocolVersion: number;
  calledAETitle: string;
  callingAETitle: string;
  applicationContext: string;
  presentationContexts: PresentationContextAC[];
  userInformation: UserInformation;
}

/** PS3.8 9.3.4: result 1 permanent, 2 transient; source 1 user, 2 ACSE provider, 3 presentation provider. */
export interface AssociateRJ {
  type: typeof PduType.AssociateRJ;
  result: number;
  source: number;
  reason: number;
}

export const RejectResult = { Permanent: 1, Transient: 2 } as const;
export const RejectSource = { ServiceUser: 1, ServiceProviderACSE: 2, ServiceProviderPresentation: 3 } as const;
export const RejectReason = {
  // source 1 (service user)
  NoReasonGiven: 1,
  ApplicationContextNotSupported: 2,
  CallingAETitleNotRecognized: 3,
  CalledAETitleNotRecognized: 7,
  // source 2 (ACSE provider)
  ProtocolVersionNotSupported: 2,
  // source 3 (presentation provider)
  TemporaryCongestion: 1,
  LocalLimitExceeded: 2,
} as const;

/** One Presentation Data Value: a fragment of a command or dataset (PS3.8 9.3.5.1, E.2). */
export interface Pdv {
  contextId: number;
  command: boolean;
  last: boolean;
  data: Buffer;
}

export interface PDataTF {
  type: typeof PduType.PDataTF;
  pdvs: Pdv[];
}

export interface ReleaseRQ {
  type: typeof PduType.ReleaseRQ;
}
export interface ReleaseRP {
  type: typeof PduType.ReleaseRP;
}

/** PS3.8 9.3.8: source 0 service user, 2 service provider; reason only for source 2. */
export interface Abort {
  type: typeof PduType.Abort;
  source: number;
  reason: number;
}

export const AbortSource = { ServiceUser: 0, ServiceProvider: 2 } as const;
export const AbortReason = {
  NotSpecified: 0,
  UnrecognizedPdu: 1,
  UnexpectedPdu: 2,
  UnrecognizedPduParameter: 4,
  UnexpectedPduParameter: 5,
  InvalidPduParameterValue: 6,
} as const;

export type Pdu = AssociateRQ | AssociateAC | AssociateRJ | PDataTF | ReleaseRQ | ReleaseRP | Abort;

export const emptyUserInformation = (): UserInformation => ({
  maxPduLength: 0,
  implementationClassUID: null,
  implementationVersionName: null,
  asyncOpsWindow: null,
  roleSelections: [],
  extendedNegotiation: [],
  commonExtendedNegotiation: [],
  userIdentity: null,
  userIdentityResponse: null,
});
