// pacs store: C-STORE files and directories to any SCP with our own client, N associations at
// once (-j), a progress bar and a summary of what failed and why.
import fs from 'node:fs';
import { readPart10Header } from '../dicom/part10.js';
import { ScuAssociation } from '../net/client.js';
import { Status, isFailure, isWarning } from '../net/dimse/status.js';
import { errorMessage } from '../core/errors.js';
import { AE_OPTIONS, type OptionSpec, UsageError, helpFor, hostPort, intOption, maxPduOption, opt, parseArgs } from './args.js';
import { collectFiles, eachLimit } from './files.js';
import { progress } from './progress.js';

const SPECS: readonly OptionSpec[] = [...AE_OPTIONS, { names: ['-j', '--jobs'], arg: 'N', description: 'associations at once (default 1)' }];
export const storeHelp = helpFor('usage: pacs store [-aet AET] [-aec AET] [-j N] HOST PORT FILE|DIR...', SPECS);

interface Item {
  file: string;
  sopClassUID: string;
  sopInstanceUID: string;
  transferSyntaxUID: string;
  datasetOffset: number;
  size: number;
}

interface Failure {
  file: string;
  reason: string;
}

/** Presentation contexts per association: the standard's maximum (PS3.8 9.3.2.2). */
const MAX_CONTEXTS = 128;

export async function storeCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  const { host, port } = hostPort(p, 'store', true);
  const inputs = p.positional.slice(2);
  if (!inputs.length) throw new UsageError('store: give at least one FILE or DIR');
  const jobs = intOption(p, '-j', 1, 1, 64);
  const timeout = intOption(p, '-to', 30, 1, 3600) * 1000;
  const { files, missing } = await collectFiles(inputs);
  const failures: Failure[] = missing.map((f) => ({ file: f.path, reason: f.reason }));

  // Read every header first: the presentation contexts to propose and the total for the bar.
  const items: Item[] = [];
  for (const file of files) {
    try {
      const h = await readPart10Header(file);
      if (!h.sopClassUID || !h.sopInstanceUID) throw new Error('no SOP Class/Instance UID in its File Meta Information');
      items.push({ file, sopClassUID: h.sopClassUID, sopInstanceUID: h.sopInstanceUID, transferSyntaxUID: h.transferSyntaxUID, datasetOffset: h.datasetOffset, size: fs.statSync(file).size });
    } catch (e) {
      failures.push({ file, reason: errorMessage(e) });
    }
  }

  // Group the items so that each group needs at most 128 (SOP class, transfer syntax) pairs.
  const groups: Item[][] = [];
  const keysOf: Set<string>[] = [];
  for (const it of items) {
    const key = `${it.sopClassUID}|${it.transferSyntaxUID}`;
    let g = keysOf.findIndex((k) => k.has(key) || k.size < MAX_CONTEXTS);
    if (g < 0) g = groups.push([]) - 1;
    if (!groups[g]) groups[g] = [];
    (keysOf[g] ??= new Set()).add(key);
    groups[g]!.push(it);
  }

  const bar = progress(items.length, 'store');
  const notes: string[] = [];
  let ok = 0;
  let warnings = 0;
  let bytes = 0;
  const started = Date.now();
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    const contexts = [...keysOf[g]!].map((k) => {
      const [abstractSyntax, ts] = k.split('|') as [string, string];
      return { abstractSyntax, transferSyntaxes: [ts] };
    });
    const queue = [...group];
    const worker = async (): Promise<void> => {
      // An association the peer ended is opened again for the files left, as long as the last
      // one took at least one: a peer that aborts each association at its first file is left.
      for (let progressed = true; progressed && queue.length; ) {
        let scu: ScuAssociation;
        try {
          scu = await ScuAssociation.connect({
            host,
            port,
            callingAETitle: opt(p, '-aet') ?? 'PACS',
            calledAETitle: opt(p, '-aec') ?? 'ANY-SCP',
            contexts,
            connectTimeoutMs: timeout,
            dimseTimeoutMs: timeout,
            maxPduLength: maxPduOption(p),
          });
        } catch (e) {
          // This worker cannot help; the others send the files, or the files left fail below.
          refused.push(errorMessage(e));
          return;
        }
        progressed = false;
        let ended = false;
        try {
          for (let it = queue.shift(); it && !ended; it = ended ? undefined : queue.shift()) {
            const ctx = scu.contextFor(it.sopClassUID, it.transferSyntaxUID);
            if (!ctx) {
              failures.push({ file: it.file, reason: 'the peer accepted no presentation context for its SOP class and transfer syntax' });
              bar.tick();
              continue;
            }
            try {
              const rsp = await scu.store(ctx.id, it.sopClassUID, it.sopInstanceUID, fs.createReadStream(it.file, { start: it.datasetOffset, highWaterMark: 256 * 1024 }));
              const status = rsp.Status ?? -1;
              progressed = true;
              if (status === Status.Success) ok++;
              else if (isWarning(status)) {
                ok++;
                warnings++;
              }
              if (isFailure(status) || status < 0)
                failures.push({ file: it.file, reason: `status 0x${status.toString(16).padStart(4, '0')}${rsp.ErrorComment ? `: ${rsp.ErrorComment}` : ''}` });
              else bytes += it.size;
            } catch (e) {
              failures.push({ file: it.file, reason: errorMessage(e) });
              if (!scu.assoc.established) {
                lost.push(errorMessage(e));
                ended = true;
              }
            }
            bar.tick();
          }
        } finally {
          await scu.release().catch(() => {});
        }
        if (!ended) return;
      }
    };
    const refused: string[] = [];
    const lost: string[] = [];
    await eachLimit(Array.from({ length: jobs }, (_, i) => i), jobs, worker);
    const why = lost.length ? `the peer ended the association (${lost.at(-1)})` : `no association could be opened${refused[0] ? ` (${refused[0]})` : ''}`;
    for (const it of queue) failures.push({ file: it.file, reason: `not sent: ${why}` });
    // More associations than the peer allows (-j above its per-AE limit) is no failure when the others sent everything.
    if (refused.length && !queue.length) notes.push(`${refused.length} of ${jobs} associations refused (the others sent the files): ${refused[0]}`);
  }
  bar.stop();
  const secs = (Date.now() - started) / 1000;
  const out = process.stdout;
  out.write(
    `Sent ${ok} of ${files.length + missing.length} files (${(bytes / 1048576).toFixed(1)} MB) in ${secs.toFixed(1)} s` +
      ` (${(ok / Math.max(secs, 0.001)).toFixed(0)} instances/s)` +
      `${warnings ? `, ${warnings} with warnings` : ''}, ${failures.length} failed\n`,
  );
  for (const n of notes) out.write(`  NOTE ${n}\n`);
  for (const f of failures.slice(0, 50)) out.write(`  FAILED ${f.file}: ${f.reason}\n`);
  if (failures.length > 50) out.write(`  ... and ${failures.length - 50} more\n`);
  return failures.length ? 1 : 0;
}
