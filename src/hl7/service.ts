// What the HL7 listener does with a message: decode it in its character set, act on it —
// ORM^O01 and OMI^O23 orders feed the worklist, ADT^A08 updates a patient, ADT^A40 merges two — and
// answer with an ACK. Every failure becomes an AE or AR acknowledgment with its reason (CE or CR
// in enhanced mode); none reaches the listener. Which ACK is sent, if any, is ack-mode.ts's choice.
import type { JsonDataset } from '../dicom/json.js';
import { jsonElementText } from '../dicom/json-encode.js';
import { errorMessage, isPacsError } from '../core/errors.js';
import type { Logger } from '../core/logging.js';
import type { AuditEntry } from '../core/events.js';
import { remoteText } from '../core/remote-text.js';
import type { ArchiveIndex, MergeOutcome, PatientChanges, PatientKey } from '../index/types.js';
import { OPEN_SPS_STATUSES, type WorklistEntry, scheduledStep } from '../index/workflow.js';
import { type WorklistService, newUid } from '../services/worklist.js';
import { type ApplicationAckCode, CONTROL_ID_MAX, buildAck } from './ack.js';
import { answerCode, enhancedMode } from './ack-mode.js';
import { checkEncoding, configuredCharset, declaredCharset, messageCharset, unsupportedCharset, withoutBom } from './charset.js';
import { Hl7Error, Hl7ErrorCode, Hl7Message, placeIn, quoted, relocated } from './message.js';
import { stepKeyPrefix } from './ipc.js';
import { type Order, patientAttributes, readOrders, rekeyed } from './orders.js';
import { assigningAuthority, limit, value } from './values.js';

/** How much of what was done, or went wrong, a log line says. */
const LOGGED_MAX = 1000;

const SUPPORTED = 'ORM^O01, OMI^O23, ADT^A08, ADT^A40';

const isOpen = (e: WorklistEntry): boolean => (OPEN_SPS_STATUSES as readonly string[]).includes(e.status);

/** Patients one ADT^A40 may merge: each is a merge in one index transaction while the listener waits. */
const MAX_MERGES = 100;

export interface Hl7Deps {
  worklist: WorklistService;
  index: ArchiveIndex;
  logger: Logger;
  /** hl7.charset, hl7.station_ae, hl7.processing_ids and hl7.max_orders_per_message, read on each message (all but the first are live). */
  settings: () => { charset: string; stationAE: Readonly<Record<string, string>>; processingIds: readonly string[]; maxOrders: number };
  /** The audit trail: each message acted on or refused (orders, patient updates and merges change who is who). */
  audit?: (e: AuditEntry) => void;
}

export class Hl7Service {
  constructor(private readonly deps: Hl7Deps) {}

