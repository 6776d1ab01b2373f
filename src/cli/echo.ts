// pacs echo: C-ECHO, like DCMTK's echoscu.
import { ScuAssociation } from '../net/client.js';
import { TS } from '../dicom/transfer-syntax.js';
import { SopClass } from '../dicom/uids.js';
import { AE_OPTIONS, type OptionSpec, helpFor, hostPort, intOption, maxPduOption, opt, parseArgs } from './args.js';

const SPECS: readonly OptionSpec[] = [...AE_OPTIONS, { names: ['-r', '--repeat'], arg: 'N', description: 'send N echoes on the association' }];
export const echoHelp = helpFor('usage: pacs echo [-aet AET] [-aec AET] [-r N] HOST PORT', SPECS);

export async function echoCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  const { host, port } = hostPort(p, 'echo');
  const timeout = intOption(p, '-to', 30, 1, 3600) * 1000;
  const repeat = intOption(p, '-r', 1, 1, 100000);
  const started = Date.now();
  const scu = await ScuAssociation.connect({
    host,
    port,
    callingAETitle: opt(p, '-aet') ?? 'PACS',
    calledAETitle: opt(p, '-aec') ?? 'ANY-SCP',
    contexts: [{ abstractSyntax: SopClass.Verification, transferSyntaxes: [TS.ExplicitVRLittleEndian, TS.ImplicitVRLittleEndian] }],
    connectTimeoutMs: timeout,
    dimseTimeoutMs: timeout,
    maxPduLength: maxPduOption(p),
  });
  try {
    for (let i = 0; i < repeat; i++) {
      const status = await scu.echo();
      if (status !== 0) throw new Error(`C-ECHO answered with status 0x${status.toString(16).padStart(4, '0')}`);
    }
  } finally {
    await scu.release();
  }
  process.stdout.write(`C-ECHO to ${host}:${port}: success (${repeat > 1 ? `${repeat} echoes, ` : ''}${Date.now() - started} ms)\n`);
  return 0;
}
