// Opening the SCU association of a Q/R command: our AE titles from -aet/-aec, one context for
// the information model, the timeout of -to.
import { ScuAssociation, type ConnectOptions } from '../net/client.js';
import { TS } from '../dicom/transfer-syntax.js';
import { type Parsed, maxPduOption, opt } from './args.js';

export function connectQR(
  p: Parsed,
  target: { host: string; port: number },
  sopClass: string,
  timeoutMs: number,
  extra: Partial<ConnectOptions> = {},
): Promise<ScuAssociation> {
  return ScuAssociation.connect({
    ...target,
    callingAETitle: opt(p, '-aet') ?? 'PACS',
    calledAETitle: opt(p, '-aec') ?? 'ANY-SCP',
    connectTimeoutMs: Math.min(timeoutMs, 30_000),
    dimseTimeoutMs: timeoutMs,
    maxPduLength: maxPduOption(p),
    ...extra,
    contexts: [{ abstractSyntax: sopClass, transferSyntaxes: [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian] }, ...(extra.contexts ?? [])],
  });
}
