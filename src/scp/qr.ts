// What the Query/Retrieve SCPs (C-FIND, C-MOVE, C-GET) share: the information model of each
// SOP class, the Query/Retrieve Level of an identifier, and the operations a C-CANCEL can reach.
import { SopClass } from '../dicom/uids.js';
import { Tag } from '../dicom/tags.js';
import type { IdentifierElement } from '../dicom/identifier.js';
import type { Association } from '../net/association.js';
import type { InformationModel, QueryLevel } from '../index/query/types.js';
import { PacsError } from '../core/errors.js';

export const INFORMATION_MODEL: Readonly<Record<string, InformationModel>> = {
  [SopClass.PatientRootFind]: 'PATIENT_ROOT',
  [SopClass.PatientRootMove]: 'PATIENT_ROOT',
  [SopClass.PatientRootGet]: 'PATIENT_ROOT',
  [SopClass.StudyRootFind]: 'STUDY_ROOT',
  [SopClass.StudyRootMove]: 'STUDY_ROOT',
  [SopClass.StudyRootGet]: 'STUDY_ROOT',
};

const LEVELS: readonly string[] = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];

/** The identifier's Query/Retrieve Level, or the text it holds when that is no level. */
export function queryRetrieveLevel(elements: readonly IdentifierElement[]): { level: QueryLevel } | { invalid: string } {
  const text = (elements.find((e) => e.tag === Tag.QueryRetrieveLevel)?.value ?? '').trim().toUpperCase();
  return LEVELS.includes(text) ? { level: text as QueryLevel } : { invalid: text };
}

export interface Operation {
  /** A C-CANCEL named it. */
  readonly cancelled: boolean;
  /** Aborted by the C-CANCEL: what works for the operation (conversions) stops with it. */
  readonly signal: AbortSignal;
}

/** Operations running on each association, by the Message ID a C-CANCEL names. */
const running = new WeakMap<Association, Map<number, AbortController>>();

/** Runs `work` as an operation a C-CANCEL for `messageId` can mark cancelled. */
export async function cancellable<T>(assoc: Association, messageId: number, work: (op: Operation) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const op: Operation = {
    get cancelled() {
      return controller.signal.aborted;
    },
    signal: controller.signal,
  };
  const ops = running.get(assoc) ?? new Map<number, AbortController>();
  running.set(assoc, ops);
  ops.set(messageId, controller);
  try {
    return await work(op);
  } finally {
    ops.delete(messageId);
  }
}

/** A C-CANCEL-RQ: marks the operation it names, if it is still running. */
export function cancel(assoc: Association, messageIdBeingRespondedTo: number | undefined): void {
  running.get(assoc)?.get(messageIdBeingRespondedTo ?? -1)?.abort(new PacsError('ABORTED', 'cancelled by C-CANCEL'));
}