  /**
   * The acknowledgment (bytes, in the message's character set) for one message; null when the
   * sender asked for none of this outcome (enhanced mode, MSH-15 and MSH-16).
   */
  async handle(received: Buffer, remote = ''): Promise<Buffer | null> {
    const bytes = withoutBom(received);
    const fallback = configuredCharset(this.deps.settings().charset);
    const declared = declaredCharset(bytes);
    const known = messageCharset(declared, fallback);
    // The ACK is in the message's set when we can read it, else in hl7.charset, and says which.
    const charset = known ?? fallback;
    let msg: Hl7Message | null = null;
    let code: ApplicationAckCode = 'AA';
    let reason = 'accepted';
    let problem: Hl7Error | null = null;
    try {
      // Read even when a segment is malformed, its set unknown or its bytes bad: the ACK then
      // quotes its control ID.
      msg = Hl7Message.read(bytes.toString(charset.encoding));
      if (msg.malformed) throw msg.malformed;
      if (!known) throw unsupportedCharset(declared);
      checkEncoding(bytes, charset);
      // An acknowledgment is not answered: two sides that answer everything (an engine sending
      // its ACKs here, a loop) would acknowledge each other's AR for ever.
      const kind = msg.get(msg.segment('MSH'), 9).toUpperCase();
      if (kind === 'ACK' || kind === 'MCF') {
        this.deps.logger.info({ remote, type: kind, control: remoteText(msg.get(msg.segment('MSH'), 10), CONTROL_ID_MAX) }, 'HL7 acknowledgment received: not answered');
        return null;
      }
      reason = await this.act(msg);
    } catch (e) {
      problem = e instanceof Hl7Error ? e : new Hl7Error(`cannot process the message: ${remoteText(errorMessage(e))}`, Hl7ErrorCode.ApplicationInternalError);
      code = problem.ack;
      reason = problem.message;
    }
    const log = this.deps.logger;
    // What the peer wrote is cut for the log as for the ACK: MSH-10 to the 199 characters MSA-2
    // echoes, the rest shorter (a message of many orders says what it did for each).
    const type = msg ? remoteText(`${msg.get(msg.segment('MSH'), 9)}^${msg.get(msg.segment('MSH'), 9, 2)}`, 20) : '?';
    const control = remoteText(msg?.get(msg.segment('MSH'), 10) ?? '', CONTROL_ID_MAX);
    const mode = enhancedMode(msg);
    const sent = answerCode(mode, code, problem?.code ?? null);
    // In enhanced mode the log says the mode and what was answered (CA, CE, CR, AA ... or none).
    const enhanced = mode ? { ackMode: `${mode.accept ?? ''}/${mode.application ?? ''}`, ack: sent ?? 'none' } : {};
    if (code === 'AA') log.info({ remote, type, control, ...enhanced, result: remoteText(reason, LOGGED_MAX) }, 'HL7 message accepted');
    else log.warn({ remote, type, control, ack: code, ...enhanced, error: remoteText(reason, LOGGED_MAX) }, 'HL7 message not accepted');
    this.deps.audit?.({
      action: 'hl7',
      outcome: code === 'AA' ? 'success' : 'failure',
      who: msg ? remoteText(msg.get(msg.segment('MSH'), 3), 64) || null : null,
      from: remote || null,
      what: { type, control, ack: code, [code === 'AA' ? 'result' : 'error']: remoteText(reason, LOGGED_MAX) },
    });
    if (sent === null) return null;
    const ack = buildAck(msg, sent, reason, problem ? { code: problem.code, text: problem.message, location: problem.location } : null, charset.name);
    return Buffer.from(charset.encoding === 'latin1' ? inLatin1(ack, charset.name === 'ASCII' ? 0x7f : 0xff) : ack, charset.encoding);
  }

