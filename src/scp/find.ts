// Query/Retrieve Service Class, C-FIND SCP (PS3.4 Annex C): Patient Root and Study Root at
// every level, answered from the index alone. One pending response per match, C-CANCEL
// honoured between matches, the request's character set answered when it can carry the text.
import { TS } from '../dicom/transfer-syntax.js';
import { Tag } from '../dicom/tags.js';
import { lookupTag, tagOfKeyword } from '../dicom/dictionary.js';
import { IdentifierError, chooseCharacterSet, decodeIdentifier, encodeIdentifier, sequenceKeysWithValues, type OutElement } from '../dicom/identifier.js';
import { CommandField, type Command } from '../net/dimse/command.js';
import { Status } from '../net/dimse/status.js';
import type { Association } from '../net/association.js';
import { SopClass } from '../dicom/uids.js';
import { INFORMATION_MODEL, type Operation, queryRetrieveLevel } from './qr.js';
import type { ArchiveIndex } from '../index/types.js';
import { type IndexQuery, QueryError, type QueryRow } from '../index/query/types.js';
import { planQuery } from '../index/query/plan.js';
import { queryPages } from '../index/query/pages.js';
import { errorMessage } from '../core/errors.js';
import type { ScpContext, ServiceClassProvider } from './registry.js';
import { cFindHandler, findFailure, findResponse, pendingAnswer } from './c-find.js';

/** Matches read from the index at a time for one C-FIND (about 1 KB of memory each). */
const FIND_PAGE = 1000;

export interface FindDeps {
  index: ArchiveIndex;
  aeTitle: () => string;
  /** Person names matched ignoring case and accents (configurable, default true). */
  fuzzyNames: () => boolean;
  /** Most matches answered to one C-FIND (0 = all); those beyond are left out, the final status still Success. */
  maxResults: () => number;
}

export function findScp(deps: FindDeps): ServiceClassProvider {
  return {
    name: 'find',
    sopClasses: [SopClass.PatientRootFind, SopClass.StudyRootFind],
    transferSyntaxes: () => [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian, TS.ExplicitVRBigEndian],
    preference: 'ours',
    commands: [CommandField.C_FIND_RQ, CommandField.C_CANCEL_RQ],
    // PS3.4 C.3.4 extended negotiation: relational queries and combined date-time matching are
    // supported; fuzzy person-name matching as query.fuzzy_person_names says (agreed with it
    // off, names were still matched literally); time zone adjustment is not. As long as the
    // proposal (C.5.1.1.2: the reply's fields are those proposed).
    extendedNegotiation: (_sopClass, info) =>
      Buffer.from([info[0] === 1 ? 1 : 0, info[1] === 1 ? 1 : 0, info[2] === 1 && deps.fuzzyNames() ? 1 : 0, 0].slice(0, Math.min(4, Math.max(1, info.length)))),
    handle: cFindHandler((ctx, cmd, data, op) => find(deps, ctx, cmd, data, op)),
  };
}

/** Byte `i` of the extended negotiation we answered for a SOP class (0: relational, 1: combined date-time). */
function agreed(assoc: Association, sopClass: string, i: number): boolean {
  return assoc.ac?.userInformation.extendedNegotiation.some((x) => x.sopClass === sopClass && x.info[i] === 1) ?? false;
}

