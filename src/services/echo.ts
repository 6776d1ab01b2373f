// C-ECHO of a known node: does it answer, and how fast (the "test" button of a node list).
import type { ConnectionOptions } from 'node:tls';
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

export async function echoNode(node: { ae_title: string; host: string; port: number; tlsOptions?: ConnectionOptions | undefined }, callingAE: string, timeoutMs = 10_000): Promise<EchoResult> {
  const started = performance.now();
  let scu: ScuAssociation | null = null;
  try {
    scu = await ScuAssociation.connect({
      host: node.host,
      port: node.port,
      callingAETitle: callingAE,
      calledAETitle: node.ae_title,
      connectTimeoutMs: timeoutMs,
      dimseTimeoutMs: timeoutMs,
      timeouts: { artimMs: timeoutMs },
      contexts: [{ abstractSyntax: SopClass.Verification, transferSyntaxes: [TS.ImplicitVRLittleEndian] }],
      ...(node.tlsOptions ? { tls: node.tlsOptions } : {}),
    });
    const status = await scu.echo();
    return { ok: status === 0, status, ms: Math.round(performance.now() - started), error: status === 0 ? null : `status 0x${status.toString(16).padStart(4, '0')}` };
  } catch (e) {
    return { ok: false, status: null, ms: Math.round(performance.now() - started), error: errorMessage(e) };
  } finally {
    await scu?.release().catch(() => {});
  }
}