  /** Acts on a parsed message; returns what was done, throws Hl7Error for the ACK. */
  private async act(msg: Hl7Message): Promise<string> {
    const msh = msg.segment('MSH');
    const type = msg.get(msh, 9).toUpperCase();
    const event = msg.get(msh, 9, 2).toUpperCase();
    const processing = msg.get(msh, 11).toUpperCase();
    if (processing && !['P', 'T', 'D'].includes(processing))
      throw new Hl7Error(`MSH-11 processing ID ${quoted(processing)} is not P, T or D`, Hl7ErrorCode.UnsupportedProcessingId, 'MSH-11', 'AR');
    // A training or debugging message is for a test system: never applied to production data.
    const accepted = this.deps.settings().processingIds;
    if (processing && !accepted.includes(processing))
      throw new Hl7Error(`MSH-11 processing ID ${processing} is not applied here (hl7.processing_ids: ${accepted.join(', ')})`, Hl7ErrorCode.UnsupportedProcessingId, 'MSH-11', 'AR');
    if (!msg.get(msh, 10)) throw new Hl7Error('MSH-10 message control ID is empty', Hl7ErrorCode.RequiredFieldMissing, 'MSH-10', 'AR');
    // Version 2.x only: the segments and fields read here are v2's (2.1 to 2.9 keep them in place).
    const version = msg.get(msh, 12).trim();
    if (version && !/^2(\.\d+)*$/.test(version))
      throw new Hl7Error(`MSH-12 version ${quoted(version)} is not supported (HL7 v2: 2.1 to 2.9)`, Hl7ErrorCode.UnsupportedVersionId, 'MSH-12', 'AR');
    if (type === 'ORM' && event === 'O01') return this.orders(msg, false);
    // Answered with the general ACK (ACK^O23^ACK), as an ORM^O01 is, not with the ORI^O24 v2.5.1
    // names for it: RIS engines take an ACK, and ORI's own segments would only repeat the order.
    if (type === 'OMI' && event === 'O23') return this.orders(msg, true);
    if (type === 'ADT' && ['A08', 'A31'].includes(event)) return this.updatePatient(msg);
    if (type === 'ADT' && event === 'A40') return this.mergePatients(msg);
    if (type === 'ORM' || type === 'OMI' || type === 'ADT') throw new Hl7Error(`event ${quoted(`${type}^${event}`)} is not supported (${SUPPORTED})`, Hl7ErrorCode.UnsupportedEventCode, 'MSH-9', 'AR');
    throw new Hl7Error(`message type ${quoted(type)} is not supported (${SUPPORTED})`, Hl7ErrorCode.UnsupportedMessageType, 'MSH-9', 'AR');
  }

  private async orders(msg: Hl7Message, imaging: boolean): Promise<string> {
    // Every order is checked before any is applied — its fields in readOrders, a cancel's
    // targets here — so a bad later order does not leave the earlier ones done under an AE.
    const { stationAE, maxOrders } = this.deps.settings();
    const orders = await Promise.all(readOrders(msg, { stationAE, maxOrders, imaging }).map((o) => this.known(o)));
    const scheduledHere = new Set<string>();
    for (const [i, o] of orders.entries()) {
      try {
        if (o.control !== 'cancel') {
          scheduledHere.add(o.key);
          for (const e of await this.dropped(o)) notInProgress(o.key, e);
          continue;
        }
        const current = await this.entriesOf(o.key);
        if (!scheduledHere.has(o.key) && !current.length) throw new Hl7Error(`no order ${quoted(o.key)} to cancel`, Hl7ErrorCode.UnknownKeyIdentifier, 'ORC-2');
        for (const e of current) notInProgress(o.key, e);
      } catch (e) {
        // Each order is one ORC, in the message's order: the ACK names the one at fault.
        throw relocated(e, 'ORC', i + 1);
      }
    }
    const done: string[] = [];
    for (const [i, o] of orders.entries()) {
      if (o.control === 'cancel') {
        const current = await this.entriesOf(o.key);
        if (!current.length) throw new Hl7Error(`order ${quoted(o.key)} went away while the message was applied`, Hl7ErrorCode.ApplicationInternalError, placeIn('ORC', i + 1, '-2'));
        for (const e of current) done.push(await this.cancelStep(o.key, e));
        continue;
      }
      await this.oneStudy(o);
      for (const step of o.steps) {
        const name = stepName(o.key, { sourceKey: step.key, scheduledProcedureStepID: jsonElementText(scheduledStep(step.dataset)?.['00400009']) });
        const current = await this.deps.worklist.bySourceKey('hl7', step.key);
        // A step that is over (done, discontinued, canceled) is left as it is, and the message
        // still answered AA: an NW again is most often a resend after a lost ACK, which
        // original acknowledgment mode expects, and neither it nor a late XO may bring the
        // step back into the worklist or rewrite what was performed. MSA-3 says so.
        if (current && !isOpen(current)) {
          done.push(`${name} is ${current.status}: unchanged`);
          continue;
        }
        // A change of an order we never saw is taken as new: the worklist then has what the placer has.
        // One we have keeps its status (the message carries none: see readOrder).
        const entry = await this.deps.worklist.upsertFromSource('hl7', step.key, step.dataset);
        done.push(`${name} ${current ? (entry ? 'changed' : 'unchanged') : 'scheduled'}`);
      }
      for (const e of await this.dropped(o)) done.push(await this.cancelStep(o.key, e));
    }
    return done.join('; ');
  }

