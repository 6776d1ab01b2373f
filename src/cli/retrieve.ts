// pacs move and pacs get: C-MOVE to a destination AE, or C-GET into a folder, against any
// Q/R SCP; keys as for pacs find. C-GET receives on its own association as Storage SCP.
import fs from 'node:fs';
import path from 'node:path';
import { finished } from 'node:stream';
import { connectQR } from './connect.js';
import { CommandField, Priority, type Command, storeResponse } from '../net/dimse/command.js';
import { Status, errorComment, isFailure } from '../net/dimse/status.js';
import type { DatasetSink } from '../net/dimse/assembler.js';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '../net/acse.js';
import { encodeFileMetaInformation } from '../dicom/part10.js';
import { encodeIdentifier, decodeIdentifier } from '../dicom/identifier.js';
import { Tag } from '../dicom/tags.js';
import { SopClass } from '../dicom/uids.js';
import { getStorageNegotiation } from '../dicom/common-storage.js';
import { aeOptions, type OptionSpec, UsageError, helpFor, hostPort, intOption, opt, parseArgs } from './args.js';
import { identifierKeys, patientRoot } from './find.js';
import { progress } from './progress.js';

const MOVE = { P: SopClass.PatientRootMove, S: SopClass.StudyRootMove };
const GET = { P: SopClass.PatientRootGet, S: SopClass.StudyRootGet };

const COMMON: readonly OptionSpec[] = [
  ...aeOptions(600),
  { names: ['-P', '--patient'], description: 'Patient Root information model (taken for -L PATIENT, which Study Root lacks)' },
  { names: ['-S', '--study'], description: 'Study Root information model (default)' },
  { names: ['-L', '--level'], arg: 'LEVEL', description: 'PATIENT, STUDY (default), SERIES or IMAGE' },
  { names: ['-k', '--key'], arg: 'TAG=VALUE', repeatable: true, description: 'unique keys: StudyInstanceUID=1.2.3, PatientID=123' },
];
const MOVE_SPECS: readonly OptionSpec[] = [...COMMON, { names: ['--dest', '-aem'], arg: 'AETITLE', description: 'move destination AE title (required)' }];
const GET_SPECS: readonly OptionSpec[] = [...COMMON, { names: ['-o', '--output'], arg: 'DIR', description: 'folder for the received files (default .)' }];
export const moveHelp = helpFor('usage: pacs move [-aet AET] [-aec AET] --dest AET [-P|-S] [-L LEVEL] -k TAG=VALUE... HOST PORT', MOVE_SPECS);
export const getHelp = helpFor('usage: pacs get [-aet AET] [-aec AET] [-o DIR] [-P|-S] [-L LEVEL] -k TAG=VALUE... HOST PORT', GET_SPECS);


function summary(what: string, rsp: Command, received?: number): number {
  const s = rsp.Status ?? -1;
  const line =
    `${what}: status 0x${s.toString(16).padStart(4, '0')}${rsp.ErrorComment ? ` (${rsp.ErrorComment})` : ''}; ` +
    `${rsp.NumberOfCompletedSuboperations ?? received ?? 0} completed, ${rsp.NumberOfFailedSuboperations ?? 0} failed, ${rsp.NumberOfWarningSuboperations ?? 0} warnings\n`;
  (s === Status.Success ? process.stdout : process.stderr).write(line);
  return s === Status.Success ? 0 : 1;
}

async function failedList(rsp: { dataset: Buffer | null }, ts: string): Promise<void> {
  if (!rsp.dataset) return;
  const id = await decodeIdentifier(rsp.dataset, ts);
  const failed = id.elements.find((e) => e.tag === Tag.FailedSOPInstanceUIDList)?.value;
  if (failed) for (const uid of failed.split('\\')) process.stderr.write(`  FAILED ${uid}\n`);
}