async function find(deps: FindDeps, ctx: ScpContext, cmd: Command, data: Buffer, op: Operation): Promise<void> {
  const fail = (status: number, comment: string, offending?: number): Promise<void> => findFailure(ctx, cmd, 'C-FIND', status, comment, offending);

  let identifier;
  try {
    identifier = await decodeIdentifier(data, ctx.transferSyntax, { strict: true });
  } catch (e) {
    return fail(Status.IdentifierDoesNotMatchSOPClass, `identifier cannot be parsed: ${errorMessage(e)}`, e instanceof IdentifierError ? e.tag : undefined);
  }
  const parsed = queryRetrieveLevel(identifier.elements);
  if ('invalid' in parsed) return fail(Status.IdentifierDoesNotMatchSOPClass, `unknown Query/Retrieve Level "${parsed.invalid}"`, Tag.QueryRetrieveLevel);
  const { level } = parsed;
  const model = INFORMATION_MODEL[ctx.abstractSyntax]!;
  // Retrieve AE Title is ours to answer, whether asked for or not; group lengths and private
  // elements are not keys.
  const requested = identifier.elements.filter(
    (e) =>
      e.keyword &&
      (e.tag & 0xffff) !== 0 &&
      (e.tag >>> 16) % 2 === 0 &&
      e.tag !== Tag.QueryRetrieveLevel &&
      e.tag !== Tag.SpecificCharacterSet &&
      e.tag !== Tag.RetrieveAETitle,
  );
  const keys = requested.filter((e) => e.vr !== 'SQ').map((e) => ({ keyword: e.keyword!, value: e.value ?? '' }));
  const limit = deps.maxResults();
  const query: IndexQuery = {
    level,
    model,
    keys,
    // The identifier's keys are all an answer holds: no other column is read.
    returnKeys: [],
    relational: agreed(ctx.assoc, ctx.abstractSyntax, 0),
    combinedDateTime: agreed(ctx.assoc, ctx.abstractSyntax, 1),
    fuzzyNames: deps.fuzzyNames(),
    // The standard asks no order of C-FIND answers: the key's, which pages cheaply. Cut at
    // query.max_results, the newest first: cut from the oldest, the studies of today were the
    // ones left out.
    keyOrder: true,
    ...(limit > 0 ? { limit, newestFirst: true } : {}),
  };
  // Keys with a value that are not matched (not held, below the level, above it in a
  // hierarchical query): each answer is 0xFF01, "one or more Optional Keys were not supported"
  // (PS3.4 C.4.1.1.3.2), so the SCU knows the answers may hold more than it asked for.
  let pending: number = Status.Pending;
  try {
    // Sequence keys holding a value are not matched either (no sequence matching in the index):
    // the identifier read once more as a tree, only when it has a sequence.
    const sequences = requested.some((e) => e.vr === 'SQ') ? sequenceKeysWithValues(data, ctx.transferSyntax) : [];
    const ignored = [...planQuery(query).ignored, ...sequences.map((t) => lookupTag(t)?.keyword ?? t.toString(16))];
    if (ignored.length) {
      pending = Status.PendingWarning;
      ctx.logger.debug({ keys: ignored }, 'C-FIND keys not matched');
    }
  } catch {
    // refused below, by the query itself
  }
  // Read a page at a time: an archive of millions answers a universal query without holding
  // every match in memory (the first page is the whole answer of most queries).
  const pages = queryPages(deps.index, query, FIND_PAGE);
  const aeTitle = deps.aeTitle();
  let answers = 0;
  const audit = (outcome: 'success' | 'failure'): void =>
    ctx.audit('query', outcome, { level, keys: Object.fromEntries(keys.filter((k) => k.value !== '').map((k) => [k.keyword, k.value])), answers });
  for (;;) {
    let page: IteratorResult<QueryRow[]>;
    try {
      page = await pages.next();
    } catch (e) {
      audit('failure');
      if (e instanceof QueryError) return fail(Status.IdentifierDoesNotMatchSOPClass, e.message, e.keyword ? tagOfKeyword(e.keyword) : undefined);
      return fail(Status.UnableToProcess, `query failed: ${errorMessage(e)}`);
    }
    if (page.done) break;
    for (const row of page.value) {
      if (op.cancelled) {
        audit('success');
        return findResponse(ctx, cmd, Status.Cancel);
      }
      // Instance Availability: every instance we answer for is on our disks (QIDO-RS says so too).
      const out: OutElement[] = requested.map((e) => ({ tag: e.tag, vr: e.vr, value: e.vr === 'SQ' ? null : e.tag === Tag.InstanceAvailability && level !== 'PATIENT' ? 'ONLINE' : (row[e.keyword!] ?? null) }));
      out.push({ tag: Tag.QueryRetrieveLevel, vr: 'CS', value: level }, { tag: Tag.RetrieveAETitle, vr: 'AE', value: aeTitle });
      const texts = out.map((e) => (typeof e.value === 'string' ? e.value : '')).filter(Boolean);
      const charset = chooseCharacterSet(identifier.specificCharacterSet, texts);
      await pendingAnswer(ctx, cmd, encodeIdentifier(out, ctx.transferSyntax, charset), pending);
      answers++;
    }
  }
  audit('success');
  // No status says "cut short" (PS3.4 C.4.1.1.4): the log does.
  if (limit > 0 && answers >= limit) ctx.logger.info({ level, limit }, 'C-FIND answers reached query.max_results: any further matches were left out (the newest kept)');
  return findResponse(ctx, cmd, op.cancelled ? Status.Cancel : Status.Success);
}
