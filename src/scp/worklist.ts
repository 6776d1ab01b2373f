// Basic Worklist Management Service Class, SCP role (PS3.4 Annex K): C-FIND on the Modality
// Worklist Information Model. One pending response per matching Scheduled Procedure Step,
// C-CANCEL honoured between them, answers in a character set that carries their text.
import { TS } from '../dicom/transfer-syntax.js';
import { lookupTag, tagOfKeyword, vrMismatch } from '../dicom/dictionary.js';
import { chooseCharacterSet } from '../dicom/identifier.js';
import { decodeJsonDataset, encodeJsonDataset, jsonElementText, jsonTexts } from '../dicom/json-encode.js';
import type { JsonDataset } from '../dicom/json.js';
import { SopClass } from '../dicom/uids.js';
import { CommandField, type Command } from '../net/dimse/command.js';
import { Status } from '../net/dimse/status.js';
import { QueryError } from '../index/query/types.js';
import { errorMessage } from '../core/errors.js';
import type { WorklistService } from '../services/worklist.js';
import type { Operation } from './qr.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';
import { cFindHandler, findFailure, findResponse, pendingAnswer } from './c-find.js';


/**
 * The first standard element, at any depth, under a VR PS3.6 does not give it: keys are
 * matched by their VR, so a date range sent as LO was compared as text and matched nothing.
 * UN of a standard element was read by its dictionary VR already (decodeJsonDataset); one
 * left UN (big endian) is refused, for a Scheduled Station AE Title that is no key would
 * hand every station's worklist to the asker.
 */
function wrongVR(ds: JsonDataset): { tag: number; comment: string } | null {
  for (const [key, el] of Object.entries(ds)) {
    const tag = Number.parseInt(key, 16);
    const comment = vrMismatch(tag, el.vr);
    if (comment) return { tag, comment };
    if (el.vr === 'SQ')
      for (const item of (el.Value ?? []) as JsonDataset[]) {
        const inner = wrongVR(item);
        if (inner) return inner;
      }
  }
  return null;
}

export interface WorklistScpDeps {
  worklist: WorklistService;
  /** Most answers to one C-FIND (query.max_results; 0 = all). */
  maxResults: () => number;
}

export function worklistScp(deps: WorklistScpDeps): ServiceClassProvider {
  return {
    name: 'worklist',
    sopClasses: [SopClass.ModalityWorklistInformationModelFind],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.C_FIND_RQ, CommandField.C_CANCEL_RQ],
    handle: cFindHandler((ctx, cmd, data, op) => find(deps, ctx, cmd, data, op)),
  };
}

/** The keys of a worklist query that have a value (those inside the Scheduled Procedure Step Sequence too), as text. */
function worklistKeys(query: JsonDataset): Record<string, string> {
  const out: Record<string, string> = {};
  const step = (query['00400100']?.Value?.[0] ?? {}) as JsonDataset;
  for (const ds of [query, step])
    for (const [tag, e] of Object.entries(ds)) {
      if (e.vr === 'SQ') continue;
      const text = jsonElementText(e);
      if (text !== '') out[lookupTag(Number.parseInt(tag, 16))?.keyword ?? tag] = text.slice(0, 64);
    }
  return out;
}

async function find(deps: WorklistScpDeps, ctx: ScpContext, cmd: Command, data: Buffer, op: Operation): Promise<void> {
  const fail = (status: number, comment: string, offending?: number): Promise<void> => findFailure(ctx, cmd, 'worklist C-FIND', status, comment, offending);

  let query: JsonDataset;
  let requestedCharset: string | null;
  try {
    ({ dataset: query, specificCharacterSet: requestedCharset } = await decodeJsonDataset(data, ctx.transferSyntax));
  } catch (e) {
    return fail(Status.IdentifierDoesNotMatchSOPClass, `identifier cannot be parsed: ${errorMessage(e)}`);
  }
  const wrong = wrongVR(query);
  if (wrong) return fail(Status.IdentifierDoesNotMatchSOPClass, wrong.comment, wrong.tag);
  let answers: JsonDataset[];
  try {
    answers = await deps.worklist.find(query, deps.maxResults());
  } catch (e) {
    if (e instanceof QueryError) return fail(Status.IdentifierDoesNotMatchSOPClass, e.message, e.keyword ? tagOfKeyword(e.keyword) : undefined);
    return fail(Status.UnableToProcess, `worklist query failed: ${errorMessage(e)}`);
  }
  // Who read which patients' schedule, as a C-FIND of the archive is recorded.
  ctx.audit('query', 'success', { model: 'worklist', keys: worklistKeys(query), answers: answers.length });
  for (const answer of answers) {
    if (op.cancelled) return findResponse(ctx, cmd, Status.Cancel);
    const charset = chooseCharacterSet(requestedCharset, jsonTexts(answer));
    await pendingAnswer(ctx, cmd, encodeJsonDataset(answer, ctx.transferSyntax, charset));
  }
  return findResponse(ctx, cmd, op.cancelled ? Status.Cancel : Status.Success);
}
