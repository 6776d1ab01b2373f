// pacs worklist: C-FIND on a Modality Worklist SCP (like findscu -W), keys spelled as DCMTK
// takes them; a key of the scheduled step may be given by its keyword alone (-k Modality=CT).
import type { JsonDataset } from '../dicom/json.js';
import { parseTagSpec } from '../dicom/dictionary.js';
import { SopClass } from '../dicom/uids.js';
import { connectWorkflow, findWorklist } from '../services/workflow-scu.js';
import { AE_OPTIONS, type OptionSpec, flag, helpFor, hostPort, intOption, maxPduOption, opt, parseArgs } from './args.js';
import { printTable, setKey, text } from './dataset-keys.js';

const SPECS: readonly OptionSpec[] = [
  ...AE_OPTIONS,
  { names: ['-k', '--key'], arg: 'KEY[=VALUE]', repeatable: true, description: 'PatientName=DOE*, Modality=CT, ScheduledProcedureStepSequence[0].ScheduledStationAETitle=CT1' },
  { names: ['--json'], description: 'print the answers as DICOM JSON' },
];
export const worklistHelp = helpFor('usage: pacs worklist [-aet AET] [-aec AET] [-k KEY=VALUE]... [--json] HOST PORT', SPECS);

/** Keywords that live in the Scheduled Procedure Step Sequence item. */
const STEP = ['Modality', 'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate', 'ScheduledProcedureStepStartTime', 'ScheduledPerformingPhysicianName', 'ScheduledProcedureStepDescription', 'ScheduledProcedureStepID', 'ScheduledProcedureStepStatus', 'ScheduledStationName'];
const SPS = 'ScheduledProcedureStepSequence[0]';
const TOP = ['PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex', 'AccessionNumber', 'RequestedProcedureID', 'RequestedProcedureDescription', 'StudyInstanceUID'];
const SHOWN = ['PatientID', 'PatientName', 'AccessionNumber', 'Modality', 'ScheduledStationAETitle', 'ScheduledProcedureStepStartDate', 'ScheduledProcedureStepStartTime', 'ScheduledProcedureStepDescription', 'ScheduledProcedureStepStatus'];

export async function worklistCommand(argv: string[]): Promise<number> {
  const p = parseArgs(argv, SPECS);
  const { host, port } = hostPort(p, 'worklist');
  const query: JsonDataset = {};
  // Default return keys first: what a person wants to see of each step.
  for (const k of TOP) setKey(query, k);
  for (const k of STEP) setKey(query, `${SPS}.${k}`);
  for (const k of p.options.get('-k') ?? []) {
    const name = k.split('=')[0]!.trim();
    setKey(query, STEP.includes(name) ? `${SPS}.${k}` : k);
  }
  const timeoutMs = intOption(p, '-to', 30, 1, 3600) * 1000;
  const sop = SopClass.ModalityWorklistInformationModelFind;
  const scu = await connectWorkflow({ host, port, callingAETitle: opt(p, '-aet') ?? 'PACS', calledAETitle: opt(p, '-aec') ?? 'ANY-SCP', timeoutMs, maxPduLength: maxPduOption(p) }, [sop]);
  let result;
  try {
    result = await findWorklist(scu, query);
  } finally {
    await scu.release().catch(() => {});
  }
  if (flag(p, '--json')) process.stdout.write(`${JSON.stringify(result.answers, null, 2)}\n`);
  else {
    const key = (kw: string): string => parseTagSpec(kw)!.toString(16).toUpperCase().padStart(8, '0');
    const rows = result.answers.map((a) => {
      const step = a['00400100']?.Value?.[0] as JsonDataset | undefined;
      return Object.fromEntries(SHOWN.map((kw) => [kw, text(STEP.includes(kw) ? step : a, key(kw))]));
    });
    printTable(SHOWN, rows, (s) => process.stdout.write(s));
  }
  const status = result.final.Status ?? -1;
  if (status !== 0) {
    process.stderr.write(`C-FIND ended with status 0x${status.toString(16).padStart(4, '0')}${result.final.ErrorComment ? `: ${result.final.ErrorComment}` : ''}\n`);
    return 1;
  }
  if (!flag(p, '--json')) process.stdout.write(`${result.answers.length} scheduled step${result.answers.length === 1 ? '' : 's'}\n`);
  return 0;
}
