// pacs commit: ask a node to commit to keeping instances (Storage Commitment Push Model) and
// wait for its report, on the same association or, with --listen, on one it opens to us.
import { readPart10Header } from '../dicom/part10.js';
import { AE_OPTIONS, type OptionSpec, UsageError, flag, helpFor, hostPort, intOption, maxPduOption, opt, parseArgs } from './args.js';
import { collectFiles } from './files.js';
import { CommitmentReportListener, requestAndWait } from './commitment-scu.js';
import type { InstanceRef } from '../services/commitment.js';

const SPECS: readonly OptionSpec[] = [
  ...AE_OPTIONS,
  { names: ['--instance'], arg: 'CLASS_UID:INSTANCE_UID', repeatable: true, description: 'an instance to commit (besides FILE|DIR arguments)' },
  { names: ['--listen'], arg: 'PORT', description: 'release at once and receive the report on this port (we must be a known node of the SCP)' },
  { names: ['--wait'], arg: 'SECONDS', description: 'how long to wait for the report (default 60)' },
  { names: ['--json'], description: 'print the report as JSON' },
];
export const commitHelp = helpFor('usage: pacs commit [-aet AET] [-aec AET] [--listen PORT] [--instance CLASS:UID]... HOST PORT [FILE|DIR]...', SPECS);

export async function commitCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  const { host, port } = hostPort(p, 'commit', true);
  const instances: InstanceRef[] = (p.options.get('--instance') ?? []).map((s) => {
    const [sopClassUID, sopInstanceUID] = s.split(':');
    if (!sopClassUID || !sopInstanceUID) throw new UsageError(`--instance ${s}: expected CLASS_UID:INSTANCE_UID`);
    return { sopClassUID, sopInstanceUID };
  });
  const { files, missing } = await collectFiles(p.positional.slice(2));
  if (missing.length) throw new UsageError(missing.map((m) => `${m.path}: ${m.reason}`).join(', '));
  for (const f of files) {
    const h = await readPart10Header(f).catch(() => null);
    if (h?.sopClassUID && h.sopInstanceUID) instances.push({ sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID });
    else process.stderr.write(`skipped ${f}: not a DICOM file with SOP Class and Instance UIDs\n`);
  }
  if (!instances.length) throw new UsageError('no instances: give files, directories or --instance');
  // One reference per instance (a file given twice, or as a file and as --instance), as the SCP reports it.
  const key = (i: InstanceRef): string => `${i.sopClassUID}|${i.sopInstanceUID}`;
  const unique = [...new Map(instances.map((i) => [key(i), i])).values()];
  const listenPort = opt(p, '--listen');
  const listener = listenPort ? new CommitmentReportListener({ port: intOption(p, '--listen', 0, 1, 65535) }) : null;
  await listener?.start();
  try {
    const r = await requestAndWait(
      { host, port, callingAETitle: opt(p, '-aet') ?? 'PACS', calledAETitle: opt(p, '-aec') ?? 'ANY-SCP', timeoutMs: intOption(p, '-to', 30, 1, 3600) * 1000, maxPduLength: maxPduOption(p) },
      unique,
      { waitMs: intOption(p, '--wait', 60, 1, 86400) * 1000, ...(listener ? { listener, releaseAtOnce: true } : {}) },
    );
    if (!r.report) {
      process.stderr.write(`N-ACTION failed with status 0x${r.status.toString(16).padStart(4, '0')}${r.comment ? `: ${r.comment}` : ''}\n`);
      return 1;
    }
    const rep = r.report;
    // An instance the report names neither committed nor failed is not committed to either.
    const reported = new Set([...rep.committed, ...rep.failed].map(key));
    const unreported = unique.filter((i) => !reported.has(key(i)));
    if (flag(p, '--json')) process.stdout.write(`${JSON.stringify(rep, null, 2)}\n`);
    else {
      for (const f of rep.failed) process.stdout.write(`failed     ${f.sopInstanceUID} (reason 0x${f.reason.toString(16).padStart(4, '0')})\n`);
      for (const i of unreported) process.stdout.write(`unreported ${i.sopInstanceUID} (not in the report)\n`);
      process.stdout.write(`${rep.committed.length} of ${unique.length} committed by ${rep.from} (${rep.sameAssociation ? 'same' : 'new'} association)\n`);
    }
    return rep.failed.length || unreported.length ? 1 : 0;
  } finally {
    await listener?.stop();
  }
}
