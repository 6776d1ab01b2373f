// The SCU side of the workflow services: worklist C-FIND, MPPS N-CREATE / N-SET and the
// Storage Commitment N-ACTION, on an association opened with ScuAssociation. The `pacs`
// commands, MPPS forwarding and the tests all use these.
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass, STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE } from '../dicom/uids.js';
import type { JsonDataset } from '../dicom/json.js';
import { decodeJsonDataset, encodeJsonDataset, jsonTexts } from '../dicom/json-encode.js';
import { chooseCharacterSet } from '../dicom/identifier.js';
import type { ConnectionOptions } from 'node:tls';
import { ScuAssociation, type ConnectOptions } from '../net/client.js';
import { BufferSink, type DatasetSink } from '../net/dimse/assembler.js';
import { type Command, CommandField, NO_DATASET, Priority } from '../net/dimse/command.js';
import { PacsError } from '../core/errors.js';

export interface Peer {
  host: string;
  port: number;
  calledAETitle: string;
  callingAETitle: string;
  timeoutMs?: number;
  /** DICOM TLS to the peer (a known node with tls: true). */
  tls?: ConnectionOptions | undefined;
  /** The largest PDU we receive (default: the client's). */
  maxPduLength?: number;
}

const SYNTAXES = [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian];

export function connectWorkflow(peer: Peer, sopClasses: readonly string[], extra: Partial<ConnectOptions> = {}): Promise<ScuAssociation> {
  const timeout = peer.timeoutMs ?? 30_000;
  return ScuAssociation.connect({
    host: peer.host,
    port: peer.port,
    callingAETitle: peer.callingAETitle,
    calledAETitle: peer.calledAETitle,
    connectTimeoutMs: Math.min(timeout, 30_000),
    dimseTimeoutMs: timeout,
    contexts: sopClasses.map((abstractSyntax) => ({ abstractSyntax, transferSyntaxes: SYNTAXES })),
    ...(peer.tls ? { tls: peer.tls } : {}),
    ...(peer.maxPduLength ? { maxPduLength: peer.maxPduLength } : {}),
    ...extra,
  });
}

function contextOf(scu: ScuAssociation, sopClass: string): { id: number; transferSyntax: string } {
  const ctx = scu.contextFor(sopClass);
  if (!ctx) throw new PacsError('UNSUPPORTED', `the peer did not accept SOP class ${sopClass}`);
  return ctx;
}

const encode = (ds: JsonDataset, ts: string): Buffer => encodeJsonDataset(ds, ts, chooseCharacterSet(null, jsonTexts(ds)));

/** Worklist C-FIND: every answer, and the final response. */
export async function findWorklist(scu: ScuAssociation, query: JsonDataset): Promise<{ answers: JsonDataset[]; final: Command }> {
  const ctx = contextOf(scu, SopClass.ModalityWorklistInformationModelFind);
  const pending: Promise<JsonDataset>[] = [];
  const r = await scu.request(
    ctx.id,
    { CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: SopClass.ModalityWorklistInformationModelFind, Priority: Priority.Medium },
    encode(query, ctx.transferSyntax),
    (p) => {
      if (p.dataset) pending.push(decodeJsonDataset(p.dataset, ctx.transferSyntax).then((d) => d.dataset));
    },
  );
  return { answers: await Promise.all(pending), final: r.command };
}

/** MPPS N-CREATE; the response names the instance (the SCP's UID when we gave none). */
export async function mppsCreate(scu: ScuAssociation, uid: string | null, dataset: JsonDataset): Promise<Command> {
  const ctx = contextOf(scu, SopClass.ModalityPerformedProcedureStep);
  const r = await scu.request(
    ctx.id,
    { CommandField: CommandField.N_CREATE_RQ, AffectedSOPClassUID: SopClass.ModalityPerformedProcedureStep, ...(uid ? { AffectedSOPInstanceUID: uid } : {}) },
    encode(dataset, ctx.transferSyntax),
  );
  return r.command;
}

export async function mppsSet(scu: ScuAssociation, uid: string, changes: JsonDataset): Promise<Command> {
  const ctx = contextOf(scu, SopClass.ModalityPerformedProcedureStep);
  const r = await scu.request(
    ctx.id,
    { CommandField: CommandField.N_SET_RQ, RequestedSOPClassUID: SopClass.ModalityPerformedProcedureStep, RequestedSOPInstanceUID: uid },
    encode(changes, ctx.transferSyntax),
  );
  return r.command;
}