export async function moveCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, MOVE_SPECS);
  const { host, port } = hostPort(p, 'move');
  const dest = opt(p, '--dest');
  if (!dest) throw new UsageError('move: --dest AETITLE is required');
  const { keys, level } = identifierKeys(p, 'STUDY');
  const sopClass = patientRoot(p, level) ? MOVE.P : MOVE.S;
  const timeout = intOption(p, '-to', 600, 1, 86400) * 1000;
  const scu = await connectQR(p, { host, port }, sopClass, timeout);
  try {
    const ctx = scu.contextFor(sopClass);
    if (!ctx) throw new Error('the peer does not accept this C-MOVE information model');
    let bar: ReturnType<typeof progress> | null = null;
    let done = 0;
    const rsp = await scu.request(
      ctx.id,
      { CommandField: CommandField.C_MOVE_RQ, AffectedSOPClassUID: sopClass, MoveDestination: dest, Priority: Priority.Medium },
      encodeIdentifier([...keys.values()], ctx.transferSyntax, null),
      (r) => {
        const c = r.command;
        const finished = (c.NumberOfCompletedSuboperations ?? 0) + (c.NumberOfFailedSuboperations ?? 0) + (c.NumberOfWarningSuboperations ?? 0);
        bar ??= progress(finished + (c.NumberOfRemainingSuboperations ?? 0), 'move');
        bar.tick(finished - done);
        done = finished;
      },
    );
    (bar as ReturnType<typeof progress> | null)?.stop();
    await failedList(rsp, ctx.transferSyntax);
    return summary(`C-MOVE to ${dest}`, rsp.command);
  } finally {
    await scu.release().catch(() => {});
  }
}

export async function getCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, GET_SPECS);
  const { host, port } = hostPort(p, 'get');
  const out = path.resolve(opt(p, '-o') ?? '.');
  fs.mkdirSync(out, { recursive: true });
  const { keys, level } = identifierKeys(p, 'STUDY');
  const sopClass = patientRoot(p, level) ? GET.P : GET.S;
  const timeout = intOption(p, '-to', 600, 1, 86400) * 1000;
  let received = 0;
  const negotiation = getStorageNegotiation();
  const scu = await connectQR(p, { host, port }, sopClass, timeout, {
    ...negotiation,
    onRequest: (assoc, contextId, cmd): DatasetSink | null => {
      if (cmd.CommandField !== CommandField.C_STORE_RQ) return null;
      const pc = assoc.contexts.get(contextId)!;
      const uid = (cmd.AffectedSOPInstanceUID ?? `instance-${received}`).replace(/[^0-9.]/g, '_');
      const file = path.join(out, `${uid}.dcm`);
      const stream = fs.createWriteStream(`${file}.part`);
      stream.write(
        encodeFileMetaInformation({
          mediaStorageSOPClassUID: cmd.AffectedSOPClassUID ?? pc.abstractSyntax,
          mediaStorageSOPInstanceUID: cmd.AffectedSOPInstanceUID ?? '',
          transferSyntaxUID: pc.transferSyntax,
          implementationClassUID: IMPLEMENTATION_CLASS_UID,
          implementationVersionName: IMPLEMENTATION_VERSION_NAME,
        }),
      );
      const answer = (status: number, comment?: string): void => void assoc.sendMessage(contextId, storeResponse(cmd, status, comment)).catch(() => {});
      const dropPart = (): void => fs.rm(`${file}.part`, { force: true }, () => {});
      // A full disk or a refused write: that instance is answered Out of Resources and its part
      // file removed; the retrieve goes on (an unhandled 'error' would end the process).
      let failure: Error | null = null;
      stream.on('error', (e) => (failure ??= e));
      return {
        write: (chunk) => (failure === null ? stream.write(chunk) : true),
        onDrain: (cb) => (failure === null && stream.writableNeedDrain ? stream.once('drain', cb) : cb()),
        end: () => {
          stream.end();
          finished(stream, (err) => {
            failure ??= err ?? null;
            if (failure) {
              dropPart();
              return answer(Status.OutOfResources, errorComment(`cannot write ${file}: ${failure.message}`));
            }
            fs.rename(`${file}.part`, file, (err) => {
              if (!err) received++;
              else dropPart();
              answer(err ? Status.OutOfResources : Status.Success, err ? errorComment(`cannot write ${file}: ${err.message}`) : undefined);
            });
          });
        },
        abort: () => {
          stream.destroy();
          dropPart();
        },
      };
    },
  });
  try {
    const ctx = scu.contextFor(sopClass);
    if (!ctx) throw new Error('the peer does not accept this C-GET information model');
    const rsp = await scu.request(
      ctx.id,
      { CommandField: CommandField.C_GET_RQ, AffectedSOPClassUID: sopClass, Priority: Priority.Medium },
      encodeIdentifier([...keys.values()], ctx.transferSyntax, null),
    );
    await failedList(rsp, ctx.transferSyntax);
    const code = summary(`C-GET into ${out}`, rsp.command, received);
    return isFailure(rsp.command.Status ?? 0) ? 1 : code;
  } finally {
    await scu.release().catch(() => {});
  }
}
