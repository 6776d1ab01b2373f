// What a C-GET SCU offers to receive (it must propose every storage class it will accept, each
// with the SCP role): the classes archives commonly hold, each in the syntaxes commonly stored.
// One association has at most 128 presentation contexts, so the list cannot be all of them.
import { TS } from './transfer-syntax.js';

export const GET_STORAGE_CLASSES: readonly string[] = [
  '1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.2.1', '1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.4.1',
  '1.2.840.10008.5.1.4.1.1.1', '1.2.840.10008.5.1.4.1.1.1.1', '1.2.840.10008.5.1.4.1.1.1.2', '1.2.840.10008.5.1.4.1.1.6.1',
  '1.2.840.10008.5.1.4.1.1.3.1', '1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.5.1.4.1.1.12.1', '1.2.840.10008.5.1.4.1.1.20',
  '1.2.840.10008.5.1.4.1.1.128', '1.2.840.10008.5.1.4.1.1.481.2', '1.2.840.10008.5.1.4.1.1.88.11', '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.481.8', '1.2.840.10008.5.1.4.1.1.66.4',
];

export const GET_SYNTAXES: readonly string[] = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.JPEGBaseline8Bit, TS.JPEGLosslessSV1, TS.JPEG2000Lossless, TS.JPEG2000, TS.RLELossless];

/** The presentation contexts (one syntax each, so the SCP picks per instance) and role selections of a C-GET SCU. */
export function getStorageNegotiation(room = 127): {
  contexts: { abstractSyntax: string; transferSyntaxes: string[] }[];
  roleSelections: { sopClass: string; scuRole: boolean; scpRole: boolean }[];
} {
  return {
    contexts: GET_STORAGE_CLASSES.flatMap((c) => GET_SYNTAXES.map((ts) => ({ abstractSyntax: c, transferSyntaxes: [ts] }))).slice(0, room),
    roleSelections: GET_STORAGE_CLASSES.map((c) => ({ sopClass: c, scuRole: false, scpRole: true })),
  };
}