  /**
   * The order under the key it is known by: its placer number, else — nothing under that, and its
   * filler number naming entries — the filler's (an order first sent without a placer number:
   * its XO made a second entry, its CA was refused as unknown).
   */
  private async known(o: Order): Promise<Order> {
    if (o.otherKey === undefined || (await this.entriesOf(o.key)).length || !(await this.entriesOf(o.otherKey)).length) return o;
    return rekeyed(o, o.otherKey);
  }

  /**
   * The entries of an order: the one under its own key (an ORM^O01's, an OMI^O23 step without
   * an ID) and its OMI^O23 steps (ipc.ts). A cancel or a change of the order is one of them all.
   */
  private async entriesOf(orderKey: string): Promise<WorklistEntry[]> {
    const own = await this.deps.worklist.bySourceKey('hl7', orderKey);
    // The store, not the service: a read of keys the service has no call for.
    const steps = await this.deps.index.worklist.bySourceKeyPrefix('hl7', stepKeyPrefix(orderKey));
    return own ? [own, ...steps.filter((e) => e.id !== own.id)] : steps;
  }

  /** The open entries of an order that a change naming all its steps (OMI^O23 XO) no longer names. */
  private async dropped(o: Order): Promise<WorklistEntry[]> {
    if (!o.complete) return [];
    const named = new Set(o.steps.map((s) => s.key));
    return (await this.entriesOf(o.key)).filter((e) => !named.has(e.sourceKey ?? '') && isOpen(e));
  }

  /**
   * A step canceled (CANCELED: it leaves the worklist). One that is over stays what it became,
   * answered AA (MSA-3 says so): canceling a COMPLETED one made what was performed look never
   * done. A resent CA also lands here.
   */
  private async cancelStep(orderKey: string, e: WorklistEntry): Promise<string> {
    const name = stepName(orderKey, e);
    if (!isOpen(e)) return `${name} is ${e.status}: not canceled`;
    notInProgress(orderKey, e);
    await this.deps.worklist.cancel(e.id);
    return `${name} canceled`;
  }

  /**
   * The steps of one order are one Requested Procedure, one study: those given no Study Instance
   * UID take the one another step is given, else the one the order's entries have, else one made
   * here for all — left to the worklist, each entry made a study of its own.
   */
  private async oneStudy(o: Order): Promise<void> {
    const uidOf = (ds: JsonDataset): string => jsonElementText(ds['0020000D']);
    const without = o.steps.filter((s) => !uidOf(s.dataset));
    if (o.steps.length < 2 || !without.length) return;
    const uid = o.steps.map((s) => uidOf(s.dataset)).find((u) => u) ?? (await this.entriesOf(o.key)).map((e) => e.studyInstanceUID).find((u) => u) ?? newUid();
    for (const s of without) s.dataset['0020000D'] = { vr: 'UI', Value: [uid] };
  }

  /** ADT^A08 (and A31): the patient's demographics in every worklist entry and in the index. */
  private async updatePatient(msg: Hl7Message): Promise<string> {
    const attrs = patientAttributes(msg, msg.segment('PID'), true);
    const key = patientKey(attrs);
    const entries = await this.rewriteEntries(key, attrs);
    const indexed = await this.deps.index.updatePatient(await this.indexed(key), demographicChanges(attrs));
    return `patient ${key.PatientID}: ${entries} worklist entries updated${indexed ? ', index updated' : ''}`;
  }

