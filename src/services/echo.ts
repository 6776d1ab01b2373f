// C-ECHO of a known node: does it answer, and how fast (the "test" button of a node list).
import { type KnownNodeView, reachOf } from './nodes.js';
import { ScuAssociation } from '../net/client.js';
import { SopClass } from '../dicom/uids.js';
import { TS } from '../dicom/transfer-syntax.js';
import { errorMessage } from '../core/errors.js';

export interface EchoResult {
  ok: boolean;
  status: number | null;
  ms: number;
  error: string | null;
}

export async function echoNode(node: KnownNodeView, callingAE: string, timeoutMs = 10_000): Promise<EchoResult> {
  const started = performance.now();
  let scu: ScuAssociation | null = null;
  try {
    scu = await ScuAssociation.connect({
      ...reachOf(node),
      callingAETitle: callingAE,
      connectTimeoutMs: timeoutMs,
      dimseTimeoutMs: timeoutMs,
      timeouts: { artimMs: timeoutMs },
      contexts: [{ abstractSyntax: SopClass.Verification, transferSyntaxes: [TS.ImplicitVRLittleEndian] }],
    });
    const status = await scu.echo();
    return { ok: status === 0, status, ms: Math.round(performance.now() - started), error: status === 0 ? null : `status 0x${status.toString(16).padStart(4, '0')}` };
  } catch (e) {
    return { ok: false, status: null, ms: Math.round(performance.now() - started), error: errorMessage(e) };
  } finally {
    await scu?.release().catch(() => {});
  }
}
