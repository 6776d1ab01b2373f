// pacs find: C-FIND against any Q/R SCP, keys spelled as DCMTK's findscu takes them
// (-k Tag=value, by keyword or number), answers as a table or as JSON.
import { connectQR } from './connect.js';
import { CommandField, Priority } from '../net/dimse/command.js';
import { Status } from '../net/dimse/status.js';
import { Tag } from '../dicom/tags.js';
import { SopClass } from '../dicom/uids.js';
import { lookupTag, parseTagSpec } from '../dicom/dictionary.js';
import { chooseCharacterSet, decodeIdentifier, encodeIdentifier, type OutElement } from '../dicom/identifier.js';
import { AE_OPTIONS, type OptionSpec, type Parsed, UsageError, flag, helpFor, hostPort, intOption, opt, parseArgs } from './args.js';


const SPECS: readonly OptionSpec[] = [
  ...AE_OPTIONS,
  { names: ['-P', '--patient'], description: 'Patient Root information model (taken for -L PATIENT, which Study Root lacks)' },
  { names: ['-S', '--study'], description: 'Study Root information model (default)' },
  { names: ['-L', '--level'], arg: 'LEVEL', description: 'PATIENT, STUDY (default), SERIES or IMAGE' },
  { names: ['-k', '--key'], arg: 'TAG[=VALUE]', repeatable: true, description: 'matching or return key: PatientName=SMITH*, 0010,0020=, StudyDate=20260101-' },
  { names: ['--json'], description: 'print the answers as JSON' },
];
export const findHelp = helpFor('usage: pacs find [-aet AET] [-aec AET] [-P|-S] [-L LEVEL] [-k TAG=VALUE]... [--json] HOST PORT', SPECS);

/** Default return keys per level when only matching keys are given, as a person wants to see. */
const DEFAULT_KEYS: Record<string, string[]> = {
  PATIENT: ['PatientID', 'PatientName', 'PatientBirthDate', 'NumberOfPatientRelatedStudies'],
  STUDY: ['PatientID', 'PatientName', 'StudyDate', 'StudyDescription', 'ModalitiesInStudy', 'NumberOfStudyRelatedInstances', 'StudyInstanceUID'],
  SERIES: ['StudyInstanceUID', 'SeriesNumber', 'Modality', 'SeriesDescription', 'NumberOfSeriesRelatedInstances', 'SeriesInstanceUID'],
  IMAGE: ['SeriesInstanceUID', 'InstanceNumber', 'SOPClassUID', 'SOPInstanceUID'],
};

const QR_LEVELS = ['PATIENT', 'STUDY', 'SERIES', 'IMAGE'];

/** The identifier of -k Tag=value options (DCMTK spelling) and -L, as elements by tag. */
export function identifierKeys(p: Parsed, defaultLevel: string): { keys: Map<number, OutElement>; level: string; add(spec: string): void } {
  const keys = new Map<number, OutElement>();
  const add = (spec: string): void => {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    const tag = parseTagSpec(name.trim());
    if (tag === undefined) throw new UsageError(`-k ${spec}: unknown attribute "${name}"`);
    const vr = lookupTag(tag)?.vr ?? 'LO';
    keys.set(tag, { tag, vr, value: eq < 0 ? null : spec.slice(eq + 1) });
  };
  for (const k of p.options.get('-k') ?? []) add(k);
  const level = (opt(p, '-L') ?? (keys.get(Tag.QueryRetrieveLevel)?.value as string | undefined) ?? defaultLevel).toUpperCase();
  if (!QR_LEVELS.includes(level)) throw new UsageError(`-L ${level}: the level is one of ${QR_LEVELS.join(', ')}`);
  keys.set(Tag.QueryRetrieveLevel, { tag: Tag.QueryRetrieveLevel, vr: 'CS', value: level });
  return { keys, level, add };
}

/** Patient Root when asked (-P), or for the PATIENT level, which Study Root does not have. */
export const patientRoot = (p: Parsed, level: string): boolean => flag(p, '-P') || level === 'PATIENT';

export async function findCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  const { host, port } = hostPort(p, 'find');
  const { keys, level, add } = identifierKeys(p, 'STUDY');
  if (![...keys.keys()].some((t) => t !== Tag.QueryRetrieveLevel && keys.get(t)!.value === null) && DEFAULT_KEYS[level])
    for (const k of DEFAULT_KEYS[level]!) if (!keys.has(parseTagSpec(k)!)) add(k);
  const sopClass = patientRoot(p, level) ? SopClass.PatientRootFind : SopClass.StudyRootFind;
  const timeout = intOption(p, '-to', 30, 1, 3600) * 1000;
  const texts = [...keys.values()].map((k) => String(k.value ?? ''));
  const charset = chooseCharacterSet(null, texts);
  const scu = await connectQR(p, { host, port }, sopClass, timeout);
  const answers: Record<string, string | null>[] = [];
  let final;
  try {
    const ctx = scu.contextFor(sopClass);
    if (!ctx) throw new Error(`the peer does not accept ${sopClass === SopClass.PatientRootFind ? 'Patient' : 'Study'} Root C-FIND`);
    const pending: Promise<void>[] = [];
    final = await scu.request(
      ctx.id,
      { CommandField: CommandField.C_FIND_RQ, AffectedSOPClassUID: sopClass, Priority: Priority.Medium },
      encodeIdentifier([...keys.values()], ctx.transferSyntax, charset),
      (r) => {
        if (!r.dataset) return;
        pending.push(
          decodeIdentifier(r.dataset, ctx.transferSyntax).then((id) => {
            answers.push(Object.fromEntries(id.elements.filter((e) => e.keyword).map((e) => [e.keyword!, e.value])));
          }),
        );
      },
    );
    await Promise.all(pending);
  } finally {
    await scu.release().catch(() => {});
  }
  const status = final.command.Status ?? -1;
  const columns = [...keys.values()].filter((k) => k.tag !== Tag.QueryRetrieveLevel).map((k) => lookupTag(k.tag)?.keyword ?? `(${k.tag.toString(16)})`);
  if (flag(p, '--json')) process.stdout.write(`${JSON.stringify(answers, null, 2)}\n`);
  else printTable(columns, answers);
  if (status !== Status.Success) {
    process.stderr.write(`C-FIND ended with status 0x${status.toString(16).padStart(4, '0')}${final.command.ErrorComment ? `: ${final.command.ErrorComment}` : ''}\n`);
    return 1;
  }
  if (!flag(p, '--json')) process.stdout.write(`${answers.length} match${answers.length === 1 ? '' : 'es'}\n`);
  return 0;
}

function printTable(columns: string[], rows: Record<string, string | null>[]): void {
  const width = columns.map((c) => Math.min(40, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length))));
  const line = (cells: string[]): string => cells.map((c, i) => c.slice(0, 40).padEnd(width[i]!)).join('  ').trimEnd();
  process.stdout.write(`${line(columns)}\n`);
  for (const r of rows) process.stdout.write(`${line(columns.map((c) => r[c] ?? ''))}\n`);
}