  /** ADT^A40: each MRG-1 prior patient merged into the PID-3 patient before it. */
  private async mergePatients(msg: Hl7Message): Promise<string> {
    // Every pair is read and checked before any is applied, as the orders of an ORM are: a bad
    // later pair used to be found after the earlier ones were merged, left so under an AE.
    const pairs: Array<{ prior: string; from: PatientKey; to: PatientKey; attrs: JsonDataset }> = [];
    let pid: ReturnType<Hl7Message['segment']>;
    let attrs: JsonDataset | null = null; // the surviving patient's, read once per PID
    for (const s of msg.segments) {
      if (s.name === 'PID') {
        pid = s;
        attrs = null;
      }
      if (s.name !== 'MRG') continue;
      if (!pid) throw new Hl7Error('MRG without the PID of the surviving patient before it', Hl7ErrorCode.SegmentSequence, 'MRG');
      if (pairs.length === MAX_MERGES)
        throw new Hl7Error(`the message has more than ${MAX_MERGES} MRG segments: none was merged, send them in smaller messages`, Hl7ErrorCode.SegmentSequence, 'MRG');
      attrs ??= patientAttributes(msg, pid, true);
      const prior = limit(value(msg, s, 1), 64, 'MRG-1');
      if (!prior) throw new Hl7Error('MRG-1 has no prior patient identifier', Hl7ErrorCode.RequiredFieldMissing, 'MRG-1');
      pairs.push({ prior, from: { PatientID: prior, IssuerOfPatientID: limit(assigningAuthority(msg, s, 1), 64, 'MRG-1.4') || null }, to: patientKey(attrs), attrs });
    }
    if (!pairs.length) throw new Hl7Error('ADT^A40 needs an MRG segment', Hl7ErrorCode.SegmentSequence, 'MRG');
    // The index takes every pair in one transaction and records each as a link, which images
    // of the prior patient arriving later follow (it may not be indexed yet: the worklist was
    // fetched before the merge). It refuses them all when one would make a cycle or merge a
    // prior patient already merged elsewhere — checked there, against what every server sharing
    // the index recorded. Only then are the worklist entries moved.
    const controlId = remoteText(msg.get(msg.segment('MSH'), 10), CONTROL_ID_MAX);
    let outcomes: MergeOutcome[];
    try {
      outcomes = await this.deps.index.mergePatients(pairs.map((p) => ({ prior: p.from, surviving: p.to, controlId })));
    } catch (e) {
      if (isPacsError(e, 'CONFLICT')) throw new Hl7Error(e.message, Hl7ErrorCode.DuplicateKeyIdentifier, 'MRG-1');
      throw e;
    }
    const done: string[] = [];
    for (const [i, { prior, from, to, attrs }] of pairs.entries()) {
      // The surviving identity is PID-3 as given: without an issuer there, the moved entries keep
      // none (an old issuer with the new ID would name a patient that does not exist).
      const entries = await this.rewriteEntries(from, attrs, to.IssuerOfPatientID === null ? ['00100021'] : []);
      const { studies, into } = outcomes[i]!;
      const onward = into.PatientID === to.PatientID ? '' : ` (filed under ${into.PatientID}, which it was merged into)`;
      // The surviving patient as the PID describes it, in the index too (IHE RAD-12), as an A08
      // would: a prior patient taking PID-3's place (PID-3 not indexed yet) kept its own name —
      // "UNKNOWN^TRAUMA" stayed on the study, which a search by the real name missed. Not when
      // PID-3 was itself merged onward: the PID does not describe that patient.
      if (!onward) await this.deps.index.updatePatient(await this.indexed(to), demographicChanges(attrs));
      done.push(`${prior} merged into ${to.PatientID}${onward}: ${entries} worklist entries, ${studies} studies moved`);
    }
    return done.join('; ');
  }

  /**
   * The patient as the index knows it: images often come without Issuer of Patient ID while
   * the hospital system always names one, so an ID indexed without issuer is the same patient.
   */
  private async indexed(key: PatientKey): Promise<PatientKey> {
    if (key.IssuerOfPatientID === null || (await this.deps.index.findPatient(key.PatientID, key.IssuerOfPatientID))) return key;
    return (await this.deps.index.findPatient(key.PatientID, null)) ? { PatientID: key.PatientID, IssuerOfPatientID: null } : key;
  }

