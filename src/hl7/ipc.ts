// IPC, the Imaging Procedure Control segment of OMI^O23 (HL7 v2.5.1 4.5.6; IHE Radiology RAD-4
// Procedure Scheduled, RAD-13 Procedure Update): one per Scheduled Procedure Step of the order's
// Requested Procedure, saying what ORM^O01 senders put in OBR-18 to OBR-20, OBR-24 and ZDS-1, and
// more. Each step is a worklist entry (one Scheduled Procedure Step each) under a source key of its own.
import type { JsonDataset } from '../dicom/json.js';
import type { Hl7Message, Segment } from './message.js';
import { HL7_NULL, value } from './values.js';

/** What one IPC says; '' where a field is empty. */
export interface ImagingStep {
  /** IPC-1.1 Accession Identifier. */
  accession: string;
  /** IPC-2.1 Requested Procedure ID. */
  requestedProcedureId: string;
  /** IPC-3.1 Study Instance UID. */
  studyInstanceUid: string;
  /** IPC-4.1 Scheduled Procedure Step ID. */
  stepId: string;
  /** IPC-5.1 Modality (a DICOM modality code). */
  modality: string;
  /** IPC-6, each repetition: identifier, text, coding system. */
  protocols: Array<{ code: string; meaning: string; scheme: string }>;
  /** IPC-7.1 Scheduled Station Name. */
  stationName: string;
  /** IPC-8 Scheduled Procedure Step Location: its identifier, else its text. */
  location: string;
  /** IPC-9 Scheduled Station AE Title. */
  stationAE: string;
}

/** Protocol codes read from one IPC-6: far more than a step is scanned with; the rest are left out. */
const MAX_PROTOCOL_CODES = 64;

export function readIpc(msg: Hl7Message, ipc: Segment): ImagingStep {
  const part = (field: number, component: number, repetition: number): string => {
    const v = msg.get(ipc, field, component, repetition);
    return v === HL7_NULL ? '' : v;
  };
  const protocols = Array.from({ length: Math.min(msg.repetitionCount(ipc, 6), MAX_PROTOCOL_CODES) }, (_, r) => ({ code: part(6, 1, r), meaning: part(6, 2, r), scheme: part(6, 3, r) })).filter(
    (p) => p.code !== '',
  );
  return {
    accession: value(msg, ipc, 1),
    requestedProcedureId: value(msg, ipc, 2),
    studyInstanceUid: value(msg, ipc, 3),
    stepId: value(msg, ipc, 4),
    modality: value(msg, ipc, 5).toUpperCase(),
    protocols,
    stationName: value(msg, ipc, 7),
    location: value(msg, ipc, 8) || value(msg, ipc, 8, 2),
    stationAE: value(msg, ipc, 9),
  };
}

/** \ and ^ written as HL7 escapes them (\E\, \S\): a key part then never holds the separator. */
const escaped = (part: string): string => part.replace(/\\/g, '\\E\\').replace(/\^/g, '\\S\\');

/**
 * The source key of one step of an OMI^O23 order: the order's key (placer order number, else
 * the filler's) ^ its Scheduled Procedure Step ID, so a resent or changed order finds each of its
 * steps again whatever their number and order in the message. A step without an ID has the
 * order's own key, as an ORM^O01 order's entry.
 */
export const stepKey = (orderKey: string, stepId: string): string => (stepId === '' ? orderKey : `${escaped(orderKey)}^${escaped(stepId)}`);

/** What the keys of an order's steps with an ID start with (see stepKey). */
export const stepKeyPrefix = (orderKey: string): string => `${escaped(orderKey)}^`;

/** The Scheduled Procedure Step ID a step's dataset holds, '' if none. */
export function stepIdOf(ds: JsonDataset): string {
  const step = ds['00400100']?.Value?.[0] as JsonDataset | undefined;
  const v = step?.['00400009']?.Value?.[0];
  return typeof v === 'string' ? v : '';
}