export interface CommitmentReport {
  transactionUID: string;
  /** Event Type ID: 1 all committed, 2 some failed. */
  eventTypeId: number;
  committed: { sopClassUID: string; sopInstanceUID: string }[];
  failed: { sopClassUID: string; sopInstanceUID: string; reason: number }[];
  /** The AE that sent it and whether it came on the association of the request. */
  from: string;
  sameAssociation: boolean;
}

/** Reads an N-EVENT-REPORT of Storage Commitment (PS3.4 J.3.3.1). */
export function readCommitmentReport(eventTypeId: number, ds: JsonDataset, from: string, sameAssociation: boolean): CommitmentReport {
  const refs = (key: string) => ((ds[key]?.Value ?? []) as JsonDataset[]).map((i) => ({
    sopClassUID: String(i['00081150']?.Value?.[0] ?? ''),
    sopInstanceUID: String(i['00081155']?.Value?.[0] ?? ''),
    reason: Number(i['00081197']?.Value?.[0] ?? 0),
  }));
  return {
    transactionUID: String(ds['00081195']?.Value?.[0] ?? ''),
    eventTypeId,
    committed: refs('00081199').map(({ sopClassUID, sopInstanceUID }) => ({ sopClassUID, sopInstanceUID })),
    failed: refs('00081198'),
    from,
    sameAssociation,
  };
}

/**
 * What the requester of a commitment does with an N-EVENT-REPORT-RQ that reaches it: reads it,
 * answers success, hands the report on. For ConnectOptions.onRequest, or an acceptor's session.
 */
export function commitmentReportSink(
  send: (contextId: number, command: Command) => Promise<void>,
  contextId: number,
  transferSyntax: string,
  command: Command,
  from: string,
  sameAssociation: boolean,
  onReport: (r: CommitmentReport) => void,
): DatasetSink | null {
  if (command.CommandField !== CommandField.N_EVENT_REPORT_RQ) return null;
  const answer = (status: number): void =>
    void send(contextId, {
      CommandField: CommandField.N_EVENT_REPORT_RSP,
      AffectedSOPClassUID: SopClass.StorageCommitmentPushModel,
      AffectedSOPInstanceUID: command.AffectedSOPInstanceUID ?? STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE,
      MessageIDBeingRespondedTo: command.MessageID ?? 0,
      CommandDataSetType: NO_DATASET,
      EventTypeID: command.EventTypeID ?? 0,
      Status: status,
    }).catch(() => {});
  return new BufferSink(16 * 1024 * 1024, (err, data) => {
    if (err) return answer(0x0110);
    decodeJsonDataset(data, transferSyntax).then(
      ({ dataset }) => {
        answer(0x0000);
        onReport(readCommitmentReport(command.EventTypeID ?? 0, dataset, from, sameAssociation));
      },
      () => answer(0x0110),
    );
  });
}

/** The N-ACTION-RQ asking the SCP to commit to keeping the instances (PS3.4 J.3.2). */
export async function requestCommitment(scu: ScuAssociation, transactionUID: string, instances: readonly { sopClassUID: string; sopInstanceUID: string }[]): Promise<Command> {
  const ctx = contextOf(scu, SopClass.StorageCommitmentPushModel);
  const ds: JsonDataset = {
    '00081195': { vr: 'UI', Value: [transactionUID] },
    '00081199': { vr: 'SQ', Value: instances.map((i) => ({ '00081150': { vr: 'UI', Value: [i.sopClassUID] }, '00081155': { vr: 'UI', Value: [i.sopInstanceUID] } })) },
  };
  const r = await scu.request(
    ctx.id,
    { CommandField: CommandField.N_ACTION_RQ, RequestedSOPClassUID: SopClass.StorageCommitmentPushModel, RequestedSOPInstanceUID: STORAGE_COMMITMENT_PUSH_MODEL_INSTANCE, ActionTypeID: 1 },
    encodeJsonDataset(ds, ctx.transferSyntax, null),
  );
  return r.command;
}