  /**
   * Puts the patient attributes into every worklist entry of a patient (and removes those of
   * `drop`); returns how many changed.
   * The same Patient ID from another issuer is another patient. As in the index (see
   * indexed()): a message naming an issuer takes the entries of that issuer and those without
   * one; a message naming none takes only the entries without one (it used to take every
   * issuer's, changing patients the index left alone).
   */
  private async rewriteEntries(key: PatientKey, attrs: JsonDataset, drop: readonly string[] = []): Promise<number> {
    const { entries } = await this.deps.worklist.list({ patientID: key.PatientID, limit: -1, offset: 0 });
    const mine = entries.filter((e) => {
      const issuer = jsonElementText(e.dataset['00100021']);
      return issuer === '' || issuer === key.IssuerOfPatientID;
    });
    for (const e of mine) {
      const ds: JsonDataset = { ...structuredClone(e.dataset), ...attrs };
      // The step's status is left out: the entry keeps the one it has when written (an MPPS may
      // complete it meanwhile, and the one read here would put it back).
      delete scheduledStep(ds)?.['00400020'];
      for (const tag of drop) delete ds[tag];
      await this.deps.worklist.update(e.id, ds);
    }
    return mine.length;
  }
}

/**
 * Throws AE 206 for a cancel (ORC-1 CA, OC, DC, or an OMI^O23 XO leaving the step out) of a
 * step a modality has started: the modality ends or discontinues it (MPPS), and the worklist
 * follows; canceled under it, the step's outcome would be overwritten when it reports.
 */
function notInProgress(orderKey: string, e: WorklistEntry): void {
  if (e.status === 'STARTED')
    throw new Hl7Error(`${stepName(orderKey, e, quoted)} is in progress (STARTED at the modality): not canceled; the modality completes or discontinues the step`, Hl7ErrorCode.ApplicationRecordLocked, 'ORC-1');
}

/** How MSA-3 names a step: "order P" for the entry under the order's own key, "order P step S" for an OMI^O23 step. */
function stepName(orderKey: string, e: { sourceKey: string | null; scheduledProcedureStepID: string | null }, q = (v: string): string => v): string {
  return e.sourceKey === orderKey ? `order ${q(orderKey)}` : `order ${q(orderKey)} step ${q(e.scheduledProcedureStepID ?? '')}`;
}

function patientKey(attrs: JsonDataset): PatientKey {
  return { PatientID: String(attrs['00100020']!.Value![0]), IssuerOfPatientID: (attrs['00100021']?.Value?.[0] as string | undefined) ?? null };
}

/**
 * The ACK's text with what its one-byte set cannot hold as '?'. A character the message brought in
 * (an escape \X..\ read as UTF-8) was written as its low byte: U+011C (Ĝ) went out as 0x1C, the
 * frame's end, and a forged ACK could follow it.
 */
function inLatin1(text: string, highest: number): string {
  let out = '';
  for (const ch of text) out += ch.codePointAt(0)! > highest ? '?' : ch;
  return out;
}

/** The demographics a PID names, as index changes: a left-out attribute is no change, an empty one a delete (NULL). */
function demographicChanges(attrs: JsonDataset): PatientChanges {
  const text = (k: string): string | null => {
    const v = attrs[k]?.Value?.[0];
    return v === undefined ? null : typeof v === 'object' ? ((v as { Alphabetic?: string }).Alphabetic ?? null) : String(v);
  };
  const changes: PatientChanges = {};
  for (const [name, tag] of [['PatientName', '00100010'], ['PatientBirthDate', '00100030'], ['PatientSex', '00100040']] as const) {
    if (tag in attrs) changes[name] = text(tag);
  }
  return changes;
}
