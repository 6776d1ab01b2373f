// The Store Instances Response Module of a STOW-RS answer (PS3.18 10.5.3, Table 10.5.3-1),
// read from its DICOM JSON form: which instances the origin server stored (Referenced SOP
// Sequence, perhaps with a Warning Reason) and which it did not (Failed SOP Sequence, with a
// Failure Reason). Servers differ in details, so this reads liberally: tags in either case, the
// dataset alone or in a one-element array, values missing.
import { remoteText } from '../core/remote-text.js';

const ReferencedSOPSequence = '00081199';
const FailedSOPSequence = '00081198';
const ReferencedSOPInstanceUID = '00081155';
const FailureReason = '00081197';
const WarningReason = '00081196';
/** Not in the standard's item: pacs-server (and dcm4chee) put the reason in words here. */
const ErrorComment = '00000902';

export interface StowFailure {
  /** The Failure Reason code, when the server gave one. */
  status: number | null;
  /** The code and its meaning in words, and the server's own comment when it gave one (short, on one line). */
  reason: string;
}

export interface StowAnswer {
  /** Stored instances by SOP Instance UID: null, or the Warning Reason code. */
  stored: Map<string, number | null>;
  failed: Map<string, StowFailure>;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The element `tag` of a DICOM JSON dataset, whatever the case of its key. */
function element(ds: Json, tag: string): Json | undefined {
  const e = ds[tag] ?? ds[tag.toLowerCase()];
  return isObject(e) ? e : undefined;
}

function firstValue(ds: Json, tag: string): unknown {
  const v = element(ds, tag)?.Value;
  return Array.isArray(v) ? v[0] : undefined;
}

function items(ds: Json, tag: string): Json[] {
  const v = element(ds, tag)?.Value;
  return Array.isArray(v) ? v.filter(isObject) : [];
}

const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(4, '0')}`;

/** The meaning of a Failure Reason (PS3.18 Table 10.5.3-2, the C-STORE statuses of PS3.4 B.2.3). */
export function failureReasonText(code: number): string {
  if (code >= 0xa700 && code <= 0xa7ff) return 'Refused: Out of Resources';
  if (code >= 0xa900 && code <= 0xa9ff) return 'Error: Data Set does not match SOP Class';
  if (code === 0xc122) return 'Referenced Transfer Syntax not supported';
  if (code >= 0xc000 && code <= 0xcfff) return 'Error: Cannot understand';
  if (code === 0x0110) return 'Processing failure';
  if (code === 0x0111) return 'Duplicate SOP Instance';
  if (code === 0x0122) return 'Referenced SOP Class not supported';
  if (code === 0x0124) return 'Not authorized';
  return 'failure';
}

/** Refused for want of room or memory: the one Failure Reason another try may cure. */
export const isOutOfResources = (code: number | null): boolean => code !== null && code >= 0xa700 && code <= 0xa7ff;

export function parseStowAnswer(body: unknown): StowAnswer {
  const ds = Array.isArray(body) ? body.find(isObject) : body;
  const answer: StowAnswer = { stored: new Map(), failed: new Map() };
  if (!isObject(ds)) return answer;
  for (const item of items(ds, ReferencedSOPSequence)) {
    const uid = firstValue(item, ReferencedSOPInstanceUID);
    const warning = firstValue(item, WarningReason);
    if (typeof uid === 'string') answer.stored.set(uid, typeof warning === 'number' ? warning : null);
  }
  for (const item of items(ds, FailedSOPSequence)) {
    const uid = firstValue(item, ReferencedSOPInstanceUID);
    if (typeof uid !== 'string') continue;
    const code = firstValue(item, FailureReason);
    const comment = firstValue(item, ErrorComment);
    const status = typeof code === 'number' ? code : null;
    const words = status === null ? 'failed (no Failure Reason given)' : `Failure Reason ${hex(status)} ${failureReasonText(status)}`;
    answer.failed.set(uid, { status, reason: typeof comment === 'string' && comment ? `${words}: ${remoteText(comment)}` : words });
  }
  return answer;
}
