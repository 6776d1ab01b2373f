// Which acknowledgment, if any, answers a message (HL7 v2.5.1 2.9.2 and 2.9.3: MSH-15 Accept
// Acknowledgment Type, MSH-16 Application Acknowledgment Type, both from Table 0155: AL always,
// NE never, ER on error or reject only, SU on success only).
//
// Original mode (MSH-15 and MSH-16 both empty): the application ACK (AA, AE, AR), always.
//
// Enhanced mode (either valued) has two acknowledgments in the standard: the accept ACK (CA,
// CE, CR), answered on the same connection once the message is in safe storage, and the
// application ACK (AA, AE, AR), sent later by the receiver as a message of its own on a
// connection it opens to the sender. This listener has no such connection (no outbound HL7
// sender, no address for one), and it applies a message before answering it, so both results
// are known when it answers. It answers on the connection it was sent on, at most once:
//   1. When MSH-15 asks for an accept ACK for the outcome, that one: CA when the message was
//      applied (nothing is queued between receipt and processing here: applied is committed);
//      CR when its MSH-9 type or event or its MSH-11 processing ID is not ours (Table 0357
//      200-203, what the standard keeps CR for); CE when it is not taken for any other reason
//      (a malformed segment, its character set, its content, our own failure). A message not
//      applied is never CA: its failure would then be told only by the application ACK we
//      cannot send, and the sender would hold the order as delivered. The ACK still carries the
//      application's result: MSA-3 says what was done or what is wrong, and a CE or CR has the
//      ERR segment the AE or AR would have.
//   2. Else, when MSH-16 asks for an application ACK for the outcome, that one (AA, AE, AR):
//      with no accept ACK wanted, the connection is the only way back, and it is where a sender
//      configured NE/AL (a common enhanced-mode setup) waits for it.
//   3. Else nothing: the sender said it wants no acknowledgment of this outcome; the connection
//      stays open and is read on.
//
// An empty MSH-15 (MSH-16 valued) says nothing of the accept ACK, so it does not let the sender
// go unanswered: the accept ACK is sent when the application ACK is not. An empty MSH-16 asks for
// no application ACK (it is not this connection's to begin with). A value not in Table 0155 is
// taken as AL: a sender that asked for something gets an answer.
//
// Never two ACKs for one message: a sender waiting for one answer per message (every MLLP
// client does) would take the second as the answer to its next message. What is lost: with
// both wanted on success (AL/AL, SU/SU ...) the separate AA after the CA is never sent; a
// standard sender then holds the message as accepted and waits for an application ACK that
// does not come. Such a sender should be set to NE/AL or AL/NE for this receiver (docs/conformance.md).
// After a CE or CR nothing is missing: an application ACK only follows an accepted message.
import type { AcceptAckCode, AckCode, ApplicationAckCode } from './ack.js';
import { Hl7ErrorCode, type Hl7Message } from './message.js';

export type AckCondition = 'AL' | 'NE' | 'ER' | 'SU';

/** MSH-15 and MSH-16 of a message in enhanced mode; null where empty. */
export interface EnhancedMode {
  accept: AckCondition | null;
  application: AckCondition | null;
}

const CONDITIONS: readonly string[] = ['AL', 'NE', 'ER', 'SU'];

const condition = (value: string): AckCondition | null => (value === '' ? null : CONDITIONS.includes(value) ? (value as AckCondition) : 'AL');

/** The message's enhanced mode, or null for original mode (or no message to read it from). */
export function enhancedMode(msg: Hl7Message | null): EnhancedMode | null {
  const msh = msg?.segment('MSH');
  if (!msg || !msh) return null;
  const [accept, application] = [15, 16].map((n) => msg.get(msh, n).toUpperCase()) as [string, string];
  if (accept === '' && application === '') return null;
  return { accept: condition(accept), application: condition(application) };
}

/** Table 0357 codes about MSH-9, MSH-11 and MSH-12: the message is not for us, a commit reject. */
const REJECTED: ReadonlySet<number> = new Set([Hl7ErrorCode.UnsupportedMessageType, Hl7ErrorCode.UnsupportedEventCode, Hl7ErrorCode.UnsupportedProcessingId, Hl7ErrorCode.UnsupportedVersionId]);

/** The accept ACK for a message whose application ACK would be `outcome` (with `problem`, its Table 0357 code). */
export function acceptCode(outcome: ApplicationAckCode, problem: number | null): AcceptAckCode {
  if (outcome === 'AA') return 'CA';
  return problem !== null && REJECTED.has(problem) ? 'CR' : 'CE';
}

const wanted = (c: AckCondition, success: boolean): boolean => c === 'AL' || (c === 'ER' && !success) || (c === 'SU' && success);

/**
 * The MSA-1 code of the one ACK answering a message whose application result is `outcome`, or
 * null when the sender asked for none (see the top of this file).
 */
export function answerCode(mode: EnhancedMode | null, outcome: ApplicationAckCode, problem: number | null): AckCode | null {
  if (!mode) return outcome;
  const success = outcome === 'AA';
  const application = mode.application !== null && wanted(mode.application, success);
  if (mode.accept === null ? !application : wanted(mode.accept, success)) return acceptCode(outcome, problem);
  return application ? outcome : null;
}
